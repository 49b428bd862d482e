package stock_test

import (
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stock"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The feed gap deadline through the runtime. Each test pushes every
// minute, with the default grace of 2m: a snapshot handled at 60s holds
// its gap until 180s. A push whose due time is at or after a deadline
// fires in the same transaction as the deadline or a later one, so once
// its commands are visible the drift topic is complete up to it.

// A snapshot handled before the movement it counts (a webhook slower than
// the sweep): the level is re-based at once, the late movement explains
// the gap, and nothing is reported when the deadline passes.
func TestGapExplainedByLateMovement(t *testing.T) {
	r := newRig(t, 1, "", stock.Config{PushInterval: time.Minute})
	r.setClock(at(60))
	w := r.watch(t, r.commands)
	in := r.start(t)
	r.send(t, move("a1", "A", lon, schemas.MovementReceipt, 10, 10))
	in.waitHandled(t, 1)
	r.send(t, snapshot("s1", "A", lon, 15, 0, 0, 30)) // counts a2, still on its way
	in.waitHandled(t, 2)
	r.send(t, move("a2", "A", lon, schemas.MovementReceipt, 5, 20))
	in.waitHandled(t, 3)

	r.setClock(at(200)) // past the push (120s) and the gap's deadline (180s)
	w.waitCount(t, r.commands, 1)
	in.stop(t)
	if drift := decodeAll[schemas.DriftEvent](t, r.serde, r.readAll(t, r.drift)); len(drift) != 0 {
		t.Fatalf("%d drift events, want none: %+v", len(drift), drift[0])
	}
	cmds := decodeAll[schemas.PrimaStockCommand](t, r.serde, r.readAll(t, r.commands))
	if got := linesOf(cmds); got[lon]["A"] != 15 {
		t.Fatalf("pushed %s, want A@LON1 at 15", fmtLines(got))
	}
	if a := latestLevels(t, r)["A@"+lon]; a == nil || a.OnHand != 15 {
		t.Fatalf("A@LON1 level %+v, want 15 on hand", a)
	}
}

// A movement that never comes (a dropped webhook): exactly one
// wms_feed_gap, at the deadline and not before.
func TestGapReportedAfterGrace(t *testing.T) {
	r := newRig(t, 1, "", stock.Config{PushInterval: time.Minute})
	r.setClock(at(60))
	w := r.watch(t, r.commands, r.drift)
	in := r.start(t)
	r.send(t, move("a1", "A", lon, schemas.MovementReceipt, 10, 10))
	in.waitHandled(t, 1)
	r.send(t, snapshot("s1", "A", lon, 15, 0, 0, 30)) // a receipt of 5 at 20s never comes
	in.waitHandled(t, 2)

	r.setClock(at(120)) // the push is due, the gap's deadline is not
	w.waitCount(t, r.commands, 1)
	if n := len(r.readAll(t, r.drift)); n != 0 {
		t.Fatalf("%d drift events before the deadline", n)
	}
	r.setClock(at(180))
	w.waitCount(t, r.drift, 1)
	// Later work, and a later push: the gap stays reported once.
	r.send(t, move("a3", "A", lon, schemas.MovementReceipt, 1, 190))
	in.waitHandled(t, 3)
	r.setClock(at(240))
	w.waitCount(t, r.commands, 2)
	in.stop(t)

	recs := r.readAll(t, r.drift)
	drift := decodeAll[schemas.DriftEvent](t, r.serde, recs)
	if len(drift) != 1 {
		t.Fatalf("%d drift events, want 1", len(drift))
	}
	d, id := drift[0], "wms_feed_gap:A@LON1:s1"
	if string(recs[0].Key) != id || d.DiscrepancyID != id || d.EventID != id+":open" || d.Kind != schemas.DriftWMSFeedGap ||
		*d.ExpectedQty != 15 || *d.ActualQty != 10 || *d.DeltaQty != -5 || !d.OccurredAt.Equal(at(30)) || !d.IngestedAt.Equal(at(180)) {
		t.Fatalf("drift %+v", d)
	}
	if a := latestLevels(t, r)["A@"+lon]; a == nil || a.OnHand != 16 {
		t.Fatalf("A@LON1 level %+v, want 16 on hand", a)
	}
}

// A restart between the snapshot and the deadline, on the same state or
// on state restored from the changelog alone: the pending gaps and their
// timers come back; A's late movement still explains its gap, B's missing
// one is still reported, once.
func TestGapSurvivesRestart(t *testing.T) {
	for _, tc := range []struct {
		name     string
		freshDir bool
	}{{"same state", false}, {"state from the changelog", true}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, 1, "", stock.Config{PushInterval: time.Minute})
			r.setClock(at(60))
			w := r.watch(t, r.commands, r.drift)
			in := r.start(t)
			r.send(t, move("a1", "A", lon, schemas.MovementReceipt, 10, 10), move("b1", "B", lon, schemas.MovementReceipt, 10, 10))
			in.waitHandled(t, 2)
			// Both miss a receipt of 5 at 20s.
			r.send(t, snapshot("s1", "A", lon, 15, 0, 0, 30), snapshot("s1", "B", lon, 15, 0, 0, 30))
			in.waitHandled(t, 4)
			in.stop(t)

			if tc.freshDir {
				r.dir = t.TempDir()
			}
			r.send(t,
				move("a2", "A", lon, schemas.MovementReceipt, 5, 20), // A's, late; B's never comes
				move("a3", "A", lon, schemas.MovementReceipt, 1, 90), // after the snapshot: folded
			)
			in = r.start(t)
			in.waitHandled(t, 2)
			r.setClock(at(200)) // past the deadlines (180s) and the push a3 scheduled (120s)
			w.waitCount(t, r.commands, 1)
			in.stop(t)

			drift := decodeAll[schemas.DriftEvent](t, r.serde, r.readAll(t, r.drift))
			if len(drift) != 1 || drift[0].DiscrepancyID != "wms_feed_gap:B@LON1:s1" || *drift[0].DeltaQty != -5 {
				t.Fatalf("drift %+v, want B's gap of -5 alone", drift)
			}
			levels := latestLevels(t, r)
			if a, b := levels["A@"+lon], levels["B@"+lon]; a == nil || b == nil || a.OnHand != 16 || b.OnHand != 15 {
				t.Fatalf("levels A %+v, B %+v; want 16 and 15 on hand", a, b)
			}
		})
	}
}
