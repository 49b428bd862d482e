package reconcile

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Result is what the comparison of one day finds.
type Result struct {
	// Shipments are the confirmed shipments dispatched on the day.
	Shipments int
	// Notes are the notes compared: those of the day's shipments, whenever
	// made, and the day's notes that match no shipment.
	Notes int
	// OtherDayNotes are notes made on the day for shipments of other days:
	// they are compared in the reports of those days.
	OtherDayNotes int
	ShippedUnits  int64 // on the day's shipments, unmapped codes included
	NotedUnits    int64 // on the compared notes
	UnmappedUnits int64 // shipped under Clarus codes without a Prima SKU
	// NonStockUnits are on the compared notes under non-stock SKUs
	// (shipping, fees), which Clarus never ships: not compared, and not in
	// NotedUnits.
	NonStockUnits int64
	Money         []Money
	Warehouses    []WarehouseUnits
	Lines         []Line
	Watermark     time.Time
	// Complete says the watermark reached the end of the day: both feeds
	// have delivered everything up to midnight.
	Complete bool
	// Unaccounted are the shipments dispatched before the watermark that
	// have no created note and no open drift row that says why (see Cover):
	// each breaks the statement "every shipment dispatched before the
	// watermark has a despatch note or an open drift row".
	Unaccounted []string
	// Balanced: no discrepancy lines.
	Balanced bool
}

// Compare reconciles f: per shipment of the day and per Prima SKU, what
// Clarus dispatched against what Prima's despatch notes say, plus the day's
// notes that match no shipment. Notes are matched to shipments by their
// reference, never by order: partial shipments of one order each need their
// own note. Non-stock note lines (see Rules) are counted, not compared.
func Compare(f Facts, rules Rules) Result {
	dayEnd := f.Day.AddDate(0, 0, 1)
	inDay := func(t time.Time) bool { return !t.Before(f.Day) && t.Before(dayEnd) }
	m := newMapping(f.Items, rules)
	c := &comparison{m: m, money: map[string]*Money{}, wh: map[string]*WarehouseUnits{}}
	byRef := map[string][]Note{}
	for _, n := range f.Notes {
		byRef[n.Reference] = append(byRef[n.Reference], n)
	}
	shipments := map[string]Shipment{}
	for _, s := range f.Shipments {
		shipments[s.ID] = s
	}
	compared := map[string]bool{}
	var missing []Shipment
	for _, id := range slices.Sorted(maps.Keys(shipments)) {
		s := shipments[id]
		if s.Status != "confirmed" || !inDay(s.DispatchedAt) {
			continue
		}
		notes := byRef[s.ID]
		c.shipment(s, notes)
		if len(notes) == 0 {
			missing = append(missing, s)
		}
		for _, n := range notes {
			compared[n.ID] = true
		}
	}
	for _, n := range sortedNotes(f.Notes) {
		if compared[n.ID] || !inDay(n.CreatedAt) {
			continue
		}
		if s, ok := shipments[n.Reference]; ok && s.Status == "confirmed" {
			c.r.OtherDayNotes++ // compared on the day of its shipment
			continue
		}
		c.orphan(n, shipments[n.Reference])
	}
	slices.SortStableFunc(c.r.Lines, func(a, b Line) int {
		return cmp.Or(cmp.Compare(kindOrder[a.Kind], kindOrder[b.Kind]), cmp.Compare(a.ShipmentID, b.ShipmentID),
			cmp.Compare(a.NoteReference, b.NoteReference), cmp.Compare(a.SKU, b.SKU), cmp.Compare(a.ClarusCode, b.ClarusCode))
	})
	c.r.Watermark = f.Watermark
	c.r.Complete = !f.Watermark.Before(dayEnd)
	c.r.Unaccounted = unaccounted(missing, f.Covers, f.Watermark)
	c.r.Balanced = len(c.r.Lines) == 0
	for _, cur := range slices.Sorted(maps.Keys(c.money)) {
		c.r.Money = append(c.r.Money, *c.money[cur])
	}
	for _, w := range slices.Sorted(maps.Keys(c.wh)) {
		c.r.Warehouses = append(c.r.Warehouses, *c.wh[w])
	}
	return c.r
}

