package demo

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The inbound phase: Prima approves purchase orders; once lockstep has
// made a pre-receipt in Clarus for each, some are amended or cancelled,
// and Clarus must follow. Then the goods come in, as warehouses take
// them: each PO in one to four deliveries, a seeded few of them with more
// than ordered or with a product the PO does not name, and a seeded few
// deliveries with no reference or a mistyped one. Every receipt that
// matches no PO is an orphan, whoever made it: those of the stock
// traffic and of the fulfilment phase too, which name no PO. The
// expectation is worked out here from the generators' ground truth and
// Clarus's receipts, not from the inbound processor's code.

// inboundRun is what the inbound phase did, for the checks.
type inboundRun struct {
	report primasim.POReport
	// over, notOnPO and elsewhere are the receipt problems injected, by
	// discrepancy id, with the units and value they must carry.
	over, notOnPO, elsewhere map[string]receiptProblem
	// deliveries counts the receipts of the phase; orphans those of them
	// made without a PO's reference.
	deliveries, orphans int
	// sentIn is the time from the approvals until every PO had its
	// pre-receipt in Clarus, and matchedIn the time from the first
	// delivery until every receipt problem was flagged (0 if that did
	// not happen within Settle).
	sentIn, matchedIn time.Duration
}

// receiptProblem is one injected receipt discrepancy.
type receiptProblem struct {
	ref   string
	units int64           // over what is ordered, or received not on the PO
	value schemas.Decimal // at PO cost (over), item cost (not on the PO), or both (at another warehouse)
}

// The owners the design gives the receipt discrepancies.
var receiptOwners = map[schemas.DriftKind]schemas.DriftOwner{
	schemas.DriftOrphanReceipt:         schemas.OwnerWarehouse,
	schemas.DriftReceiptOverPO:         schemas.OwnerFinance,
	schemas.DriftReceiptSKUNotOnPO:     schemas.OwnerWarehouse,
	schemas.DriftReceiptWrongWarehouse: schemas.OwnerWarehouse,
}

