package fulfilment

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

var rules = Rules{SLA: 30 * time.Minute, Grace: 10 * time.Minute}

// order is SO-1: two stock lines and a shipping charge.
func order(version int64, status schemas.SalesOrderStatus) *schemas.SalesOrder {
	return &schemas.SalesOrder{OrderRef: "SO-1", Version: version, Status: status, Warehouse: "LON1", Currency: "GBP",
		Lines: []schemas.SalesOrderLine{
			{LineNo: 1, SKU: "TEE/BLK/M", Quantity: 3, StockItem: true, UnitPrice: schemas.MustParseDecimal("10.50")},
			{LineNo: 2, SKU: "MUG/WHT", Quantity: 1, StockItem: true, UnitPrice: schemas.MustParseDecimal("4")},
			{LineNo: 3, SKU: "SHIPPING", Quantity: 1, StockItem: true, UnitPrice: schemas.MustParseDecimal("3.95")},
		}}
}

func sent() *schemas.ClarusOrderCommand {
	return &schemas.ClarusOrderCommand{OrderRef: "SO-1", OrderVersion: 1, Action: schemas.ClarusOrderCreate, Warehouse: "LON1",
		Lines: []schemas.ClarusLine{{LineNo: 1, SKU: "TEE/BLK/M", ClarusCode: "TEE-BLK-M", Quantity: 3},
			{LineNo: 2, SKU: "MUG/WHT", ClarusCode: "MUG-WHT", Quantity: 1}}}
}

func shipment(id string, complete bool, lines ...schemas.ShipmentLine) *schemas.Shipment {
	return &schemas.Shipment{Meta: schemas.Meta{OccurredAt: t0}, ShipmentID: id, OrderRef: "SO-1",
		Status: schemas.ShipmentConfirmed, Warehouse: "LON1", Lines: lines, OrderComplete: complete, Carrier: new("DPD")}
}

func note(id, ref string, lines ...schemas.Line) *schemas.DespatchNote {
	return &schemas.DespatchNote{OrderRef: "SO-1", ShipmentID: ref, Status: schemas.DespatchCreated, DespatchNoteID: &id, Lines: lines}
}

// sentState is SO-1 released and sent to Clarus.
func sentState() *State {
	st := &State{Ref: "SO-1"}
	rules.Order(st, order(1, schemas.SalesOrderReleased))
	rules.Sent(st, sent())
	return st
}

// drift lists effects' drift as "kind/id status" strings.
func drift(e Effects) []string {
	var out []string
	for _, d := range e.Drift {
		out = append(out, fmt.Sprintf("%s %s", d.ID, d.Status))
	}
	return out
}

func despatched(e Effects) []string {
	var out []string
	for _, c := range e.Despatch {
		out = append(out, fmt.Sprintf("%s %v", c.ShipmentID, c.Lines))
	}
	return out
}

func want[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func TestShipmentThenNoteCloses(t *testing.T) {
	st := sentState()
	e := rules.Shipment(st, shipment("S1", true, schemas.ShipmentLine{SKU: "TEE-BLK-M", Quantity: 3}, schemas.ShipmentLine{SKU: "MUG-WHT", Quantity: 1}), t0)
	// Stock lines in Prima SKUs, and the non-stock shipping line on the
	// order's first note.
	want(t, "despatch", despatched(e), []string{"S1 [{MUG/WHT 1} {TEE/BLK/M 3} {SHIPPING 1}]"})
	if len(e.Timers) != 1 || e.Timers[0].Kind != TimerSLA || !e.Timers[0].Due.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("timers %+v: want the SLA of the shipment", e.Timers)
	}
	if e.Close != nil {
		t.Fatal("closed before Prima confirmed the note")
	}
	e = rules.Note(st, note("DN-1", "S1", schemas.Line{SKU: "TEE/BLK/M", Quantity: 3}, schemas.Line{SKU: "MUG/WHT", Quantity: 1}, schemas.Line{SKU: "SHIPPING", Quantity: 1}), t0)
	want(t, "drift", drift(e), nil)
	if e.Close == nil || e.Close.Action != schemas.ClarusOrderClose || e.Closed == nil {
		t.Fatalf("close %+v closed %+v: want both once the note is seen", e.Close, e.Closed)
	}
	want(t, "closed notes", e.Closed.DespatchNoteIDs, []string{"DN-1"})
	if e.Closed.Units != 4 {
		t.Fatalf("closed units %d, want 4", e.Closed.Units)
	}
	// The SLA timer fires later and finds the shipment noted.
	e = rules.Timer(st, Timer{Kind: TimerSLA, ID: "S1", Due: t0.Add(30 * time.Minute)})
	want(t, "drift after SLA", drift(e), nil)
}

