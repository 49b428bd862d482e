package reconcile

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Rules are the configurable parts of the comparison.
type Rules struct {
	// NonStockSKUs are path.Match patterns of SKUs that never go to Clarus
	// although Prima marks them stock (shipping, fees): the orders flow's
	// LOCKSTEP_ORDERS_NON_STOCK_SKUS, to be passed here unchanged, so that
	// what lockstep keeps in Prima is not compared with what Clarus shipped.
	NonStockSKUs []string
}

// Validate checks the patterns.
func (r Rules) Validate() error {
	for _, p := range r.NonStockSKUs {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("reconcile: non-stock SKU pattern %q: %w", p, err)
		}
	}
	return nil
}

// Line kinds: the fulfilment drift kinds, plus sku_unmapped for shipped
// units that have no Prima SKU and so cannot be compared.
const (
	KindMissingDespatch         = "missing_despatch"
	KindDespatchMismatch        = "despatch_mismatch"
	KindDespatchWithoutShipment = "despatch_without_shipment"
	KindSKUUnmapped             = "sku_unmapped"
)

// Owners of the lines, as in the drift ledger: finance invoices from the
// despatch notes; the warehouse team owns the SKU mapping.
const (
	OwnerFinance   = "finance"
	OwnerWarehouse = "warehouse"
)

// Qty is a quantity of one product: a Clarus code on a shipment, a Prima SKU
// on a note.
type Qty struct {
	Code     string
	Quantity int64
}

// Shipment is a Clarus shipment as its latest event describes it.
type Shipment struct {
	ID           string
	OrderRef     string
	GoodsOutID   string
	Warehouse    string
	Status       string // confirmed | cancelled
	DispatchedAt time.Time
	Lines        []Qty // Clarus codes
}

// Note is a created Prima despatch note: its lines are those of its latest
// event, its CreatedAt the time of its first.
type Note struct {
	ID        string
	Reference string
	OrderRef  string
	CreatedAt time.Time
	Lines     []Qty // Prima SKUs
}

// Item is the latest version of a Prima item.
type Item struct {
	SKU        string
	ClarusCode string
	UnitCost   decimal.Decimal
	Currency   string
	Active     bool
	// StockItem is false for what Clarus never ships (shipping, fees, gift
	// cards): Prima puts such lines on despatch notes, and they are not
	// compared.
	StockItem bool
}

// Cover is an open (not resolved) discrepancy in the drift ledger that says
// why a shipment has no despatch note: missing_despatch,
// despatch_post_failed, or shipment_without_order (a Clarus order lockstep
// never sent, which gets no note by design). It covers the shipment it
// names, or, when it names none (rows from before the ledger kept shipment
// ids), every shipment of its order.
type Cover struct {
	DiscrepancyID string
	ShipmentID    string
	OrderRef      string
}

// Facts is what the reconciliation of one day compares, as loaded from the
// fact tables; Compare is a pure function of it.
type Facts struct {
	Day time.Time // 00:00 UTC of the day
	// Shipments are every shipment dispatched on the day, and every
	// shipment a note of the day refers to, whatever their status.
	Shipments []Shipment
	// Notes are the created notes made on the day, and every created note
	// that refers to a shipment of the day, whenever it was made.
	Notes []Note
	Items []Item
	// Covers are the open drift rows about the day's shipments.
	Covers []Cover
	// Watermark is how far both feeds have come: the lower of the latest
	// dispatch and the latest note event in the fact tables, capped at the
	// end of the day.
	Watermark time.Time
}

// Line is one discrepancy. Quantities are in Prima SKU space; DeltaQty is
// NotedQty - ShippedQty (Prima minus Clarus) and Value is DeltaQty at the
// SKU's unit cost, so that a negative value is shipped but not invoiced.
type Line struct {
	Kind          string
	Owner         string
	ShipmentID    string   // "" for a note that matches no shipment
	NoteReference string   // the notes' reference; "" when there is no note
	NoteIDs       []string // Prima's ids of the notes compared
	OrderRef      string
	Warehouse     string
	SKU           string // Prima SKU; "" when unmapped
	ClarusCode    string // set on shipped units
	ShippedQty    int64
	NotedQty      int64
	DeltaQty      int64
	UnitCost      *decimal.Decimal // nil when the SKU has no item
	Value         *decimal.Decimal
	Currency      string
	Detail        string // one sentence for a person
}

// Money is an amount per currency: amounts in different currencies are
// never added.
type Money struct {
	Currency string
	Shipped  decimal.Decimal // the day's shipments at unit cost
	Noted    decimal.Decimal // the compared notes at unit cost
	Net      decimal.Decimal // the discrepancy lines' values, summed
}

// WarehouseUnits are the units on each side per warehouse, for the chart;
// notes that match no shipment have no warehouse ("").
type WarehouseUnits struct {
	Warehouse string
	Shipped   int64
	Noted     int64
}

// mapping is the SKU mapping of the Prima item master: which Prima SKU a
// Clarus code is, and what each SKU costs.
//
// A Clarus code maps to the one item that names it. When several do (a
// re-mapping that left the old item behind), the one active item wins; two
// or more active ones, or several inactive and none active, make the code
// ambiguous, which is reported like an unmapped code rather than guessed.
type mapping struct {
	bySKU    map[string]Item
	byCode   map[string][]Item
	nonStock []string // Rules.NonStockSKUs
}

func newMapping(items []Item, rules Rules) mapping {
	m := mapping{bySKU: map[string]Item{}, byCode: map[string][]Item{}, nonStock: rules.NonStockSKUs}
	for _, it := range items {
		m.bySKU[it.SKU] = it
		if it.ClarusCode != "" {
			m.byCode[it.ClarusCode] = append(m.byCode[it.ClarusCode], it)
		}
	}
	return m
}

// isNonStock reports whether sku never goes to Clarus, by the orders
// flow's rule: Prima marks it non-stock, or it matches a non-stock pattern
// (shipping and fees, which Prima marks stock). A SKU the item master lacks
// and no pattern names is compared: it may well be stock.
func (m mapping) isNonStock(sku string) bool {
	if it, ok := m.bySKU[sku]; ok && !it.StockItem {
		return true
	}
	for _, p := range m.nonStock {
		if ok, _ := path.Match(p, sku); ok {
			return true
		}
	}
	return false
}

// item returns the Prima item that Clarus code is.
func (m mapping) item(code string) (Item, bool) {
	cands := m.byCode[code]
	if len(cands) == 1 {
		return cands[0], true
	}
	var active []Item
	for _, it := range cands {
		if it.Active {
			active = append(active, it)
		}
	}
	if len(active) == 1 {
		return active[0], true
	}
	return Item{}, false
}

// why says, for a detail line, why code maps to no SKU.
func (m mapping) why(code string) string {
	cands := m.byCode[code]
	if len(cands) == 0 {
		return "has no Prima SKU in the item master"
	}
	skus := make([]string, len(cands))
	for i, it := range cands {
		skus[i] = it.SKU
	}
	slices.Sort(skus)
	return fmt.Sprintf("maps to %d Prima SKUs (%s) and none is the one active item", len(skus), strings.Join(skus, ", "))
}
