package prima_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// statuses lists the statuses of the events of one discrepancy, in order.
func statuses(evs []schemas.DriftEvent, id string) []schemas.DriftStatus {
	var out []schemas.DriftStatus
	for _, ev := range evs {
		if ev.DiscrepancyID == id {
			out = append(out, ev.Status)
		}
	}
	return out
}

// A line whose Clarus code maps to no Prima stock item is held, not
// dropped: the mapped lines go ahead, the level is recorded in
// lockstep.stock-held with a sku_unmapped drift event, a newer level
// replaces it, and when the mapping reaches prima.items the latest level is
// pushed, the entry tombstoned and the drift resolved.
func TestSinkHoldsUnmappedUntilMapped(t *testing.T) {
	e := newSinkEnv(t, 1, "ST1/BLK/9")
	mustApply(t, e.sim,
		primasim.Event{Type: "add_item", SKU: "ST2/RED/8"}, // no Clarus code yet
		primasim.Event{Type: "add_item", SKU: "GC/50", ClarusCode: ptr("C-GIFT"), StockItem: ptr(false)})
	e.produce(commandAt("b1", "WH1", epoch, line("ST1/BLK/9", 5), cline("C-NEW", 3), cline("C-GIFT", 1)))
	e.start()
	e.waitCommitted()

	if got, _ := e.sim.State().Level("ST1/BLK/9", "WH1"); got != 5 || len(e.sim.State().Stock) != 1 {
		t.Fatalf("Prima holds %+v, want only the mapped line", e.sim.State().Stock)
	}
	held := latestState[heldJSON](t, e, schemas.TopicStockHeld)
	if h := held["C-NEW@WH1"]; len(held) != 2 || h.Available != 3 || h.BatchRef != "b1" || !strings.Contains(h.Reason, "no Prima item") ||
		!strings.Contains(held["C-GIFT@WH1"].Reason, "non-stock") {
		t.Fatalf("held %+v", held)
	}
	drift := driftEvents(t, e, schemas.DriftSKUUnmapped)
	if len(drift) != 2 || drift[0].Owner != schemas.OwnerWarehouse || *drift[0].Warehouse != "WH1" {
		t.Fatalf("drift %+v", drift)
	}

	// A newer level replaces the held one: latest wins.
	e.produce(commandAt("b2", "WH1", epoch.Add(time.Minute), cline("C-NEW", 4)))
	e.waitCommitted()
	if h := latestState[heldJSON](t, e, schemas.TopicStockHeld)["C-NEW@WH1"]; h.Available != 4 || h.BatchRef != "b2" {
		t.Fatalf("held after b2: %+v", h)
	}

	// The warehouse team maps the product; the source polls the change.
	mustApply(t, e.sim, primasim.Event{Type: "map_item", SKU: "ST2/RED/8", ClarusCode: ptr("C-NEW")})
	e.pollPrima()
	waitFor(t, "the held level to reach Prima", func() bool {
		n, _ := e.sim.State().Level("ST2/RED/8", "WH1")
		return n == 4
	})
	waitFor(t, "the held entry to be tombstoned", func() bool {
		_, ok := latestState[heldJSON](t, e, schemas.TopicStockHeld)["C-NEW@WH1"]
		return !ok
	})
	drift = driftEvents(t, e, schemas.DriftSKUUnmapped)
	want := []schemas.DriftStatus{schemas.DriftOpen, schemas.DriftUpdated, schemas.DriftResolved}
	if got := statuses(drift, "sku_unmapped/C-NEW@WH1"); !slices.Equal(got, want) {
		t.Fatalf("C-NEW drift %v, want %v", got, want)
	}
	if got := statuses(drift, "sku_unmapped/C-GIFT@WH1"); !slices.Equal(got, []schemas.DriftStatus{schemas.DriftOpen}) {
		t.Fatalf("the non-stock code's drift %v, want it still open", got)
	}
	var redriven []primasim.Batch
	for _, b := range e.sim.State().Batches {
		if strings.HasPrefix(b.Ref, "held-WH1-") {
			redriven = append(redriven, b)
		}
	}
	pushed := latestState[pushedJSON](t, e, schemas.TopicStockPushed)["ST2/RED/8@WH1"]
	if len(redriven) != 1 || redriven[0].Lines != 1 || pushed.State != "pushed" || pushed.BatchRef != redriven[0].Ref || pushed.Available != 4 {
		t.Fatalf("re-drive batches %+v, pushed record %+v", redriven, pushed)
	}
}