func TestPartialShipments(t *testing.T) {
	st := sentState()
	e := rules.Shipment(st, shipment("S1", false, schemas.ShipmentLine{SKU: "TEE-BLK-M", Quantity: 2}), t0)
	want(t, "first", despatched(e), []string{"S1 [{TEE/BLK/M 2} {SHIPPING 1}]"})
	e = rules.Note(st, note("DN-1", "S1", schemas.Line{SKU: "TEE/BLK/M", Quantity: 2}, schemas.Line{SKU: "SHIPPING", Quantity: 1}), t0)
	if e.Close != nil || len(e.Drift) > 0 {
		t.Fatalf("first note: close %v drift %v; want neither while the goods-out is open", e.Close, drift(e))
	}
	e = rules.Shipment(st, shipment("S2", true, schemas.ShipmentLine{SKU: "TEE-BLK-M", Quantity: 1}, schemas.ShipmentLine{SKU: "MUG-WHT", Quantity: 1}), t0)
	want(t, "second: non-stock lines only once", despatched(e), []string{"S2 [{MUG/WHT 1} {TEE/BLK/M 1}]"})
	if e.Close != nil {
		t.Fatal("closed with S2 not noted")
	}
	e = rules.Note(st, note("DN-2", "S2", schemas.Line{SKU: "MUG/WHT", Quantity: 1}, schemas.Line{SKU: "TEE/BLK/M", Quantity: 1}), t0)
	if e.Close == nil {
		t.Fatal("not closed with every shipment noted and the goods-out complete")
	}
	want(t, "shipments", e.Closed.ShipmentIDs, []string{"S1", "S2"})
}

func TestDuplicateShipmentWebhook(t *testing.T) {
	st := sentState()
	s := shipment("S1", false, schemas.ShipmentLine{SKU: "TEE-BLK-M", Quantity: 3})
	if e := rules.Shipment(st, s, t0); len(e.Despatch) != 1 {
		t.Fatalf("first: %v", despatched(e))
	}
	// The sweep reads it again, now with the goods-out complete.
	again := shipment("S1", true, schemas.ShipmentLine{SKU: "TEE-BLK-M", Quantity: 3})
	e := rules.Shipment(st, again, t0.Add(time.Minute))
	want(t, "repeat", despatched(e), nil)
	if !st.Complete {
		t.Fatal("the repeat's completeness was lost")
	}
}

func TestNoteBeforeShipment(t *testing.T) {
	st := sentState()
	e := rules.Note(st, note("DN-1", "S1", schemas.Line{SKU: "TEE/BLK/M", Quantity: 3}), t0)
	if len(e.Timers) != 1 || e.Timers[0].Kind != TimerUnmatched {
		t.Fatalf("timers %+v: want the note's grace", e.Timers)
	}
	e = rules.Shipment(st, shipment("S1", true, schemas.ShipmentLine{SKU: "TEE-BLK-M", Quantity: 3}), t0.Add(time.Minute))
	want(t, "despatch", despatched(e), nil) // Prima has it: a second would be a duplicate
	want(t, "drift", drift(e), nil)
	if e.Close == nil {
		t.Fatal("not closed")
	}
	e = rules.Timer(st, Timer{Kind: TimerUnmatched, ID: "DN-1", Due: t0.Add(10 * time.Minute)})
	want(t, "grace after match", drift(e), nil)
}

func TestHandMadeNote(t *testing.T) {
	st := sentState()
	rules.Note(st, note("DN-9", "phoned in by Sam", schemas.Line{SKU: "TEE/BLK/M", Quantity: 1}), t0)
	e := rules.Timer(st, Timer{Kind: TimerUnmatched, ID: "DN-9", Due: t0.Add(10 * time.Minute)})
	want(t, "drift", drift(e), []string{"despatch_without_shipment/DN-9 open"})
	if d := e.Drift[0]; d.Owner != schemas.OwnerFinance || *d.Actual != 1 {
		t.Fatalf("drift %+v", d)
	}
}

func TestMissingDespatchThenNote(t *testing.T) {
	st := sentState()
	rules.Shipment(st, shipment("S1", true, schemas.ShipmentLine{SKU: "TEE-BLK-M", Quantity: 3}, schemas.ShipmentLine{SKU: "MUG-WHT", Quantity: 1}), t0)
	e := rules.Timer(st, Timer{Kind: TimerSLA, ID: "S1", Due: t0.Add(30 * time.Minute)})
	want(t, "drift", drift(e), []string{"missing_despatch/S1 open"})
	d := e.Drift[0]
	if d.Value == nil || d.Value.String() != "35.5000" || d.Currency != "GBP" || *d.Expected != 4 {
		t.Fatalf("missing_despatch %+v value %v: want 4 units worth 35.5 GBP (3 x 10.50 + 4)", d, d.Value)
	}
	e = rules.Note(st, note("DN-1", "S1", schemas.Line{SKU: "TEE/BLK/M", Quantity: 3}, schemas.Line{SKU: "MUG/WHT", Quantity: 1}), t0.Add(time.Hour))
	want(t, "drift", drift(e), []string{"missing_despatch/S1 resolved"})
}

