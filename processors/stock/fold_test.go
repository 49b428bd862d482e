package stock

import (
	"slices"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// at is t0 plus seconds.
func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func mv(id string, kind schemas.StockMovementKind, qty int64, sec int) schemas.StockMovement {
	return schemas.StockMovement{
		Meta:       schemas.Meta{EventID: "clarus/" + id, Source: schemas.SourceClarus, OccurredAt: at(sec)},
		MovementID: id, SKU: "TSHIRT-BLK-M", Warehouse: "LON1", Kind: kind, Quantity: qty,
	}
}

func snap(id string, onHand, allocated, held int64, sec int) schemas.StockSnapshot {
	return schemas.StockSnapshot{
		Meta:       schemas.Meta{EventID: "clarus/snap/" + id, Source: schemas.SourceClarus, OccurredAt: at(sec)},
		SnapshotID: id, SKU: "TSHIRT-BLK-M", Warehouse: "LON1",
		OnHand: onHand, Allocated: allocated, Held: held, AsOf: at(sec),
	}
}

// fold applies movements as the processor does: fold, and journal the
// effect of each one not superseded.
func fold(l Level, j Journal, ms ...schemas.StockMovement) (Level, Journal) {
	for _, m := range ms {
		if Superseded(l, &m) {
			continue
		}
		e := Effect(l.Stock, &m)
		l, _ = Fold(l, m)
		j.Record(m.OccurredAt, e)
	}
	return l, j
}

func TestFoldKinds(t *testing.T) {
	base := Level{Stock: Stock{OnHand: 10, Allocated: 6, Held: 2}, AsOf: at(0), LastMovementAt: at(0)}
	for _, tc := range []struct {
		name    string
		m       schemas.StockMovement
		want    Stock
		changed bool
	}{
		{"receipt", mv("r", schemas.MovementReceipt, 5, 1), Stock{15, 6, 2}, true},
		{"receipt sign ignored", mv("r", schemas.MovementReceipt, -5, 1), Stock{15, 6, 2}, true},
		{"pick consumes allocation", mv("p", schemas.MovementPick, -4, 1), Stock{6, 2, 2}, true},
		{"pick unsigned", mv("p", schemas.MovementPick, 4, 1), Stock{6, 2, 2}, true},
		{"pick beyond allocation clamps allocated at 0", mv("p", schemas.MovementPick, -8, 1), Stock{2, 0, 2}, true},
		{"adjustment negative", mv("a", schemas.MovementAdjustment, -3, 1), Stock{7, 6, 2}, true},
		{"adjustment positive", mv("a", schemas.MovementAdjustment, 4, 1), Stock{14, 6, 2}, true},
		{"adjustment below zero on hand", mv("a", schemas.MovementAdjustment, -12, 1), Stock{-2, 6, 2}, true},
		{"count is absolute", mv("c", schemas.MovementCount, 7, 1), Stock{7, 6, 2}, true},
		{"count agreeing changes nothing", mv("c", schemas.MovementCount, 10, 1), Stock{10, 6, 2}, false},
		{"allocation", mv("al", schemas.MovementAllocation, 3, 1), Stock{10, 9, 2}, true},
		{"deallocation", mv("de", schemas.MovementDeallocation, -3, 1), Stock{10, 3, 2}, true},
		{"deallocation clamps at 0", mv("de", schemas.MovementDeallocation, 9, 1), Stock{10, 0, 2}, true},
		{"hold", mv("h", schemas.MovementHold, 3, 1), Stock{10, 6, 5}, true},
		{"release", mv("rl", schemas.MovementRelease, -2, 1), Stock{10, 6, 0}, true},
		{"release clamps at 0", mv("rl", schemas.MovementRelease, -5, 1), Stock{10, 6, 0}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Check(&tc.m); err != nil {
				t.Fatal(err)
			}
			next, changed := Fold(base, tc.m)
			if next.Stock != tc.want || changed != tc.changed {
				t.Fatalf("Fold = %+v changed %v, want %+v changed %v", next.Stock, changed, tc.want, tc.changed)
			}
			if next.LastMovementID != tc.m.MovementID || !next.AsOf.Equal(at(1)) || !next.LastMovementAt.Equal(at(1)) {
				t.Fatalf("last movement %q at %s, as of %s", next.LastMovementID, next.LastMovementAt, next.AsOf)
			}
		})
	}
}

