package orders

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/lockstep-dev/lockstep/processors/discrepancy"
	"github.com/lockstep-dev/lockstep/processors/itemmaster"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Effects are what one step asks the wiring to do.
type Effects struct {
	Commands []schemas.ClarusOrderCommand // Meta is filled by the wiring
	Drift    []discrepancy.Drift
	// Redrive asks for the held order's re-drive timer.
	Redrive bool
}

// Discrepancy ids, one per order (and SKU for unmapped lines): every event
// about one discrepancy carries the same id.
func unmappedID(ref, sku string) string {
	return discrepancy.ID(schemas.DriftSKUUnmapped, "order", ref, sku)
}

// unmappedSKU is the SKU of an unmapped discrepancy of order ref (SKUs
// may hold slashes).
func unmappedSKU(ref, id string) string { return strings.TrimPrefix(id, unmappedID(ref, "")) }
func rejectedID(ref string) string      { return discrepancy.ID(schemas.DriftOrderRejected, ref) }
func amendedID(ref string) string       { return discrepancy.ID(schemas.DriftAmendedAfterRelease, ref) }
func cancelID(ref string) string        { return discrepancy.ID(schemas.DriftCancelAfterDispatch, ref) }

var owners = discrepancy.Owners{
	schemas.DriftSKUUnmapped:         schemas.OwnerWarehouse,
	schemas.DriftOrderRejected:       schemas.OwnerWarehouse,
	schemas.DriftAmendedAfterRelease: schemas.OwnerOperations,
	schemas.DriftCancelAfterDispatch: schemas.OwnerOperations,
}

// open opens the discrepancy id, or updates it when it is open already.
func (e *Effects) open(st *State, d discrepancy.Drift) {
	e.Drift = append(e.Drift, owners.Open(&st.Open, d))
}

// resolve resolves the discrepancy id if it is open.
func (e *Effects) resolve(st *State, id, cause, detail string) {
	d, ok := owners.Resolve(st.Open, id, cause, detail)
	if !ok {
		return
	}
	if d.Kind == schemas.DriftSKUUnmapped {
		d.SKU = unmappedSKU(st.Ref, id)
	}
	e.Drift = append(e.Drift, d)
}

// resolveAll resolves every open discrepancy of the order, in id order.
func (e *Effects) resolveAll(st *State, cause, detail string) {
	for _, id := range st.Open.IDs() {
		e.resolve(st, id, cause, detail)
	}
}

func vcause(v int64) string { return fmt.Sprintf("v%d", v) }

// Order folds a new version of a Prima order (o.Version > st.Version; the
// order passed Validate).
func (r Rules) Order(st State, o *schemas.SalesOrder, items itemmaster.Items) (State, Effects) {
	var e Effects
	st.Ref, st.Version = o.OrderRef, o.Version
	cause := vcause(o.Version)
	if o.Status == schemas.SalesOrderCancelled {
		switch st.Phase {
		case PhaseSent:
			warehouse := st.Order.Warehouse
			st.Replacing, st.CancelVersion = nil, o.Version
			e.Commands = append(e.Commands, cancelCommand(st.Ref, o.Version, warehouse, false))
			st.Phase = PhaseCancelling
		case PhaseCancelling, PhaseCancelled:
		default:
			st.Phase = PhaseCancelled
			e.resolveAll(&st, cause, fmt.Sprintf("Order %s was cancelled in Prima (version %d) before it reached Clarus.", st.Ref, o.Version))
		}
		return st, e
	}
	switch st.Phase {
	case PhaseCancelling, PhaseCancelled:
		return st, e // Prima does not revive a cancelled order
	case PhaseSent:
		st.Order = o
		r.amend(&st, o, items, &e)
		return st, e
	}
	st.Order = o
	r.evaluate(&st, items, cause, &e)
	return st, e
}