func TestMismatchedNote(t *testing.T) {
	st := sentState()
	rules.Shipment(st, shipment("S1", true, schemas.ShipmentLine{SKU: "TEE-BLK-M", Quantity: 3}), t0)
	e := rules.Note(st, note("DN-1", "S1", schemas.Line{SKU: "TEE/BLK/M", Quantity: 2}, schemas.Line{SKU: "SHIPPING", Quantity: 1}), t0)
	want(t, "drift", drift(e), []string{"despatch_mismatch/S1 open"})
	if d := e.Drift[0]; *d.Expected != 3 || *d.Actual != 2 {
		t.Fatalf("mismatch %+v: want 3 shipped, 2 noted (the shipping line is not stock)", d)
	}
	// A second note for the same shipment is a mismatch too.
	e = rules.Note(st, note("DN-2", "S1", schemas.Line{SKU: "TEE/BLK/M", Quantity: 1}), t0)
	want(t, "second note", drift(e), []string{"despatch_mismatch/S1 updated"})
}

func TestCancelledAfterDispatch(t *testing.T) {
	st := sentState()
	rules.Shipment(st, shipment("S1", false, schemas.ShipmentLine{SKU: "TEE-BLK-M", Quantity: 1}), t0)
	rules.Order(st, order(2, schemas.SalesOrderCancelled))
	// Goods that left the warehouse are despatched whatever Prima's order
	// says: finance credits or invoices them, the note is the evidence.
	e := rules.Shipment(st, shipment("S2", true, schemas.ShipmentLine{SKU: "MUG-WHT", Quantity: 1}), t0)
	want(t, "despatch", despatched(e), []string{"S2 [{MUG/WHT 1}]"})
}

func TestShipmentWithoutOrder(t *testing.T) {
	st := &State{Ref: "SO-1"}
	e := rules.Shipment(st, shipment("S1", true, schemas.ShipmentLine{SKU: "TEE-BLK-M", Quantity: 3}), t0)
	want(t, "despatch while unknown", despatched(e), nil)
	if len(e.Timers) != 1 || e.Timers[0].Kind != TimerShipment {
		t.Fatalf("timers %+v", e.Timers)
	}
	e = rules.Timer(st, e.Timers[0])
	want(t, "after grace", drift(e), []string{"shipment_without_order/S1 open"})
	// The order turns up (a replay, a slow topic): the exception resolves
	// and the shipment is despatched.
	rules.Order(st, order(1, schemas.SalesOrderReleased))
	e = rules.Sent(st, sent())
	want(t, "drift", drift(e), []string{"shipment_without_order/S1 resolved"})
	want(t, "despatch", despatched(e), []string{"S1 [{TEE/BLK/M 3} {SHIPPING 1}]"})
}

func TestPostFailed(t *testing.T) {
	st := sentState()
	rules.Shipment(st, shipment("S1", true, schemas.ShipmentLine{SKU: "TEE-BLK-M", Quantity: 3}), t0)
	failed := &schemas.DespatchNote{OrderRef: "SO-1", ShipmentID: "S1", Status: schemas.DespatchFailed, Reason: new("order on credit hold")}
	e := rules.Note(st, failed, t0)
	want(t, "drift", drift(e), []string{"despatch_post_failed/S1 open"})
	e = rules.Note(st, failed, t0) // the sink reports it again after a restart
	want(t, "repeat", drift(e), nil)
	e = rules.Timer(st, Timer{Kind: TimerSLA, ID: "S1", Due: t0.Add(30 * time.Minute)})
	want(t, "SLA after failure", drift(e), nil)
	// Finance raises the note by hand with the shipment's reference.
	e = rules.Note(st, note("DN-7", "S1", schemas.Line{SKU: "TEE/BLK/M", Quantity: 3}), t0.Add(time.Hour))
	want(t, "noted", drift(e), []string{"despatch_post_failed/S1 resolved"})
}

func TestShipmentCancelled(t *testing.T) {
	st := sentState()
	rules.Shipment(st, shipment("S1", false, schemas.ShipmentLine{SKU: "TEE-BLK-M", Quantity: 3}), t0)
	c := shipment("S1", false)
	c.Status = schemas.ShipmentCancelled
	rules.Shipment(st, c, t0)
	e := rules.Timer(st, Timer{Kind: TimerSLA, ID: "S1", Due: t0.Add(30 * time.Minute)})
	want(t, "SLA of a cancelled shipment", drift(e), nil)
}

func TestShippedProductNotOnGoodsOut(t *testing.T) {
	st := sentState()
	e := rules.Shipment(st, shipment("S1", true, schemas.ShipmentLine{SKU: "TEE-BLK-M", Quantity: 3}, schemas.ShipmentLine{SKU: "HAT-RED", Quantity: 1}), t0)
	want(t, "drift", drift(e), []string{"despatch_mismatch/S1 open"})
	want(t, "despatch of the rest", despatched(e), []string{"S1 [{TEE/BLK/M 3} {SHIPPING 1}]"})
}