// kindOrder orders the lines of a report: what finance must invoice or
// query first, the mapping problems last.
var kindOrder = map[string]int{KindMissingDespatch: 0, KindDespatchMismatch: 1, KindDespatchWithoutShipment: 2, KindSKUUnmapped: 3}

// comparison accumulates a Result.
type comparison struct {
	m     mapping
	r     Result
	money map[string]*Money
	wh    map[string]*WarehouseUnits
}

// shipment compares one shipment of the day with its notes.
func (c *comparison) shipment(s Shipment, notes []Note) {
	c.r.Shipments++
	c.r.Notes += len(notes)
	w := c.warehouse(s.Warehouse)
	shipped := map[string]int64{}
	unmapped := map[string]int64{}
	var units int64
	for _, l := range s.Lines {
		units += l.Quantity
		if it, ok := c.m.item(l.Code); ok {
			shipped[it.SKU] += l.Quantity
			c.add(it.SKU, func(m *Money, v decimal.Decimal) { m.Shipped = m.Shipped.Add(v) }, l.Quantity)
		} else {
			unmapped[l.Code] += l.Quantity
		}
	}
	c.r.ShippedUnits += units
	w.Shipped += units
	for _, code := range slices.Sorted(maps.Keys(unmapped)) {
		q := unmapped[code]
		c.r.UnmappedUnits += q
		c.line(Line{Kind: KindSKUUnmapped, Owner: OwnerWarehouse, ClarusCode: code, ShippedQty: q,
			Detail: fmt.Sprintf("Clarus code %s (%d units in shipment %s) %s, so these units could not be compared.",
				code, q, s.ID, c.m.why(code))}, s, nil)
	}
	noted := map[string]int64{}
	for _, n := range notes {
		for _, l := range n.Lines {
			if c.m.isNonStock(l.Code) {
				c.r.NonStockUnits += l.Quantity
				continue
			}
			noted[l.Code] += l.Quantity
			c.r.NotedUnits += l.Quantity
			w.Noted += l.Quantity
			c.add(l.Code, func(m *Money, v decimal.Decimal) { m.Noted = m.Noted.Add(v) }, l.Quantity)
		}
	}
	when := s.DispatchedAt.UTC().Format("2006-01-02 15:04")
	if len(notes) == 0 {
		if len(shipped) == 0 {
			// Nothing maps: still say that the note is missing.
			c.line(Line{Kind: KindMissingDespatch, Owner: OwnerFinance, ShippedQty: units, DeltaQty: -units,
				Detail: fmt.Sprintf("Shipment %s (order %s) left %s at %s UTC with %d units; Prima has no despatch note for it.",
					s.ID, s.OrderRef, s.Warehouse, when, units)}, s, nil)
		}
		for _, sku := range slices.Sorted(maps.Keys(shipped)) {
			q := shipped[sku]
			c.line(Line{Kind: KindMissingDespatch, Owner: OwnerFinance, SKU: sku, ClarusCode: c.m.bySKU[sku].ClarusCode,
				ShippedQty: q, DeltaQty: -q,
				Detail: fmt.Sprintf("Shipment %s (order %s) left %s at %s UTC with %d × %s; Prima has no despatch note for it.",
					s.ID, s.OrderRef, s.Warehouse, when, q, sku)}, s, nil)
		}
		return
	}
	ids := noteIDs(notes)
	for _, sku := range slices.Sorted(maps.Keys(union(shipped, noted))) {
		sq, nq := shipped[sku], noted[sku]
		if sq == nq {
			continue
		}
		c.line(Line{Kind: KindDespatchMismatch, Owner: OwnerFinance, SKU: sku, ClarusCode: c.m.bySKU[sku].ClarusCode,
			ShippedQty: sq, NotedQty: nq, DeltaQty: nq - sq,
			Detail: fmt.Sprintf("Despatch note %s for shipment %s shows %d × %s; Clarus shipped %d.",
				strings.Join(ids, " + "), s.ID, nq, sku, sq)}, s, notes)
	}
}

