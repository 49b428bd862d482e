package fulfilment

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Rules fold one order's inputs. Each method changes st in place (the
// wiring decodes a fresh State per record) and returns what to emit; none
// does I/O or reads a clock: the time comes in as now.
type Rules struct {
	SLA   time.Duration // for a shipment's despatch note
	Grace time.Duration // for a shipment or note to meet its other half
}

// Effects are what one step asks the wiring to do.
type Effects struct {
	Despatch []schemas.DespatchCommand // Meta is filled by the wiring
	// Close asks Clarus to record the goods-out as closed.
	Close  *schemas.ClarusOrderCommand
	Closed *schemas.FulfilmentClosed
	Drift  []Drift
	// Timers to arm: due times live in State too, so a timer that fires
	// for a superseded due time is recognised and ignored.
	Timers []Timer
}

// Timer is a deadline of one shipment or note.
type Timer struct {
	Kind TimerKind
	ID   string // shipment or note id
	Due  time.Time
}

// TimerKind says what a deadline is for.
type TimerKind string

// Timer kinds.
const (
	TimerSLA       TimerKind = "sla"       // a shipment's note is due
	TimerShipment  TimerKind = "shipment"  // a shipment's order is due
	TimerUnmatched TimerKind = "unmatched" // a note's shipment is due
)

// Drift is one drift event about an order, before the wiring makes it an
// event. Its event id is ID, Status and Cause.
type Drift struct {
	ID         string
	Kind       schemas.DriftKind
	Owner      schemas.DriftOwner
	Status     schemas.DriftStatus
	Cause      string // unique per discrepancy and status
	ShipmentID string
	Expected   *int64 // units Clarus shipped
	Actual     *int64 // units on Prima's note
	Value      *schemas.Decimal
	Currency   string
	Detail     string
}

var owners = map[schemas.DriftKind]schemas.DriftOwner{
	schemas.DriftMissingDespatch:         schemas.OwnerFinance,
	schemas.DriftDespatchMismatch:        schemas.OwnerFinance,
	schemas.DriftDespatchWithoutShipment: schemas.OwnerFinance,
	schemas.DriftDespatchPostFailed:      schemas.OwnerFinance,
	schemas.DriftShipmentWithoutOrder:    schemas.OwnerWarehouse,
}

// DriftID is the discrepancy id of kind about one shipment or note.
func DriftID(kind schemas.DriftKind, id string) string { return string(kind) + "/" + id }

// open opens (or updates) a discrepancy.
func (e *Effects) open(st *State, d Drift) {
	d.Status = schemas.DriftOpen
	if _, ok := st.Open[d.ID]; ok {
		d.Status = schemas.DriftUpdated
	}
	d.Owner = owners[d.Kind]
	if st.Open == nil {
		st.Open = map[string]schemas.DriftKind{}
	}
	st.Open[d.ID] = d.Kind
	e.Drift = append(e.Drift, d)
}

// resolve resolves a discrepancy if it is open.
func (e *Effects) resolve(st *State, id, shipment, cause, detail string) {
	kind, ok := st.Open[id]
	if !ok {
		return
	}
	delete(st.Open, id)
	e.Drift = append(e.Drift, Drift{ID: id, Kind: kind, Owner: owners[kind], Status: schemas.DriftResolved,
		Cause: cause, ShipmentID: shipment, Detail: detail})
}

// Order records the latest version of the Prima order.
func (r Rules) Order(st *State, o *schemas.SalesOrder) Effects {
	if st.Order != nil && o.Version <= st.Order.Version {
		return Effects{}
	}
	ord := &Order{Version: o.Version, Status: o.Status, Warehouse: o.Warehouse, Currency: o.Currency}
	for _, l := range o.Lines {
		ord.Lines = append(ord.Lines, OrderLine{SKU: l.SKU, Quantity: l.Quantity, UnitPrice: l.UnitPrice})
	}
	st.Order = ord
	return r.release(st)
}

// Sent records what lockstep asked Clarus for. Close commands are the
// processor's own and change nothing.
func (r Rules) Sent(st *State, c *schemas.ClarusOrderCommand) Effects {
	switch c.Action {
	case schemas.ClarusOrderCreate:
		if st.Sent != nil && c.OrderVersion < st.Sent.Version {
			return Effects{}
		}
		st.Sent = &Sent{Version: c.OrderVersion, Warehouse: c.Warehouse, Lines: slices.Clone(c.Lines)}
		return r.release(st)
	case schemas.ClarusOrderCancel:
		if st.Sent != nil && c.OrderVersion >= st.Sent.Version && !c.Replace {
			st.Sent.Cancelled = true
		}
	}
	return Effects{}
}

// release requests the notes of shipments that waited for the order.
func (r Rules) release(st *State) Effects {
	var e Effects
	if st.Sent == nil || st.Order == nil {
		return e
	}
	for _, id := range st.shipmentIDs() {
		sh := st.Shipments[id]
		if sh.WaitingDue == 0 || sh.Cancelled {
			continue
		}
		sh.WaitingDue = 0
		e.resolve(st, DriftID(schemas.DriftShipmentWithoutOrder, id), id, "order-seen",
			fmt.Sprintf("Order %s is now known as sent to Clarus; its shipment %s is despatched as usual.", st.Ref, id))
		r.request(st, sh, &e)
	}
	return e
}

