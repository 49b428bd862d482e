package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The test drift events, and the ledger rows they must become.

const selectRows = `SELECT event_id, discrepancy_id, kind, owner, status, sku, warehouse, order_ref, po_ref, shipment_id,
    expected_qty, actual_qty, delta_qty, value_delta, currency, detail, occurred_at, ingested_at,
    kafka_topic, kafka_partition, kafka_offset FROM drift_events FINAL ORDER BY event_id`

// ledgerRows returns drift_events, with FINAL, by event id.
func ledgerRows(t testing.TB, conn driver.Conn) []analytics.DriftEvent {
	t.Helper()
	rows, err := conn.Query(context.Background(), selectRows)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []analytics.DriftEvent
	for rows.Next() {
		var e analytics.DriftEvent
		if err := rows.Scan(&e.EventID, &e.DiscrepancyID, &e.Kind, &e.Owner, &e.Status, &e.SKU, &e.Warehouse, &e.OrderRef, &e.PORef, &e.ShipmentID,
			&e.ExpectedQty, &e.ActualQty, &e.DeltaQty, &e.ValueDelta, &e.Currency, &e.Detail, &e.OccurredAt, &e.IngestedAt,
			&e.KafkaTopic, &e.KafkaPartition, &e.KafkaOffset); err != nil {
			t.Fatal(err)
		}
		e.OccurredAt, e.IngestedAt = e.OccurredAt.UTC(), e.IngestedAt.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// countFinal is the number of distinct events in the ledger.
func countFinal(t testing.TB, conn driver.Conn) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM drift_events FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func str(s string) *string { return &s }
func i64(v int64) *int64   { return &v }
func money(s string) *schemas.Decimal {
	d, err := schemas.ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return &d
}

// driftEvent returns the i-th test event: the fields vary with i so that
// every column sees values and NULLs, and value_delta sees the extremes of
// Decimal(18,4).
func driftEvent(i int) *schemas.DriftEvent {
	// Three events per discrepancy (open, updated or acknowledged,
	// resolved), seven hours apart: over ten weeks, so several monthly
	// partitions of drift_events.
	at := time.Date(2026, 1, 1, 0, 0, 0, 123_000_000, time.UTC).Add(time.Duration(i) * 7 * time.Hour).Add(time.Duration(i) * time.Second)
	d := i / 3
	ev := &schemas.DriftEvent{
		Meta: schemas.Meta{
			EventID: fmt.Sprintf("ev-%05d", i), Source: schemas.SourceLockstep,
			OccurredAt: at, IngestedAt: at.Add(1500 * time.Millisecond),
		},
		DiscrepancyID: fmt.Sprintf("disc-%04d", d),
		Kind:          []schemas.DriftKind{schemas.DriftStockParity, schemas.DriftMissingDespatch, schemas.DriftPushFailed}[d%3],
		Owner:         []schemas.DriftOwner{schemas.OwnerFinance, schemas.OwnerWarehouse, schemas.OwnerOperations}[d%3],
		Status:        [][]schemas.DriftStatus{{schemas.DriftOpen, schemas.DriftUpdated, schemas.DriftResolved}, {schemas.DriftOpen, schemas.DriftAcknowledged, schemas.DriftResolved}}[d%2][i%3],
		Detail:        fmt.Sprintf("event %d: Prima says one thing, Clarus «another»", i),
	}
	if i%2 == 0 {
		ev.SKU, ev.Warehouse = str(fmt.Sprintf("SKU-%d", i)), str("WH"+fmt.Sprint(i%3))
		ev.ExpectedQty, ev.ActualQty, ev.DeltaQty = i64(int64(i)), i64(int64(i-7)), i64(-7)
		ev.Currency = str("EUR")
		ev.ValueDelta = money([]string{"-1234.5678", "0.0001", "99999999999999.9999", "-99999999999999.9999", "0", "12.3"}[i%6])
	}
	if i%5 == 0 {
		ev.OrderRef, ev.PORef, ev.ShipmentID = str(fmt.Sprintf("SO-%d", i)), str(fmt.Sprintf("PO-%d", i)), str("SH-1")
		ev.ActualQty = nil // a NULL next to non-NULL quantities
	}
	return ev
}

// wantRow is the ledger row of ev read from rec, written out field by field
// rather than through the sink's own mapping.
func wantRow(ev *schemas.DriftEvent, rec *kgo.Record) analytics.DriftEvent {
	opt := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	row := analytics.DriftEvent{
		EventID: ev.EventID, DiscrepancyID: ev.DiscrepancyID, Kind: string(ev.Kind), Owner: string(ev.Owner), Status: string(ev.Status),
		SKU: opt(ev.SKU), Warehouse: opt(ev.Warehouse), OrderRef: opt(ev.OrderRef), PORef: opt(ev.PORef), ShipmentID: opt(ev.ShipmentID),
		ExpectedQty: ev.ExpectedQty, ActualQty: ev.ActualQty, DeltaQty: ev.DeltaQty,
		Currency: opt(ev.Currency), Detail: ev.Detail,
		OccurredAt: ev.OccurredAt.Truncate(time.Second), IngestedAt: ev.IngestedAt.Truncate(time.Second),
		KafkaTopic: rec.Topic, KafkaPartition: rec.Partition, KafkaOffset: rec.Offset,
	}
	if ev.ValueDelta != nil {
		d := decimal.RequireFromString(ev.ValueDelta.String())
		row.ValueDelta = &d
	}
	return row
}

// sameRow compares rows: pointers by what they point at, decimals and times
// by value.
func sameRow(a, b analytics.DriftEvent) bool {
	eqInt := func(x, y *int64) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	eqDec := func(x, y *decimal.Decimal) bool { return x == nil && y == nil || x != nil && y != nil && x.Equal(*y) }
	if !eqInt(a.ExpectedQty, b.ExpectedQty) || !eqInt(a.ActualQty, b.ActualQty) || !eqInt(a.DeltaQty, b.DeltaQty) ||
		!eqDec(a.ValueDelta, b.ValueDelta) || !a.OccurredAt.Equal(b.OccurredAt) || !a.IngestedAt.Equal(b.IngestedAt) {
		return false
	}
	for _, e := range []*analytics.DriftEvent{&a, &b} {
		e.ExpectedQty, e.ActualQty, e.DeltaQty, e.ValueDelta = nil, nil, nil, nil
		e.OccurredAt, e.IngestedAt = time.Time{}, time.Time{}
	}
	return a == b
}

// show formats a row with its pointers followed.
func show(e analytics.DriftEvent) string {
	v := func(p *int64) string {
		if p == nil {
			return "NULL"
		}
		return fmt.Sprint(*p)
	}
	val := "NULL"
	if e.ValueDelta != nil {
		val = e.ValueDelta.String()
	}
	return fmt.Sprintf("%s disc=%s %s/%s/%s sku=%q wh=%q order=%q po=%q shipment=%q qty=%s/%s/%s value=%s %s %q at=%s ingested=%s from %s/%d@%d",
		e.EventID, e.DiscrepancyID, e.Kind, e.Owner, e.Status, e.SKU, e.Warehouse, e.OrderRef, e.PORef, e.ShipmentID,
		v(e.ExpectedQty), v(e.ActualQty), v(e.DeltaQty), val, e.Currency, e.Detail,
		e.OccurredAt.UTC().Format(time.RFC3339Nano), e.IngestedAt.UTC().Format(time.RFC3339Nano),
		e.KafkaTopic, e.KafkaPartition, e.KafkaOffset)
}
