package primasim

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Scenario seeds the item master with a fashion catalogue: styles in two
// colours and six sizes, each SKU mapped to a Clarus product code, with a
// few non-stock and unmapped items, and optionally initial stock levels.
type Scenario struct {
	Seed  uint64 `json:"seed"`
	Items int    `json:"items"` // default 100
	// ClarusCodeFormat spells the Clarus code of item i (from 1); the
	// default, SKU-%05d, is what clarussim's scenario names its products.
	ClarusCodeFormat string  `json:"clarus_code_format"`
	NonStockFraction float64 `json:"non_stock_fraction"`
	UnmappedFraction float64 `json:"unmapped_fraction"`
	// Warehouses (WH1...) get a random level up to MaxInitialStock for
	// every stock item, as Prima's view before lockstep pushed anything.
	Warehouses      int   `json:"warehouses"`
	MaxInitialStock int64 `json:"max_initial_stock"`
	// Orders, when set, releases orders over the item master once it is
	// seeded (GenerateOrders).
	Orders *OrderScenario `json:"orders,omitempty"`
	// PurchaseOrders, when set, approves purchase orders over the item
	// master once it is seeded, after the orders (GeneratePOs).
	PurchaseOrders *POScenario `json:"purchase_orders,omitempty"`
}

var (
	colours = []string{"BLK", "NAV", "BRN", "TAN", "OLV"}
	sizes   = []string{"6", "7", "8", "9", "10", "11"}
	// Latin-1 words on purpose: descriptions exercise the ISO-8859-1 path.
	adjectives = []string{"Suède", "Crème", "Café", "Classic", "Brogue", "Waxed", "Façade"}
	nouns      = []string{"Chelsea boot", "Derby", "Loafer", "Oxford", "Jacket", "Gilet"}
)

// RunScenario adds (or updates) sc.Items items and returns how many.
func (s *Server) RunScenario(sc Scenario) (int, error) {
	if sc.Items == 0 {
		sc.Items = 100
	}
	if sc.ClarusCodeFormat == "" {
		sc.ClarusCodeFormat = "SKU-%05d"
	}
	if sc.Items < 0 || sc.Warehouses < 0 || sc.MaxInitialStock < 0 ||
		sc.NonStockFraction < 0 || sc.NonStockFraction > 1 || sc.UnmappedFraction < 0 || sc.UnmappedFraction > 1 {
		return 0, errors.New("scenario: counts must not be negative and fractions lie between 0 and 1")
	}
	if sc.Seed == 0 {
		sc.Seed = s.opts.Seed
	}
	rng := rand.New(rand.NewPCG(sc.Seed, 0x5ce4))
	s.mu.Lock()
	defer s.mu.Unlock()
	perStyle := 2 * len(sizes)
	for i := 1; i <= sc.Items; i++ {
		style := (i - 1) / perStyle
		m := wire.Matrix{
			Product:   fmt.Sprintf("ST%04d", style+1),
			MtrxCode1: colours[(style+(i-1)/len(sizes))%len(colours)],
			MtrxCode2: sizes[(i-1)%len(sizes)],
		}
		sku, _ := m.SKU()
		code := fmt.Sprintf(sc.ClarusCodeFormat, i)
		intended := ""
		stock := rng.Float64() >= sc.NonStockFraction
		if rng.Float64() < sc.UnmappedFraction || !stock {
			code = ""
			if stock {
				// Remembered, so that map_item can map it later as the
				// warehouse team would, to the product Clarus has.
				intended = fmt.Sprintf(sc.ClarusCodeFormat, i)
			}
		}
		desc := adjectives[rng.IntN(len(adjectives))] + " " + nouns[style%len(nouns)]
		if !stock {
			desc = "Gift card"
		}
		cost := schemas.NewDecimal(5+rng.Int64N(145), 100*rng.Int64N(100))
		if err := s.apply(Event{Type: "add_item", SKU: sku, Description: desc, ClarusCode: &code, StockItem: &stock, UnitCost: &cost}); err != nil {
			return i - 1, err
		}
		s.st.items[sku].IntendedCode = intended
		if !stock {
			continue
		}
		for w := 1; w <= sc.Warehouses; w++ {
			s.st.setLevel(sku, fmt.Sprintf("WH%d", w), rng.Int64N(sc.MaxInitialStock+1), "scenario", s.tick())
		}
	}
	return sc.Items, nil
}
