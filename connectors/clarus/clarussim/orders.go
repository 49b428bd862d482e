package clarussim

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Goods-out orders through Clarus's documented statuses: DRAFT, PENDING,
// ALLOCATED or PART_ALLOCATED, PICK, COMPLETED, or CANCELLED. Only
// completion sends a webhook (goods_out.completed); allocations reach
// lockstep through the sweep's allocated quantities only.

// createOrder creates a goods-out order, DRAFT and then PENDING (awaiting
// allocation), allocating nothing.
func (s *Sim) createOrder(ev Event, lines []Line, now time.Time) Result {
	o := &goodsOut{ID: s.st.id(), Reference: ev.Reference, Warehouse: ev.Warehouse, CreatedAt: now, GoodsOutType: "sales_order"}
	if o.Reference == "" {
		o.Reference = fmt.Sprintf("SO-%d", o.ID)
	}
	o.ExternalRefs[0] = o.Reference
	s.addOrder(o, lines)
	return Result{Type: ev.Type, RecordID: o.ID}
}

// addOrder gives o its lines and stores it, DRAFT and then PENDING
// (awaiting allocation), allocating nothing.
func (s *Sim) addOrder(o *goodsOut, lines []Line) {
	o.setStatus(statusDraft)
	for _, l := range lines {
		o.Lines = append(o.Lines, orderLine{ID: s.st.id(), SKU: l.SKU, Quantity: l.Quantity})
		s.st.bal(skuKey{l.SKU, o.Warehouse}) // the product exists in the warehouse, if with no stock
	}
	o.setStatus(statusPending)
	s.st.orders[o.ID] = o
}

// orderAndAllocate creates an order and allocates it in full, or refuses
// it whole when the stock is not there: the compound event the scenario
// generator uses.
func (s *Sim) orderAndAllocate(ev Event, lines []Line, now time.Time) (Result, error) {
	need := map[skuKey]int64{}
	for _, l := range lines {
		need[skuKey{l.SKU, ev.Warehouse}] += l.Quantity
	}
	for k, q := range need {
		if q > s.st.available(k) {
			return Result{}, refused("allocate %d of %s: only %d available", q, k, s.st.available(k))
		}
	}
	res := s.createOrder(ev, lines, now)
	o := s.st.orders[res.RecordID]
	res.Movements = s.allocate(o, now)
	return res, nil
}

// allocate allocates what stock allows of every line of o, and moves it to
// ALLOCATED, or PART_ALLOCATED when some is short. It returns the movement
// ids.
func (s *Sim) allocate(o *goodsOut, now time.Time) []string {
	var ids []string
	full := true
	for i := range o.Lines {
		l := &o.Lines[i]
		k := skuKey{l.SKU, o.Warehouse}
		q := min(l.Quantity-l.Allocated, max(s.st.available(k), 0))
		if q < l.Quantity-l.Allocated {
			full = false
		}
		if q <= 0 {
			continue
		}
		l.Allocated += q
		l.allocs++
		b := s.st.bal(k)
		b.Allocated += q
		b.UpdatedAt = now
		id := fmt.Sprintf("goods_out/%d/%d/allocated", o.ID, l.ID)
		if l.allocs > 1 {
			id = fmt.Sprintf("%s-%d", id, l.allocs)
		}
		s.st.record(Movement{ID: id, Kind: "allocation", SKU: l.SKU, Warehouse: o.Warehouse, Quantity: q, Reference: o.Reference, At: now})
		ids = append(ids, id)
	}
	if full {
		o.setStatus(statusAllocated)
	} else {
		o.setStatus(statusPartAllocated)
	}
	return ids
}

