package prima

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Table tests of the pure decisions: the SKU mapping, what a command's
// lines and the held levels become, and the parity judgement.

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// testItems is an item master: two mapped stock items, a mapped non-stock
// item, an unmapped one, and a Clarus code claimed by two stock items.
func testItems() *itemIndex {
	x := newItemIndex()
	for _, it := range []itemInfo{
		{SKU: "ST1/BLK/9", ClarusCode: "C1", StockItem: true},
		{SKU: "ST1/BLK/10", ClarusCode: "C2", StockItem: true},
		{SKU: "GC/50", ClarusCode: "CG", StockItem: false},
		{SKU: "ST2/RED/8", StockItem: true},
		{SKU: "ST3/A", ClarusCode: "CD", StockItem: true},
		{SKU: "ST3/B", ClarusCode: "CD", StockItem: true},
	} {
		x.put(it.SKU, &it)
	}
	return x
}

func TestResolve(t *testing.T) {
	x := testItems()
	for _, tc := range []struct {
		code, sku, why string
	}{
		{"C1", "ST1/BLK/9", ""},
		{"C2", "ST1/BLK/10", ""},
		{"CG", "", "non-stock item GC/50"},
		{"NOPE", "", "no Prima item has Clarus code NOPE"},
		{"CD", "", "claimed by 2 Prima stock items (ST3/A, ST3/B)"},
	} {
		sku, why := x.resolve(tc.code)
		if sku != tc.sku || !strings.Contains(why, tc.why) || (tc.why == "") != (why == "") {
			t.Errorf("%s: got %q (%q), want %q (%q)", tc.code, sku, why, tc.sku, tc.why)
		}
	}

	// Mapping changes report the codes they touch: the old and the new.
	if got := x.put("ST2/RED/8", &itemInfo{SKU: "ST2/RED/8", ClarusCode: "NOPE", StockItem: true}); !reflect.DeepEqual(got, []string{"NOPE"}) {
		t.Fatalf("mapping an item changed %v", got)
	}
	if sku, _ := x.resolve("NOPE"); sku != "ST2/RED/8" {
		t.Fatalf("NOPE now maps to %q", sku)
	}
	if got := x.put("ST3/B", nil); !reflect.DeepEqual(got, []string{"CD"}) {
		t.Fatalf("a tombstone changed %v", got)
	}
	if sku, _ := x.resolve("CD"); sku != "ST3/A" {
		t.Fatalf("CD, claimed once, maps to %q", sku)
	}
	if got := x.put("ST1/BLK/9", &itemInfo{SKU: "ST1/BLK/9", ClarusCode: "C9", StockItem: true}); !reflect.DeepEqual(got, []string{"C1", "C9"}) {
		t.Fatalf("a remap changed %v", got)
	}
	if _, why := x.resolve("C1"); why == "" {
		t.Fatal("C1 still maps after its item was remapped")
	}
}

