package stock

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// pendingGap is s1's gap as of 30s, covering (5s, 30s] and due at 150s:
// Clarus counted 15 on hand, 2 allocated, 1 held; the feed gave less.
func pendingGap(actual Stock) PendingGap {
	return PendingGap{
		Gap:  Gap{SnapshotID: "s1", AsOf: at(30), Expected: Stock{OnHand: 15, Allocated: 2, Held: 1}, Actual: actual},
		From: at(5),
		Due:  at(150),
	}
}

func TestGapDeadline(t *testing.T) {
	if got := GapDeadline(at(30), at(60), 2*time.Minute); !got.Equal(at(180)) {
		t.Errorf("handled after as_of: %s, want grace after handling", got)
	}
	if got := GapDeadline(at(30), at(10), 2*time.Minute); !got.Equal(at(150)) {
		t.Errorf("clock behind as_of: %s, want grace after as_of", got)
	}
}

// The gap accounting: a pending gap, late movements that explain all,
// part or none of it, and the timer firing with a zero or non-zero
// remainder.
func TestPendingGapAccounting(t *testing.T) {
	for _, tc := range []struct {
		name        string
		expected    *Stock // the snapshot, if not pendingGap's
		actual      Stock  // the fold as of 30s
		late        []schemas.StockMovement
		counted     int  // how many of late count against the gap
		fire        int  // the timer's due, in seconds
		allocation  bool // Config.ReportAllocationGaps
		wantSettled bool
		want        *Stock // the remainder reported; nil: nothing
	}{
		{
			name:   "no late movement: the whole gap is reported",
			actual: Stock{10, 2, 1}, fire: 150, wantSettled: true,
			want: &Stock{OnHand: -5},
		},
		{
			name:   "a late receipt explains it all: nothing to report",
			actual: Stock{10, 2, 1}, late: []schemas.StockMovement{mv("r2", schemas.MovementReceipt, 5, 20)},
			counted: 1, fire: 150, wantSettled: true,
		},
		{
			name:   "two late receipts explain it all",
			actual: Stock{10, 2, 1}, late: []schemas.StockMovement{mv("r2", schemas.MovementReceipt, 2, 20), mv("r3", schemas.MovementReceipt, 3, 30)},
			counted: 2, fire: 150, wantSettled: true,
		},
		{
			name:   "a late receipt explains part of it",
			actual: Stock{10, 2, 1}, late: []schemas.StockMovement{mv("r2", schemas.MovementReceipt, 2, 20)},
			counted: 1, fire: 150, wantSettled: true,
			want: &Stock{OnHand: -3},
		},
		{
			name:   "a late surplus receipt turns the gap around",
			actual: Stock{10, 2, 1}, late: []schemas.StockMovement{mv("r2", schemas.MovementReceipt, 8, 20)},
			counted: 1, fire: 150, wantSettled: true,
			want: &Stock{OnHand: 3},
		},
		{
			name:   "movements after as_of or before the interval explain none",
			actual: Stock{10, 2, 1},
			late:   []schemas.StockMovement{mv("r2", schemas.MovementReceipt, 5, 31), mv("r3", schemas.MovementReceipt, 5, 5)},
			fire:   150, wantSettled: true,
			want: &Stock{OnHand: -5},
		},
		{
			name:   "a late hold explains a held gap",
			actual: Stock{15, 2, 0}, late: []schemas.StockMovement{mv("h1", schemas.MovementHold, 1, 25)},
			counted: 1, fire: 150, wantSettled: true,
		},
		{
			// Clarus allocated 2 (no webhook) and picked them before the
			// sweep; lockstep saw neither. The late pick explains on hand,
			// and allocated is clamped at 0 as the fold would have, so no
			// allocation gap appears from nowhere.
			name:     "a late pick clamps allocated as the fold does",
			expected: &Stock{OnHand: 15, Held: 1}, actual: Stock{OnHand: 17, Held: 1},
			late:    []schemas.StockMovement{mv("p1", schemas.MovementPick, -2, 25)},
			counted: 1, fire: 150, wantSettled: true, allocation: true,
		},
		{
			name:   "an allocation-only remainder follows ReportAllocationGaps",
			actual: Stock{10, 0, 1}, late: []schemas.StockMovement{mv("r2", schemas.MovementReceipt, 5, 20)},
			counted: 1, fire: 150, wantSettled: true, allocation: false,
		},
		{
			name:   "an allocation-only remainder, allocation gaps reported",
			actual: Stock{10, 0, 1}, late: []schemas.StockMovement{mv("r2", schemas.MovementReceipt, 5, 20)},
			counted: 1, fire: 150, wantSettled: true, allocation: true,
			want: &Stock{Allocated: -2},
		},
		{
			name:   "a late count is the last word on on hand",
			actual: Stock{10, 2, 1}, late: []schemas.StockMovement{mv("c1", schemas.MovementCount, 15, 28)},
			counted: 1, fire: 150, wantSettled: true,
		},
		{
			name:   "a timer before the deadline settles nothing",
			actual: Stock{10, 2, 1}, fire: 149,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := pendingGap(tc.actual)
			if tc.expected != nil {
				g.Expected = *tc.expected
			}
			ps, early := Pending(nil).Hold(g)
			if len(ps) != 1 || len(early) != 0 {
				t.Fatalf("hold: %d pending, %d early", len(ps), len(early))
			}
			counted := 0
			for _, m := range tc.late {
				before := slices.Clone(ps)
				next, ok := ps.Explain(&m)
				if !slices.Equal(ps, before) {
					t.Fatal("Explain modified its receiver")
				}
				if ok {
					counted++
				} else if !slices.Equal(next, ps) {
					t.Fatalf("%s not counted, yet the gaps changed", m.MovementID)
				}
				ps = next
			}
			if counted != tc.counted || ps[0].Late != tc.counted {
				t.Fatalf("counted %d (Late %d), want %d", counted, ps[0].Late, tc.counted)
			}
			rest, settled := ps.Settle(at(tc.fire))
			if (len(settled) == 1) != tc.wantSettled || len(rest)+len(settled) != 1 {
				t.Fatalf("settled %d, kept %d", len(settled), len(rest))
			}
			report := settled.Report(tc.allocation)
			switch {
			case tc.want == nil && len(report) != 0:
				t.Fatalf("reported %+v (remainder %+v), want nothing", report[0], report[0].Delta())
			case tc.want != nil && len(report) != 1:
				t.Fatalf("reported %d gaps, want one with remainder %+v", len(report), *tc.want)
			case tc.want != nil:
				g := report[0]
				if g.Delta() != *tc.want || g.SnapshotID != "s1" || !g.AsOf.Equal(at(30)) || g.Late != tc.counted {
					t.Fatalf("reported %+v (remainder %+v), want remainder %+v", g, g.Delta(), *tc.want)
				}
			}
		})
	}
}