func TestAvailable(t *testing.T) {
	if got := (Stock{OnHand: 10, Allocated: 3, Held: 2}).Available(); got != 5 {
		t.Fatalf("available = %d, want 5", got)
	}
	if got := (Stock{OnHand: 1, Allocated: 3}).Available(); got != -2 {
		t.Fatalf("available = %d, want -2", got)
	}
}

func TestCheck(t *testing.T) {
	ok := mv("m1", schemas.MovementReceipt, 1, 0)
	for name, mut := range map[string]func(*schemas.StockMovement){
		"no id":          func(m *schemas.StockMovement) { m.MovementID = "" },
		"no sku":         func(m *schemas.StockMovement) { m.SKU = "" },
		"no warehouse":   func(m *schemas.StockMovement) { m.Warehouse = "" },
		"no occurred_at": func(m *schemas.StockMovement) { m.OccurredAt = time.Time{} },
		"unknown kind":   func(m *schemas.StockMovement) { m.Kind = "teleport" },
		"negative count": func(m *schemas.StockMovement) { m.Kind, m.Quantity = schemas.MovementCount, -1 },
		"huge quantity":  func(m *schemas.StockMovement) { m.Quantity = -1 << 62 },
	} {
		m := ok
		mut(&m)
		if err := Check(&m); err == nil {
			t.Errorf("%s: Check accepted %+v", name, m)
		}
	}
	if err := Check(&ok); err != nil {
		t.Fatal(err)
	}
}

// Out-of-order occurred_at: movements apply in arrival order and their
// deltas commute; the instants take the latest.
func TestFoldOutOfOrder(t *testing.T) {
	l, j := fold(Level{}, Journal{},
		mv("m3", schemas.MovementReceipt, 20, 30),
		mv("m1", schemas.MovementAllocation, 5, 10),
		mv("m2", schemas.MovementPick, -5, 20),
		mv("m0", schemas.MovementHold, 1, 5),
	)
	if want := (Stock{OnHand: 15, Allocated: 0, Held: 1}); l.Stock != want {
		t.Fatalf("stock %+v, want %+v", l.Stock, want)
	}
	if !l.AsOf.Equal(at(30)) || !l.LastMovementAt.Equal(at(30)) || l.LastMovementID != "m0" {
		t.Fatalf("as of %s, last movement %q at %s", l.AsOf, l.LastMovementID, l.LastMovementAt)
	}
	// The level as of 15s: only m1 and m0 had occurred.
	if got := l.Stock.Sub(j.After(at(15))); got != (Stock{0, 5, 1}) {
		t.Fatalf("as of 15s: %+v", got)
	}
}

