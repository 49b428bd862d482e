package stock

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Re-basing. A Clarus snapshot is the truth as of its as_of; movements that
// occurred after that instant are still in flight (their webhooks may reach
// lockstep before or after the snapshot), not drift. So the fold is compared
// with the snapshot as of the snapshot's time: the current level minus the
// effects of the movements that occurred after it, which the Journal keeps.
// When they differ, a movement was missed, or is still on its way: the
// level becomes the snapshot plus the effects of the movements after it,
// and the difference is returned as a Gap, which the processor holds
// pending for a grace period before reporting what is left of it
// (gaps.go).

// Gap is a disagreement between the fold and a snapshot as of the
// snapshot's time.
type Gap struct {
	SnapshotID string
	AsOf       time.Time
	// Expected is the snapshot: Clarus, the master.
	Expected Stock
	// Actual is the fold as of the snapshot's time, plus the late
	// movements counted against the gap while it was pending.
	Actual Stock
	// Late is how many late movements were counted against the gap.
	Late int
}

// Delta is Actual - Expected: negative when lockstep missed stock coming
// in. For a pending gap it is the remainder the late movements left
// unexplained.
func (g Gap) Delta() Stock { return g.Actual.Sub(g.Expected) }

// Rebase checks prev, whose journal is j, against the snapshot s as of
// s.AsOf. It returns the level and journal to store, and gap when the fold
// disagreed and the level was re-based; the journal loses the entries the
// snapshot now accounts for. A stale snapshot (older than the last one
// checked, or than what the journal still covers) changes nothing.
//
// A level that has folded nothing takes the snapshot as its base, without
// a gap: there is nothing to disagree with.
func Rebase(prev Level, j Journal, s schemas.StockSnapshot) (next Level, nextJ Journal, gap *Gap, stale bool) {
	t := s.AsOf
	if t.Before(prev.BaseAsOf) || (prev.Known() && t.Before(j.Since)) {
		return prev, j, nil, true
	}
	snap := Stock{OnHand: s.OnHand, Allocated: s.Allocated, Held: s.Held}
	after := j.After(t)
	asOf := prev.Stock.Sub(after)

	next = prev
	next.BaseAsOf = t
	if t.After(next.AsOf) {
		next.AsOf = t
	}
	j.Entries = slices.Clone(j.Entries) // Trim works in place; the caller's journal stays as it was
	j.Trim(t)
	if asOf == snap {
		return next, j, nil, false
	}
	raw := snap.Add(after)
	next.Stock = raw.clamped()
	if next.Stock != raw && len(j.Entries) > 0 {
		// The movements in flight took allocated or held below 0 from the
		// snapshot's: journal the clamp with the latest of them, so that
		// the level as of the snapshot's time is the snapshot again.
		var latest time.Time
		for _, e := range j.Entries {
			latest = maxTime(latest, e.At)
		}
		j.Entries = append(j.Entries, Entry{At: latest, Effect: next.Stock.Sub(raw)})
	}
	if next.Stock != prev.Stock {
		next.LastMovementID = ""
	}
	if !prev.Known() {
		return next, j, nil, false
	}
	return next, j, &Gap{SnapshotID: s.SnapshotID, AsOf: t, Expected: snap, Actual: asOf}, false
}

// ErrInvalidSnapshot is wrapped by CheckSnapshot for a snapshot the fold
// cannot use.
var ErrInvalidSnapshot = errors.New("stock: invalid snapshot")

// CheckSnapshot reports why s cannot be checked against a level, or nil.
func CheckSnapshot(s *schemas.StockSnapshot) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidSnapshot, s.SnapshotID, fmt.Sprintf(format, args...))
	}
	switch {
	case s.SnapshotID == "":
		return bad("no snapshot id")
	case s.SKU == "" || s.Warehouse == "":
		return bad("sku %q and warehouse %q must both be set", s.SKU, s.Warehouse)
	case s.AsOf.IsZero():
		return bad("no as_of")
	case s.Allocated < 0 || s.Held < 0:
		return bad("negative allocated (%d) or held (%d)", s.Allocated, s.Held)
	case max(s.OnHand, s.Allocated, s.Held) > maxQuantity || s.OnHand < -maxQuantity:
		return bad("quantity out of range")
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
