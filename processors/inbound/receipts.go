package inbound

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/lockstep-dev/lockstep/processors/discrepancy"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Receipt folds a Clarus receipt (it passed ValidateReceipt, and its key
// is st.Ref). A receipt folded before (the webhook's and the sweep's
// copies of one receipt, a replay) changes nothing: Clarus completes a
// receipt once, so the first copy is the receipt.
func (r Rules) Receipt(st State, rc *schemas.Receipt, m Master) (State, Effects) {
	var e Effects
	if slices.ContainsFunc(st.Receipts, func(x Receipt) bool { return x.ID == rc.ReceiptID }) {
		return st, e
	}
	st.Receipts = append(slices.Clone(st.Receipts), Receipt{ID: rc.ReceiptID, Warehouse: rc.Warehouse, Lines: slices.Clone(rc.Lines)})
	cause := "receipt-" + rc.ReceiptID
	r.match(&st, m, cause, &e)
	if st.Cancelled != 0 && st.PO != nil && received(st) > 0 {
		r.cancelledAfterReceipt(&st, cause, "", &e)
	}
	return st, e
}

// received is the units Clarus has received against the key so far.
func received(st State) int64 {
	var n int64
	for _, rc := range st.Receipts {
		for _, l := range rc.Lines {
			n += l.Quantity
		}
	}
	return n
}

// receivedByCode sums the receipts per Clarus code.
func receivedByCode(st State) map[string]int64 {
	out := map[string]int64{}
	for _, rc := range st.Receipts {
		for _, l := range rc.Lines {
			out[l.SKU] += l.Quantity
		}
	}
	return out
}

// receiptKinds are the discrepancies match keeps in step with the
// receipts and the PO.
var receiptKinds = []schemas.DriftKind{schemas.DriftOrphanReceipt, schemas.DriftReceiptOverPO, schemas.DriftReceiptSKUNotOnPO, schemas.DriftReceiptWrongWarehouse}

