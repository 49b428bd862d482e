package fulfilment

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Note folds a Prima despatch note read back from Prima (created), or the
// despatch sink's report that Prima refused the post (failed).
func (r Rules) Note(st *State, n *schemas.DespatchNote, now time.Time) Effects {
	var e Effects
	if n.Status == schemas.DespatchFailed {
		r.failed(st, n, &e)
		return e
	}
	if n.DespatchNoteID == nil || *n.DespatchNoteID == "" {
		return e // the source always names the note; nothing to match
	}
	id := *n.DespatchNoteID
	if _, seen := st.Notes[id]; seen {
		return e
	}
	if st.Notes == nil {
		st.Notes = map[string]*Note{}
	}
	note := &Note{ID: id, Reference: n.ShipmentID, Lines: slices.Clone(n.Lines)}
	st.Notes[id] = note
	if sh, ok := st.Shipments[n.ShipmentID]; ok && !sh.Cancelled && sh.WaitingDue == 0 {
		if sh.NoteID == "" {
			r.match(st, sh, note, &e)
			return e
		}
		// Prima holds a second note for one shipment: Prima invoices
		// twice unless finance voids one.
		note.Shipment = sh.ID
		e.open(st, Drift{ID: DriftID(schemas.DriftDespatchMismatch, sh.ID), Kind: schemas.DriftDespatchMismatch,
			Cause: "second-note-" + id, ShipmentID: sh.ID, Expected: ptr(units(sh.Expected)), Actual: ptr(units(sh.Expected) + units(note.Lines)),
			Detail: fmt.Sprintf("Prima holds despatch notes %s and %s for one Clarus shipment %s of order %s: void the duplicate before it is invoiced.",
				sh.NoteID, id, sh.ID, st.Ref)})
		return e
	}
	due := now.Add(r.Grace)
	note.UnmatchedDue = due.UnixMilli()
	e.Timers = append(e.Timers, Timer{Kind: TimerUnmatched, ID: id, Due: due})
	return e
}

// failed records Prima's refusal of a despatch post.
func (r Rules) failed(st *State, n *schemas.DespatchNote, e *Effects) {
	sh, ok := st.Shipments[n.ShipmentID]
	if ok && (sh.NoteID != "" || sh.Failed) {
		return // noted after all, or reported already
	}
	if ok {
		sh.Failed = true
	}
	reason := "no reason given"
	if n.Reason != nil {
		reason = *n.Reason
	}
	d := Drift{ID: DriftID(schemas.DriftDespatchPostFailed, n.ShipmentID), Kind: schemas.DriftDespatchPostFailed,
		Cause: "refused", ShipmentID: n.ShipmentID, Actual: ptr(0),
		Detail: fmt.Sprintf("Prima refused the despatch note for Clarus shipment %s of order %s: %s. Raise it in Prima; it is not invoiced until then.",
			n.ShipmentID, st.Ref, reason)}
	if ok {
		d.Expected = ptr(units(sh.Expected))
		d.Value, d.Currency = r.value(st, sh.Expected)
	}
	e.open(st, d)
}

// match pairs a shipment with the note that confirms it and compares
// their stock lines.
func (r Rules) match(st *State, sh *Shipment, n *Note, e *Effects) {
	n.Shipment, n.UnmatchedDue = sh.ID, 0
	sh.NoteID, sh.SLADue = n.ID, 0
	e.resolve(st, DriftID(schemas.DriftDespatchWithoutShipment, n.ID), sh.ID, "matched",
		fmt.Sprintf("Despatch note %s records Clarus shipment %s.", n.ID, sh.ID))
	e.resolve(st, DriftID(schemas.DriftMissingDespatch, sh.ID), sh.ID, "noted",
		fmt.Sprintf("Prima's despatch note %s for shipment %s has arrived.", n.ID, sh.ID))
	e.resolve(st, DriftID(schemas.DriftDespatchPostFailed, sh.ID), sh.ID, "noted",
		fmt.Sprintf("Prima's despatch note %s for shipment %s exists now.", n.ID, sh.ID))
	if diff := r.diff(st, sh.Expected, n.Lines); diff != "" {
		e.open(st, Drift{ID: DriftID(schemas.DriftDespatchMismatch, sh.ID), Kind: schemas.DriftDespatchMismatch,
			Cause: "note-" + n.ID, ShipmentID: sh.ID, Expected: ptr(units(sh.Expected)), Actual: ptr(units(r.stockLines(st, n.Lines))),
			Detail: fmt.Sprintf("Despatch note %s differs from Clarus shipment %s of order %s: %s.", n.ID, sh.ID, st.Ref, diff)})
	}
	r.closeIfDone(st, e)
}

// stockLines are the lines of SKUs lockstep sent to Clarus: the non-stock
// lines on a note are Prima's own business.
func (r Rules) stockLines(st *State, lines []schemas.Line) []schemas.Line {
	stock := map[string]bool{}
	if st.Sent != nil {
		for _, l := range st.Sent.Lines {
			stock[l.SKU] = true
		}
	}
	var out []schemas.Line
	for _, l := range lines {
		if stock[l.SKU] {
			out = append(out, l)
		}
	}
	return out
}