// A newer snapshot's gap is held beside the older one: a late movement
// counts against the gap whose interval holds it, and each is settled at
// its own deadline, under its own snapshot id.
func TestPendingNewerSnapshot(t *testing.T) {
	s1 := pendingGap(Stock{10, 2, 1})
	s2 := PendingGap{
		Gap:  Gap{SnapshotID: "s2", AsOf: at(90), Expected: Stock{OnHand: 20}, Actual: Stock{OnHand: 17}},
		From: at(30), Due: at(210),
	}
	ps, _ := Pending(nil).Hold(s2)
	ps, _ = ps.Hold(s1) // out of order: kept in order of as_of
	if again, early := ps.Hold(s1); len(again) != 2 || len(early) != 0 {
		t.Fatalf("a repeated snapshot's gap: %d pending, %d early", len(again), len(early))
	}
	for _, m := range []schemas.StockMovement{
		mv("r1", schemas.MovementReceipt, 5, 20), // s1's
		mv("r2", schemas.MovementReceipt, 3, 60), // s2's
		mv("r3", schemas.MovementReceipt, 1, 95), // after both: not late
	} {
		var ok bool
		if ps, ok = ps.Explain(&m); ok != (m.MovementID != "r3") {
			t.Fatalf("%s counted %v", m.MovementID, ok)
		}
	}
	if ps[0].SnapshotID != "s1" || ps[0].Delta() != (Stock{}) || ps[1].SnapshotID != "s2" || ps[1].Delta() != (Stock{}) {
		t.Fatalf("pending %+v", ps)
	}
	rest, settled := ps.Settle(at(150))
	if len(settled) != 1 || settled[0].SnapshotID != "s1" || len(rest) != 1 {
		t.Fatalf("at s1's deadline: settled %+v, kept %+v", settled, rest)
	}
	if rest, settled = rest.Settle(at(210)); len(settled) != 1 || settled[0].SnapshotID != "s2" || len(rest) != 0 {
		t.Fatalf("at s2's deadline: settled %+v, kept %+v", settled, rest)
	}
}