// Held levels are durable: a sink that held a level stops, the mapping
// arrives while none runs, and the next sink pushes the level when it
// takes the partition, before any newer command.
func TestHeldLevelsSurviveRestart(t *testing.T) {
	e := newSinkEnv(t, 1, "ST1/BLK/9")
	mustApply(t, e.sim, primasim.Event{Type: "add_item", SKU: "ST2/RED/8"})
	e.produce(commandAt("b1", "WH1", epoch, cline("C-NEW", 3)))
	stop := e.start()
	e.waitCommitted()
	stop()
	if n := e.script.Calls("StockLevelUpdate"); n != 0 {
		t.Fatalf("%d updates for a command of held lines only", n)
	}

	mustApply(t, e.sim, primasim.Event{Type: "map_item", SKU: "ST2/RED/8", ClarusCode: ptr("C-NEW")})
	e.produce(commandAt("b2", "WH1", epoch.Add(time.Minute), cline("C-NEW", 8)))
	e.start()
	e.waitCommitted()
	waitFor(t, "the sku_unmapped drift to resolve", func() bool {
		return slices.Contains(statuses(driftEvents(t, e, schemas.DriftSKUUnmapped), "sku_unmapped/C-NEW@WH1"), schemas.DriftResolved)
	})
	st := e.sim.State()
	if n, _ := st.Level("ST2/RED/8", "WH1"); n != 8 || len(st.Batches) != 2 || !strings.HasPrefix(st.Batches[0].Ref, "held-WH1-") || st.Batches[1].Ref != "b2" {
		t.Fatalf("level %d after batches %+v: want the held 3, then b2's 8", n, st.Batches)
	}
	if held := latestState[heldJSON](t, e, schemas.TopicStockHeld); len(held) != 0 {
		t.Fatalf("still held: %+v", held)
	}
}

// heldJSON and pushedJSON read the sink's state records as an operator
// would, by their JSON names.
type heldJSON struct {
	ClarusCode string    `json:"clarus_code"`
	Warehouse  string    `json:"warehouse"`
	Available  int64     `json:"available"`
	AsOf       time.Time `json:"as_of"`
	BatchRef   string    `json:"batch_ref"`
	Reason     string    `json:"reason"`
}

type pushedJSON struct {
	SKU       string `json:"sku"`
	Warehouse string `json:"warehouse"`
	Available int64  `json:"available"`
	BatchRef  string `json:"batch_ref"`
	State     string `json:"state"`
	FailedRef string `json:"failed_ref"`
}

// latestState is a compacted JSON topic as a table: the latest value per
// key, tombstoned keys absent.
func latestState[T any](t *testing.T, e *sinkEnv, topic string) map[string]T {
	t.Helper()
	out := map[string]T{}
	for _, r := range committed(t, e.kopts, topic) {
		if r.Value == nil {
			delete(out, string(r.Key))
			continue
		}
		var v T
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("%s@%d: %v", topic, r.Offset, err)
		}
		out[string(r.Key)] = v
	}
	return out
}

// driftEvents decodes lockstep.drift, optionally only one kind.
func driftEvents(t *testing.T, e *sinkEnv, kind schemas.DriftKind) []schemas.DriftEvent {
	t.Helper()
	var out []schemas.DriftEvent
	for _, r := range committed(t, e.kopts, schemas.TopicDrift) {
		var ev schemas.DriftEvent
		if err := e.serde.Decode(context.Background(), r.Value, &ev); err != nil {
			t.Fatalf("drift@%d: %v", r.Offset, err)
		}
		if string(r.Key) != ev.DiscrepancyID {
			t.Fatalf("drift keyed %q for discrepancy %q", r.Key, ev.DiscrepancyID)
		}
		if kind == "" || ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}