func driveInbound(ctx context.Context, o Options, s *sims, w *watcher, errc <-chan error) (*inboundRun, error) {
	p := newProgress(o, s, w)
	if o.POs == 0 {
		// No POs: every receipt of the run is an orphan, and must be
		// flagged as one all the same.
		run := &inboundRun{over: map[string]receiptProblem{}, notOnPO: map[string]receiptProblem{}, elsewhere: map[string]receiptProblem{}}
		err := waitUntil(ctx, o.Settle, p, errc, func() bool { return len(run.receiptProblems(s, w)) == 0 })
		return run, err
	}
	approvedAt := time.Now()
	rep, err := s.prima.GeneratePOs(primasim.POScenario{Seed: o.Seed, POs: o.POs, Warehouses: o.Warehouses, MaxLines: 4, DeferChanges: true})
	if err != nil {
		return nil, fmt.Errorf("demo: inbound: %w", err)
	}
	run := &inboundRun{report: rep, over: map[string]receiptProblem{}, notOnPO: map[string]receiptProblem{}, elsewhere: map[string]receiptProblem{}}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "inbound: %d purchase orders approved (%d lines); waiting for their pre-receipts in Clarus\n", len(rep.POs), rep.Lines)
	}
	approved := func() []string {
		in := preReceipts(s.clarus.GoodsIn())
		var out []string
		for _, po := range rep.POs {
			if len(in[po.Ref]) == 0 {
				out = append(out, po.Ref)
			}
		}
		return out
	}
	if err := waitUntil(ctx, o.Settle, p, errc, func() bool { return len(approved()) == 0 }); err != nil {
		return nil, err
	}
	if left := approved(); len(left) > 0 {
		return nil, fmt.Errorf("demo: inbound: %d POs have no pre-receipt in Clarus after %s, e.g. %v", len(left), o.Settle, left[:min(5, len(left))])
	}
	run.sentIn = time.Since(approvedAt)
	for _, ev := range rep.Changes {
		if err := s.prima.Apply(ev); err != nil {
			return nil, fmt.Errorf("demo: inbound: %s %s: %w", ev.Type, ev.PORef, err)
		}
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "inbound: %d amended, %d cancelled; waiting for Clarus to follow\n", rep.Amended, rep.Cancelled)
	}
	if err := waitUntil(ctx, o.Settle, p, errc, func() bool { return len(run.preReceiptProblems(s)) == 0 }); err != nil {
		return nil, err
	}

	rng := rand.New(rand.NewPCG(o.Seed, 0x1b0d))
	items := s.prima.State().Items
	code, cost := map[string]string{}, map[string]primasim.Item{}
	var codes []string
	for _, it := range items {
		if it.ClarusCode != "" && it.StockItem && it.Active {
			code[it.SKU] = it.ClarusCode
			cost[it.ClarusCode] = it
			codes = append(codes, it.ClarusCode)
		}
	}
	slices.Sort(codes)
	var warehouses []string
	for _, po := range rep.POs {
		if !slices.Contains(warehouses, po.Warehouse) {
			warehouses = append(warehouses, po.Warehouse)
		}
	}
	slices.Sort(warehouses)
	started := time.Now()
	receive := func(ev clarussim.Event) error {
		ev.Type = "receive"
		if _, err := s.clarus.Apply(ev); err != nil {
			return fmt.Errorf("demo: inbound: receive %q at %s: %w", ev.Reference, ev.Warehouse, err)
		}
		run.deliveries++
		if run.deliveries%200 != 0 {
			return nil
		}
		// Every 200 deliveries (State copies the whole simulator): keep
		// Clarus at most a few thousand webhooks ahead of lockstep.
		for s.clarus.State().Webhooks.Pending > 2000 {
			if err := p.tick(ctx, errc, 50*time.Millisecond); err != nil {
				return err
			}
		}
		return p.tick(ctx, errc, 0)
	}
	for _, po := range rep.POs {
		if po.Status != primasim.POApproved {
			continue
		}
		n := 1 + rng.IntN(4)
		parts := make([][]clarussim.Line, n)
		for _, l := range po.Lines {
			c := code[l.SKU]
			if c == "" {
				return nil, fmt.Errorf("demo: inbound: PO %s line %d: %s has no Clarus code", po.Ref, l.LineNo, l.SKU)
			}
			cut := make([]int64, n)
			for range l.Quantity {
				cut[rng.IntN(n)]++
			}
			for i, q := range cut {
				if q > 0 {
					parts[i] = append(parts[i], clarussim.Line{SKU: c, Quantity: q})
				}
			}
		}
		last := n - 1
		for len(parts[last]) == 0 && last > 0 {
			last--
		}
		if rng.Float64() < o.OverReceipts*float64(n) {
			l := po.Lines[rng.IntN(len(po.Lines))]
			extra := 1 + l.Quantity/4
			parts[last] = addLine(parts[last], code[l.SKU], extra)
			v, _ := l.UnitCost.Mul(extra)
			run.over[fmt.Sprintf("%s/%s/%d", schemas.DriftReceiptOverPO, po.Ref, l.LineNo)] = receiptProblem{ref: po.Ref, units: extra, value: v}
		}
		if rng.Float64() < o.WrongSKUReceipts*float64(n) {
			on := map[string]bool{}
			for _, l := range po.Lines {
				on[code[l.SKU]] = true
			}
			c := codes[rng.IntN(len(codes))]
			for on[c] {
				c = codes[rng.IntN(len(codes))]
			}
			q := 1 + rng.Int64N(5)
			i := rng.IntN(last + 1)
			parts[i] = addLine(parts[i], c, q)
			v, _ := cost[c].UnitCost.Mul(q)
			run.notOnPO[fmt.Sprintf("%s/%s/%s", schemas.DriftReceiptSKUNotOnPO, po.Ref, c)] = receiptProblem{ref: po.Ref, units: q, value: v}
		}
		// One delivery booked in at another warehouse: valued at PO cost,
		// or item cost for a product the PO does not order.
		wrong, wrongAt := -1, ""
		if len(warehouses) > 1 && rng.Float64() < o.WrongWarehouseReceipts*float64(n) {
			wrong = rng.IntN(last + 1)
			for wrongAt = po.Warehouse; wrongAt == po.Warehouse; {
				wrongAt = warehouses[rng.IntN(len(warehouses))]
			}
		}
		for i, lines := range parts {
			if len(lines) == 0 {
				continue
			}
			wh := po.Warehouse
			if i == wrong {
				wh = wrongAt
				pr := receiptProblem{ref: po.Ref}
				for _, l := range lines {
					pr.units += l.Quantity
					unit := cost[l.SKU].UnitCost
					if j := slices.IndexFunc(po.Lines, func(pl primasim.POLine) bool { return code[pl.SKU] == l.SKU }); j >= 0 {
						unit = po.Lines[j].UnitCost
					}
					v, _ := unit.Mul(l.Quantity)
					pr.value += v
				}
				run.elsewhere[fmt.Sprintf("%s/%s/%s", schemas.DriftReceiptWrongWarehouse, po.Ref, wh)] = pr
			}
			if err := receive(clarussim.Event{Reference: po.Ref, Warehouse: wh, Lines: lines}); err != nil {
				return nil, err
			}
			if rng.Float64() < o.OrphanReceipts {
				// A delivery the warehouse booked with no reference, or
				// with the PO's mistyped.
				ref := ""
				if rng.IntN(2) == 0 {
					ref = po.Ref + "X"
				}
				c := codes[rng.IntN(len(codes))]
				if err := receive(clarussim.Event{Reference: ref, Warehouse: po.Warehouse, Lines: []clarussim.Line{{SKU: c, Quantity: 1 + rng.Int64N(10)}}}); err != nil {
					return nil, err
				}
				run.orphans++
			}
		}
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "inbound: %d receipts (%d without a PO's reference, %d over-receipts, %d with a product not on the PO, %d at another warehouse); waiting for lockstep to match them\n",
			run.deliveries, run.orphans, len(run.over), len(run.notOnPO), len(run.elsewhere))
	}
	if err := waitUntil(ctx, o.Settle, p, errc, func() bool { return len(run.receiptProblems(s, w)) == 0 }); err != nil {
		return nil, err
	}
	if left := run.receiptProblems(s, w); len(left) > 0 {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "inbound: receipts not matched as expected after %s, e.g. %v\n", o.Settle, left[:min(5, len(left))])
		}
	} else {
		run.matchedIn = time.Since(started)
	}
	return run, nil
}

