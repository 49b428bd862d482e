package fulfilment_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/processors/fulfilment"
	"github.com/lockstep-dev/lockstep/processors/streamtest"
	"github.com/lockstep-dev/lockstep/schemas"
)

var start = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func newRig(t *testing.T) *streamtest.Rig {
	return streamtest.New(t, start, schemas.TopicSalesOrders, schemas.TopicCmdClarusOrders, schemas.TopicShipments, schemas.TopicDespatchNotes,
		schemas.TopicCmdPrimaDespatch, schemas.TopicFulfilment, schemas.TopicDrift, schemas.TopicDLQ)
}

func startProcessor(t *testing.T, r *streamtest.Rig) (stop func()) {
	t.Helper()
	topo, err := fulfilment.Topology(fulfilment.Config{DespatchSLA: 30 * time.Minute, MatchGrace: 10 * time.Minute}, r.Serde)
	if err != nil {
		t.Fatal(err)
	}
	return r.Start(t, topo)
}

func decode[T any, P interface {
	*T
	schemas.Event
}](t *testing.T, s *schemas.Serde, rec *kgo.Record) *T {
	return streamtest.Decode[T, P](t, s, rec)
}

func meta(id string) schemas.Meta {
	return schemas.Meta{EventID: id, Source: schemas.SourceLockstep, OccurredAt: start, IngestedAt: start}
}

func released(ref string) *schemas.SalesOrder {
	return &schemas.SalesOrder{Meta: meta(ref + ":1"), OrderRef: ref, Version: 1, Status: schemas.SalesOrderReleased,
		Warehouse: "WH1", Currency: "GBP", Lines: []schemas.SalesOrderLine{
			{LineNo: 1, SKU: "BOOT/9", Quantity: 2, StockItem: true, UnitPrice: schemas.MustParseDecimal("40")},
			{LineNo: 2, SKU: "GIFT", Quantity: 1, UnitPrice: schemas.MustParseDecimal("25")}}}
}

func created(ref string) *schemas.ClarusOrderCommand {
	return &schemas.ClarusOrderCommand{Meta: meta(ref + ":create"), OrderRef: ref, OrderVersion: 1, Action: schemas.ClarusOrderCreate,
		Warehouse: "WH1", Lines: []schemas.ClarusLine{{LineNo: 1, SKU: "BOOT/9", ClarusCode: "SKU-1", Quantity: 2}}}
}

func shipped(ref, id string, qty int64, complete bool) *schemas.Shipment {
	return &schemas.Shipment{Meta: meta("clarus:shipment:" + id), ShipmentID: id, OrderRef: ref, Status: schemas.ShipmentConfirmed,
		Warehouse: "WH1", Lines: []schemas.ShipmentLine{{SKU: "SKU-1", Quantity: qty, Picked: qty}}, OrderComplete: complete}
}

func noted(ref, shipment, id string, qty int64) *schemas.DespatchNote {
	return &schemas.DespatchNote{Meta: meta("prima:despatch-note:" + id), OrderRef: ref, ShipmentID: shipment,
		Status: schemas.DespatchCreated, DespatchNoteID: &id, Lines: []schemas.Line{{SKU: "BOOT/9", Quantity: qty}, {SKU: "GIFT", Quantity: 1}}}
}

// TestShipmentNotedAndClosedOnKafka runs the join on kfake: a shipment
// asks once for its note (a repeated shipment does not ask again); Prima's
// note closes the order in Clarus; a shipment with no note opens
// missing_despatch when the SLA passes, across a restart that restores the
// state and its timer; an undecodable record goes to the DLQ.
func TestShipmentNotedAndClosedOnKafka(t *testing.T) {
	r := newRig(t)
	despatch, sent, closed, drift, dlq := r.Reader(t, schemas.TopicCmdPrimaDespatch), r.Reader(t, schemas.TopicCmdClarusOrders),
		r.Reader(t, schemas.TopicFulfilment), r.Reader(t, schemas.TopicDrift), r.Reader(t, schemas.TopicDLQ)
	for _, ref := range []string{"SO-1", "SO-2"} {
		r.Send(t, schemas.TopicSalesOrders, ref, released(ref))
		r.Send(t, schemas.TopicCmdClarusOrders, ref, created(ref))
	}
	r.Send(t, schemas.TopicShipments, "SO-1", shipped("SO-1", "S1", 2, true))
	r.Send(t, schemas.TopicShipments, "SO-1", shipped("SO-1", "S1", 2, true)) // webhook and sweep
	r.Send(t, schemas.TopicShipments, "SO-2", shipped("SO-2", "S2", 1, false))
	r.SendRaw(t, schemas.TopicShipments, "SO-9", []byte{0, 0, 0, 0, 99}) // not Avro: dead-lettered
	stop := startProcessor(t, r)

	got := despatch.Wait(t, 2)
	byShipment := map[string]*schemas.DespatchCommand{}
	for _, rec := range got {
		c := decode[schemas.DespatchCommand](t, r.Serde, rec)
		byShipment[c.ShipmentID] = c
	}
	if c := byShipment["S1"]; c == nil || c.OrderRef != "SO-1" || len(c.Lines) != 2 || c.Lines[0].SKU != "BOOT/9" || c.Lines[1].SKU != "GIFT" {
		t.Fatalf("despatch of S1 %+v: want BOOT/9 and the non-stock GIFT line", c)
	}
	if dl := dlq.Wait(t, 1); string(dl[0].Key) != "SO-9" {
		t.Fatalf("DLQ key %q", dl[0].Key)
	}

	r.Send(t, schemas.TopicDespatchNotes, "SO-1", noted("SO-1", "S1", "DN-1", 2))
	fc := decode[schemas.FulfilmentClosed](t, r.Serde, closed.Wait(t, 1)[0])
	if fc.OrderRef != "SO-1" || len(fc.DespatchNoteIDs) != 1 || fc.DespatchNoteIDs[0] != "DN-1" || fc.Units != 2 {
		t.Fatalf("closed %+v", fc)
	}
	var closes int
	for _, rec := range sent.Wait(t, 3) { // two creates sent by the test, one close
		if c := decode[schemas.ClarusOrderCommand](t, r.Serde, rec); c.Action == schemas.ClarusOrderClose {
			closes++
			if c.OrderRef != "SO-1" {
				t.Fatalf("close %+v", c)
			}
		}
	}
	if closes != 1 {
		t.Fatalf("%d close commands, want 1", closes)
	}

	// S2's note never comes. Restart, then let the SLA pass: the timer
	// survived in the changelog.
	stop()
	stop = startProcessor(t, r)
	defer stop()
	r.Advance(31 * time.Minute)
	d := decode[schemas.DriftEvent](t, r.Serde, drift.Wait(t, 1)[0])
	if d.Kind != schemas.DriftMissingDespatch || d.Status != schemas.DriftOpen || *d.ShipmentID != "S2" || *d.OrderRef != "SO-2" ||
		d.ValueDelta == nil || d.ValueDelta.String() != "-40.0000" || *d.Currency != "GBP" || d.Owner != schemas.OwnerFinance {
		t.Fatalf("drift %+v", d)
	}
	if n := len(despatch.Wait(t, 2)); n != 2 {
		t.Fatalf("%d despatch commands after the restart, want still 2", n)
	}
}