// Beyond maxPending gaps, the oldest are settled at once.
func TestPendingBound(t *testing.T) {
	var ps, early Pending
	for i := range maxPending + 2 {
		g := PendingGap{
			Gap:  Gap{SnapshotID: fmt.Sprint("s", i), AsOf: at(60 * i), Expected: Stock{OnHand: 1}},
			From: at(60 * (i - 1)), Due: at(60*i + 120),
		}
		var more Pending
		ps, more = ps.Hold(g)
		early = append(early, more...)
	}
	if len(ps) != maxPending || len(early) != 2 || early[0].SnapshotID != "s0" || early[1].SnapshotID != "s1" || ps[0].SnapshotID != "s2" {
		t.Fatalf("%d pending from %s, early %+v", len(ps), ps[0].SnapshotID, early)
	}
	if got := early.Report(false); len(got) != 2 {
		t.Fatalf("early gaps reported: %d, want 2", len(got))
	}
}

// The doc's case end to end, in the pure functions: the snapshot comes
// before the movement it counts, which the fold drops as superseded and
// the pending gap counts.
func TestLateMovementExplainsRebaseGap(t *testing.T) {
	l, j := fold(Level{}, Journal{}, mv("r1", schemas.MovementReceipt, 10, 10))
	l, _, gap, _ := Rebase(l, j, snap("s1", 15, 0, 0, 30))
	if gap == nil || !Reportable(gap.Delta(), false) {
		t.Fatalf("gap %+v", gap)
	}
	ps, _ := Pending(nil).Hold(PendingGap{Gap: *gap, Due: GapDeadline(gap.AsOf, at(31), time.Minute)})
	late := mv("r2", schemas.MovementReceipt, 5, 20)
	if !Superseded(l, &late) {
		t.Fatal("late movement not superseded")
	}
	ps, ok := ps.Explain(&late)
	_, settled := ps.Settle(at(91))
	if !ok || len(settled) != 1 || len(settled.Report(true)) != 0 || l.OnHand != 15 {
		t.Fatalf("counted %v, settled %+v, on hand %d", ok, settled, l.OnHand)
	}
}

func TestReportable(t *testing.T) {
	for _, tc := range []struct {
		d          Stock
		allocation bool
		want       bool
	}{
		{Stock{}, true, false},
		{Stock{OnHand: -1}, false, true},
		{Stock{Held: 2}, false, true},
		{Stock{Allocated: 3}, false, false},
		{Stock{Allocated: 3}, true, true},
	} {
		if got := Reportable(tc.d, tc.allocation); got != tc.want {
			t.Errorf("Reportable(%+v, %v) = %v", tc.d, tc.allocation, got)
		}
	}
}

// A snapshot that exactly takes back the newest pending gap (a torn read:
// balances and held stock read apart, a hold and its release between them)
// drops both; anything short of an exact reversal, or an older snapshot,
// is held as usual.
func TestPendingHoldDropsReversal(t *testing.T) {
	torn := PendingGap{Gap: Gap{SnapshotID: "s1", AsOf: at(30), Expected: Stock{OnHand: 69, Held: 1}, Actual: Stock{OnHand: 68}}, Due: at(150)}
	back := func(id string, asOf time.Time, expected, actual Stock) PendingGap {
		return PendingGap{Gap: Gap{SnapshotID: id, AsOf: asOf, Expected: expected, Actual: actual}, Due: asOf.Add(2 * time.Minute)}
	}
	for _, tc := range []struct {
		name string
		g    PendingGap
		want []string
	}{
		{"the next snapshot takes it back", back("s2", at(40), Stock{OnHand: 68}, Stock{OnHand: 69, Held: 1}), nil},
		{"part of it back", back("s2", at(40), Stock{OnHand: 68, Held: 1}, Stock{OnHand: 69, Held: 1}), []string{"s1", "s2"}},
		{"the same gap again, newer", back("s2", at(40), Stock{OnHand: 69, Held: 1}, Stock{OnHand: 68}), []string{"s1", "s2"}},
		{"an older snapshot", back("s0", at(20), Stock{OnHand: 68}, Stock{OnHand: 69, Held: 1}), []string{"s0", "s1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, early := Pending{torn}.Hold(tc.g)
			var got []string
			for _, p := range next {
				got = append(got, p.SnapshotID)
			}
			if !slices.Equal(got, tc.want) || len(early) != 0 {
				t.Fatalf("pending %v, early %v; want %v", got, early, tc.want)
			}
		})
	}
}
