package prima_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

type sourceEnv struct {
	clock *fakeClock
	sim   *primasim.Server
	cfg   prima.Config
	kopts []kgo.Opt
	serde *schemas.Serde
}

func newSourceEnv(t *testing.T) *sourceEnv {
	e := &sourceEnv{clock: newClock(), kopts: newKafka(t, 1), serde: schemas.NewSerde(schemas.NewMemRegistry())}
	sim, srv := newSim(t, e.clock, primasim.Options{})
	e.sim = sim
	e.cfg = testConfig(srv.URL)
	e.cfg.PageSize = 7
	return e
}

func (e *sourceEnv) source(t *testing.T) *prima.Source {
	t.Helper()
	return e.sourceReporting(t, nil)
}

func (e *sourceEnv) sourceReporting(t *testing.T, r *readiness) *prima.Source {
	t.Helper()
	o := prima.Options{Clock: e.clock}
	if r != nil {
		o.SetReady = r.set
	}
	src, err := prima.NewSource(e.cfg, newClient(t, e.cfg), e.serde, o, e.kopts...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func (e *sourceEnv) poll(t *testing.T) prima.PollStats {
	t.Helper()
	src := e.source(t)
	defer src.Close()
	st, err := src.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Items and stock levels land on their topics page by page with the
// cursor; after a restart the source resumes from the committed cursors:
// only what changed since, nothing twice, nothing missed.
func TestSourceResumesFromCommittedCursor(t *testing.T) {
	e := newSourceEnv(t)
	if _, err := e.sim.RunScenario(primasim.Scenario{Seed: 4, Items: 30, Warehouses: 2, MaxInitialStock: 40, NonStockFraction: 0.1, UnmappedFraction: 0.1}); err != nil {
		t.Fatal(err)
	}
	truth := e.sim.State()
	src := e.source(t)
	st, err := src.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cursors := src.Cursors()
	src.Close()
	if st.Items != 30 || st.StockLevels != len(truth.Stock) || st.Pages != 5+(len(truth.Stock)+6)/7 {
		t.Fatalf("first poll %+v for %d levels", st, len(truth.Stock))
	}
	last := truth.Items[0]
	for _, it := range truth.Items {
		if it.Modified.After(last.Modified) {
			last = it
		}
	}
	if c := cursors[prima.CursorKeyItems]; c.Modified != last.Modified || c.Key != last.SKU || c.CaughtUpAt.IsZero() {
		t.Fatalf("items cursor %+v, last item %s at %v", cursors[prima.CursorKeyItems], last.SKU, last.Modified)
	}

	// Prima changes while the source is down; a new source picks up.
	e.clock.After(time.Minute)
	mustApply(t, e.sim,
		primasim.Event{Type: "set_item_cost", SKU: truth.Items[0].SKU, UnitCost: ptr(schemas.MustParseDecimal("9.9900"))},
		primasim.Event{Type: "map_item", SKU: truth.Items[5].SKU, ClarusCode: ptr("SKU-99999")},
		primasim.Event{Type: "discontinue_item", SKU: truth.Items[9].SKU},
		primasim.Event{Type: "set_stock", SKU: truth.Stock[0].SKU, Warehouse: truth.Stock[0].Warehouse, Available: ptr[int64](1234)},
		primasim.Event{Type: "set_stock", SKU: truth.Stock[3].SKU, Warehouse: truth.Stock[3].Warehouse, Available: ptr[int64](4321)})
	if st := e.poll(t); st.Items != 3 || st.StockLevels != 2 {
		t.Fatalf("after restart %+v, want 3 items and 2 levels", st)
	}
	if st := e.poll(t); st.Items != 0 || st.StockLevels != 0 || st.Pages != 0 {
		t.Fatalf("nothing changed, yet %+v", st)
	}

	truth = e.sim.State()
	items := decodeAll[schemas.Item](t, e, schemas.TopicItems)
	if len(items) != 33 {
		t.Fatalf("%d item events, want 33", len(items))
	}
	latest := map[string]schemas.Item{}
	ids := map[string]bool{}
	for _, it := range items {
		if ids[it.EventID] {
			t.Fatalf("duplicate event %s", it.EventID)
		}
		ids[it.EventID] = true
		if want := "prima:item:" + it.SKU + ":" + wire.FormatTime(it.OccurredAt); it.EventID != want || it.Source != schemas.SourcePrima {
			t.Fatalf("event id %q, want %q", it.EventID, want)
		}
		latest[it.SKU] = it
	}
	for _, want := range truth.Items {
		got := latest[want.SKU]
		clarus := ""
		if got.ClarusCode != nil {
			clarus = *got.ClarusCode
		}
		if !got.OccurredAt.Equal(want.Modified) || got.UnitCost != want.UnitCost || clarus != want.ClarusCode ||
			got.Active != want.Active || got.StockItem != want.StockItem || got.Description != want.Description {
			t.Fatalf("%s: latest event %+v, Prima has %+v", want.SKU, got, want)
		}
	}
	levels := decodeAll[schemas.PrimaStockLevel](t, e, schemas.TopicPrimaStockLevels)
	if len(levels) != len(truth.Stock)+2 {
		t.Fatalf("%d level events for %d levels and 2 overwrites", len(levels), len(truth.Stock))
	}
	for _, want := range truth.Stock {
		var got *schemas.PrimaStockLevel
		for i := range levels {
			if levels[i].SKU == want.SKU && levels[i].Warehouse == want.Warehouse {
				got = &levels[i]
			}
		}
		if got == nil || got.Available != want.Available || !got.AsOf.Equal(want.Modified) {
			t.Fatalf("%s@%s: latest event %+v, Prima has %+v", want.SKU, want.Warehouse, got, want)
		}
	}
}

// A previous incarnation that died inside a transaction left events and a
// cursor far ahead uncommitted: the new source fences it, never sees that
// cursor, and reads everything.
func TestSourceIgnoresAbortedPage(t *testing.T) {
	e := newSourceEnv(t)
	mustApply(t, e.sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"}, primasim.Event{Type: "add_item", SKU: "ST1/BLK/10"})
	zombie, err := kgo.NewClient(append(e.kopts, kgo.TransactionalID("lockstep-prima-source"))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(zombie.Close)
	ahead, _ := json.Marshal(prima.Cursor{Modified: epoch.Add(24 * time.Hour), Key: "ZZZ"})
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(context.Background(),
		&kgo.Record{Topic: schemas.TopicItems, Key: []byte("ZOMBIE"), Value: []byte("x")},
		&kgo.Record{Topic: schemas.TopicSourceCursors, Key: []byte(prima.CursorKeyItems), Value: ahead},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}

	if st := e.poll(t); st.Items != 2 {
		t.Fatalf("poll after the zombie: %+v", st)
	}
	for _, r := range committed(t, e.kopts, schemas.TopicItems) {
		if string(r.Key) == "ZOMBIE" {
			t.Fatal("the zombie's uncommitted event is visible")
		}
	}
}

// Run opens its producer, polls every PollInterval of the injected clock,
// reports ready once its cursors are loaded, and closes what it opened:
// not ready after it returns, and no Close to call.
func TestSourceRunPollsEveryInterval(t *testing.T) {
	e := newSourceEnv(t)
	mustApply(t, e.sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"})
	var ready readiness
	src := e.sourceReporting(t, &ready)
	ctx, cancel := context.WithCancel(context.Background())
	polls := 0
	e.clock.setOnWait(func(time.Duration) {
		if polls++; polls == 1 {
			mustApply(t, e.sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/10"})
		}
		if polls == 3 {
			cancel()
		}
	})
	if err := src.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for _, w := range e.clock.Waits() {
		if w != 30*time.Second {
			t.Fatalf("waits %v, want 30s each", e.clock.Waits())
		}
	}
	if n := len(committed(t, e.kopts, schemas.TopicItems)); n != 2 {
		t.Fatalf("%d item events", n)
	}
	if h := ready.history(); !slices.Equal(h, []bool{true, false}) {
		t.Fatalf("readiness %v, want ready once the cursors loaded, then not", h)
	}
}

// A poll that fails on a retryable answer is tried again after a growing
// backoff, not a whole interval later; past MaxAttempts failures in a row
// it waits for the next interval, and a success resets the backoff.
func TestSourceRunRetriesFailedPoll(t *testing.T) {
	e := newSourceEnv(t)
	e.cfg.MaxAttempts, e.cfg.BackoffBase, e.cfg.BackoffMax = 3, time.Second, 10*time.Second
	mustApply(t, e.sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"})
	e.sim.SetFaults(primasim.Faults{ErrorRate: 1})
	src := e.source(t)
	ctx, cancel := context.WithCancel(context.Background())
	waits := 0
	e.clock.setOnWait(func(time.Duration) {
		switch waits++; waits {
		case 3: // two retries and the give-up spent: Prima recovers
			e.sim.SetFaults(primasim.Faults{})
		case 4:
			cancel()
		}
	})
	if err := src.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := e.clock.Waits(), []time.Duration{time.Second, 2 * time.Second, 30 * time.Second, 30 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
	if n := len(committed(t, e.kopts, schemas.TopicItems)); n != 1 {
		t.Fatalf("%d item events after Prima recovered", n)
	}
}

// Constructors only validate: no broker is contacted until Run or Poll,
// and what they refuse names the setting.
func TestConstructorsOnlyValidate(t *testing.T) {
	cfg := prima.DefaultConfig()
	unreachable := kgo.SeedBrokers("127.0.0.1:1")
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	api := newClient(t, cfg)
	if _, err := prima.NewSource(cfg, api, serde, prima.Options{}, unreachable); err != nil {
		t.Fatalf("source: %v", err)
	}
	if _, err := prima.NewSink(cfg, api, serde, prima.Options{}, unreachable); err != nil {
		t.Fatalf("sink: %v", err)
	}
	if _, err := prima.NewParity(cfg, serde, prima.Options{}, unreachable); err != nil {
		t.Fatalf("parity: %v", err)
	}
	cfg.ParitySettle = cfg.PollInterval
	if _, err := prima.NewParity(cfg, serde, prima.Options{}); err == nil || !strings.Contains(err.Error(), "LOCKSTEP_PRIMA_PARITY_SETTLE") {
		t.Fatalf("a settle window no longer than the poll interval: %v", err)
	}
}

func decodeAll[T any, P interface {
	*T
	schemas.Event
}](t *testing.T, e *sourceEnv, topic string) []T {
	t.Helper()
	var out []T
	for _, r := range committed(t, e.kopts, topic) {
		var v T
		if err := e.serde.Decode(context.Background(), r.Value, P(&v)); err != nil {
			t.Fatalf("%s@%d: %v", topic, r.Offset, err)
		}
		out = append(out, v)
	}
	return out
}

func mustApply(t testing.TB, sim *primasim.Server, evs ...primasim.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := sim.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
}
