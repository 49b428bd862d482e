package stock

import (
	"slices"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Feed gaps are held before they are reported. A snapshot that disagrees
// with the fold re-bases the level at once (the level must stay right),
// but the disagreement may only mean that a webhook is slower than the
// sweep: Clarus retries a failed delivery minutes later, and deliveries
// can be reordered. So the processor holds the Gap as a PendingGap until
// its deadline. A late movement, one that occurred at or before the
// snapshot's as_of and so is dropped by Fold as superseded, is counted
// against the gap instead: it explains that much of it. At the deadline
// only the remainder the late movements left unexplained is reported, with
// the id the gap would have had at once (GapDiscrepancyID: sku@warehouse
// and snapshot id), so a replay reports under the same ids.
//
// A newer snapshot of a key with a gap pending gets a pending gap of its
// own, with its own deadline and id; the two are not merged. The gap of a
// snapshot is measured against the level re-based on the snapshot before,
// so it covers only the movements that occurred between the two as_of
// instants, (From, AsOf]; a late movement belongs to exactly one pending
// gap, found by its occurred_at. Merging would put several snapshots'
// disagreements into one event whose expected and actual mean nothing,
// and, with a grace longer than the sweep interval, a merge that moves the
// deadline on could hold a real gap for ever.

// maxPending bounds the pending gaps of one key. Beyond it (a catch-up or
// a replay handling many snapshots of a key within one grace period) the
// oldest are settled at once, with what they have explained so far.
const maxPending = 16

// PendingGap is a Gap held until Due, with the late movements counted
// against it folded into its Actual (and counted in Late).
type PendingGap struct {
	Gap
	// From is the as_of of the snapshot checked before this one, zero if
	// none: the gap covers the movements that occurred in (From, AsOf].
	From time.Time
	// Due is when the gap is settled: reported if a remainder is left.
	Due time.Time
}

// Pending is the pending gaps of one key, in order of as_of.
type Pending []PendingGap

// GapDeadline is when a gap found by a snapshot as of asOf, handled at
// handled (the processing clock), is settled: grace after the later of
// the two. Counting from the handling rather than from as_of leaves the
// late movements the full grace to be consumed when the processor lags
// or catches up (when as_of + grace may be past already), and the max
// keeps a clock behind Clarus's from shortening it.
func GapDeadline(asOf, handled time.Time, grace time.Duration) time.Time {
	return maxTime(asOf, handled).Add(grace)
}

// Reportable reports whether a gap whose delta (or remainder) is d is
// drift: on hand or held differ, or allocated when allocation gaps are
// reported (Config.ReportAllocationGaps).
func Reportable(d Stock, allocation bool) bool {
	return d.OnHand != 0 || d.Held != 0 || (allocation && d.Allocated != 0)
}

// Hold adds g to ps, in order of as_of, and returns the gaps to keep and
// the oldest ones beyond maxPending, to settle at once. A gap of a
// snapshot already held is a repeat, and is ignored. A gap that exactly
// takes back the newest pending one drops both: the snapshot before was a
// passing misreading (its balances and held stock come from separate
// requests, and a hold and its release between them tear it), or Clarus
// changed and changed back with both webhooks lost, which leaves nothing
// for anyone to correct. ps is not modified.
func (ps Pending) Hold(g PendingGap) (next, early Pending) {
	if slices.ContainsFunc(ps, func(p PendingGap) bool { return p.SnapshotID == g.SnapshotID }) {
		return ps, nil
	}
	if n := len(ps); n > 0 {
		last := ps[n-1]
		if g.AsOf.After(last.AsOf) && !g.Delta().IsZero() && g.Delta().Add(last.Delta()).IsZero() {
			return slices.Clone(ps[:n-1]), nil
		}
	}
	i, _ := slices.BinarySearchFunc(ps, g.AsOf, func(p PendingGap, t time.Time) int {
		if p.AsOf.After(t) {
			return 1
		}
		return -1 // equal instants keep their arrival order
	})
	next = slices.Insert(slices.Clone(ps), i, g)
	if n := len(next) - maxPending; n > 0 {
		return next[n:], next[:n]
	}
	return next, nil
}

// Explain counts the late movement m against the pending gap whose
// interval (From, AsOf] holds m's occurred_at: that gap's Actual becomes
// what the fold as of its as_of would have been with m (Apply), so its
// remainder shrinks by what m explains, or grows when m takes the fold
// further from the snapshot (a surplus movement is drift too). counted is
// false when no pending gap covers m: it occurred after every pending
// as_of (then it is not late), or before the interval of the oldest (its
// snapshot's gap is settled or there was none). ps is not modified.
//
// A late count sets the gap's on hand to the counted quantity: it is
// taken as the last word on on hand before the as_of, which is exact
// unless another movement occurred between the count and the as_of.
func (ps Pending) Explain(m *schemas.StockMovement) (next Pending, counted bool) {
	for i, p := range ps {
		if m.OccurredAt.After(p.AsOf) {
			continue
		}
		if !m.OccurredAt.After(p.From) {
			return ps, false
		}
		next = slices.Clone(ps)
		next[i].Actual = Apply(p.Actual, m)
		next[i].Late++
		return next, true
	}
	return ps, false
}

// Settle takes out of ps the gaps due at or before due: rest is what
// stays pending, settled what is done with (Report picks those to
// report). ps is not modified.
func (ps Pending) Settle(due time.Time) (rest, settled Pending) {
	for _, p := range ps {
		if p.Due.After(due) {
			rest = append(rest, p)
		} else {
			settled = append(settled, p)
		}
	}
	return rest, settled
}

// Report returns the gaps of ps with a remainder to report, in order;
// a gap its late movements explained entirely is not drift.
func (ps Pending) Report(allocation bool) []Gap {
	var out []Gap
	for _, p := range ps {
		if Reportable(p.Delta(), allocation) {
			out = append(out, p.Gap)
		}
	}
	return out
}
