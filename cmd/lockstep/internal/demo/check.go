package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// truth is the simulators' ground truth, joined through Prima's item
// master: Clarus's available stock against Prima's level, per Clarus code.
type truth struct {
	clarus   []clarussim.Balance
	prima    primasim.State
	toPrima  map[string]string // Clarus code -> Prima SKU
	pending  int               // webhooks Clarus still has to deliver
	moves    int               // movements in Clarus's log
	injected map[string]bool   // Prima sku@warehouse overwritten by hand
	// open is what lockstep's goods-outs (those Clarus holds with
	// lockstep's version marker in string1; the warehouse's own have
	// none) still have to dispatch, per Clarus code@warehouse: the stock
	// flow promises it.
	open map[string]int64
}

func readTruth(s *sims, injected map[string]bool) truth {
	cs, ps := s.clarus.State(), s.prima.State()
	t := truth{clarus: cs.Stock, prima: ps, toPrima: map[string]string{}, pending: cs.Webhooks.Pending, moves: len(cs.Movements), injected: injected,
		open: map[string]int64{}}
	for _, o := range cs.Orders {
		if o.String1 == "" || o.Status == "COMPLETED" || o.Status == "CANCELLED" {
			continue
		}
		for _, l := range o.Lines {
			t.open[schemas.StockKey(l.SKU, o.Warehouse)] += l.Quantity - l.Dispatched
		}
	}
	for _, it := range ps.Items {
		if it.ClarusCode != "" && it.StockItem {
			t.toPrima[it.ClarusCode] = it.SKU
		}
	}
	return t
}

// promisable is what Prima should show for a Clarus balance: on hand -
// held - the larger of allocated and lockstep's open goods-outs.
func (t truth) promisable(b clarussim.Balance) int64 {
	return max(b.OnHand-b.Held-max(b.Allocated, t.open[schemas.StockKey(b.SKU, b.Warehouse)]), 0)
}

// primaMismatches lists the balances whose Prima level differs from what
// Clarus can promise, leaving out the levels overwritten on purpose.
func (t truth) primaMismatches() []string {
	var out []string
	for _, b := range t.clarus {
		sku, ok := t.toPrima[b.SKU]
		if !ok {
			out = append(out, b.SKU+" has no Prima item")
			continue
		}
		if t.injected[schemas.StockKey(sku, b.Warehouse)] {
			continue
		}
		got, _ := t.prima.Level(sku, b.Warehouse) // no level yet reads as 0
		if want := t.promisable(b); got != want {
			out = append(out, fmt.Sprintf("%s@%s: Prima %d, Clarus %d (available %d, open goods-out %d)",
				b.SKU, b.Warehouse, got, want, b.Available, t.open[schemas.StockKey(b.SKU, b.Warehouse)]))
		}
	}
	return out
}

// unallocatedPromised checks that the goods-outs Clarus never allocated
// are taken off Prima's levels: at each of their keys where lockstep's open
// goods-outs exceed Clarus's allocations, Prima's level is below Clarus's
// available stock by the difference (prima_stock_matches_clarus checks the
// level itself). With none such, the run proved nothing, and says so.
func (t truth) unallocatedPromised(waiting []clarussim.Order) []string {
	keys := map[string]bool{}
	for _, g := range waiting {
		for _, l := range g.Lines {
			keys[schemas.StockKey(l.SKU, g.Warehouse)] = true
		}
	}
	var out []string
	short := 0
	for _, b := range t.clarus {
		k := schemas.StockKey(b.SKU, b.Warehouse)
		if !keys[k] || t.injected[schemas.StockKey(t.toPrima[b.SKU], b.Warehouse)] || t.open[k] <= b.Allocated || b.Available <= 0 {
			continue
		}
		short++
		got, _ := t.prima.Level(t.toPrima[b.SKU], b.Warehouse)
		if want := max(b.Available-(t.open[k]-b.Allocated), 0); got != want {
			out = append(out, fmt.Sprintf("%s@%s: Prima %d, want Clarus available %d less the %d units of goods-outs not yet allocated",
				b.SKU, b.Warehouse, got, b.Available, t.open[k]-b.Allocated))
		}
	}
	if len(waiting) > 0 && short == 0 {
		out = append(out, fmt.Sprintf("%d goods-outs wait for allocation, but at none of their keys is more promised than allocated: nothing was checked", len(waiting)))
	}
	return out
}