func TestRebase(t *testing.T) {
	for _, tc := range []struct {
		name      string
		before    []schemas.StockMovement // folded before the snapshot arrives
		snapshot  schemas.StockSnapshot
		want      Stock
		wantGap   *Stock // delta, nil for no gap
		wantStale bool
		wantJ     int // journal entries left
	}{
		{
			name:     "agrees",
			before:   []schemas.StockMovement{mv("r1", schemas.MovementReceipt, 10, 10), mv("p1", schemas.MovementPick, -2, 20)},
			snapshot: snap("s1", 8, 0, 0, 30),
			want:     Stock{8, 0, 0},
		},
		{
			name: "movements after as_of are in flight, not drift",
			before: []schemas.StockMovement{
				mv("r1", schemas.MovementReceipt, 10, 10),
				mv("a1", schemas.MovementAdjustment, -3, 40),
				mv("h1", schemas.MovementHold, 2, 45),
				mv("c1", schemas.MovementCount, 4, 50),
			},
			snapshot: snap("s1", 10, 0, 0, 30),
			want:     Stock{4, 0, 2},
			wantJ:    3,
		},
		{
			name:     "missed receipt: re-based with a gap",
			before:   []schemas.StockMovement{mv("r1", schemas.MovementReceipt, 10, 10)},
			snapshot: snap("s1", 15, 0, 0, 30),
			want:     Stock{15, 0, 0},
			wantGap:  &Stock{OnHand: -5},
		},
		{
			name:     "missed pick with a movement in flight",
			before:   []schemas.StockMovement{mv("r1", schemas.MovementReceipt, 10, 10), mv("r2", schemas.MovementReceipt, 4, 40)},
			snapshot: snap("s1", 7, 0, 0, 30),
			want:     Stock{11, 0, 0},
			wantGap:  &Stock{OnHand: 3},
			wantJ:    1,
		},
		{
			name:     "missed hold",
			before:   []schemas.StockMovement{mv("r1", schemas.MovementReceipt, 10, 10)},
			snapshot: snap("s1", 10, 0, 3, 30),
			want:     Stock{10, 0, 3},
			wantGap:  &Stock{Held: -3},
		},
		{
			name:     "allocations reach lockstep through snapshots",
			before:   []schemas.StockMovement{mv("r1", schemas.MovementReceipt, 10, 10)},
			snapshot: snap("s1", 10, 4, 0, 30),
			want:     Stock{10, 4, 0},
			wantGap:  &Stock{Allocated: -4},
		},
		{
			// Clarus allocated 5 before the snapshot (no webhook), and the
			// pick after it consumed them: the fold clamped allocated at 0,
			// but the journal kept the pick's nominal effect, so the level
			// as of the snapshot agrees.
			name:     "pick in flight consumed an allocation the fold never saw",
			before:   []schemas.StockMovement{mv("r1", schemas.MovementReceipt, 10, 10), mv("p1", schemas.MovementPick, -5, 40)},
			snapshot: snap("s1", 10, 5, 0, 30),
			want:     Stock{5, 0, 0},
			wantJ:    1,
		},
		{
			// Allocated between the snapshot and the pick, without a
			// webhook: the fold can only see it as a gap in allocated, and
			// the re-based level is right.
			name:     "pick in flight consumed an allocation made after the snapshot",
			before:   []schemas.StockMovement{mv("r1", schemas.MovementReceipt, 10, 10), mv("p1", schemas.MovementPick, -3, 40)},
			snapshot: snap("s1", 10, 0, 0, 30),
			want:     Stock{7, 0, 0},
			wantGap:  &Stock{Allocated: 3},
			wantJ:    2, // the pick and the clamp of allocated at 0
		},
		{
			name:     "count in flight",
			before:   []schemas.StockMovement{mv("r1", schemas.MovementReceipt, 10, 10), mv("c1", schemas.MovementCount, 12, 40)},
			snapshot: snap("s1", 10, 0, 0, 30),
			want:     Stock{12, 0, 0},
			wantJ:    1,
		},
		{
			name:     "first snapshot of an unknown key is its base",
			snapshot: snap("s1", 42, 2, 1, 30),
			want:     Stock{42, 2, 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, j := fold(Level{}, Journal{}, tc.before...)
			jBefore := slices.Clone(j.Entries)
			next, nj, gap, stale := Rebase(l, j, tc.snapshot)
			if stale != tc.wantStale {
				t.Fatalf("stale = %v", stale)
			}
			if next.Stock != tc.want {
				t.Fatalf("level %+v, want %+v", next.Stock, tc.want)
			}
			switch {
			case tc.wantGap == nil && gap != nil:
				t.Fatalf("unexpected gap %+v", *gap)
			case tc.wantGap != nil && gap == nil:
				t.Fatalf("no gap, want delta %+v", *tc.wantGap)
			case gap != nil:
				if gap.Delta() != *tc.wantGap || gap.SnapshotID != "s1" || !gap.AsOf.Equal(at(30)) ||
					gap.Expected != (Stock{tc.snapshot.OnHand, tc.snapshot.Allocated, tc.snapshot.Held}) {
					t.Fatalf("gap %+v (delta %+v), want delta %+v", *gap, gap.Delta(), *tc.wantGap)
				}
				if next.Stock != l.Stock && next.LastMovementID != "" {
					t.Fatalf("re-based level keeps last movement %q", next.LastMovementID)
				}
			}
			if len(nj.Entries) != tc.wantJ {
				t.Fatalf("journal keeps %d entries, want %d", len(nj.Entries), tc.wantJ)
			}
			if !next.BaseAsOf.Equal(at(30)) || next.AsOf.Before(at(30)) {
				t.Fatalf("base as of %s, as of %s", next.BaseAsOf, next.AsOf)
			}
			if !slices.Equal(j.Entries, jBefore) {
				t.Fatal("Rebase modified the caller's journal")
			}
			// Re-delivered, the same snapshot agrees.
			again, _, gap2, _ := Rebase(next, nj, tc.snapshot)
			if gap2 != nil || again.Stock != next.Stock {
				t.Fatalf("repeated snapshot: gap %+v, level %+v", gap2, again.Stock)
			}
		})
	}
}

