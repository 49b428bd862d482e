package demo

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/processors/fulfilment"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The fulfilment phase: the warehouse receives the stock the orders need,
// allocates every goods-out the orders phase left in Clarus and ships it,
// often in several shipments, but for a seeded tenth it leaves PENDING
// (never allocated): Clarus shows their units as available, and lockstep
// must promise them to the orders all the same (open goods-outs). Prima drops a seeded few despatch posts
// silently (answers OK, stores nothing): exactly those must come back as
// missing_despatch, every other shipment must get exactly one despatch
// note, and every order whose shipments are all noted must be closed.

// fulfilRun is what the fulfilment phase did, for the checks.
type fulfilRun struct {
	goodsOuts map[string][]string // order ref -> its shipment ids
	refused   []string            // goods-outs Clarus would not allocate
	// waiting are the goods-outs left PENDING, never allocated.
	waiting []clarussim.Order
	// notedIn is the time from the first shipment until every shipment
	// had its note or was flagged (0 if that did not happen in Settle).
	notedIn time.Duration
}

func driveFulfilment(ctx context.Context, o Options, s *sims, w *watcher, kill *killer, errc <-chan error, orders *orderRun) (*fulfilRun, error) {
	if orders == nil || o.ShipmentsPerOrder <= 0 {
		return nil, nil
	}
	p := newProgress(o, s, w)
	rng := rand.New(rand.NewPCG(o.Seed, 0xf1f1))
	var goodsOuts []clarussim.Order
	need := map[string]map[string]int64{} // warehouse -> code -> units
	for _, g := range s.clarus.Orders() {
		if _, ok := orders.first[g.Reference]; !ok || g.Status == "CANCELLED" || g.Status == "COMPLETED" {
			continue
		}
		goodsOuts = append(goodsOuts, g)
		if need[g.Warehouse] == nil {
			need[g.Warehouse] = map[string]int64{}
		}
		for _, l := range g.Lines {
			need[g.Warehouse][l.SKU] += l.Quantity
		}
	}
	for _, wh := range slices.Sorted(maps.Keys(need)) {
		var lines []clarussim.Line
		for _, code := range slices.Sorted(maps.Keys(need[wh])) {
			lines = append(lines, clarussim.Line{SKU: code, Quantity: need[wh][code]})
		}
		if _, err := s.clarus.Apply(clarussim.Event{Type: "receive", Warehouse: wh, Lines: lines, Reference: "PO-DEMO-" + wh}); err != nil {
			return nil, fmt.Errorf("demo: fulfilment: receive at %s: %w", wh, err)
		}
	}
	if _, err := s.prima.SetDespatchFaults(primasim.DespatchFaults{Seed: o.Seed, DropFraction: o.DropDespatch}); err != nil {
		return nil, fmt.Errorf("demo: fulfilment: %w", err)
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "fulfilment: %d goods-outs to ship in about %.1f shipments each; Prima drops %.1f%% of despatch posts\n",
			len(goodsOuts), o.ShipmentsPerOrder, 100*o.DropDespatch)
	}
	run := &fulfilRun{goodsOuts: map[string][]string{}}
	const chunk = 200
	chunks := (len(goodsOuts) + chunk - 1) / chunk
	killAt := map[int]bool{}
	for _, i := range rng.Perm(max(chunks, 1))[:min(o.FulfilmentKills, chunks)] {
		killAt[i] = true
	}
	started := time.Now()
	for i := 0; i < chunks; i++ {
		for _, g := range goodsOuts[i*chunk : min((i+1)*chunk, len(goodsOuts))] {
			if rng.IntN(10) == 0 {
				run.waiting = append(run.waiting, g)
				continue
			}
			if err := run.ship(s, g, rng, o.ShipmentsPerOrder); err != nil {
				return nil, err
			}
		}
		if killAt[i] {
			before := kill.restarts.Load()
			kill.arm(fulfilment.Name)
			for kill.restarts.Load() == before {
				if err := p.tick(ctx, errc, 50*time.Millisecond); err != nil {
					return nil, err
				}
			}
		}
		for s.clarus.State().Webhooks.Pending > 4*chunk {
			if err := p.tick(ctx, errc, 50*time.Millisecond); err != nil {
				return nil, err
			}
		}
		if err := p.tick(ctx, errc, 0); err != nil {
			return nil, err
		}
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "fulfilment: %d shipments of %d goods-outs (%d refused allocation, %d left waiting for allocation); waiting for Prima's despatch notes\n",
			run.count(), len(run.goodsOuts), len(run.refused), len(run.waiting))
	}
	if err := waitUntil(ctx, o.Settle, p, errc, func() bool { return len(run.pending(s, w)) == 0 }); err != nil {
		return nil, err
	}
	if left := run.pending(s, w); len(left) > 0 {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "fulfilment: %d shipments not noted nor flagged after %s, e.g. %v\n", len(left), o.Settle, left[:min(5, len(left))])
		}
	} else {
		run.notedIn = time.Since(started)
	}
	return run, nil
}