// match checks every receipt of the key against its PO and makes the open
// receipt discrepancies what that finds: a receipt with no PO known is an
// orphan (until the PO arrives); with a PO, each line's units received
// across receipts beyond its quantity and the tolerance are over the PO,
// and a product the PO does not order is not on it. Only what changed is
// said: a new discrepancy opens, one whose quantities or value moved is
// updated, one no longer found resolves.
func (r Rules) match(st *State, m Master, cause string, e *Effects) {
	want := map[string]discrepancy.Drift{}
	if st.PO == nil {
		for _, rc := range st.Receipts {
			if d, ok := r.orphan(st, rc, m); ok {
				want[d.ID] = d
			}
		}
	} else {
		r.againstPO(st, m, want)
	}
	for _, id := range st.Open.IDs(receiptKinds...) {
		if _, ok := want[id]; !ok {
			e.resolve(st, id, cause, r.matched(st, id))
			delete(st.Reported, id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		d := want[id]
		d.Cause = cause
		now := Measure{Expected: deref(d.Expected), Actual: deref(d.Actual)}
		if d.Value != nil {
			now.Value = *d.Value
		}
		if _, open := st.Open[id]; open && st.Reported[id] == now {
			continue
		}
		e.open(st, d)
		if st.Reported == nil {
			st.Reported = map[string]Measure{}
		}
		st.Reported[id] = now
	}
}

// orphan is the discrepancy of a receipt with no PO to check it against,
// valued at the item master's unit cost (the PO's is unknown); products
// the item master does not know add no value, and the detail says so.
func (r Rules) orphan(st *State, rc Receipt, m Master) (discrepancy.Drift, bool) {
	var got int64
	var w worth
	var parts, unknown []string
	for _, l := range rc.Lines {
		got += l.Quantity
		parts = append(parts, fmt.Sprintf("%s x%d", l.SKU, l.Quantity))
		if it, ok := m.Codes(l.SKU); ok {
			w.add(l.Quantity, it.UnitCost, it.Currency)
		} else if l.Quantity != 0 {
			unknown = append(unknown, l.SKU)
		}
	}
	if got == 0 {
		return discrepancy.Drift{}, false // received nothing
	}
	zero := int64(0)
	d := discrepancy.Drift{ID: orphanID(rc.ID), Kind: schemas.DriftOrphanReceipt, Warehouse: rc.Warehouse, Expected: &zero, Actual: &got}
	d.Value, d.Currency = w.value()
	against := fmt.Sprintf("against PO %s, which Prima has not sent lockstep: check the PO reference on the receipt in Clarus, or approve the PO in Prima (it is matched when it arrives)", st.Ref)
	if strings.HasPrefix(st.Ref, orphanPrefix) {
		against = "with no PO reference: find its PO and record the reference on the receipt in Clarus"
	} else if st.Cancelled != 0 {
		against = fmt.Sprintf("against PO %s, which Prima cancelled before lockstep saw it live: return the goods, or raise a new PO in Prima", st.Ref)
	}
	valued := "valued at Prima's item cost"
	if len(unknown) > 0 {
		valued += " except " + strings.Join(unknown, ", ") + " (unknown to the item master)"
	}
	d.Detail = fmt.Sprintf("Clarus receipt %s at %s took in %d units (%s, %s) %s.", rc.ID, rc.Warehouse, got, strings.Join(parts, ", "), valued, against)
	return d, true
}

// againstPO finds the receipt discrepancies of a known PO. Units of a
// product on several lines fill them in line order, the last line taking
// any excess, so the same receipts always land on the same lines.
func (r Rules) againstPO(st *State, m Master, want map[string]discrepancy.Drift) {
	cost := map[int]schemas.Decimal{}
	for _, l := range st.PO.Lines {
		cost[l.LineNo] = l.UnitCost
	}
	byCode := map[string][]schemas.ClarusLine{}
	for _, l := range st.Lines {
		if l.ClarusCode != "" {
			byCode[l.ClarusCode] = append(byCode[l.ClarusCode], l)
		}
	}
	got := receivedByCode(*st)
	for _, code := range slices.Sorted(maps.Keys(got)) {
		rest := got[code]
		if rest == 0 {
			continue
		}
		lines := byCode[code]
		if len(lines) == 0 {
			want[notOnPOID(st.Ref, code)] = r.notOnPO(st, code, rest, m)
			continue
		}
		for i, l := range lines {
			take := rest
			if i < len(lines)-1 {
				take = min(rest, l.Quantity)
			}
			rest -= take
			if !r.over(take, l.Quantity) {
				continue
			}
			excess := take - l.Quantity
			var w worth
			w.add(excess, cost[l.LineNo], st.PO.Currency)
			ordered := l.Quantity
			d := discrepancy.Drift{ID: overID(st.Ref, l.LineNo), Kind: schemas.DriftReceiptOverPO, SKU: l.SKU, Expected: &ordered, Actual: &take}
			d.Value, d.Currency = w.value()
			d.Detail = fmt.Sprintf("Clarus received %d units of %s (Prima %s) on PO %s line %d, which orders %d (tolerance %s%%): %d over, %s at PO cost. Agree the extra with the supplier and amend the PO in Prima, or return it.",
				take, code, l.SKU, st.Ref, l.LineNo, l.Quantity, percent(r.ToleranceBP), excess, w)
			want[d.ID] = d
		}
	}
	elsewhere := map[string][]Receipt{}
	for _, rc := range st.Receipts {
		if rc.Warehouse != st.PO.Warehouse {
			elsewhere[rc.Warehouse] = append(elsewhere[rc.Warehouse], rc)
		}
	}
	for _, wh := range slices.Sorted(maps.Keys(elsewhere)) {
		if d, ok := r.wrongWarehouse(st, wh, elsewhere[wh], cost, byCode, m); ok {
			want[d.ID] = d
		}
	}
}

// wrongWarehouse is the discrepancy of the receipts of a PO that Clarus
// booked in at warehouse wh, which is not the PO's: the stock is not where
// Prima expects it (its three-way match counts it all the same). The units
// are valued at PO cost, or at item cost for a product the PO does not
// order.
func (r Rules) wrongWarehouse(st *State, wh string, rcs []Receipt, cost map[int]schemas.Decimal, byCode map[string][]schemas.ClarusLine, m Master) (discrepancy.Drift, bool) {
	var got int64
	var w worth
	ids := make([]string, 0, len(rcs))
	for _, rc := range rcs {
		ids = append(ids, rc.ID)
		for _, l := range rc.Lines {
			got += l.Quantity
			if lines := byCode[l.SKU]; len(lines) > 0 {
				w.add(l.Quantity, cost[lines[0].LineNo], st.PO.Currency)
			} else if it, ok := m.Codes(l.SKU); ok {
				w.add(l.Quantity, it.UnitCost, it.Currency)
			} else if l.Quantity != 0 {
				w.bad = true
			}
		}
	}
	if got == 0 {
		return discrepancy.Drift{}, false
	}
	zero := int64(0)
	d := discrepancy.Drift{ID: wrongWarehouseID(st.Ref, wh), Kind: schemas.DriftReceiptWrongWarehouse, Warehouse: wh, Expected: &zero, Actual: &got}
	d.Value, d.Currency = w.value()
	d.Detail = fmt.Sprintf("Clarus booked %d units of PO %s in at %s (receipts %s, %s), but the PO delivers to %s: move the stock to %s in Clarus, or change the PO's warehouse in Prima.",
		got, st.Ref, wh, strings.Join(ids, ", "), w, st.PO.Warehouse, st.PO.Warehouse)
	return d, true
}

// over reports whether got units exceed ordered by more than the
// tolerance: got > ordered * (1 + bp/10000) exactly, in integers (the
// floor of the allowance is the same test for a whole number got).
func (r Rules) over(got, ordered int64) bool {
	allowed := ordered + ordered/10000*r.ToleranceBP + ordered%10000*r.ToleranceBP/10000
	return got > allowed
}

// notOnPO is the discrepancy of a product Clarus received on the PO that
// the PO does not order, valued at the item master's unit cost.
func (r Rules) notOnPO(st *State, code string, got int64, m Master) discrepancy.Drift {
	zero := int64(0)
	d := discrepancy.Drift{ID: notOnPOID(st.Ref, code), Kind: schemas.DriftReceiptSKUNotOnPO, SKU: code, Expected: &zero, Actual: &got}
	prima := "a product unknown to Prima's item master, so of no known value"
	if it, ok := m.Codes(code); ok {
		var w worth
		w.add(got, it.UnitCost, it.Currency)
		d.Value, d.Currency = w.value()
		d.SKU = it.SKU
		prima = fmt.Sprintf("Prima %s, %s at item cost", it.SKU, w)
	}
	d.Detail = fmt.Sprintf("Clarus received %d units of %s (%s) on PO %s, which does not order it: check the receipt in Clarus, or add the line to the PO in Prima.",
		got, code, prima, st.Ref)
	return d
}

// matched is the detail of a receipt discrepancy that no longer holds.
func (r Rules) matched(st *State, id string) string {
	v := int64(0)
	if st.PO != nil {
		v = st.PO.Version
	}
	switch st.Open[id] {
	case schemas.DriftOrphanReceipt:
		return fmt.Sprintf("Receipt %s is matched to PO %s (version %d), which lockstep has now.", strings.TrimPrefix(id, orphanID("")), st.Ref, v)
	case schemas.DriftReceiptOverPO:
		return fmt.Sprintf("What Clarus received on PO %s is within what version %d orders.", st.Ref, v)
	case schemas.DriftReceiptWrongWarehouse:
		if st.PO == nil {
			return fmt.Sprintf("PO %s no longer has receipts at another warehouse.", st.Ref)
		}
		return fmt.Sprintf("PO %s version %d delivers to %s, where Clarus booked its receipts in.", st.Ref, v, st.PO.Warehouse)
	default:
		return fmt.Sprintf("PO %s version %d orders what Clarus received.", st.Ref, v)
	}
}

// receivedValue is what was received of the PO's products at PO cost.
func (r Rules) receivedValue(st *State) *schemas.Decimal {
	cost := map[string]schemas.Decimal{}
	for i, l := range st.Lines {
		if _, ok := cost[l.ClarusCode]; !ok && l.ClarusCode != "" {
			cost[l.ClarusCode] = st.PO.Lines[i].UnitCost
		}
	}
	var w worth
	for code, q := range receivedByCode(*st) {
		if c, ok := cost[code]; ok {
			w.add(q, c, st.PO.Currency)
		}
	}
	v, _ := w.value()
	return v
}

// worth sums values in one currency; a sum out of range, or of mixed
// currencies, has no value rather than a wrong one.
type worth struct {
	sum      schemas.Decimal
	currency string
	n        int
	bad      bool
}

func (w *worth) add(q int64, cost schemas.Decimal, currency string) {
	x, err := cost.Mul(q)
	if err != nil || (w.n > 0 && currency != w.currency) || !(w.sum + x).Valid() {
		w.bad = true
		return
	}
	w.sum, w.currency = w.sum+x, currency
	w.n++
}

// String says the value for a detail sentence.
func (w worth) String() string {
	if v, cur := w.value(); v != nil {
		return fmt.Sprintf("worth %s %s", v, cur)
	}
	return "of no value lockstep can compute"
}

func (w worth) value() (*schemas.Decimal, string) {
	if w.bad || w.n == 0 {
		return nil, ""
	}
	return &w.sum, w.currency
}

func percent(bp int64) string { return fmt.Sprintf("%d.%02d", bp/100, bp%100) }

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