func TestPlanCommand(t *testing.T) {
	earlier, later := t0.Add(-time.Minute), t0.Add(time.Minute)
	held := func(code string, n int64, asOf time.Time) heldLevel {
		return heldLevel{ClarusCode: code, Warehouse: "WH1", Available: n, AsOf: asOf, BatchRef: "old", Partition: 2}
	}
	hold := func(code string, n int64) heldLevel {
		h := held(code, n, t0)
		h.BatchRef, h.Partition = "b1", 0
		_, h.Reason = testItems().resolve(code)
		return h
	}
	push := func(sku, code string, n int64, asOf time.Time) pushLine {
		return pushLine{SKU: sku, ClarusCode: code, Available: n, AsOf: asOf}
	}
	pushedAt := func(asOf time.Time) map[string]pushedLevel {
		return map[string]pushedLevel{"ST1/BLK/9@WH1": {AppliedAsOf: asOf}}
	}
	for _, tc := range []struct {
		name   string
		lines  []schemas.PrimaStockLine
		held   []heldLevel
		pushed map[string]pushedLevel
		// the command's AsOf and push instant (OccurredAt); zero: t0
		asOf, occurred time.Time
		want           commandPlan
	}{
		{name: "mapped lines are pushed under their Prima SKU",
			lines: []schemas.PrimaStockLine{{SKU: "C1", Available: 5}, {SKU: "C2", Available: 0}},
			want:  commandPlan{push: []pushLine{push("ST1/BLK/9", "C1", 5, t0), push("ST1/BLK/10", "C2", 0, t0)}}},
		{name: "unmapped, non-stock and ambiguous codes are held; the mapped line still goes",
			lines: []schemas.PrimaStockLine{{SKU: "NOPE", Available: 3}, {SKU: "C1", Available: 5}, {SKU: "CG", Available: 1}, {SKU: "CD", Available: 2}},
			want: commandPlan{push: []pushLine{push("ST1/BLK/9", "C1", 5, t0)},
				hold: []heldLevel{hold("NOPE", 3), hold("CG", 1), hold("CD", 2)}}},
		{name: "a newer level replaces a held one",
			lines: []schemas.PrimaStockLine{{SKU: "NOPE", Available: 4}},
			held:  []heldLevel{held("NOPE", 3, earlier)},
			want:  commandPlan{hold: []heldLevel{hold("NOPE", 4)}}},
		{name: "an older level never replaces a held one",
			lines: []schemas.PrimaStockLine{{SKU: "NOPE", Available: 4}},
			held:  []heldLevel{held("NOPE", 3, later)},
			want:  commandPlan{stale: []string{"NOPE"}}},
		{name: "a mapped line releases the held level it supersedes",
			lines: []schemas.PrimaStockLine{{SKU: "C1", Available: 5}},
			held:  []heldLevel{held("C1", 3, earlier)},
			want:  commandPlan{push: []pushLine{push("ST1/BLK/9", "C1", 5, t0)}, unhold: []heldLevel{held("C1", 3, earlier)}}},
		{name: "a held level newer than the line is pushed instead of it",
			lines: []schemas.PrimaStockLine{{SKU: "C1", Available: 5}},
			held:  []heldLevel{held("C1", 3, later)},
			want:  commandPlan{push: []pushLine{push("ST1/BLK/9", "C1", 3, later)}, unhold: []heldLevel{held("C1", 3, later)}}},
		{name: "a level older than the one Prima acknowledged is not sent",
			lines: []schemas.PrimaStockLine{{SKU: "C1", Available: 5}, {SKU: "C2", Available: 6}}, pushed: pushedAt(later),
			want: commandPlan{push: []pushLine{push("ST1/BLK/10", "C2", 6, t0)}, stale: []string{"C1"}}},
		{name: "the same instant is sent again (a retry of the same batch)",
			lines: []schemas.PrimaStockLine{{SKU: "C1", Available: 5}}, pushed: pushedAt(t0),
			want: commandPlan{push: []pushLine{push("ST1/BLK/9", "C1", 5, t0)}}},
		// The e2e run's bug: a later push whose batch AsOf (the latest
		// Clarus instant of its lines) is older than the previous one's,
		// as after a re-base on a snapshot, was dropped as stale and Prima
		// kept the old level. Ordering is by the push instant.
		{name: "a later push with an older Clarus as-of is sent",
			lines: []schemas.PrimaStockLine{{SKU: "C1", Available: 5}}, pushed: pushedAt(t0), asOf: earlier, occurred: later,
			want: commandPlan{push: []pushLine{push("ST1/BLK/9", "C1", 5, later)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			heldMap := map[string]heldLevel{}
			for _, h := range tc.held {
				heldMap[h.key()] = h
			}
			cmd := &schemas.PrimaStockCommand{BatchRef: "b1", Warehouse: "WH1", AsOf: t0, Lines: tc.lines}
			cmd.OccurredAt = t0
			if !tc.asOf.IsZero() {
				cmd.AsOf, cmd.OccurredAt = tc.asOf, tc.occurred
			}
			if got := planCommand(cmd, 0, testItems(), heldMap, tc.pushed); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// Held levels are re-driven per warehouse of a partition once their codes
// map, under a reference derived from the entries; stale ones are settled
// without a push, unmapped ones wait.
func TestPlanRedrive(t *testing.T) {
	x := testItems()
	h := func(code, wh string, part int32, n int64) heldLevel {
		return heldLevel{ClarusCode: code, Warehouse: wh, Available: n, AsOf: t0, BatchRef: "b-" + wh, Partition: part}
	}
	entries := []heldLevel{h("C2", "WH1", 0, 7), h("C1", "WH2", 1, 4), h("NOPE", "WH1", 0, 1), h("C1", "WH1", 0, 5)}
	pushed := map[string]pushedLevel{"ST1/BLK/9@WH2": {AppliedAsOf: t0.Add(time.Second)}}
	got := planRedrive(entries, x, pushed)
	if len(got) != 2 {
		t.Fatalf("batches %+v", got)
	}
	wh1, wh2 := got[0], got[1]
	if wh1.Warehouse != "WH1" || wh1.Partition != 0 || len(wh1.entries) != 2 ||
		!reflect.DeepEqual(wh1.push, []pushLine{{SKU: "ST1/BLK/9", ClarusCode: "C1", Available: 5, AsOf: t0}, {SKU: "ST1/BLK/10", ClarusCode: "C2", Available: 7, AsOf: t0}}) {
		t.Fatalf("WH1 batch %+v", wh1)
	}
	if wh2.Warehouse != "WH2" || len(wh2.push) != 0 || len(wh2.entries) != 1 {
		t.Fatalf("WH2 batch, stale, %+v", wh2)
	}
	if !strings.HasPrefix(wh1.Ref, "held-WH1-") || wh1.Ref == wh2.Ref {
		t.Fatalf("refs %q %q", wh1.Ref, wh2.Ref)
	}
	again := planRedrive([]heldLevel{h("C1", "WH1", 0, 5), h("C2", "WH1", 0, 7)}, x, pushed)
	if again[0].Ref != wh1.Ref {
		t.Fatalf("the same entries in another order got ref %q, then %q", wh1.Ref, again[0].Ref)
	}
	if other := planRedrive([]heldLevel{h("C1", "WH1", 0, 6), h("C2", "WH1", 0, 7)}, x, pushed); other[0].Ref == wh1.Ref {
		t.Fatal("another level reused the reference")
	}
}

func TestJudge(t *testing.T) {
	const settle = time.Minute
	pushedAt := t0.Add(-2 * settle) // settled at now = t0
	pushed := func(state string, n int64, at time.Time) *pushedLevel {
		return &pushedLevel{SKU: "ST1/BLK/9", Warehouse: "WH1", Available: n, State: state, At: at, BatchRef: "b1"}
	}
	prima := func(n int64) *primaLevel { return &primaLevel{Available: n, AsOf: t0.Add(-time.Hour)} }
	open := func(expected, actual int64) *parityOpen { return &parityOpen{Expected: expected, Actual: actual} }
	for _, tc := range []struct {
		name     string
		k        parityKey
		caughtUp time.Time // the feed's CaughtUpAt; zero: now
		state    keyState
		status   schemas.DriftStatus
		due      time.Time
	}{
		{name: "never pushed: Prima's own figure is not compared",
			k: parityKey{prima: prima(9)}, state: keyUntracked},
		{name: "in flight: nothing, however long it takes",
			k: parityKey{pushed: pushed(statePushing, 5, t0.Add(-time.Hour)), prima: prima(9)}, state: keyInFlight},
		{name: "in flight with a discrepancy open: it stays open",
			k: parityKey{pushed: pushed(statePushing, 5, t0.Add(-time.Hour)), prima: prima(9), open: open(5, 9)}, state: keyInFlight},
		{name: "pushed within the settle window: judged when it ends",
			k: parityKey{pushed: pushed(statePushed, 5, t0.Add(-settle/2)), prima: prima(9)}, state: keySettling, due: t0.Add(settle / 2)},
		{name: "settled, no Prima level read: nothing to compare",
			k: parityKey{pushed: pushed(statePushed, 5, pushedAt)}, state: keyUnknown},
		{name: "settled and equal",
			k: parityKey{pushed: pushed(statePushed, 5, pushedAt), prima: prima(5)}, state: keyAgree},
		{name: "settled and different: open",
			k: parityKey{pushed: pushed(statePushed, 5, pushedAt), prima: prima(9)}, state: keyDiffer, status: schemas.DriftOpen},
		{name: "the same difference again: nothing new",
			k: parityKey{pushed: pushed(statePushed, 5, pushedAt), prima: prima(9), open: open(5, 9)}, state: keyDiffer},
		{name: "Prima's figure changed: updated",
			k: parityKey{pushed: pushed(statePushed, 5, pushedAt), prima: prima(11), open: open(5, 9)}, state: keyDiffer, status: schemas.DriftUpdated},
		{name: "a newer push, still different: updated",
			k: parityKey{pushed: pushed(statePushed, 6, pushedAt), prima: prima(9), open: open(5, 9)}, state: keyDiffer, status: schemas.DriftUpdated},
		{name: "equal again: resolved",
			k: parityKey{pushed: pushed(statePushed, 5, pushedAt), prima: prima(5), open: open(5, 9)}, state: keyAgree, status: schemas.DriftResolved},
		{name: "a failed push is not judged: push_failed covers it, not a change made in Prima",
			k: parityKey{pushed: pushed(stateFailed, 5, pushedAt), prima: prima(3)}, state: keyFailed},
		{name: "a failed push leaves an open discrepancy open",
			k: parityKey{pushed: pushed(stateFailed, 5, pushedAt), prima: prima(3), open: open(4, 3)}, state: keyFailed},
		{name: "settled, but the stock-level feed has not caught up past the push: not judged",
			k: parityKey{pushed: pushed(statePushed, 5, pushedAt), prima: prima(9)}, caughtUp: pushedAt.Add(-time.Millisecond), state: keySettling},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caughtUp := t0
			if !tc.caughtUp.IsZero() {
				caughtUp = tc.caughtUp
			}
			v := judge(&tc.k, t0, caughtUp, settle)
			if v.state != tc.state || v.status != tc.status || !v.due.Equal(tc.due) {
				t.Fatalf("got %+v, want state %s status %q due %v", v, tc.state, tc.status, tc.due)
			}
		})
	}
}

// The event carries both figures, their difference, its value at unit
// cost and deterministic ids.
func TestParityEvent(t *testing.T) {
	k := &parityKey{SKU: "ST1/BLK/9", Warehouse: "WH1",
		pushed: &pushedLevel{Available: 5, BatchRef: "b1", At: t0},
		prima:  &primaLevel{Available: 2, AsOf: t0.Add(time.Second)}}
	it := &itemInfo{UnitCost: schemas.MustParseDecimal("12.3400"), Currency: "EUR"}
	ev := parityEvent(k, schemas.DriftOpen, it, t0.Add(time.Minute))
	if ev.DiscrepancyID != "stock_parity/ST1/BLK/9@WH1" || ev.Owner != schemas.OwnerFinance || ev.Kind != schemas.DriftStockParity ||
		*ev.ExpectedQty != 5 || *ev.ActualQty != 2 || *ev.DeltaQty != -3 || *ev.ValueDelta != schemas.MustParseDecimal("-37.0200") ||
		*ev.Currency != "EUR" || *ev.SKU != "ST1/BLK/9" || *ev.Warehouse != "WH1" || !ev.OccurredAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("event %+v", ev)
	}
	if again := parityEvent(k, schemas.DriftOpen, it, t0.Add(time.Hour)); again.EventID != ev.EventID {
		t.Fatalf("written again later, the event id changed: %q, %q", ev.EventID, again.EventID)
	}
	if res := parityEvent(k, schemas.DriftResolved, it, t0); res.EventID == ev.EventID || res.DiscrepancyID != ev.DiscrepancyID {
		t.Fatalf("resolved %q vs open %q", res.EventID, ev.EventID)
	}
	if unvalued := parityEvent(k, schemas.DriftOpen, nil, t0); unvalued.ValueDelta != nil || !strings.Contains(unvalued.Detail, "difference of -3") {
		t.Fatalf("without an item %+v", unvalued)
	}
}

// Commands of a warehouse share a call unless they repeat a code (two
// levels of one key go in order, in two calls) or pass the line cap;
// warehouses never share one, and order within a warehouse is kept.
func TestMergeCommands(t *testing.T) {
	cmd := func(ref, wh string, codes ...string) command {
		c := command{cmd: schemas.PrimaStockCommand{BatchRef: ref, Warehouse: wh}}
		for _, code := range codes {
			c.cmd.Lines = append(c.cmd.Lines, schemas.PrimaStockLine{SKU: code, Available: 1})
		}
		return c
	}
	refs := func(groups [][]command) [][]string {
		var out [][]string
		for _, g := range groups {
			var rs []string
			for _, c := range g {
				rs = append(rs, c.cmd.BatchRef)
			}
			out = append(out, rs)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		cmds []command
		max  int
		want [][]string
	}{
		{name: "one command", cmds: []command{cmd("a", "WH1", "x")}, max: 10, want: [][]string{{"a"}}},
		{name: "one push of three partitions, two warehouses interleaved",
			cmds: []command{cmd("p0/1", "WH1", "a"), cmd("p0/2", "WH2", "a"), cmd("p1/1", "WH1", "b"), cmd("p1/2", "WH2", "b"), cmd("p2/1", "WH1", "c")},
			max:  10, want: [][]string{{"p0/1", "p1/1", "p2/1"}, {"p0/2", "p1/2"}}},
		{name: "a code repeated: the newer level goes in a second call",
			cmds: []command{cmd("t1", "WH1", "a", "b"), cmd("t1'", "WH1", "c"), cmd("t2", "WH1", "b"), cmd("t2'", "WH1", "d")},
			max:  10, want: [][]string{{"t1", "t1'"}, {"t2", "t2'"}}},
		{name: "the line cap closes a group",
			cmds: []command{cmd("a", "WH1", "1", "2"), cmd("b", "WH1", "3", "4"), cmd("c", "WH1", "5")},
			max:  4, want: [][]string{{"a", "b"}, {"c"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := refs(mergeCommands(tc.cmds, tc.max)); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("groups %v, want %v", got, tc.want)
			}
		})
	}
	a, b := cmd("a", "WH1", "x"), cmd("b", "WH1", "y")
	if mergedRef([]command{a}) != "a" || mergedRef([]command{a, b}) != mergedRef([]command{a, b}) ||
		mergedRef([]command{a, b}) == mergedRef([]command{b, a}) || !strings.HasPrefix(mergedRef([]command{a, b}), "stock:WH1:merged:") {
		t.Fatalf("merged refs: %s, %s", mergedRef([]command{a, b}), mergedRef([]command{b, a}))
	}
}