// A movement that reaches lockstep after a snapshot that already counts it
// (a late webhook) is superseded: folding it would count it twice.
func TestLateMovementSuperseded(t *testing.T) {
	l, j := fold(Level{}, Journal{}, mv("r1", schemas.MovementReceipt, 10, 10))
	l, j, gap, _ := Rebase(l, j, snap("s1", 15, 0, 0, 30))
	if gap == nil || l.OnHand != 15 {
		t.Fatalf("want a gap and 15 on hand, got %v %d", gap, l.OnHand)
	}
	late := mv("r2", schemas.MovementReceipt, 5, 20) // the missed one
	if !Superseded(l, &late) {
		t.Fatal("late movement not superseded")
	}
	l2, changed := Fold(l, late)
	if changed || l2.Stock != l.Stock {
		t.Fatalf("late movement folded: %+v", l2.Stock)
	}
	atBase := mv("r3", schemas.MovementReceipt, 1, 30)
	if !Superseded(l, &atBase) {
		t.Fatal("a movement at the snapshot's as_of is counted in it")
	}
	l, _ = fold(l, j, mv("r4", schemas.MovementReceipt, 1, 31))
	if l.OnHand != 16 {
		t.Fatalf("movement after the snapshot: on hand %d, want 16", l.OnHand)
	}
}

func TestRebaseStale(t *testing.T) {
	l, j := fold(Level{}, Journal{}, mv("r1", schemas.MovementReceipt, 10, 10))
	l, j, _, _ = Rebase(l, j, snap("s2", 10, 0, 0, 60))
	older := snap("s1", 99, 0, 0, 30)
	next, _, gap, stale := Rebase(l, j, older)
	if !stale || gap != nil || next != l {
		t.Fatalf("older snapshot: stale %v gap %v level %+v", stale, gap, next)
	}

	// A journal trimmed past a snapshot's as_of cannot take the level back
	// to it: the snapshot is ignored.
	l, j = fold(Level{}, Journal{}, mv("r1", schemas.MovementReceipt, 10, 10), mv("r2", schemas.MovementReceipt, 1, 100))
	j.Trim(at(50))
	if !j.Since.Equal(at(10)) || len(j.Entries) != 1 {
		t.Fatalf("trim: since %s, %d entries", j.Since, len(j.Entries))
	}
	if _, _, _, stale := Rebase(l, j, snap("s3", 0, 0, 0, 5)); !stale {
		t.Fatal("snapshot older than the journal's coverage was used")
	}
	if next, _, gap, stale := Rebase(l, j, snap("s4", 10, 0, 0, 20)); stale || gap != nil || next.OnHand != 11 {
		t.Fatalf("covered snapshot: stale %v gap %v on hand %d", stale, gap, next.OnHand)
	}
}

func TestJournalCap(t *testing.T) {
	var j Journal
	for i := range maxJournal + 10 {
		j.Record(at(i), Stock{OnHand: 1})
	}
	j.Record(at(5000), Stock{}) // zero effects are not recorded
	if len(j.Entries) != maxJournal+10 {
		t.Fatalf("%d entries", len(j.Entries))
	}
	j.Trim(time.Time{})
	if len(j.Entries) != maxJournal || !j.Since.Equal(at(9)) || !j.Entries[0].At.Equal(at(10)) {
		t.Fatalf("%d entries since %s, first at %s", len(j.Entries), j.Since, j.Entries[0].At)
	}
}
