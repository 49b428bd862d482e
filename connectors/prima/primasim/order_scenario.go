package primasim

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/lockstep-dev/lockstep/schemas"
)

// OrderScenario releases sales orders over the item master (run it after
// RunScenario), then amends and cancels a seeded few. A zero field takes
// its default; a negative fraction asks for none.
type OrderScenario struct {
	Seed   uint64 `json:"seed"`   // 0: the simulator's Seed
	Orders int    `json:"orders"` // default 100
	// Warehouses spreads the orders over WH1...WHn; default 1.
	Warehouses int `json:"warehouses"`
	// NonStockLineFraction of the lines sell a non-stock item (gift
	// cards, warranties: StockItem false); default 0.15.
	NonStockLineFraction float64 `json:"non_stock_line_fraction"`
	// FeeLineFraction of the lines are shipping or fees (SHIPPING-STD,
	// FEE-GIFTWRAP...): items Prima marks stock that have no Clarus code,
	// created in the item master when missing; default 0.05.
	FeeLineFraction float64 `json:"fee_line_fraction"`
	// UnmappedFraction of the orders carry one line of a stock item that
	// is unmapped now (one the item scenario left unmapped, or, when it
	// left none, a few it unmaps, keeping their intended code); default
	// 0.02.
	UnmappedFraction float64 `json:"unmapped_fraction"`
	AmendFraction    float64 `json:"amend_fraction"`  // of the orders, amended once; default 0.05
	CancelFraction   float64 `json:"cancel_fraction"` // of the orders, cancelled; default 0.03
	// MaxLines bounds the lines of an order, 1 to MaxLines before the
	// unmapped one; default 4.
	MaxLines int `json:"max_lines"`
	// DeferChanges leaves the amendments and cancellations out: they are
	// returned in OrderReport.Changes for the caller to Apply later (once
	// a source has seen every release, say). The report describes the
	// orders as they stand after the changes.
	DeferChanges bool `json:"defer_changes"`
	// DeferReleases leaves the releases out too: they are returned in
	// OrderReport.Releases for the caller to Apply later, after the item
	// master changes the run made (the items it unmapped) have reached
	// whoever reads it. Prima's feed cannot promise that a reader of the
	// item master has seen an item change before an order that follows it.
	DeferReleases bool `json:"defer_releases"`
}

// Amendment kinds in OrderTruth.Amendment.
const (
	AmendPrice    = "price"    // one line's unit price
	AmendQuantity = "quantity" // one stock line's quantity
	AmendDelivery = "delivery" // the delivery address
)

// OrderReport is the ground truth of a GenerateOrders run.
type OrderReport struct {
	Seed   uint64       `json:"seed"`
	Orders []OrderTruth `json:"orders"` // in release order
	// UnmappedSKUs are the stock SKUs without a Clarus code that orders
	// carry, sorted: map_item maps each to its intended code.
	UnmappedSKUs []string `json:"unmapped_skus"`
	// FeeSKUs and NonStockSKUs are the fee and non-stock items used.
	FeeSKUs      []string `json:"fee_skus"`
	NonStockSKUs []string `json:"non_stock_skus"`
	Lines        int      `json:"lines"`
	Amended      int      `json:"amended"`
	Cancelled    int      `json:"cancelled"`
	WithUnmapped int      `json:"with_unmapped"`
	// Changes are the amend_order and cancel_order events, in order, when
	// DeferChanges held them back.
	Changes []Event `json:"changes,omitempty"`
	// Releases are the release_order events, in order, when
	// DeferReleases held them back.
	Releases []Event `json:"releases,omitempty"`
}

// OrderTruth is one generated order as it stands after the run.
type OrderTruth struct {
	Ref       string      `json:"order_ref"`
	Warehouse string      `json:"warehouse"`
	Version   int64       `json:"final_version"`
	Status    string      `json:"final_status"` // OrderReleased or OrderCancelled
	Lines     []OrderLine `json:"lines"`
	Amendment string      `json:"amendment,omitempty"` // AmendPrice, AmendQuantity or AmendDelivery
	// UnmappedSKU is the order's line of an unmapped stock item, if any.
	UnmappedSKU string `json:"unmapped_sku,omitempty"`
}

// fraction applies a default: 0 is def, a negative value none.
func fraction(f, def float64) float64 {
	switch {
	case f == 0:
		return def
	case f < 0:
		return 0
	}
	return f
}