// levelMismatches lists the balances lockstep's folded level (the latest
// on lockstep.stock-levels) does not equal.
func (t truth) levelMismatches(levels map[string]schemas.StockLevel) []string {
	var out []string
	for _, b := range t.clarus {
		// A key lockstep never emitted a level for is at zero: all its
		// movements may have been lost webhooks that the sweep found
		// cancelling out.
		l := levels[schemas.StockKey(b.SKU, b.Warehouse)]
		open := t.open[schemas.StockKey(b.SKU, b.Warehouse)]
		if l.OnHand != b.OnHand || l.Held != b.Held || l.Allocated != b.Allocated || l.Available != b.Available || l.OpenGoodsOut != open {
			out = append(out, fmt.Sprintf("%s@%s: lockstep %d/%d/%d/%d, Clarus %d/%d/%d/%d (on hand/held/allocated/open goods-out)",
				b.SKU, b.Warehouse, l.OnHand, l.Held, l.Allocated, l.OpenGoodsOut, b.OnHand, b.Held, b.Allocated, open))
		}
	}
	return out
}

// check waits for lockstep to catch up with the traffic that started at
// trafficStart, injects drift in Prima, waits for it to be flagged, and
// runs the checks.
func check(ctx context.Context, o Options, s *sims, w *watcher, errc <-chan error, trafficStart time.Time, orders *orderRun, fulfil *fulfilRun, inbound *inboundRun) (Summary, error) {
	p := newProgress(o, s, w)
	var caughtUpAt time.Time
	var caughtUpMoves int
	caughtUp := func() bool {
		t := readTruth(s, nil)
		levels, _, _, _ := w.snapshot()
		ok := t.pending == 0 && len(t.primaMismatches()) == 0 && len(t.levelMismatches(levels)) == 0
		if ok {
			caughtUpAt, caughtUpMoves = time.Now(), t.moves
		}
		return ok
	}
	if err := waitUntil(ctx, o.Settle, p, errc, caughtUp); err != nil {
		return Summary{}, err
	}
	if !caughtUpAt.IsZero() && o.Progress != nil {
		fmt.Fprintf(o.Progress, "caught up: Prima equals Clarus %s after traffic started\n", caughtUpAt.Sub(trafficStart).Round(time.Millisecond))
	}

	// Overwrite a few Prima levels by hand, as someone at a Prima screen.
	rng := rand.New(rand.NewPCG(o.Seed, 0x1e7))
	t := readTruth(s, nil)
	injected := map[string]bool{}
	// Only levels lockstep pushed can be judged: a goods-out creates a
	// balance of 0 for a product that never moved, which is never pushed.
	// Not on the items the order scenario unmapped and mapped again: their
	// levels were held by the stock flow meanwhile, so when Prima's level
	// is wrong there depends on when the held level was pushed.
	var candidates []clarussim.Balance
	for _, b := range t.clarus {
		_, pushed := t.prima.Level(t.toPrima[b.SKU], b.Warehouse)
		if pushed && (orders == nil || !orders.unmappedCodes[b.SKU]) {
			candidates = append(candidates, b)
		}
	}
	for _, i := range rng.Perm(len(candidates))[:min(o.Injected, len(candidates))] {
		b := candidates[i]
		sku := t.toPrima[b.SKU]
		wrong := t.promisable(b) + 7
		if err := s.prima.Apply(primasim.Event{Type: "set_stock", SKU: sku, Warehouse: b.Warehouse, Available: &wrong}); err != nil {
			return Summary{}, fmt.Errorf("demo: inject drift: %w", err)
		}
		injected[schemas.StockKey(sku, b.Warehouse)] = true
	}
	flagged := func() map[string]bool {
		_, drift, _, _ := w.snapshot()
		got := map[string]bool{}
		for _, d := range drift {
			if d.Kind == schemas.DriftStockParity && d.SKU != nil && d.Warehouse != nil {
				got[schemas.StockKey(*d.SKU, *d.Warehouse)] = true
			}
		}
		return got
	}
	_ = waitUntil(ctx, o.Settle, p, errc, func() bool {
		got := flagged()
		for k := range injected {
			if !got[k] {
				return false
			}
		}
		return true
	})
	// A moment more, for any drift that should not come to show up.
	_ = waitUntil(ctx, 3*time.Second, p, errc, func() bool { return false })
	sum, err := summarize(ctx, o, s, w, injected, flagged(), orders, fulfil, inbound)
	if !caughtUpAt.IsZero() {
		d := caughtUpAt.Sub(trafficStart)
		sum.CaughtUp = d.Round(time.Millisecond).String()
		if d > 0 {
			sum.MovementsPerSecond = float64(caughtUpMoves) / d.Seconds()
		}
	}
	return sum, err
}