// orderEvent applies allocate, pick, ship, dispatch or cancel to an
// existing order, found by id or reference.
func (s *Sim) orderEvent(ev Event, now time.Time) (Result, error) {
	o, ok := s.st.orders[ev.OrderID]
	if !ok && ev.Reference != "" {
		for _, c := range s.sortedOrders() {
			if c.Reference == ev.Reference && c.StatusID != statusCompleted && c.StatusID != statusCancelled {
				o, ok = c, true
				break
			}
		}
	}
	if !ok {
		return Result{}, refused("%s: unknown order %d %q", ev.Type, ev.OrderID, ev.Reference)
	}
	res := Result{Type: ev.Type, RecordID: o.ID}
	status := statusCodes[o.StatusID]
	switch ev.Type {
	case "allocate":
		if o.StatusID != statusPending && o.StatusID != statusPartAllocated {
			return Result{}, refused("allocate: order %d is %s, not PENDING or PART_ALLOCATED", o.ID, status)
		}
		if !s.canAllocate(o) {
			// Clarus's error 39, not_enough_stocks_for_picking, is the
			// nearest documented refusal.
			return Result{}, refused("allocate: no stock to allocate to order %d", o.ID)
		}
		res.Movements = s.allocate(o, now)
	case "pick":
		if o.StatusID != statusAllocated && o.StatusID != statusPartAllocated {
			return Result{}, refused("pick: order %d is %s, not ALLOCATED or PART_ALLOCATED", o.ID, status)
		}
		o.setStatus(statusPick)
	case "ship", "dispatch":
		var want []Line // nil: dispatch ships all that is left
		if ev.Type == "ship" {
			want = append([]Line{}, eventLines(ev)...) // none given is refused, not everything
		}
		parts, refusal := planShipment(o, want)
		if refusal != nil {
			return Result{}, refused("%s: %s", ev.Type, refusal.Reason)
		}
		res.ShipmentID, res.Movements = s.ship(o, parts, ev.Carrier, ev.Tracking, now)
	case "cancel":
		mv, _, err := s.cancel(o, now)
		if err != nil {
			return Result{}, refused("cancel: %s (order %d)", err.Reason, o.ID)
		}
		res.Movements = mv
	}
	return res, nil
}

// Cancel refusals, in the documented words where there are some.
const (
	reasonDispatched       = "Cannot cancel - already dispatched"
	reasonAlreadyCancelled = "Cannot cancel - already cancelled" // assumed
)

// cancel applies Clarus's documented cancel behaviour to o: a DRAFT or
// PENDING order is deleted, an allocated or picking one deallocated and
// CANCELLED, a COMPLETED one refused. It returns the deallocations and
// whether o was deleted; both the control API's cancel event and POST
// /api/goods_outs/{id}/cancel go through it.
func (s *Sim) cancel(o *goodsOut, now time.Time) ([]string, bool, *EventError) {
	switch o.StatusID {
	case statusDraft, statusPending:
		delete(s.st.orders, o.ID)
		return nil, true, nil
	case statusAllocated, statusPartAllocated, statusPick:
		mv := s.deallocate(o, now)
		o.setStatus(statusCancelled)
		return mv, false, nil
	case statusCompleted:
		return nil, false, &EventError{Reason: reasonDispatched}
	case statusCancelled:
		return nil, false, &EventError{Reason: reasonAlreadyCancelled}
	}
	return nil, false, &EventError{Reason: "Cannot cancel - order is " + statusCodes[o.StatusID]}
}

func (s *Sim) canAllocate(o *goodsOut) bool {
	for _, l := range o.Lines {
		if l.Allocated < l.Quantity && s.st.available(skuKey{l.SKU, o.Warehouse}) > 0 {
			return true
		}
	}
	return false
}

// deallocate releases o's allocations not yet dispatched: what its
// shipments took has left and stays allocated to it.
func (s *Sim) deallocate(o *goodsOut, now time.Time) []string {
	var ids []string
	for i := range o.Lines {
		l := &o.Lines[i]
		q := l.Allocated - l.Dispatched
		if q <= 0 {
			continue
		}
		b := s.st.bal(skuKey{l.SKU, o.Warehouse})
		b.Allocated -= q
		b.UpdatedAt = now
		id := fmt.Sprintf("goods_out/%d/%d/deallocated", o.ID, l.ID)
		s.st.record(Movement{ID: id, Kind: "deallocation", SKU: l.SKU, Warehouse: o.Warehouse, Quantity: -q, Reference: o.Reference, At: now})
		ids = append(ids, id)
		l.Allocated = l.Dispatched
	}
	return ids
}

// openOrders returns the orders that hold allocated stock (ALLOCATED,
// PART_ALLOCATED or PICK), oldest first.
func (s *Sim) openOrders() []*goodsOut {
	var out []*goodsOut
	for _, o := range s.sortedOrders() {
		switch o.StatusID {
		case statusAllocated, statusPartAllocated, statusPick:
			out = append(out, o)
		}
	}
	return out
}

func (s *Sim) sortedOrders() []*goodsOut {
	out := make([]*goodsOut, 0, len(s.st.orders))
	for _, o := range s.st.orders {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b *goodsOut) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// optional is s as a JSON string, or null when empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
