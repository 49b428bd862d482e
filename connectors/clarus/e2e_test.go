package clarus_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The simulator delivers its webhooks to the receiver, dropping 10% and
// duplicating 5%; then a sweep reads the balances. The movements that made
// it through are exact copies of Clarus's, duplicates carry the same event
// id, and the snapshots are Clarus's ground truth to the unit.
func TestSimulatorWebhooksThenSweep(t *testing.T) {
	clock := newClock()
	_, opts := newKafka(t)
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	mux := http.NewServeMux()
	hooks := httptest.NewServer(mux)
	t.Cleanup(hooks.Close)
	// Assumed fields allowed: the receiver reads a completed goods out's
	// shipments, which only assumed fields describe (clarus.graphql).
	sim, api := newSim(t, clock, clarussim.Config{Seed: 11, AllowAssumed: true, WebhookURL: hooks.URL + "/webhooks/clarus/" + testToken}, nil)
	cfg := testConfig(api.URL)
	cfg.WebhookMaxBytes = 1 << 20
	setReady, ready := readiness()
	o := clarus.Options{Clock: clock, SetReady: setReady}
	rcv, err := clarus.NewReceiver(cfg, clarus.NewClient(cfg, o), serde, o, opts...)
	if err != nil {
		t.Fatal(err)
	}
	runReceiver(t, rcv, ready)
	rcv.Register(mux)

	sim.SetFaults(clarussim.Faults{Seed: 42, WebhookDropRate: 0.10, WebhookDuplicateRate: 0.05})
	if _, err := sim.StartScenario(clarussim.Scenario{Seed: 5, SKUs: 40, Warehouses: 3, Generate: 2000}); err != nil {
		t.Fatal(err)
	}
	stats := sim.DeliverWebhooks(context.Background())
	if stats.Dropped == 0 || stats.Duplicated == 0 || stats.GaveUp != 0 || stats.Pending != 0 || stats.Retried != 0 {
		t.Fatalf("webhook stats %+v", stats)
	}

	truth := sim.State()
	announced := map[string]clarussim.Movement{}
	for _, m := range truth.Movements {
		if m.Trigger != "" {
			announced[m.ID] = m
		}
	}
	seen, ids := map[string]int{}, map[string]string{}
	for _, r := range committed(t, opts, schemas.TopicStockMovements) {
		got := decodeMovement(t, serde, r)
		want, ok := announced[clarus.RecordPath(got.MovementID)]
		if !ok {
			t.Fatalf("movement %s is not in Clarus's log", got.MovementID)
		}
		if string(r.Key) != schemas.StockKey(want.SKU, want.Warehouse) || string(got.Kind) != want.Kind ||
			got.Quantity != want.Quantity || got.SKU != want.SKU || got.Warehouse != want.Warehouse ||
			!got.OccurredAt.Equal(want.At) || got.EventID != "clarus/"+got.MovementID ||
			deref(got.Reference) != want.Reference || deref(got.Reason) != want.Reason {
			t.Fatalf("movement %s: got %+v, Clarus logged %+v", got.MovementID, got, want)
		}
		seen[want.ID]++
		if ids[want.ID] != "" && ids[want.ID] != got.MovementID {
			t.Fatalf("movement %s delivered twice under two ids, %s and %s", want.ID, ids[want.ID], got.MovementID)
		}
		ids[want.ID] = got.MovementID
	}
	dups, missing := 0, 0
	for id := range announced {
		switch seen[id] {
		case 0:
			missing++
		case 1:
		default:
			dups++
		}
	}
	if missing == 0 || dups == 0 {
		t.Fatalf("%d movements missing, %d duplicated: the faults did not show", missing, dups)
	}
	t.Logf("%d movements announced, %d missed (dropped webhooks), %d delivered twice", len(announced), missing, dups)

	so := clarus.Options{Clock: clock, TransactionalID: "e2e-sweep"}
	sw, err := clarus.NewSweeper(cfg, clarus.NewClient(cfg, so), serde, so, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Close)
	if _, err := sw.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := &sweepEnv{t: t, sim: sim, opts: opts, serde: serde}
	e.matchTruth(e.snapshots())
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