// evaluate sends st.Order to Clarus, holds it, or records that it has no
// stock lines: the path of an order Clarus does not have.
func (r Rules) evaluate(st *State, items itemmaster.Items, cause string, e *Effects) {
	o := st.Order
	sp := r.SplitLines(o.Lines, items)
	unmapped := map[string]Unmapped{}
	for _, u := range sp.Unmapped {
		if prev, ok := unmapped[u.SKU]; ok {
			u.Quantity += prev.Quantity
		}
		unmapped[u.SKU] = u
	}
	for _, id := range slices.Sorted(maps.Keys(st.Open)) {
		if st.Open[id] != schemas.DriftSKUUnmapped {
			continue
		}
		sku := unmappedSKU(st.Ref, id)
		if _, still := unmapped[sku]; !still {
			e.resolve(st, id, cause, fmt.Sprintf("%s on order %s no longer holds it (it maps now, or the line left the order).", sku, o.OrderRef))
		}
	}
	if len(unmapped) > 0 {
		st.Phase = PhaseHeld
		for _, sku := range slices.Sorted(maps.Keys(unmapped)) {
			u := unmapped[sku]
			q := u.Quantity
			if _, ok := st.Open[unmappedID(o.OrderRef, sku)]; ok {
				continue // still held for the same SKU: nothing new to say
			}
			e.open(st, discrepancy.Drift{ID: unmappedID(o.OrderRef, sku), Kind: schemas.DriftSKUUnmapped, Cause: cause, SKU: sku, Expected: &q,
				Detail: fmt.Sprintf("Order %s (version %d, %s) is held: SKU %s (line %d, %d units) is %s. Map it in Prima's item master; the order goes to Clarus then, by itself.",
					o.OrderRef, o.Version, o.Warehouse, sku, u.LineNo, u.Quantity, u.Reason)})
		}
		e.Redrive = true
		return
	}
	if len(sp.Stock) == 0 {
		st.Phase, st.Sent = PhaseNoStock, nil
		return
	}
	st.Sent = &Sent{Version: o.Version, Lines: sp.Stock, Delivery: o.Delivery, Warehouse: o.Warehouse}
	st.Phase = PhaseSent
	e.Commands = append(e.Commands, createCommand(o, st.Sent))
}

// amend folds a new version of an order Clarus has: prices alone go
// nowhere; a change to stock lines or the address is an exception, or is
// forwarded as cancel then re-create.
func (r Rules) amend(st *State, o *schemas.SalesOrder, items itemmaster.Items, e *Effects) {
	cause := vcause(o.Version)
	target := st.Sent
	if st.Replacing != nil {
		target = st.Replacing
	}
	sp := r.SplitLines(o.Lines, items)
	diff := Diff(target, sp.Stock, o.Delivery)
	for _, u := range sp.Unmapped {
		diff = append(diff, fmt.Sprintf("line %d adds %s, which is %s", u.LineNo, u.SKU, u.Reason))
	}
	if len(diff) == 0 {
		e.resolve(st, amendedID(st.Ref), cause, fmt.Sprintf("Version %d of order %s asks the warehouse for what it has: the earlier change was taken back.", o.Version, st.Ref))
		return
	}
	if !r.ForwardAmendments || len(sp.Unmapped) > 0 {
		sent, now := units(st.Sent.Lines), units(sp.Stock)
		e.open(st, discrepancy.Drift{ID: amendedID(st.Ref), Kind: schemas.DriftAmendedAfterRelease, Cause: cause, Expected: &sent, Actual: &now,
			Detail: fmt.Sprintf("Order %s was changed in Prima (version %d) after version %d went to Clarus: %s. The warehouse still works to version %d; change it in Clarus or take the change back in Prima.",
				st.Ref, o.Version, st.Sent.Version, strings.Join(diff, "; "), st.Sent.Version)})
		return
	}
	if st.Replacing == nil {
		st.CancelVersion = o.Version
		e.Commands = append(e.Commands, cancelCommand(st.Ref, o.Version, o.Warehouse, true))
	}
	st.Replacing = &Sent{Version: o.Version, Lines: sp.Stock, Delivery: o.Delivery, Warehouse: o.Warehouse}
}

