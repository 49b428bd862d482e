package primasim

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/lockstep-dev/lockstep/schemas"
)

// generator draws orders over the item master's pools, sorted by SKU so
// that a seed always draws the same.
type generator struct {
	s        *Server
	rng      *rand.Rand
	stock    []*Item // stock items mapped to a Clarus product
	nonStock []*Item
	fee      []*Item
	unmapped []*Item                    // stock items without a Clarus code but with an intended one
	prices   map[string]schemas.Decimal // fixed prices of fee and service items
}

// fixedItem is a fee or service item with its one price.
type fixedItem struct {
	sku, desc string
	price     schemas.Decimal
}

// Fee and service items the generator adds when the item master has none:
// shipping and fees are stock items to Prima, with no Clarus product.
var (
	feeItems = []fixedItem{
		{"SHIPPING-STD", "Standard delivery", schemas.NewDecimal(4, 9500)},
		{"SHIPPING-EXP", "Express delivery", schemas.NewDecimal(9, 9500)},
		{"FEE-GIFTWRAP", "Gift wrap", schemas.NewDecimal(3, 5000)},
	}
	serviceItems = []fixedItem{
		{"GIFTCARD-25", "Gift card £25", schemas.NewDecimal(25, 0)},
		{"WARRANTY-2Y", "Two-year warranty", schemas.NewDecimal(19, 9900)},
	}
	channels = []string{"web", "web", "web", "retail", "wholesale", "marketplace"}
	// Latin-1 names and places on purpose, as the item descriptions.
	recipients = []string{"Zoë Ashworth", "Siân Llewellyn", "Renée Dubois", "Seán Ó Briain", "Mark Hughes",
		"Priya Shah", "Jürgen Müller", "Ana Peña"}
	towns = []struct{ city, region, postcode, country string }{
		{"Leeds", "West Yorkshire", "LS1 4DY", "GB"}, {"Bristol", "", "BS1 5TR", "GB"},
		{"Northampton", "Northamptonshire", "NN1 2EW", "GB"}, {"Dublin", "Co. Dublin", "D02 X285", "IE"},
		{"Lyon", "Auvergne-Rhône-Alpes", "69002", "FR"}, {"Köln", "Nordrhein-Westfalen", "50667", "DE"},
	}
	streets = []string{"High Street", "Church Lane", "Station Road", "Quai Saint-Antoine", "Hohe Straße"}
)

// newGenerator sorts the item master into pools, adding the fee and
// service items it needs, and unmapping a few items when sc wants
// unmapped lines and the item master has none. Callers hold s.mu.
func (s *Server) newGenerator(sc OrderScenario, rng *rand.Rand) (*generator, error) {
	g := &generator{s: s, rng: rng, prices: map[string]schemas.Decimal{}}
	for _, f := range append(slices.Clone(feeItems), serviceItems...) {
		g.prices[f.sku] = f.price
	}
	if sc.FeeLineFraction > 0 {
		for _, f := range feeItems {
			if err := g.ensure(f, true); err != nil {
				return nil, err
			}
		}
	}
	items := slices.SortedFunc(func(yield func(*Item) bool) {
		for _, it := range s.st.items {
			if !yield(it) {
				return
			}
		}
	}, func(a, b *Item) int { return cmp.Compare(a.SKU, b.SKU) })
	isFee := func(sku string) bool {
		return slices.ContainsFunc(feeItems, func(f fixedItem) bool { return f.sku == sku })
	}
	for _, it := range items {
		switch {
		case !it.Active:
		case isFee(it.SKU):
			g.fee = append(g.fee, it)
		case !it.StockItem:
			g.nonStock = append(g.nonStock, it)
		case it.ClarusCode != "":
			g.stock = append(g.stock, it)
		case it.IntendedCode != "":
			g.unmapped = append(g.unmapped, it)
		}
	}
	if len(g.nonStock) == 0 && sc.NonStockLineFraction > 0 {
		for _, f := range serviceItems {
			if err := g.ensure(f, false); err != nil {
				return nil, err
			}
			g.nonStock = append(g.nonStock, s.st.items[f.sku])
		}
	}
	if len(g.stock) < 2 {
		return nil, errors.New("order scenario: the item master has too few mapped stock items; run the item scenario first")
	}
	if len(g.unmapped) == 0 && sc.UnmappedFraction > 0 {
		// Unmap a few, as if their mapping had been lost: map_item with
		// no code restores it.
		n := min(max(1, roundUp(sc.Orders, sc.UnmappedFraction)/10), len(g.stock)/2)
		for range n {
			i := g.rng.IntN(len(g.stock))
			it := g.stock[i]
			g.stock = slices.Delete(g.stock, i, i+1)
			it.IntendedCode, it.ClarusCode, it.Modified = it.ClarusCode, "", s.tick()
			g.unmapped = append(g.unmapped, it)
		}
		slices.SortFunc(g.unmapped, func(a, b *Item) int { return cmp.Compare(a.SKU, b.SKU) })
	}
	return g, nil
}