// ship allocates g and dispatches it in about per shipments (1 to
// 2*per-1, at most one per unit): its units, shuffled, are cut at random
// into that many non-empty parts; every part but the last is a partial
// shipment, the last the dispatch of what is left.
func (run *fulfilRun) ship(s *sims, g clarussim.Order, rng *rand.Rand, per float64) error {
	if _, err := s.clarus.Apply(clarussim.Event{Type: "allocate", OrderID: g.ID}); err != nil {
		run.refused = append(run.refused, g.Reference+": "+err.Error())
		return nil
	}
	left := map[string]int64{}
	for _, l := range g.Lines {
		left[l.SKU] += l.Quantity
	}
	var units []string
	for _, code := range slices.Sorted(maps.Keys(left)) {
		for range left[code] {
			units = append(units, code)
		}
	}
	rng.Shuffle(len(units), func(i, j int) { units[i], units[j] = units[j], units[i] })
	n := min(1+rng.IntN(max(1, int(2*per-1))), max(1, len(units)))
	cuts := rng.Perm(max(0, len(units)-1))[:n-1]
	for i := range cuts {
		cuts[i]++
	}
	slices.Sort(cuts)
	carrier := []string{"DPD", "RM", "UPS"}[rng.IntN(3)]
	from := 0
	for k := 1; k <= n; k++ {
		ev := clarussim.Event{Type: "dispatch", OrderID: g.ID, Carrier: carrier, Tracking: g.Reference + "-" + strconv.Itoa(k)}
		if k < n {
			part := map[string]int64{}
			for _, code := range units[from:cuts[k-1]] {
				part[code]++
			}
			from = cuts[k-1]
			ev.Type = "ship"
			for _, code := range slices.Sorted(maps.Keys(part)) {
				ev.Lines = append(ev.Lines, clarussim.Line{SKU: code, Quantity: part[code]})
			}
		}
		res, err := s.clarus.Apply(ev)
		if err != nil {
			return fmt.Errorf("demo: fulfilment: %s %s: %w", ev.Type, g.Reference, err)
		}
		run.goodsOuts[g.Reference] = append(run.goodsOuts[g.Reference], strconv.FormatInt(res.ShipmentID, 10))
	}
	return nil
}

// noted counts Prima's despatch notes by reference.
func notedByRef(s *sims) map[string]int {
	out := map[string]int{}
	for _, n := range s.prima.State().DespatchNotes {
		out[n.Reference]++
	}
	return out
}

// missingOpened lists, by shipment id, the missing_despatch events seen:
// the statuses in order.
func missingOpened(w *watcher) map[string][]schemas.DriftStatus {
	_, drift, _, _ := w.snapshot()
	out := map[string][]schemas.DriftStatus{}
	for _, d := range drift {
		if d.Kind == schemas.DriftMissingDespatch && d.ShipmentID != nil {
			out[*d.ShipmentID] = append(out[*d.ShipmentID], d.Status)
		}
	}
	return out
}

// pending lists what has not settled: a shipment with no note that Prima
// did not drop, a dropped one not flagged, an order fully noted but not
// closed in Clarus.
func (run *fulfilRun) pending(s *sims, w *watcher) []string {
	notes, missing, closed := notedByRef(s), missingOpened(w), w.closedOrders()
	clarusClosed := map[string]bool{}
	for _, g := range s.clarus.Orders() {
		if g.String5 == clarus.ClosedMarker {
			clarusClosed[g.Reference] = true
		}
	}
	var out []string
	for _, ref := range slices.Sorted(maps.Keys(run.goodsOuts)) {
		all := true
		for _, id := range run.goodsOuts[ref] {
			switch {
			case s.prima.DropsDespatch(id):
				all = false
				if len(missing[id]) == 0 {
					out = append(out, id+" dropped by Prima, not flagged")
				}
			case notes[id] == 0:
				all = false
				out = append(out, id+" has no despatch note")
			}
		}
		if all && (closed[ref] == 0 || !clarusClosed[ref]) {
			out = append(out, ref+" noted but not closed")
		}
	}
	return out
}