func summarize(ctx context.Context, o Options, s *sims, w *watcher, injected, flagged map[string]bool, orders *orderRun, fulfil *fulfilRun, inbound *inboundRun) (Summary, error) {
	t := readTruth(s, injected)
	levels, drift, commands, refs := w.snapshot()
	sum := Summary{
		Movements: len(s.clarus.State().Movements), Batches: t.prima.Counters.BatchesApplied,
		Drift: map[string]int{}, Checks: map[string]bool{}, CommandBatches: commands,
	}
	for k := range injected {
		sum.InjectedDrift = append(sum.InjectedDrift, k)
	}
	sort.Strings(sum.InjectedDrift)
	for _, d := range drift {
		sum.Drift[string(d.Kind)]++
	}
	checkf := func(name string, problems []string) {
		sum.Checks[name] = len(problems) == 0
		if len(problems) > 0 {
			if len(problems) > 5 {
				problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
			}
			sum.Failures = append(sum.Failures, name+": "+strings.Join(problems, "; "))
		}
	}
	checkf("prima_stock_matches_clarus", t.primaMismatches())
	checkf("no_lost_movements", t.levelMismatches(levels))
	if fulfil != nil {
		checkf("unallocated_goods_outs_promised", t.unallocatedPromised(fulfil.waiting))
	}
	var wrongDrift []string
	for k := range injected {
		if !flagged[k] {
			wrongDrift = append(wrongDrift, k+" overwritten in Prima but not flagged")
		}
	}
	for k := range flagged {
		if !injected[k] {
			wrongDrift = append(wrongDrift, k+" flagged but never overwritten")
		}
	}
	slices.Sort(wrongDrift)
	checkf("injected_stock_drift_flagged", wrongDrift)
	if o.ClarusFaults.WebhookDropRate == 0 {
		// With every webhook delivered, a feed gap is a false alarm.
		var gaps []string
		if n := sum.Drift[string(schemas.DriftWMSFeedGap)]; n > 0 {
			gaps = append(gaps, fmt.Sprintf("%d wms_feed_gap events with no webhook dropped", n))
			for _, d := range drift {
				if d.Kind == schemas.DriftWMSFeedGap {
					gaps = append(gaps, fmt.Sprintf("%s %s: %s", d.DiscrepancyID, d.Status, d.Detail))
				}
			}
		}
		checkf("no_false_feed_gaps", gaps)
	}
	// A push Prima refused past its budget is healed by the sink's retry
	// or a newer push; only one still open at the end is a failure.
	unhealed, pushFailures := pushFailures(drift)
	sum.PushFailures = pushFailures
	// Drift of any other kind is lockstep raising a false alarm (or a bug).
	// The orders' drift is the orders checks' to judge; the stock flow
	// holds the levels of the items the order scenario unmapped, until
	// they are mapped again.
	unexpected := unhealed
	other := map[string]int{}
	for _, d := range drift {
		switch {
		case d.Kind == schemas.DriftShipmentWithoutOrder: // shipments_without_order_flagged judges them
		case inbound != nil && isInbound(d): // the inbound checks judge them
		case d.OrderRef != nil && orders != nil:
		case d.Kind == schemas.DriftSKUUnmapped && d.SKU != nil && orders != nil && orders.unmappedCodes[*d.SKU]:
		default:
			other[string(d.Kind)]++
		}
	}
	for kind, n := range other {
		switch schemas.DriftKind(kind) {
		case schemas.DriftStockParity, schemas.DriftPushFailed:
		case schemas.DriftWMSFeedGap:
			if o.ClarusFaults.WebhookDropRate == 0 {
				unexpected = append(unexpected, fmt.Sprintf("%d %s", n, kind)) // also no_false_feed_gaps
			}
		default:
			unexpected = append(unexpected, fmt.Sprintf("%d %s", n, kind))
		}
	}
	slices.Sort(unexpected)
	checkf("no_unexpected_drift", unexpected)
	checkf("shipments_without_order_flagged", orphanShipments(s, drift))
	var dupRefs []string
	for ref, n := range refs {
		if n > 1 {
			dupRefs = append(dupRefs, fmt.Sprintf("%s x%d", ref, n))
		}
	}
	checkf("batch_refs_unique", dupRefs)
	if o.Ledger != nil {
		sum.Ledger = true
		rows, problems := ledgerMatches(ctx, *o.Ledger, drift)
		sum.LedgerRows = rows
		checkf("ledger_matches_drift_topic", problems)
	}
	if orders != nil {
		orders.checkOrders(&sum, s, w, checkf)
	}
	if inbound != nil {
		inbound.checkInbound(&sum, s, w, checkf)
	}
	if fulfil != nil {
		fulfil.checkFulfilment(&sum, s, w, checkf)
		if o.Ledger != nil {
			checkf("reconciliation_balanced_except_injected",
				checkReconciliation(ctx, *o.Ledger, o.ReportDir, s.settings(o).Orders.NonStockSKUs, s, &sum))
		}
	}
	return sum, nil
}