// ensure adds an item the generator needs when it is missing, with no
// Clarus code and no cost.
func (g *generator) ensure(f fixedItem, stock bool) error {
	if g.s.st.items[f.sku] != nil {
		return nil
	}
	empty, cost := "", schemas.Decimal(0)
	return g.s.apply(Event{Type: "add_item", SKU: f.sku, Description: f.desc, ClarusCode: &empty, StockItem: &stock, UnitCost: &cost})
}

func (g *generator) pick(pool []*Item) *Item { return pool[g.rng.IntN(len(pool))] }

// order draws one release_order event and its truth.
func (g *generator) order(ref string, sc OrderScenario) (Event, OrderTruth, []lineKind) {
	n := 1 + g.rng.IntN(sc.MaxLines)
	var lines []OrderLine
	var kinds []lineKind
	add := func(it *Item, k lineKind, qty int64) {
		st := StockTypeStock
		if !it.StockItem {
			st = StockTypeNonStock
		}
		price, ok := g.prices[it.SKU]
		if !ok {
			price = priceOf(it)
		}
		lines = append(lines, OrderLine{LineNo: len(lines) + 1, SKU: it.SKU, Quantity: qty, UnitPrice: price,
			StockType: st, Description: it.Description})
		kinds = append(kinds, k)
	}
	used := map[string]bool{}
	for i := range n {
		r := g.rng.Float64()
		switch {
		case r < sc.NonStockLineFraction && len(g.nonStock) > 0:
			add(g.pick(g.nonStock), kindNonStock, 1)
		case r < sc.NonStockLineFraction+sc.FeeLineFraction && len(g.fee) > 0 && i > 0:
			add(g.pick(g.fee), kindFee, 1) // never the first line: no order is only a fee
		default:
			it := g.pick(g.stock)
			for tries := 0; used[it.SKU] && tries < 8; tries++ {
				it = g.pick(g.stock) // a SKU once per order, mostly
			}
			used[it.SKU] = true
			add(it, kindStock, 1+int64(g.rng.IntN(3)))
		}
	}
	truth := OrderTruth{Ref: ref, Warehouse: fmt.Sprintf("WH%d", 1+g.rng.IntN(sc.Warehouses)), Version: 1, Status: OrderReleased}
	if len(g.unmapped) > 0 && g.rng.Float64() < sc.UnmappedFraction {
		it := g.pick(g.unmapped)
		add(it, kindUnmapped, 1)
		truth.UnmappedSKU = it.SKU
	}
	truth.Lines = lines
	ev := Event{Type: "release_order", OrderRef: ref, Warehouse: truth.Warehouse, Currency: g.s.opts.Currency,
		CustomerRef: fmt.Sprintf("CUST%05d", 1+g.rng.IntN(9999)), Channel: channels[g.rng.IntN(len(channels))],
		Delivery: g.address(), Lines: lines}
	return ev, truth, kinds
}

func (g *generator) address() *Address {
	t := towns[g.rng.IntN(len(towns))]
	a := &Address{Name: recipients[g.rng.IntN(len(recipients))],
		Line1: fmt.Sprintf("%d %s", 1+g.rng.IntN(200), streets[g.rng.IntN(len(streets))]),
		City:  t.city, Region: t.region, Postcode: t.postcode, CountryCode: t.country}
	if g.rng.IntN(4) == 0 {
		a.Line2 = fmt.Sprintf("Flat %d", 1+g.rng.IntN(30))
	}
	return a
}

// change draws whether o is cancelled, amended or left alone, and the
// event that does it, updating o to the order it leaves.
func (g *generator) change(o *OrderTruth, kinds []lineKind, sc OrderScenario) (Event, bool) {
	r := g.rng.Float64()
	switch {
	case r < sc.CancelFraction:
		o.Version++
		o.Status = OrderCancelled
		return Event{Type: "cancel_order", OrderRef: o.Ref}, true
	case r >= sc.CancelFraction+sc.AmendFraction:
		return Event{}, false
	}
	ev := Event{Type: "amend_order", OrderRef: o.Ref}
	var stockLines []int
	for i, k := range kinds {
		if k == kindStock {
			stockLines = append(stockLines, i)
		}
	}
	kind := []string{AmendPrice, AmendQuantity, AmendDelivery}[g.rng.IntN(3)]
	if kind == AmendQuantity && len(stockLines) == 0 {
		kind = AmendPrice
	}
	switch kind {
	case AmendDelivery:
		ev.Delivery = g.address()
	case AmendPrice:
		lines := slices.Clone(o.Lines)
		j := g.rng.IntN(len(lines))
		if p := lines[j].UnitPrice; p > schemas.NewDecimal(10, 0) {
			lines[j].UnitPrice = p - schemas.NewDecimal(5, 0) // a goodwill discount
		} else {
			lines[j].UnitPrice = p + schemas.NewDecimal(1, 0)
		}
		ev.Lines, o.Lines = lines, lines
	case AmendQuantity:
		lines := slices.Clone(o.Lines)
		lines[stockLines[g.rng.IntN(len(stockLines))]].Quantity++
		ev.Lines, o.Lines = lines, lines
	}
	o.Version++
	o.Amendment = kind
	return ev, true
}