// checkFulfilment adds the fulfilment figures and checks to sum.
func (run *fulfilRun) checkFulfilment(sum *Summary, s *sims, w *watcher, checkf func(string, []string)) {
	sum.Shipments = run.count()
	if run.notedIn > 0 {
		sum.ShipmentsNotedIn = run.notedIn.Round(time.Millisecond).String()
		sum.ShipmentsPerSecond = float64(sum.Shipments) / run.notedIn.Seconds()
	}
	notes, missing, closed := notedByRef(s), missingOpened(w), w.closedOrders()
	var dup, flagged, closes []string
	for _, ref := range slices.Sorted(maps.Keys(run.goodsOuts)) {
		dropped := false
		for _, id := range run.goodsOuts[ref] {
			want := 1
			if s.prima.DropsDespatch(id) {
				want, dropped = 0, true
				if st := missing[id]; len(st) != 1 || st[0] != schemas.DriftOpen {
					flagged = append(flagged, fmt.Sprintf("%s (dropped by Prima): missing_despatch events %v, want one open", id, st))
				}
			} else if len(missing[id]) > 0 && missing[id][len(missing[id])-1] != schemas.DriftResolved {
				flagged = append(flagged, fmt.Sprintf("%s: missing_despatch %v, but Prima was not told to drop it", id, missing[id]))
			}
			if notes[id] != want {
				dup = append(dup, fmt.Sprintf("%s: %d despatch notes in Prima, want %d", id, notes[id], want))
			}
		}
		switch {
		case !dropped && closed[ref] != 1:
			closes = append(closes, fmt.Sprintf("%s: closed %d times, want once", ref, closed[ref]))
		case dropped && closed[ref] != 0:
			closes = append(closes, fmt.Sprintf("%s: closed with a despatch note missing", ref))
		}
	}
	if n := s.prima.State().Counters.DespatchDuplicates; n > 0 {
		dup = append(dup, fmt.Sprintf("Prima counted %d duplicate despatch notes", n))
	}
	checkf("one_despatch_note_per_shipment", dup)
	checkf("injected_missing_despatch_flagged", flagged)
	checkf("fulfilments_closed", closes)
	checkf("fulfilment_exceptions_as_expected", run.driftProblems(w))
}

// driftProblems names fulfilment drift the run does not call for: the
// demo makes no mismatch, hand-made note or refused post (missing
// despatch and shipments without an order have checks of their own).
func (run *fulfilRun) driftProblems(w *watcher) []string {
	_, drift, _, _ := w.snapshot()
	last := map[string]schemas.DriftEvent{}
	for _, d := range drift {
		if fulfilmentKinds[d.Kind] && d.Kind != schemas.DriftMissingDespatch && d.Kind != schemas.DriftShipmentWithoutOrder {
			last[d.DiscrepancyID] = d
		}
	}
	var out []string
	for _, id := range slices.Sorted(maps.Keys(last)) {
		if d := last[id]; d.Status != schemas.DriftResolved {
			out = append(out, fmt.Sprintf("%s %s: %s", id, d.Status, d.Detail))
		}
	}
	return out
}

// fulfilmentKinds are the drift kinds of the fulfilment processor.
var fulfilmentKinds = map[schemas.DriftKind]bool{
	schemas.DriftMissingDespatch: true, schemas.DriftDespatchMismatch: true, schemas.DriftDespatchWithoutShipment: true,
	schemas.DriftDespatchPostFailed: true, schemas.DriftShipmentWithoutOrder: true,
}

// orphanShipments compares shipment_without_order with the truth: the
// shipments of goods-outs that the stock scenario created in Clarus
// directly (no Prima order lockstep sent) must each be flagged once their
// grace has passed, and no other.
func orphanShipments(s *sims, drift []schemas.DriftEvent) []string {
	prima := map[string]bool{}
	for _, so := range s.prima.State().SalesOrders {
		prima[so.Ref] = true
	}
	open := map[string]bool{}
	for _, d := range drift {
		if d.Kind == schemas.DriftShipmentWithoutOrder && d.ShipmentID != nil {
			open[*d.ShipmentID] = d.Status != schemas.DriftResolved
		}
	}
	// A shipment younger than the grace, plus time to process, may not be
	// flagged yet: the demo's grace is 5s.
	settled := time.Now().Add(-15 * time.Second)
	var out []string
	for _, sh := range s.clarus.Shipments() {
		id := strconv.FormatInt(sh.ID, 10)
		switch orphan := !prima[sh.Reference]; {
		case orphan && !open[id] && sh.DispatchedAt.Before(settled):
			out = append(out, fmt.Sprintf("shipment %s of %s (no Prima order) not flagged", id, sh.Reference))
		case !orphan && open[id]:
			out = append(out, fmt.Sprintf("shipment %s of Prima order %s flagged shipment_without_order", id, sh.Reference))
		}
		delete(open, id)
	}
	for _, id := range slices.Sorted(maps.Keys(open)) {
		if open[id] {
			out = append(out, fmt.Sprintf("shipment_without_order open for %s, which Clarus does not have", id))
		}
	}
	return out
}

// count is the shipments made.
func (run *fulfilRun) count() int {
	n := 0
	for _, ids := range run.goodsOuts {
		n += len(ids)
	}
	return n
}