// addLine adds q units of code to a delivery's lines.
func addLine(lines []clarussim.Line, code string, q int64) []clarussim.Line {
	for i := range lines {
		if lines[i].SKU == code {
			lines[i].Quantity += q
			return lines
		}
	}
	return append(lines, clarussim.Line{SKU: code, Quantity: q})
}

// preReceipts groups Clarus's pre-receipts (made through the API, not by
// a delivery) by reference.
func preReceipts(in []clarussim.GoodsInReceipt) map[string][]clarussim.GoodsInReceipt {
	out := map[string][]clarussim.GoodsInReceipt{}
	for _, g := range in {
		if g.PreReceipt {
			out[g.Reference] = append(out[g.Reference], g)
		}
	}
	return out
}

// preReceiptProblems compares Clarus's pre-receipts with the POs as they
// stand: one per PO; a cancelled PO's cancelled, an approved one's
// expecting the PO's lines (in Clarus codes, through Prima's item master).
func (run *inboundRun) preReceiptProblems(s *sims) []string {
	code := map[string]string{}
	for _, it := range s.prima.State().Items {
		code[it.SKU] = it.ClarusCode
	}
	in := preReceipts(s.clarus.GoodsIn())
	var out []string
	for _, po := range run.report.POs {
		gs := in[po.Ref]
		if len(gs) != 1 {
			out = append(out, fmt.Sprintf("%s has %d pre-receipts in Clarus, want 1", po.Ref, len(gs)))
			continue
		}
		g := gs[0]
		if po.Status == primasim.POCancelled {
			if g.Status != "cancelled" {
				out = append(out, fmt.Sprintf("%s is cancelled in Prima, its pre-receipt %d is %s", po.Ref, g.ID, g.Status))
			}
			continue
		}
		if g.Status == "cancelled" || g.Warehouse != po.Warehouse {
			out = append(out, fmt.Sprintf("%s: pre-receipt %d is %s at %s, want open at %s", po.Ref, g.ID, g.Status, g.Warehouse, po.Warehouse))
			continue
		}
		want, got := map[string]int64{}, map[string]int64{}
		for _, l := range po.Lines {
			want[code[l.SKU]] += l.Quantity
		}
		for _, l := range g.Lines {
			if !l.Unplanned {
				got[l.SKU] += l.Expected
			}
		}
		if !maps.Equal(want, got) {
			out = append(out, fmt.Sprintf("%s: pre-receipt %d expects %v, the PO orders %v", po.Ref, g.ID, got, want))
		}
	}
	return out
}