// orphan reports a note of the day whose reference is no confirmed
// shipment; s is the shipment of that id if Clarus cancelled it.
func (c *comparison) orphan(n Note, s Shipment) {
	c.r.Notes++
	w := c.warehouse("")
	why := "Clarus has no shipment with that reference"
	if s.ID != "" {
		why = "Clarus cancelled that shipment"
	}
	for _, l := range mergeQty(n.Lines) {
		if c.m.isNonStock(l.Code) {
			c.r.NonStockUnits += l.Quantity
			continue
		}
		c.r.NotedUnits += l.Quantity
		w.Noted += l.Quantity
		c.add(l.Code, func(m *Money, v decimal.Decimal) { m.Noted = m.Noted.Add(v) }, l.Quantity)
		c.line(Line{Kind: KindDespatchWithoutShipment, Owner: OwnerFinance, SKU: l.Code, NotedQty: l.Quantity, DeltaQty: l.Quantity,
			Detail: fmt.Sprintf("Despatch note %s (reference “%s”, order %s) shows %d × %s, but %s.",
				n.ID, n.Reference, n.OrderRef, l.Quantity, l.Code, why)}, Shipment{}, []Note{n})
	}
}

// line appends l, with the keys of s and notes, valued at its SKU's unit
// cost.
func (c *comparison) line(l Line, s Shipment, notes []Note) {
	l.ShipmentID, l.OrderRef, l.Warehouse = s.ID, s.OrderRef, s.Warehouse
	if len(notes) > 0 {
		l.NoteReference, l.NoteIDs = notes[0].Reference, noteIDs(notes)
		if l.OrderRef == "" {
			l.OrderRef = notes[0].OrderRef
		}
	}
	if it, ok := c.m.bySKU[l.SKU]; ok && l.SKU != "" {
		if l.ClarusCode == "" {
			l.ClarusCode = it.ClarusCode
		}
		cost, v := it.UnitCost, it.UnitCost.Mul(decimal.NewFromInt(l.DeltaQty))
		l.UnitCost, l.Value, l.Currency = &cost, &v, it.Currency
		c.money[it.Currency] = c.moneyOf(it.Currency)
		c.money[it.Currency].Net = c.money[it.Currency].Net.Add(v)
	}
	c.r.Lines = append(c.r.Lines, l)
}

// add adds q units of sku at unit cost to one side of its currency's money.
func (c *comparison) add(sku string, side func(*Money, decimal.Decimal), q int64) {
	if it, ok := c.m.bySKU[sku]; ok {
		side(c.moneyOf(it.Currency), it.UnitCost.Mul(decimal.NewFromInt(q)))
	}
}

func (c *comparison) moneyOf(cur string) *Money {
	if c.money[cur] == nil {
		c.money[cur] = &Money{Currency: cur}
	}
	return c.money[cur]
}

func (c *comparison) warehouse(w string) *WarehouseUnits {
	if c.wh[w] == nil {
		c.wh[w] = &WarehouseUnits{Warehouse: w}
	}
	return c.wh[w]
}

// unaccounted lists the shipments without a note dispatched before
// watermark that no open drift row covers.
func unaccounted(missing []Shipment, covers []Cover, watermark time.Time) []string {
	byShipment, byOrder := map[string]bool{}, map[string]bool{}
	for _, cv := range covers {
		if cv.ShipmentID != "" {
			byShipment[cv.ShipmentID] = true
		} else if cv.OrderRef != "" {
			byOrder[cv.OrderRef] = true
		}
	}
	var out []string
	for _, s := range missing {
		if s.DispatchedAt.Before(watermark) && !byShipment[s.ID] && !byOrder[s.OrderRef] {
			out = append(out, s.ID)
		}
	}
	return out
}

func noteIDs(notes []Note) []string {
	ids := make([]string, len(notes))
	for i, n := range notes {
		ids[i] = n.ID
	}
	slices.Sort(ids)
	return ids
}

func sortedNotes(ns []Note) []Note {
	return slices.SortedFunc(slices.Values(ns), func(a, b Note) int { return strings.Compare(a.ID, b.ID) })
}

// mergeQty sums the quantities of each code, in code order.
func mergeQty(ls []Qty) []Qty {
	sum := map[string]int64{}
	for _, l := range ls {
		sum[l.Code] += l.Quantity
	}
	out := make([]Qty, 0, len(sum))
	for _, code := range slices.Sorted(maps.Keys(sum)) {
		out = append(out, Qty{Code: code, Quantity: sum[code]})
	}
	return out
}

func union(a, b map[string]int64) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