// Ack folds Clarus's answer to a command.
func (r Rules) Ack(st State, a *schemas.OrderAck) (State, Effects) {
	var e Effects
	cause := fmt.Sprintf("ack-%s-v%d-%s", a.Action, a.OrderVersion, a.Status)
	reason := ""
	if a.Reason != nil {
		reason = *a.Reason
	}
	switch a.Action {
	case schemas.ClarusOrderCreate:
		if st.Sent == nil || st.Sent.Version != a.OrderVersion || st.Sent.ClarusID != "" {
			return st, e // stale or repeated
		}
		switch a.Status {
		case schemas.OrderCreated:
			if a.ClarusID != nil {
				st.Sent.ClarusID = *a.ClarusID
			}
			e.resolve(&st, rejectedID(st.Ref), cause, fmt.Sprintf("Clarus accepted version %d of order %s.", a.OrderVersion, st.Ref))
		case schemas.OrderRejected:
			q := units(st.Sent.Lines)
			e.open(&st, discrepancy.Drift{ID: rejectedID(st.Ref), Kind: schemas.DriftOrderRejected, Cause: cause, Expected: &q,
				Detail: fmt.Sprintf("Clarus refused the goods-out of order %s version %d: %s. Fix the product or order in Clarus or Prima; a new version of the order is sent again.",
					st.Ref, a.OrderVersion, reason)})
			st.Sent = nil
			if st.Phase == PhaseSent {
				st.Phase = PhaseRejected
			} else if st.Phase == PhaseCancelling {
				st.Phase = PhaseCancelled
			}
		}
	case schemas.ClarusOrderClose:
		// The fulfilment flow closes a goods-out it saw dispatched in full
		// and noted in Prima: nothing of it is open, whatever shipments
		// this processor has folded.
		if a.Status == schemas.OrderClosed && st.Sent != nil && !st.Sent.Done {
			done := *st.Sent
			done.Done = true
			st.Sent = &done
		}
	case schemas.ClarusOrderCancel:
		if st.CancelVersion == 0 || a.OrderVersion != st.CancelVersion {
			return st, e // stale: no cancel of that version in flight
		}
		st.CancelVersion = 0
		switch a.Status {
		case schemas.OrderCancelled:
			if st.Phase == PhaseCancelling {
				st.Phase, st.Sent = PhaseCancelled, nil
				e.resolveAll(&st, cause, fmt.Sprintf("Order %s is cancelled in Clarus as in Prima.", st.Ref))
				return st, e
			}
			next := st.Replacing
			st.Replacing = nil
			e.resolve(&st, amendedID(st.Ref), cause, fmt.Sprintf("Clarus cancelled order %s so that version %d replaces it.", st.Ref, next.Version))
			if len(next.Lines) == 0 {
				st.Sent, st.Phase = nil, PhaseNoStock
				return st, e
			}
			st.Sent = next
			e.Commands = append(e.Commands, createCommand(st.Order, next))
		case schemas.OrderRejected:
			if st.Phase == PhaseCancelling {
				st.Phase = PhaseSent
				e.open(&st, discrepancy.Drift{ID: cancelID(st.Ref), Kind: schemas.DriftCancelAfterDispatch, Cause: cause,
					Detail: fmt.Sprintf("Order %s was cancelled in Prima but Clarus refused to cancel its goods-out: %s. The goods may have left; credit or recover them in Prima.",
						st.Ref, reason)})
				return st, e
			}
			next := st.Replacing
			st.Replacing = nil
			e.open(&st, discrepancy.Drift{ID: amendedID(st.Ref), Kind: schemas.DriftAmendedAfterRelease, Cause: cause,
				Detail: fmt.Sprintf("Order %s version %d could not replace version %d in Clarus, which refused the cancel: %s. The warehouse still works to version %d.",
					st.Ref, next.Version, st.Sent.Version, reason, st.Sent.Version)})
		}
	}
	return st, e
}

// Redrive looks at a held order again: the item master may map it now.
func (r Rules) Redrive(st State, items itemmaster.Items, cause string) (State, Effects) {
	var e Effects
	if st.Phase != PhaseHeld || st.Order == nil {
		return st, e
	}
	r.evaluate(&st, items, cause, &e)
	return st, e
}

// Diff describes how stock lines and an address differ from a goods-out
// sent, line by line; nil when they do not.
func Diff(sent *Sent, lines []schemas.ClarusLine, delivery *schemas.DeliveryAddress) []string {
	out := discrepancy.LineChanges(sent.Lines, lines)
	if !sameAddress(sent.Delivery, delivery) {
		out = append(out, "delivery address changed")
	}
	return out
}

func sameAddress(a, b *schemas.DeliveryAddress) bool {
	if a == nil || b == nil {
		return a == b
	}
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return a.Name == b.Name && a.Line1 == b.Line1 && s(a.Line2) == s(b.Line2) && a.City == b.City &&
		s(a.Region) == s(b.Region) && a.Postcode == b.Postcode && a.CountryCode == b.CountryCode
}

func units(lines []schemas.ClarusLine) int64 {
	var n int64
	for _, l := range lines {
		n += l.Quantity
	}
	return n
}

func createCommand(o *schemas.SalesOrder, s *Sent) schemas.ClarusOrderCommand {
	return schemas.ClarusOrderCommand{OrderRef: o.OrderRef, OrderVersion: s.Version, Action: schemas.ClarusOrderCreate,
		Warehouse: o.Warehouse, CustomerRef: o.CustomerRef, Delivery: s.Delivery, Lines: slices.Clone(s.Lines)}
}

func cancelCommand(ref string, version int64, warehouse string, replace bool) schemas.ClarusOrderCommand {
	return schemas.ClarusOrderCommand{OrderRef: ref, OrderVersion: version, Action: schemas.ClarusOrderCancel,
		Replace: replace, Warehouse: warehouse, Lines: []schemas.ClarusLine{}}
}
