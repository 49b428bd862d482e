package ledger_test

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/analytics/analyticstest"
	"github.com/lockstep-dev/lockstep/connectors/ledger"
	"github.com/lockstep-dev/lockstep/schemas"
)

var factsAt = time.Date(2026, 3, 2, 14, 5, 6, 789_000_000, time.UTC)

func meta(id string, src schemas.Source, at time.Time) schemas.Meta {
	return schemas.Meta{EventID: id, Source: src, OccurredAt: at, IngestedAt: at.Add(2 * time.Second)}
}

// TestSinkFacts sends the three fact topics through the sink beside a drift
// event: shipments with their webhook and sweep copies (lines in another
// order), one despatch note reported by the Prima source and by the sink's
// acknowledgement, a failed post, two versions of an item inserted newest
// first, and records that cannot be facts. The tables end with one row per
// line of each distinct event, the latest item, the bad records in the DLQ,
// and every topic committed to its end.
func TestSinkFacts(t *testing.T) {
	onBrokers(t, func(t *testing.T, b *broker) {
		f := newFixture(t, b, 2)
		conn, _ := analyticstest.Migrated(t)

		ship := &schemas.Shipment{
			Meta: meta("clarus:shipment:SH-1:confirmed", schemas.SourceClarus, factsAt), ShipmentID: "SH-1", OrderRef: "SO-1",
			Status: schemas.ShipmentConfirmed, Warehouse: "WH1", Carrier: str("DHL"), TrackingNumber: str("TRK-1"),
			GoodsOutID: "GO-1", OrderComplete: true,
			Lines: []schemas.ShipmentLine{{SKU: "CL-B", Quantity: 2, Picked: 2}, {SKU: "CL-A", Quantity: 1, Picked: 3}},
		}
		sweep := *ship
		sweep.Lines = []schemas.ShipmentLine{ship.Lines[1], ship.Lines[0]}
		sweep.IngestedAt = ship.IngestedAt.Add(time.Minute)
		cancelled := &schemas.Shipment{
			Meta:       meta("clarus:shipment:SH-2:cancelled", schemas.SourceClarus, factsAt.Add(time.Hour)),
			ShipmentID: "SH-2", OrderRef: "SO-2", Status: schemas.ShipmentCancelled, Warehouse: "WH2", GoodsOutID: "GO-2",
		}
		note := &schemas.DespatchNote{
			Meta: meta("prima:despatch-note:DN-1", schemas.SourcePrima, factsAt.Add(time.Minute)), OrderRef: "SO-1",
			ShipmentID: "SH-1", Status: schemas.DespatchCreated, DespatchNoteID: str("DN-1"),
			Lines: []schemas.Line{{SKU: "PR-B", Quantity: 2}, {SKU: "PR-A", Quantity: 1}},
		}
		ack := *note
		ack.Meta = meta("lockstep:despatch-ack:SH-1", schemas.SourceLockstep, factsAt.Add(time.Minute))
		failed := &schemas.DespatchNote{
			Meta: meta("lockstep:despatch-ack:SH-3:failed", schemas.SourceLockstep, factsAt.Add(2*time.Minute)), OrderRef: "SO-3",
			ShipmentID: "SH-3", Status: schemas.DespatchFailed, Reason: str("customer on stop"),
		}
		newer := &schemas.Item{
			Meta: meta("prima:item:PR-A:2", schemas.SourcePrima, factsAt), SKU: "PR-A", Description: "Widget «A»",
			ClarusCode: str("CL-A"), StockItem: true, UnitCost: schemas.NewDecimal(12, 3400), Currency: "EUR", Active: true,
		}
		older := *newer
		older.Meta = meta("prima:item:PR-A:1", schemas.SourcePrima, factsAt.Add(-24*time.Hour))
		older.UnitCost, older.ClarusCode = schemas.NewDecimal(9, 0), nil
		drift := driftEvent(0)

		noID := *note
		noID.EventID, noID.DespatchNoteID = "prima:despatch-note:nameless", nil
		noSKU := *newer
		noSKU.EventID, noSKU.SKU = "prima:item:nameless", ""

		recs := []*kgo.Record{
			{Topic: f.items, Key: []byte("PR-A"), Value: f.encode(t, newer)},
			{Topic: f.items, Key: []byte("PR-A"), Value: f.encode(t, &older)},
			{Topic: f.shipments, Key: []byte("SO-1"), Value: f.encode(t, ship)},
			{Topic: f.shipments, Key: []byte("SO-2"), Value: f.encode(t, cancelled)},
			{Topic: f.shipments, Key: []byte("SO-1"), Value: f.encode(t, &sweep)},
			{Topic: f.notes, Key: []byte("SO-1"), Value: f.encode(t, note)},
			{Topic: f.notes, Key: []byte("SO-1"), Value: f.encode(t, &ack)},
			{Topic: f.notes, Key: []byte("SO-3"), Value: f.encode(t, failed)},
			{Topic: f.drift, Key: []byte(drift.DiscrepancyID), Value: f.encode(t, drift)},
		}
		bad := []*kgo.Record{
			{Topic: f.notes, Key: []byte("SO-1"), Value: f.encode(t, &noID)},
			{Topic: f.items, Key: []byte("nameless"), Value: f.encode(t, &noSKU)},
			{Topic: f.shipments, Key: []byte("SO-9"), Value: f.encode(t, note)}, // a note on the shipments topic
			{Topic: f.notes, Key: []byte("SO-9"), Value: []byte("not avro")},
		}
		f.produce(t, append(recs, bad...)...)

		s := f.startSink(t, conn, ledger.Config{})
		// Rows: 2 items, 2+1+2 shipment lines, 2+2+1 note lines, 1 drift.
		const rows = 2 + 5 + 5 + 1
		eventually(t, 60*time.Second, "all facts in and committed", func() (bool, string) {
			n, dlq := s.metric(t, mRows), s.metric(t, mDLQ)
			done := n == rows && dlq == float64(len(bad))
			for _, topic := range []string{f.items, f.shipments, f.notes, f.drift} {
				var want []*kgo.Record
				for _, r := range append(recs, bad...) {
					if r.Topic == topic {
						want = append(want, r)
					}
				}
				done = done && maps.Equal(f.committedOn(t, topic), wantCommitted(want))
			}
			return done, fmt.Sprintf("rows %v of %d, dead letters %v of %d", n, rows, dlq, len(bad))
		})

		wantShipments := [][]any{
			// shipment, event, line, order, goods-out, warehouse, status, code, qty, picked, complete, carrier, tracking, dispatched
			{"SH-1", "clarus:shipment:SH-1:confirmed", uint32(1), "SO-1", "GO-1", "WH1", "confirmed", "CL-A", int64(1), int64(3), uint8(1), "DHL", "TRK-1", "2026-03-02 14:05:06"},
			{"SH-1", "clarus:shipment:SH-1:confirmed", uint32(2), "SO-1", "GO-1", "WH1", "confirmed", "CL-B", int64(2), int64(2), uint8(1), "DHL", "TRK-1", "2026-03-02 14:05:06"},
			{"SH-2", "clarus:shipment:SH-2:cancelled", uint32(0), "SO-2", "GO-2", "WH2", "cancelled", "", int64(0), int64(0), uint8(0), "", "", "2026-03-02 15:05:06"},
		}
		checkTable(t, conn, `SELECT shipment_id, event_id, line_no, order_ref, goods_out_id, warehouse, status, clarus_code,
		    quantity, picked, order_complete, carrier, tracking_number, toString(dispatched_at)
		    FROM shipment_lines FINAL ORDER BY shipment_id, event_id, line_no`, wantShipments)
		wantNotes := [][]any{
			// reference, event, line, note, order, status, reason, sku, qty, source, occurred
			{"SH-1", "lockstep:despatch-ack:SH-1", uint32(1), "DN-1", "SO-1", "created", "", "PR-A", int64(1), "lockstep", "2026-03-02 14:06:06"},
			{"SH-1", "lockstep:despatch-ack:SH-1", uint32(2), "DN-1", "SO-1", "created", "", "PR-B", int64(2), "lockstep", "2026-03-02 14:06:06"},
			{"SH-1", "prima:despatch-note:DN-1", uint32(1), "DN-1", "SO-1", "created", "", "PR-A", int64(1), "prima", "2026-03-02 14:06:06"},
			{"SH-1", "prima:despatch-note:DN-1", uint32(2), "DN-1", "SO-1", "created", "", "PR-B", int64(2), "prima", "2026-03-02 14:06:06"},
			{"SH-3", "lockstep:despatch-ack:SH-3:failed", uint32(0), "", "SO-3", "failed", "customer on stop", "", int64(0), "lockstep", "2026-03-02 14:07:06"},
		}
		checkTable(t, conn, `SELECT reference, event_id, line_no, note_id, order_ref, status, reason, sku, quantity, source,
		    toString(occurred_at) FROM despatch_note_lines FINAL ORDER BY reference, event_id, line_no`, wantNotes)
		wantItems := [][]any{
			{"PR-A", "CL-A", "Widget «A»", uint8(1), "12.3400", "EUR", uint8(1), "prima:item:PR-A:2", uint64(factsAt.UnixMilli())},
		}
		checkTable(t, conn, `SELECT sku, clarus_code, description, stock_item, toString(unit_cost), currency, active, event_id, version
		    FROM items FINAL ORDER BY sku`, wantItems)
		if n := countFinal(t, conn); n != 1 {
			t.Errorf("drift_events has %d rows, want 1", n)
		}
	})
}

// checkTable runs q and compares its rows with want, column by column.
func checkTable(t *testing.T, conn driver.Conn, q string, want [][]any) {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var got [][]any
	for rows.Next() {
		cols := rows.ColumnTypes()
		dest := make([]any, len(cols))
		for i, c := range cols {
			dest[i] = reflect.New(c.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = reflect.ValueOf(d).Elem().Interface()
		}
		got = append(got, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s\n got %v\nwant %v", q, got, want)
	}
}
