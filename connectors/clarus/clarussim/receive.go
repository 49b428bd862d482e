package clarussim

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Receiving: goods come into a warehouse. The warehouse receives them
// against its open pre-receipt whose reference the delivery carries, or,
// when it has none (no reference at all, one mistyped, or a delivery meant
// for another warehouse), as a receipt of its own under whatever reference
// it was given: it does not turn goods away for paperwork. Against a pre-receipt it takes what came: less than
// expected (a line short, or not at all), more (over-delivery), or a
// product the pre-receipt does not name (a line added). Either way the
// receipt is completed at once, the stock comes in (one receipt movement
// per line with units received) and goods_in_receipt.completed is sent
// with every line's expected and received quantities.

// receive applies a receive event. lines are the event's (none against a
// pre-receipt receives it in full, as expected).
func (s *Sim) receive(ev Event, lines []Line, now time.Time) (Result, error) {
	for _, l := range lines {
		if l.SKU == "" || l.Quantity <= 0 {
			return Result{}, refused("receive: each line needs a sku and a positive quantity")
		}
	}
	g := s.openPreReceipt(ev.Reference, ev.Warehouse)
	switch {
	case g == nil && (ev.Warehouse == "" || len(lines) == 0):
		return Result{}, refused("receive needs a warehouse and lines (or sku and quantity), or the reference of an open pre-receipt")
	case g == nil:
		g = &goodsIn{ID: s.st.id(), Reference: ev.Reference, Warehouse: ev.Warehouse, CreatedAt: now}
		s.st.receipts[g.ID] = g
	case len(lines) == 0 && len(g.Lines) == 0:
		return Result{}, refused("receive: pre-receipt %d (%s) has no lines; say what came", g.ID, g.Reference)
	case len(lines) == 0:
		for i := range g.Lines {
			g.Lines[i].Received = g.Lines[i].Expected
		}
	}
	for _, l := range lines {
		s.receiveLine(g, l)
	}
	g.setStatus(inCompleted)
	g.ReceivedAt = now
	res := Result{Type: ev.Type, RecordID: g.ID}
	for _, l := range g.Lines {
		if l.Received == 0 {
			continue
		}
		b := s.st.bal(skuKey{l.SKU, g.Warehouse})
		b.OnHand += l.Received
		b.Received += l.Received
		b.UpdatedAt = now
		id := fmt.Sprintf("goods_in_receipt/%d/%d", g.ID, l.ID)
		s.st.record(Movement{ID: id, Kind: "receipt", SKU: l.SKU, Warehouse: g.Warehouse, Quantity: l.Received,
			Reference: g.Reference, At: now, Trigger: TriggerReceiptCompleted})
		res.Movements = append(res.Movements, id)
	}
	s.notify(TriggerReceiptCompleted, s.receiptRecord(g))
	return res, nil
}

// receiveLine books what came of one product on g: on its lines of that
// product, each up to what it expects and the rest on the last, or on a
// line of its own when g expects none.
func (s *Sim) receiveLine(g *goodsIn, l Line) {
	var idx []int
	for i, gl := range g.Lines {
		if gl.SKU == l.SKU {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		nl := inLine{ID: s.st.id(), SKU: l.SKU, Received: l.Quantity, Unplanned: true}
		if u, ok := s.st.firstUnit(s.st.productID(l.SKU)); ok {
			nl.StorageUnitID = u.ID
		}
		g.Lines = append(g.Lines, nl)
		return
	}
	left := l.Quantity
	for j, i := range idx {
		gl := &g.Lines[i]
		take := left
		if j < len(idx)-1 {
			take = min(left, max(gl.Expected-gl.Received, 0))
		}
		gl.Received += take
		left -= take
	}
}

// openPreReceipt returns the oldest pre-receipt with reference ref that
// still expects goods (pending or receiving) at warehouse wh (any, when
// empty), or nil. An empty reference names none.
func (s *Sim) openPreReceipt(ref, wh string) *goodsIn {
	if ref == "" {
		return nil
	}
	var best *goodsIn
	for _, g := range s.st.receipts {
		if g.PreReceipt && g.Reference == ref && (wh == "" || g.Warehouse == wh) && (g.Status == inPending || g.Status == inReceiving) && (best == nil || g.ID < best.ID) {
			best = g
		}
	}
	return best
}

// receiptRecord is g as goods_in_receipt.completed sends it.
func (s *Sim) receiptRecord(g *goodsIn) receiptRecord {
	rec := receiptRecord{ID: g.ID, Type: "goods_in_receipts", Reference: g.Reference, Status: g.Status, ReceiptType: receiptType(g),
		Warehouse: s.warehouse(g.Warehouse), Account: s.account(), ActualDateOfReceipt: g.ReceivedAt,
		ExpectedDateOfArrival: g.ExpectedArrival, ExternalSystemReference1: optional(g.ExternalRefs[0])}
	for _, l := range g.Lines {
		rec.Lines = append(rec.Lines, receiptLine{ID: l.ID, Product: s.product(l.SKU), ExpectedQuantity: l.Expected, ReceivedQuantity: l.Received})
	}
	return rec
}

// receiptType is a receipt's receipt_type: documented as a field, with
// "standard" as the example value; purchase_order for a pre-receipt is
// assumed.
func receiptType(g *goodsIn) string {
	if g.PreReceipt {
		return "purchase_order"
	}
	return "standard"
}

// sortedReceipts returns the goods-in receipts by id.
func (st *store) sortedReceipts() []*goodsIn {
	out := make([]*goodsIn, 0, len(st.receipts))
	for _, g := range st.receipts {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *goodsIn) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