// Shipment folds a Clarus shipment, confirmed or cancelled. A repeat
// (webhook and sweep both report each shipment) changes nothing but
// completeness.
func (r Rules) Shipment(st *State, s *schemas.Shipment, now time.Time) Effects {
	var e Effects
	if st.Shipments == nil {
		st.Shipments = map[string]*Shipment{}
	}
	sh, seen := st.Shipments[s.ShipmentID]
	if s.Status == schemas.ShipmentCancelled {
		if seen && !sh.Cancelled {
			sh.Cancelled, sh.SLADue, sh.WaitingDue = true, 0, 0
			e.resolve(st, DriftID(schemas.DriftMissingDespatch, sh.ID), sh.ID, "shipment-cancelled",
				fmt.Sprintf("Clarus cancelled shipment %s: no despatch note is due.", sh.ID))
		}
		return e
	}
	if s.OrderComplete && !st.Complete {
		st.Complete = true
		defer r.closeIfDone(st, &e)
	}
	if seen {
		return e
	}
	sh = &Shipment{ID: s.ShipmentID, Warehouse: s.Warehouse, Carrier: s.Carrier, Tracking: s.TrackingNumber,
		Dispatched: s.OccurredAt.UnixMilli()}
	for _, l := range s.Lines {
		sh.Lines = append(sh.Lines, schemas.Line{SKU: l.SKU, Quantity: l.Quantity})
	}
	st.Shipments[sh.ID] = sh
	if st.Sent == nil || st.Order == nil {
		due := now.Add(r.Grace)
		sh.WaitingDue = due.UnixMilli()
		e.Timers = append(e.Timers, Timer{Kind: TimerShipment, ID: sh.ID, Due: due})
		return e
	}
	r.request(st, sh, &e)
	return e
}

// request asks for the shipment's note, unless Prima has one already (it
// arrived first), and arms its SLA.
func (r Rules) request(st *State, sh *Shipment, e *Effects) {
	expected, unknown := r.expected(st, sh)
	sh.Expected = expected
	if len(unknown) > 0 {
		// Clarus shipped a product that is not on the goods-out: the note
		// cannot say what it is in Prima. The rest is despatched.
		e.open(st, Drift{ID: DriftID(schemas.DriftDespatchMismatch, sh.ID), Kind: schemas.DriftDespatchMismatch,
			Cause: "unknown-product", ShipmentID: sh.ID,
			Detail: fmt.Sprintf("Clarus shipment %s of order %s holds %s, not on the goods-out lockstep sent: check the pick and raise the despatch in Prima by hand.",
				sh.ID, st.Ref, strings.Join(unknown, ", "))})
	}
	for _, id := range st.noteIDs() {
		n := st.Notes[id]
		if n.Shipment == "" && n.Reference == sh.ID {
			r.match(st, sh, n, e)
			break
		}
	}
	if sh.NoteID != "" {
		return
	}
	lines := slices.Clone(expected)
	if !st.NonStockNoted {
		st.NonStockNoted = true
		lines = append(lines, r.nonStock(st)...)
	}
	sh.Requested = true
	e.Despatch = append(e.Despatch, schemas.DespatchCommand{
		Meta:     schemas.Meta{OccurredAt: time.UnixMilli(sh.Dispatched).UTC()},
		OrderRef: st.Ref, ShipmentID: sh.ID, Warehouse: sh.Warehouse,
		Carrier: sh.Carrier, TrackingNumber: sh.Tracking, Lines: lines,
	})
	if sh.SLADue == 0 {
		due := time.UnixMilli(sh.Dispatched).Add(r.SLA)
		sh.SLADue = due.UnixMilli()
		e.Timers = append(e.Timers, Timer{Kind: TimerSLA, ID: sh.ID, Due: due})
	}
}

// expected maps the shipment's Clarus codes to Prima SKUs through the
// goods-out lockstep sent; it returns the codes that are not on it.
func (r Rules) expected(st *State, sh *Shipment) ([]schemas.Line, []string) {
	byCode := map[string]string{}
	for _, l := range st.Sent.Lines {
		if _, ok := byCode[l.ClarusCode]; !ok {
			byCode[l.ClarusCode] = l.SKU
		}
	}
	units := map[string]int64{}
	var unknown []string
	for _, l := range sh.Lines {
		sku, ok := byCode[l.SKU]
		if !ok {
			unknown = append(unknown, l.SKU)
			continue
		}
		units[sku] += l.Quantity
	}
	return linesOf(units), unknown
}

// nonStock are the order's lines lockstep never sent to Clarus.
func (r Rules) nonStock(st *State) []schemas.Line {
	sent := map[string]bool{}
	for _, l := range st.Sent.Lines {
		sent[l.SKU] = true
	}
	units := map[string]int64{}
	for _, l := range st.Order.Lines {
		if !sent[l.SKU] && l.Quantity > 0 {
			units[l.SKU] += l.Quantity
		}
	}
	return linesOf(units)
}

func linesOf(units map[string]int64) []schemas.Line {
	out := make([]schemas.Line, 0, len(units))
	for _, sku := range slices.Sorted(maps.Keys(units)) {
		out = append(out, schemas.Line{SKU: sku, Quantity: units[sku]})
	}
	return out
}

func units(lines []schemas.Line) int64 {
	var n int64
	for _, l := range lines {
		n += l.Quantity
	}
	return n
}
