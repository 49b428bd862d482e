package demo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The orders phase: Prima releases orders (with non-stock and fee lines,
// and some with an unmapped SKU); once lockstep has sent or held each, a
// few are amended or cancelled and the unmapped SKUs are mapped; then
// Clarus must hold exactly the expected goods-outs. The expectation is
// worked out here from the generator's ground truth and Prima's item
// master, independently of the orders processor's code.

// orderRun is what the orders phase did, for the checks.
type orderRun struct {
	report primasim.OrderReport
	first  map[string][]primasim.OrderLine // lines at release, by ref
	// unmappedCodes are the Clarus codes of the items the scenario left
	// unmapped: the stock flow holds their levels until they are mapped.
	unmappedCodes map[string]bool
	// sentIn is the time from the release of the orders until each was in
	// Clarus or held (0 if that did not happen within Settle).
	sentIn time.Duration
}

// orderWant is what Clarus and the ledger should show of one order.
type orderWant struct {
	lines    map[string]int64 // Clarus code -> units; nil: no goods-out
	held     bool             // sku_unmapped opened, then resolved
	amended  bool             // order_amended_after_release open
	nonStock []string         // Clarus codes that must not be on it
}

func driveOrders(ctx context.Context, o Options, s *sims, w *watcher, errc <-chan error) (*orderRun, error) {
	if o.Orders == 0 {
		return nil, nil
	}
	p := newProgress(o, s, w)
	rep, err := s.prima.GenerateOrders(primasim.OrderScenario{Seed: o.Seed, Orders: o.Orders, Warehouses: o.Warehouses,
		DeferChanges: true, DeferReleases: true})
	if err != nil {
		return nil, fmt.Errorf("demo: orders: %w", err)
	}
	// The scenario unmapped a few items that were mapped: the orders go
	// out once prima.items shows it (the orders processor reads that
	// topic as a global table, and nothing orders an item change before
	// an order that follows it; a new item, unknown until then, would be
	// held either way).
	// Every item the scenario unmapped, whether or not an order carries
	// it: all are mapped back after the changes.
	var unmapped []string
	for _, it := range s.prima.State().Items {
		if it.ClarusCode == "" && it.IntendedCode != "" {
			unmapped = append(unmapped, it.SKU)
		}
	}
	if err := waitUntil(ctx, o.Settle, p, errc, func() bool { return w.unmappedSeen(unmapped) }); err != nil {
		return nil, err
	}
	released := time.Now()
	for _, ev := range rep.Releases {
		if err := s.prima.Apply(ev); err != nil {
			return nil, fmt.Errorf("demo: orders: release %s: %w", ev.OrderRef, err)
		}
	}
	run := &orderRun{report: rep, first: map[string][]primasim.OrderLine{}, unmappedCodes: map[string]bool{}}
	st := s.prima.State()
	for _, so := range st.SalesOrders {
		run.first[so.Ref] = so.Lines
	}
	for _, it := range st.Items {
		if slices.Contains(unmapped, it.SKU) {
			run.unmappedCodes[it.IntendedCode] = true
		}
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "orders: %d released (%d lines, %d with an unmapped SKU); waiting for lockstep to send or hold each\n",
			len(rep.Orders), rep.Lines, rep.WithUnmapped)
	}
	// Every release is in Clarus or held before anything changes, so that
	// the changes are amendments after release, as the rules are about.
	pending := func() []string {
		inClarus := activeByRef(s.clarus.Orders())
		_, drift, _, _ := w.snapshot()
		held := map[string]bool{}
		for _, d := range drift {
			if d.Kind == schemas.DriftSKUUnmapped && d.OrderRef != nil {
				held[*d.OrderRef] = true
			}
		}
		want := run.expect(st.Items)
		var out []string
		for _, t := range rep.Orders {
			switch {
			case t.UnmappedSKU != "":
				if !held[t.Ref] {
					out = append(out, t.Ref+" not held")
				}
			case want[t.Ref].lines != nil && len(inClarus[t.Ref]) == 0:
				out = append(out, t.Ref+" not in Clarus")
			}
		}
		return out
	}
	if err := waitUntil(ctx, o.Settle, p, errc, func() bool { return len(pending()) == 0 }); err != nil {
		return nil, err
	}
	if left := pending(); len(left) > 0 {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "orders: %d not sent or held after %s, e.g. %v\n", len(left), o.Settle, left[:min(5, len(left))])
		}
	} else {
		run.sentIn = time.Since(released)
	}
	for _, ev := range rep.Changes {
		if err := s.prima.Apply(ev); err != nil {
			return nil, fmt.Errorf("demo: orders: %s %s: %w", ev.Type, ev.OrderRef, err)
		}
	}
	// The mappings come once Prima's feed carries the changes: a held
	// order is re-driven as soon as its mapping is seen, and one whose
	// amendment came later would rightly be sent as it was and the
	// amendment raised as an exception (the changes and the mappings are
	// polled together, and a large page of changes takes a while).
	changed := map[string]int64{}
	for _, so := range s.prima.State().SalesOrders {
		if so.Version > 1 {
			changed[so.Ref] = so.Version
		}
	}
	if err := waitUntil(ctx, o.Settle, p, errc, func() bool { return w.versionsSeen(changed) }); err != nil {
		return nil, err
	}
	for _, sku := range unmapped {
		if err := s.prima.Apply(primasim.Event{Type: "map_item", SKU: sku}); err != nil {
			return nil, fmt.Errorf("demo: orders: map %s: %w", sku, err)
		}
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "orders: %d amended, %d cancelled, SKUs %v mapped; waiting for Clarus to hold what it should\n",
			rep.Amended, rep.Cancelled, unmapped)
	}
	_ = waitUntil(ctx, o.Settle, p, errc, func() bool {
		items := s.prima.State().Items
		return len(run.clarusProblems(s.clarus.Orders(), items)) == 0 && len(run.driftProblems(w, items)) == 0
	})
	return run, nil
}