func (sc OrderScenario) withDefaults(seed uint64) (OrderScenario, error) {
	sc.Seed = cmp.Or(sc.Seed, seed)
	sc.Orders = cmp.Or(sc.Orders, 100)
	sc.Warehouses = cmp.Or(sc.Warehouses, 1)
	sc.MaxLines = cmp.Or(sc.MaxLines, 4)
	sc.NonStockLineFraction = fraction(sc.NonStockLineFraction, 0.15)
	sc.FeeLineFraction = fraction(sc.FeeLineFraction, 0.05)
	sc.UnmappedFraction = fraction(sc.UnmappedFraction, 0.02)
	sc.AmendFraction = fraction(sc.AmendFraction, 0.05)
	sc.CancelFraction = fraction(sc.CancelFraction, 0.03)
	switch {
	case sc.Orders < 0 || sc.Warehouses < 0 || sc.MaxLines < 0:
		return sc, errors.New("order scenario: counts must not be negative")
	case sc.NonStockLineFraction+sc.FeeLineFraction > 1 || sc.UnmappedFraction > 1 || sc.AmendFraction+sc.CancelFraction > 1:
		return sc, errors.New("order scenario: fractions lie between 0 and 1, and line kinds (non-stock, fee) and changes (amend, cancel) add up to at most 1")
	}
	return sc, nil
}

// GenerateOrders releases sc.Orders orders over the item master and
// amends or cancels some, through the same events as the control API. It
// is a function of the seed and the item master it starts from.
func (s *Server) GenerateOrders(sc OrderScenario) (OrderReport, error) {
	sc, err := sc.withDefaults(s.opts.Seed)
	if err != nil {
		return OrderReport{}, err
	}
	rng := rand.New(rand.NewPCG(sc.Seed, 0x0de5))
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.newGenerator(sc, rng)
	if err != nil {
		return OrderReport{}, err
	}
	rep := OrderReport{Seed: sc.Seed, Orders: make([]OrderTruth, 0, sc.Orders)}
	kinds := make([][]lineKind, 0, sc.Orders)
	next := 1
	for range sc.Orders {
		for s.st.orders[fmt.Sprintf(orderRefFormat, next)] != nil {
			next++ // refs of orders made before stay theirs
		}
		ev, truth, k := g.order(fmt.Sprintf(orderRefFormat, next), sc)
		next++
		if sc.DeferReleases {
			rep.Releases = append(rep.Releases, ev)
		} else if err := s.apply(ev); err != nil {
			return rep, err
		}
		rep.Orders = append(rep.Orders, truth)
		kinds = append(kinds, k)
	}
	for i := range rep.Orders {
		ev, ok := g.change(&rep.Orders[i], kinds[i], sc)
		if !ok {
			continue
		}
		if sc.DeferChanges {
			rep.Changes = append(rep.Changes, ev)
		} else if err := s.apply(ev); err != nil {
			return rep, err
		}
	}
	g.summarise(&rep)
	return rep, nil
}

// orderRefFormat spells generated order refs.
const orderRefFormat = "SO%06d"

// lineKind is what a generated line sells.
type lineKind int

const (
	kindStock lineKind = iota
	kindNonStock
	kindFee
	kindUnmapped
)

// summarise counts the report's totals and lists the SKUs by kind.
func (g *generator) summarise(rep *OrderReport) {
	unmapped := map[string]bool{}
	for _, o := range rep.Orders {
		rep.Lines += len(o.Lines)
		if o.Amendment != "" {
			rep.Amended++
		}
		if o.Status == OrderCancelled {
			rep.Cancelled++
		}
		if o.UnmappedSKU != "" {
			rep.WithUnmapped++
			unmapped[o.UnmappedSKU] = true
		}
	}
	rep.UnmappedSKUs = slices.Sorted(func(yield func(string) bool) {
		for k := range unmapped {
			if !yield(k) {
				return
			}
		}
	})
	rep.FeeSKUs = skusOf(g.fee)
	rep.NonStockSKUs = skusOf(g.nonStock)
}

func skusOf(items []*Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.SKU
	}
	return out
}

// roundUp is ceil(n*f) as an int.
func roundUp(n int, f float64) int { return int(math.Ceil(float64(n) * f)) }

// priceOf is what an item sells for: a markup on its cost, ending .99.
func priceOf(it *Item) schemas.Decimal {
	p, err := it.UnitCost.Mul(2)
	if err != nil {
		return schemas.NewDecimal(99, 9900)
	}
	return p + schemas.NewDecimal(0, 9900)
}