// pushFailures lists the push_failed discrepancies, each with the reason
// it opened and whether it is resolved, and those still open.
func pushFailures(drift []schemas.DriftEvent) (open, all []string) {
	type disc struct {
		detail string
		status schemas.DriftStatus
	}
	byID := map[string]*disc{}
	var ids []string
	for _, d := range drift {
		if d.Kind != schemas.DriftPushFailed {
			continue
		}
		x := byID[d.DiscrepancyID]
		if x == nil {
			x = &disc{}
			byID[d.DiscrepancyID] = x
			ids = append(ids, d.DiscrepancyID)
		}
		if d.Status != schemas.DriftResolved {
			x.detail = d.Detail
		}
		x.status = d.Status
	}
	for _, id := range ids {
		x := byID[id]
		state := "healed"
		if x.status != schemas.DriftResolved {
			state = "open"
			open = append(open, fmt.Sprintf("push_failed %s still open (%s)", id, x.detail))
		}
		all = append(all, fmt.Sprintf("%s (%s): %s", id, state, x.detail))
	}
	return open, all
}

// ledgerMatches compares the ledger's distinct events with the drift
// topic's, after the ledger sink has had time to insert them.
func ledgerMatches(ctx context.Context, cfg analytics.Config, drift []schemas.DriftEvent) (int, []string) {
	want := map[string]bool{}
	for _, d := range drift {
		want[d.EventID] = true
	}
	conn, err := analytics.Open(ctx, cfg)
	if err != nil {
		return 0, []string{err.Error()}
	}
	defer conn.Close()
	var got uint64
	deadline := time.Now().Add(30 * time.Second)
	for {
		row := conn.QueryRow(ctx, "SELECT count(DISTINCT event_id) FROM drift_events")
		if err := row.Scan(&got); err != nil {
			return 0, []string{err.Error()}
		}
		if int(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // the sink inserts at most a second behind
	}
	if int(got) != len(want) {
		return int(got), []string{fmt.Sprintf("ClickHouse holds %d distinct drift events, the topic %d", got, len(want))}
	}
	return int(got), nil
}

// waitUntil polls cond until it holds or d passes, printing progress and
// stopping early on a component error.
func waitUntil(ctx context.Context, d time.Duration, p *progress, errc <-chan error, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return nil // the checks say what is missing
		}
		if err := p.tick(ctx, errc, 250*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}