// activeByRef groups Clarus's goods-outs that are not cancelled by
// reference.
func activeByRef(orders []clarussim.Order) map[string][]clarussim.Order {
	out := map[string][]clarussim.Order{}
	for _, g := range orders {
		if g.Status != "CANCELLED" {
			out[g.Reference] = append(out[g.Reference], g)
		}
	}
	return out
}

// expect works out each order's goods-out: its stock lines (not marked
// non-stock, not a fee, an item Prima holds stock of) at the version
// lockstep sent first, or, for an order held on a SKU, at its last
// version; nothing for a cancelled one. An unmapped SKU counts with the
// code it is meant to get.
func (run *orderRun) expect(items []primasim.Item) map[string]orderWant {
	byPrima := map[string]primasim.Item{}
	for _, it := range items {
		byPrima[it.SKU] = it
	}
	fee := map[string]bool{}
	for _, sku := range run.report.FeeSKUs {
		fee[sku] = true
	}
	code := func(sku string) string {
		it := byPrima[sku]
		return cmp(it.ClarusCode, it.IntendedCode)
	}
	out := map[string]orderWant{}
	for _, t := range run.report.Orders {
		var w orderWant
		w.held = t.UnmappedSKU != ""
		lines := run.first[t.Ref]
		if w.held {
			lines = t.Lines
		}
		for _, l := range lines {
			it, ok := byPrima[l.SKU]
			if l.StockType != primasim.StockTypeStock || fee[l.SKU] || !ok || !it.StockItem {
				if c := code(l.SKU); c != "" {
					w.nonStock = append(w.nonStock, c)
				}
				continue
			}
			if w.lines == nil {
				w.lines = map[string]int64{}
			}
			w.lines[code(l.SKU)] += l.Quantity
		}
		if t.Status == primasim.OrderCancelled {
			w.lines = nil
		}
		if !w.held && t.Status != primasim.OrderCancelled && w.lines != nil {
			switch t.Amendment {
			case primasim.AmendDelivery:
				w.amended = true
			case primasim.AmendQuantity:
				w.amended = !maps.Equal(w.lines, stockUnits(t.Lines, byPrima, fee, code))
			}
		}
		out[t.Ref] = w
	}
	return out
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func stockUnits(lines []primasim.OrderLine, items map[string]primasim.Item, fee map[string]bool, code func(string) string) map[string]int64 {
	out := map[string]int64{}
	for _, l := range lines {
		if it, ok := items[l.SKU]; ok && it.StockItem && l.StockType == primasim.StockTypeStock && !fee[l.SKU] {
			out[code(l.SKU)] += l.Quantity
		}
	}
	return out
}

// clarusProblems compares Clarus's goods-outs with the expectation.
func (run *orderRun) clarusProblems(orders []clarussim.Order, items []primasim.Item) []string {
	var out []string
	want := run.expect(items)
	active := activeByRef(orders)
	for _, ref := range slices.Sorted(maps.Keys(want)) {
		w, got := want[ref], active[ref]
		switch {
		case w.lines == nil && len(got) > 0:
			out = append(out, fmt.Sprintf("%s: %d goods-out in Clarus, want none", ref, len(got)))
		case w.lines != nil && len(got) != 1:
			out = append(out, fmt.Sprintf("%s: %d goods-outs in Clarus, want one", ref, len(got)))
		case w.lines != nil:
			lines := map[string]int64{}
			for _, l := range got[0].Lines {
				lines[l.SKU] += l.Quantity
			}
			if !maps.Equal(lines, w.lines) {
				out = append(out, fmt.Sprintf("%s: Clarus has %v, want %v", ref, lines, w.lines))
			}
		}
	}
	return out
}

// nonStockProblems names every non-stock or fee line that reached Clarus.
func (run *orderRun) nonStockProblems(orders []clarussim.Order, items []primasim.Item) []string {
	var out []string
	want := run.expect(items)
	for _, g := range orders {
		w, ok := want[g.Reference]
		if !ok {
			continue // an order of the stock scenario
		}
		for _, l := range g.Lines {
			if slices.Contains(w.nonStock, l.SKU) {
				out = append(out, fmt.Sprintf("%s: non-stock %s in Clarus", g.Reference, l.SKU))
			}
		}
	}
	return out
}

// duplicateProblems names every reference with more than one goods-out
// ever created (cancelled ones included: a cancel and re-create is off).
func (run *orderRun) duplicateProblems(orders []clarussim.Order) []string {
	n := map[string]int{}
	for _, g := range orders {
		if _, ok := run.first[g.Reference]; ok {
			n[g.Reference]++
		}
	}
	var out []string
	for _, ref := range slices.Sorted(maps.Keys(n)) {
		if n[ref] > 1 {
			out = append(out, fmt.Sprintf("%s: %d goods-outs", ref, n[ref]))
		}
	}
	return out
}

// driftProblems compares the orders' drift with the expectation: held
// orders opened sku_unmapped and resolved it, amended orders have an open
// order_amended_after_release, and nothing else.
func (run *orderRun) driftProblems(w *watcher, items []primasim.Item) []string {
	_, drift, _, _ := w.snapshot()
	last := map[string]schemas.DriftEvent{}
	opened := map[string]bool{}
	for _, d := range drift {
		if d.OrderRef == nil || fulfilmentKinds[d.Kind] {
			continue // the fulfilment phase checks its own
		}
		last[d.DiscrepancyID] = d
		if d.Status == schemas.DriftOpen {
			opened[d.DiscrepancyID] = true
		}
	}
	exp := run.expect(items)
	var out []string
	seen := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(last)) {
		d := last[id]
		ref := *d.OrderRef
		seen[ref+"/"+string(d.Kind)] = true
		w := exp[ref]
		switch {
		case d.Kind == schemas.DriftSKUUnmapped && w.held:
			if !opened[id] || d.Status != schemas.DriftResolved {
				out = append(out, fmt.Sprintf("%s: sku_unmapped %s, want opened then resolved", ref, d.Status))
			}
		case d.Kind == schemas.DriftAmendedAfterRelease && w.amended:
			if d.Status == schemas.DriftResolved {
				out = append(out, fmt.Sprintf("%s: amendment exception resolved, want open", ref))
			}
		default:
			out = append(out, fmt.Sprintf("%s: unexpected %s %s: %s", ref, d.Kind, d.Status, d.Detail))
		}
	}
	for _, t := range run.report.Orders {
		w := exp[t.Ref]
		if w.held && !seen[t.Ref+"/"+string(schemas.DriftSKUUnmapped)] {
			out = append(out, t.Ref+": held on an unmapped SKU but no sku_unmapped drift")
		}
		if w.amended && !seen[t.Ref+"/"+string(schemas.DriftAmendedAfterRelease)] {
			out = append(out, t.Ref+": amended after release but no order_amended_after_release drift")
		}
	}
	return out
}

// checkOrders adds the orders figures and checks to sum.
func (run *orderRun) checkOrders(sum *Summary, s *sims, w *watcher, checkf func(string, []string)) {
	sum.Orders = len(run.report.Orders)
	if run.sentIn > 0 {
		sum.OrdersSentIn = run.sentIn.Round(time.Millisecond).String()
		sum.OrdersPerSecond = float64(sum.Orders) / run.sentIn.Seconds()
	}
	orders, items := s.clarus.Orders(), s.prima.State().Items
	checkf("no_non_stock_lines_in_clarus", run.nonStockProblems(orders, items))
	checkf("every_stock_order_in_clarus", run.clarusProblems(orders, items))
	var held []string
	for _, p := range run.driftProblems(w, items) {
		if strings.Contains(p, "sku_unmapped") {
			held = append(held, p)
		}
	}
	checkf("unmapped_orders_held_then_released", held)
	checkf("no_duplicate_goods_out", run.duplicateProblems(orders))
	checkf("order_exceptions_as_expected", run.driftProblems(w, items))
}
