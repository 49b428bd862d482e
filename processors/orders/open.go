package orders

import (
	"maps"
	"slices"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Open goods-out quantities, for the stock flow: what each goods-out
// lockstep sent still has to dispatch, per Clarus code@warehouse. Clarus's
// own stock balance subtracts only what it has allocated, and a goods-out
// waits PENDING (allocating nothing) until the warehouse allocates it; in
// that window the stock is promised to an order and still shows as
// available. The stock flow takes max(allocated, open) off what it pushes
// to Prima (processors/stock): not the sum, as Clarus's allocations
// include those of these very goods-outs.
//
// A quantity is open from the create command until the goods-out is
// dispatched (a shipment says so, or the fulfilment is closed), cancelled
// or refused; each shipment of it takes its units off. Published values
// are absolute per order and key, so the stock flow can sum them without
// counting a repeat twice.

// Shipment folds a Clarus shipment of the order: its units are no longer
// open; a complete or cancelled goods-out has nothing open. A shipment of
// an earlier goods-out (replaced by an amendment) or a repeat changes
// nothing.
func (r Rules) Shipment(st State, s *schemas.Shipment) State {
	g := st.Sent
	if g == nil || g.Done || (g.ClarusID != "" && s.GoodsOutID != "" && s.GoodsOutID != g.ClarusID) {
		return st
	}
	if slices.Contains(g.Shipments, s.ShipmentID) {
		return st
	}
	next := *g
	next.Shipments = append(slices.Clone(g.Shipments), s.ShipmentID)
	next.Shipped = maps.Clone(g.Shipped)
	if next.Shipped == nil {
		next.Shipped = map[string]int64{}
	}
	if s.Status == schemas.ShipmentConfirmed {
		for _, l := range s.Lines {
			next.Shipped[l.SKU] += l.Quantity
		}
	}
	next.Done = s.Status == schemas.ShipmentCancelled || s.OrderComplete
	st.Sent = &next
	return st
}

// OpenLines is what the order's goods-out still has to dispatch, per
// Clarus code@warehouse; nil when it has nothing open.
func (st State) OpenLines() map[string]int64 {
	g := st.Sent
	if g == nil || g.Done || (st.Phase != PhaseSent && st.Phase != PhaseCancelling) {
		return nil
	}
	wh := g.Warehouse
	if wh == "" && st.Order != nil {
		wh = st.Order.Warehouse // a state written before Sent kept its warehouse
	}
	out := map[string]int64{}
	for _, l := range g.Lines {
		out[schemas.StockKey(l.ClarusCode, wh)] += l.Quantity
	}
	for code, q := range g.Shipped {
		k := schemas.StockKey(code, wh)
		if _, ok := out[k]; ok {
			out[k] -= q
		}
	}
	for k, q := range out {
		if q <= 0 {
			delete(out, k)
		}
	}
	return out
}

// OpenChange is a new open quantity of the order at one Clarus
// code@warehouse.
type OpenChange struct {
	Key  string
	Open int64
}

// OpenChanges updates st.Published to st.OpenLines() and returns what
// changed, in key order: a key no longer open changes to 0.
func OpenChanges(st *State) []OpenChange {
	now := st.OpenLines()
	var out []OpenChange
	for _, k := range slices.Sorted(maps.Keys(now)) {
		if st.Published[k] != now[k] {
			out = append(out, OpenChange{Key: k, Open: now[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(st.Published)) {
		if _, ok := now[k]; !ok {
			out = append(out, OpenChange{Key: k, Open: 0})
		}
	}
	if len(out) > 0 {
		st.Published = now
		st.OpenSeq += int64(len(out))
	}
	return out
}
