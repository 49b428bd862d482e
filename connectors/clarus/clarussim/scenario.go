package clarussim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Scenario is a seeded generator of warehouse traffic over SKUs x
// warehouses: receipts, allocations, dispatches, cancellations,
// adjustments, holds and releases, always valid against the ground truth.
type Scenario struct {
	Seed       uint64 `json:"seed"`
	SKUs       int    `json:"skus"`
	Warehouses int    `json:"warehouses"`
	// MovementsPerSecond runs the generator in the background (Run must be
	// running); 0 stops it.
	MovementsPerSecond float64 `json:"movements_per_second"`
	// Generate applies this many movements at once, before returning: the
	// synchronous mode for tests.
	Generate int `json:"generate"`
}

type generator struct {
	sc     Scenario
	rng    *rand.Rand
	orders int
	owed   float64
	last   time.Time
}

// StartScenario replaces the generator, generates sc.Generate movements now
// and returns how many it generated.
func (s *Sim) StartScenario(sc Scenario) (int, error) {
	if sc.SKUs == 0 {
		sc.SKUs = 100
	}
	if sc.Warehouses == 0 {
		sc.Warehouses = 3
	}
	if sc.SKUs < 0 || sc.Warehouses < 0 || sc.MovementsPerSecond < 0 || sc.Generate < 0 {
		return 0, errors.New("scenario: counts and rates must not be negative")
	}
	if sc.Seed == 0 {
		sc.Seed = s.cfg.Seed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen = &generator{sc: sc, rng: rand.New(rand.NewPCG(sc.Seed, 0x5ce4))}
	// The scenario's warehouses exist from the start, in order: one not
	// configured takes the next id, whichever the traffic reaches first.
	for i := 1; i <= sc.Warehouses; i++ {
		s.st.warehouseID(fmt.Sprintf("WH%d", i))
	}
	// So do its products, moved or not: a goods-out may name one that
	// never had stock.
	for i := 1; i <= sc.SKUs; i++ {
		s.st.productID(fmt.Sprintf("SKU-%05d", i))
	}
	return s.generate(sc.Generate), nil
}

// Generate applies at least n movements from the current scenario (a
// default one when none was started) and returns how many it applied.
func (s *Sim) Generate(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == nil {
		s.gen = &generator{sc: Scenario{Seed: s.cfg.Seed, SKUs: 100, Warehouses: 3}, rng: rand.New(rand.NewPCG(s.cfg.Seed, 0x5ce4))}
	}
	return s.generate(n)
}

// generate runs under s.mu.
func (s *Sim) generate(n int) int {
	start := len(s.st.movements)
	for len(s.st.movements)-start < n {
		if _, err := s.apply(s.gen.event(s)); err != nil {
			panic(fmt.Sprintf("clarussim: generated an invalid event: %v", err)) // the generator checks first
		}
	}
	return len(s.st.movements) - start
}

func (g *generator) event(s *Sim) Event {
	wh := fmt.Sprintf("WH%d", g.rng.IntN(g.sc.Warehouses)+1)
	sku := g.sku()
	k := skuKey{sku, wh}
	avail := s.st.available(k)
	r := g.rng.Float64()
	switch {
	case r < 0.30:
	case r < 0.50 && avail > 0:
		g.orders++
		return Event{Type: "allocate", Warehouse: wh, Reference: fmt.Sprintf("WMS-%06d", g.orders), // orders the warehouse took itself, not Prima's
			Lines: []Line{{SKU: sku, Quantity: 1 + g.rng.Int64N(min(5, avail))}}}
	case r < 0.73:
		if open := s.openOrders(); len(open) > 0 {
			typ := "dispatch"
			if r >= 0.68 {
				typ = "cancel"
			}
			return Event{Type: typ, OrderID: open[g.rng.IntN(len(open))].ID}
		}
	case r < 0.85:
		if avail > 0 && g.rng.IntN(2) == 0 {
			return Event{Type: "adjust", SKU: sku, Warehouse: wh, Quantity: -(1 + g.rng.Int64N(min(3, avail))), Reason: "DAMAGED"}
		}
		return Event{Type: "adjust", SKU: sku, Warehouse: wh, Quantity: 1 + g.rng.Int64N(10), Reason: "FOUND"}
	case r < 0.93 && avail > 0:
		return Event{Type: "hold", SKU: sku, Warehouse: wh, Quantity: 1 + g.rng.Int64N(min(3, avail)), Reason: "QC"}
	case r >= 0.93:
		if held := sortedHeld(s.st); len(held) > 0 {
			return Event{Type: "release", StockID: held[g.rng.IntN(len(held))].ID}
		}
	}
	lines := []Line{{SKU: sku, Quantity: 5 + g.rng.Int64N(46)}}
	if other := g.sku(); other != sku && g.rng.IntN(3) == 0 {
		lines = append(lines, Line{SKU: other, Quantity: 5 + g.rng.Int64N(46)})
	}
	return Event{Type: "receive", Warehouse: wh, Lines: lines}
}

func (g *generator) sku() string { return fmt.Sprintf("SKU-%05d", g.rng.IntN(g.sc.SKUs)+1) }

func sortedHeld(st *store) []*heldStock {
	out := make([]*heldStock, 0, len(st.held))
	for _, h := range st.held {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b *heldStock) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// runGenerator applies MovementsPerSecond in wall-clock time.
func (s *Sim) runGenerator(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			s.mu.Lock()
			if g := s.gen; g != nil && g.sc.MovementsPerSecond > 0 {
				if !g.last.IsZero() {
					g.owed += g.sc.MovementsPerSecond * now.Sub(g.last).Seconds()
				}
				g.last = now
				if n := int(g.owed); n > 0 {
					g.owed -= float64(s.generate(n))
				}
			}
			s.mu.Unlock()
		}
	}
}