// diff describes how the note's stock lines differ from the shipment's,
// per SKU; "" when they agree.
func (r Rules) diff(st *State, want, got []schemas.Line) string {
	w, g := map[string]int64{}, map[string]int64{}
	for _, l := range want {
		w[l.SKU] += l.Quantity
	}
	for _, l := range r.stockLines(st, got) {
		g[l.SKU] += l.Quantity
	}
	skus := maps.Clone(w)
	maps.Copy(skus, g)
	var out []string
	for _, sku := range slices.Sorted(maps.Keys(skus)) {
		if w[sku] != g[sku] {
			out = append(out, fmt.Sprintf("%s shipped %d, noted %d", sku, w[sku], g[sku]))
		}
	}
	return strings.Join(out, "; ")
}

// closeIfDone closes the fulfilment once the goods-out is complete and
// every shipment has its note.
func (r Rules) closeIfDone(st *State, e *Effects) {
	if st.Closed || !st.Complete || st.Sent == nil || len(st.Shipments) == 0 {
		return
	}
	ev := &schemas.FulfilmentClosed{OrderRef: st.Ref, Warehouse: st.Sent.Warehouse}
	for _, id := range st.shipmentIDs() {
		sh := st.Shipments[id]
		if sh.Cancelled {
			continue
		}
		if sh.NoteID == "" || sh.WaitingDue != 0 {
			return
		}
		ev.ShipmentIDs = append(ev.ShipmentIDs, sh.ID)
		ev.DespatchNoteIDs = append(ev.DespatchNoteIDs, sh.NoteID)
		ev.Units += units(sh.Expected)
	}
	if len(ev.ShipmentIDs) == 0 {
		return
	}
	st.Closed = true
	e.Closed = ev
	e.Close = &schemas.ClarusOrderCommand{OrderRef: st.Ref, OrderVersion: st.Sent.Version,
		Action: schemas.ClarusOrderClose, Warehouse: st.Sent.Warehouse}
}

// Timer fires a deadline. One whose due time State no longer holds was
// superseded (noted, matched, released) and does nothing.
func (r Rules) Timer(st *State, t Timer) Effects {
	var e Effects
	due := t.Due.UnixMilli()
	switch t.Kind {
	case TimerSLA:
		sh, ok := st.Shipments[t.ID]
		if !ok || sh.SLADue != due || sh.NoteID != "" || sh.Cancelled {
			return e
		}
		sh.SLADue = 0
		if sh.Failed {
			return e // despatch_post_failed says it already
		}
		v, cur := r.value(st, sh.Expected)
		e.open(st, Drift{ID: DriftID(schemas.DriftMissingDespatch, sh.ID), Kind: schemas.DriftMissingDespatch,
			Cause: "sla", ShipmentID: sh.ID, Expected: ptr(units(sh.Expected)), Actual: ptr(0), Value: v, Currency: cur,
			Detail: fmt.Sprintf("Clarus shipped %d units of order %s in shipment %s, and Prima shows no despatch note for it after %s: the goods are not invoiced.",
				units(sh.Expected), st.Ref, sh.ID, r.SLA)})
	case TimerShipment:
		sh, ok := st.Shipments[t.ID]
		if !ok || sh.WaitingDue != due || sh.Cancelled {
			return e
		}
		e.open(st, Drift{ID: DriftID(schemas.DriftShipmentWithoutOrder, sh.ID), Kind: schemas.DriftShipmentWithoutOrder,
			Cause: "grace", ShipmentID: sh.ID, Expected: ptr(0), Actual: ptr(units(sh.Lines)),
			Detail: fmt.Sprintf("Clarus shipped %d units as shipment %s for order %s, which lockstep never sent to Clarus: find who created the goods-out.",
				units(sh.Lines), sh.ID, st.Ref)})
	case TimerUnmatched:
		n, ok := st.Notes[t.ID]
		if !ok || n.UnmatchedDue != due || n.Shipment != "" {
			return e
		}
		n.UnmatchedDue = 0
		e.open(st, Drift{ID: DriftID(schemas.DriftDespatchWithoutShipment, n.ID), Kind: schemas.DriftDespatchWithoutShipment,
			Cause: "grace", Expected: ptr(0), Actual: ptr(units(n.Lines)),
			Detail: fmt.Sprintf("Prima despatch note %s (reference %q) of order %s matches no Clarus shipment: Prima will invoice goods the warehouse has not shipped.",
				n.ID, n.Reference, st.Ref)})
	}
	return e
}

// value is lines at the order's prices.
func (r Rules) value(st *State, lines []schemas.Line) (*schemas.Decimal, string) {
	if st.Order == nil {
		return nil, ""
	}
	price := map[string]schemas.Decimal{}
	for _, l := range st.Order.Lines {
		if _, ok := price[l.SKU]; !ok {
			price[l.SKU] = l.UnitPrice
		}
	}
	var total schemas.Decimal
	for _, l := range lines {
		v, err := price[l.SKU].Mul(l.Quantity)
		if err != nil {
			return nil, ""
		}
		total += v
	}
	return &total, st.Order.Currency
}

func ptr(n int64) *int64 { return &n }