// receiptProblems compares the receipt discrepancies open on
// lockstep.drift with what the phase injected and with Clarus's receipts:
// an orphan for every completed receipt whose reference is no approved PO
// (of this phase or any other), an over-receipt and a product not on the
// PO for each injected, each with its owner, units and value, and no
// other.
func (run *inboundRun) receiptProblems(s *sims, w *watcher) []string {
	_, drift, _, _ := w.snapshot()
	open := currentDrift(drift, receiptOwners)
	approved := map[string]bool{}
	for _, po := range run.report.POs {
		if po.Status == primasim.POApproved {
			approved[po.Ref] = true
		}
	}
	want := map[string]receiptProblem{}
	for _, g := range s.clarus.GoodsIn() {
		if g.Status == "completed" && !approved[g.Reference] {
			want[fmt.Sprintf("%s/%d", schemas.DriftOrphanReceipt, g.ID)] = receiptProblem{}
		}
	}
	maps.Copy(want, run.over)
	maps.Copy(want, run.notOnPO)
	maps.Copy(want, run.elsewhere)
	var out []string
	for _, id := range slices.Sorted(maps.Keys(want)) {
		d, ok := open[id]
		if !ok {
			out = append(out, id+" not flagged")
			continue
		}
		pr := want[id]
		if owner := receiptOwners[d.Kind]; d.Owner != owner {
			out = append(out, fmt.Sprintf("%s owned by %s, want %s", id, d.Owner, owner))
		}
		if d.Kind == schemas.DriftOrphanReceipt {
			continue
		}
		units := int64(0)
		if d.DeltaQty != nil {
			units = *d.DeltaQty
		}
		if units != pr.units || d.ValueDelta == nil || *d.ValueDelta != pr.value || d.PORef == nil || *d.PORef != pr.ref {
			value := "none"
			if d.ValueDelta != nil {
				value = d.ValueDelta.String()
			}
			out = append(out, fmt.Sprintf("%s: %d units worth %s, want %d worth %s", id, units, value, pr.units, pr.value))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(open)) {
		if _, ok := want[id]; !ok {
			out = append(out, fmt.Sprintf("%s open, not expected: %s", id, open[id].Detail))
		}
	}
	return out
}

// currentDrift is the last event of each discrepancy of the given kinds
// that is not resolved, by discrepancy id.
func currentDrift(drift []schemas.DriftEvent, kinds map[schemas.DriftKind]schemas.DriftOwner) map[string]schemas.DriftEvent {
	last := map[string]schemas.DriftEvent{}
	for _, d := range drift {
		if _, ok := kinds[d.Kind]; ok {
			last[d.DiscrepancyID] = d
		}
	}
	for id, d := range last {
		if d.Status == schemas.DriftResolved {
			delete(last, id)
		}
	}
	return last
}

// inboundKinds are the drift kinds the inbound checks judge.
var inboundKinds = []schemas.DriftKind{schemas.DriftOrphanReceipt, schemas.DriftReceiptOverPO, schemas.DriftReceiptSKUNotOnPO, schemas.DriftReceiptWrongWarehouse,
	schemas.DriftPONotInWMS, "po_amended_after_receipt", "po_cancelled_after_receipt"}

func (run *inboundRun) checkInbound(sum *Summary, s *sims, w *watcher, checkf func(string, []string)) {
	sum.POs, sum.Receipts = len(run.report.POs), run.deliveries
	if run.sentIn > 0 {
		sum.POsSentIn = run.sentIn.Round(time.Millisecond).String()
		sum.POsPerSecond = float64(len(run.report.POs)) / run.sentIn.Seconds()
	}
	if run.matchedIn > 0 {
		sum.ReceiptsMatchedIn = run.matchedIn.Round(time.Millisecond).String()
		sum.ReceiptsPerSecond = float64(run.deliveries) / run.matchedIn.Seconds()
	}
	checkf("every_approved_po_in_clarus", run.preReceiptProblems(s))
	var dups []string
	for ref, gs := range preReceipts(s.clarus.GoodsIn()) {
		if len(gs) > 1 {
			dups = append(dups, fmt.Sprintf("%s x%d", ref, len(gs)))
		}
	}
	slices.Sort(dups)
	checkf("no_duplicate_goods_in", dups)
	checkf("injected_orphan_receipts_flagged", run.receiptProblems(s, w))
	_, drift, _, _ := w.snapshot()
	var other []string
	for id, d := range currentDrift(drift, map[schemas.DriftKind]schemas.DriftOwner{
		schemas.DriftPONotInWMS: "", "po_amended_after_receipt": "", "po_cancelled_after_receipt": "",
		schemas.DriftSKUUnmapped: ""}) {
		if d.PORef != nil {
			other = append(other, fmt.Sprintf("%s %s: %s", id, d.Status, d.Detail))
		}
	}
	slices.Sort(other)
	checkf("no_unexpected_po_drift", other)
}

// isInbound reports whether d is the inbound checks' to judge.
func isInbound(d schemas.DriftEvent) bool {
	return slices.Contains(inboundKinds, d.Kind) || (d.PORef != nil && strings.TrimSpace(*d.PORef) != "")
}
