package clarus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/connectors/clock"
	"github.com/lockstep-dev/lockstep/schemas"
)

type sweepEnv struct {
	t     *testing.T
	kafka *kfake.Cluster
	clock *fakeClock
	sim   *clarussim.Sim
	api   *apiLog
	cfg   clarus.Config
	opts  []kgo.Opt
	serde *schemas.Serde
}

func newSweepEnv(t *testing.T, simCfg clarussim.Config, mw func(http.Handler) http.Handler) *sweepEnv {
	t.Helper()
	e := &sweepEnv{t: t, clock: newClock(), api: &apiLog{}, serde: schemas.NewSerde(schemas.NewMemRegistry())}
	e.kafka, e.opts = newKafka(t)
	wrap := func(h http.Handler) http.Handler {
		if mw != nil {
			h = mw(h)
		}
		return e.api.wrap(h)
	}
	sim, srv := newSim(t, e.clock, simCfg, wrap)
	e.sim, e.cfg = sim, testConfig(srv.URL)
	return e
}

func (e *sweepEnv) sweeper(clk clock.Clock) *clarus.Sweeper {
	e.t.Helper()
	o := clarus.Options{Clock: clk, TransactionalID: "test-sweep"}
	s, err := clarus.NewSweeper(e.cfg, clarus.NewClient(e.cfg, o), e.serde, o, e.opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(s.Close)
	return s
}

// receive creates n balances, SKU-0001..n in WH1, with distinct quantities.
func (e *sweepEnv) receive(n int) {
	e.t.Helper()
	var lines []clarussim.Line
	for i := 1; i <= n; i++ {
		lines = append(lines, clarussim.Line{SKU: fmt.Sprintf("SKU-%04d", i), Quantity: int64(i)})
	}
	if _, err := e.sim.Apply(clarussim.Event{Type: "receive", Warehouse: "WH1", Lines: lines}); err != nil {
		e.t.Fatal(err)
	}
}

// snapshots returns the committed snapshots by key, failing on a key seen
// twice in one snapshot.
func (e *sweepEnv) snapshots() []schemas.StockSnapshot {
	e.t.Helper()
	var out []schemas.StockSnapshot
	for _, r := range committed(e.t, e.opts, schemas.TopicStockSnapshots) {
		s := decodeSnapshot(e.t, e.serde, r)
		if string(r.Key) != schemas.StockKey(s.SKU, s.Warehouse) {
			e.t.Fatalf("key %q for %s@%s", r.Key, s.SKU, s.Warehouse)
		}
		out = append(out, s)
	}
	return out
}

// cursors returns the committed cursor records, oldest first.
func (e *sweepEnv) cursors() []clarus.Cursor {
	e.t.Helper()
	var out []clarus.Cursor
	for _, r := range committed(e.t, e.opts, schemas.TopicSourceCursors) {
		if string(r.Key) != clarus.CursorKey {
			e.t.Fatalf("cursor key %q", r.Key)
		}
		var c clarus.Cursor
		if err := json.Unmarshal(r.Value, &c); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// matchTruth checks that snaps hold exactly the simulator's balances, once
// each.
func (e *sweepEnv) matchTruth(snaps []schemas.StockSnapshot) {
	e.t.Helper()
	got := map[string]schemas.StockSnapshot{}
	for _, s := range snaps {
		k := schemas.StockKey(s.SKU, s.Warehouse)
		if _, dup := got[k]; dup {
			e.t.Fatalf("%s snapshotted twice", k)
		}
		got[k] = s
	}
	truth := e.sim.State().Stock
	if len(got) != len(truth) {
		e.t.Fatalf("%d snapshots, %d balances in Clarus", len(got), len(truth))
	}
	for _, b := range truth {
		s, ok := got[schemas.StockKey(b.SKU, b.Warehouse)]
		if !ok || s.OnHand != b.OnHand || s.Held != b.Held || s.Allocated != b.Allocated {
			e.t.Fatalf("%s@%s: snapshot %+v, Clarus %+v", b.SKU, b.Warehouse, s, b)
		}
	}
}

func TestSweepPaginates(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{}, nil)
	e.receive(250)
	st, err := e.sweeper(e.clock).Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Full || st.Pages != 3 || st.Balances != 250 || st.Resumed {
		t.Fatalf("stats %+v", st)
	}
	snaps := e.snapshots()
	e.matchTruth(snaps)
	for _, s := range snaps {
		if s.SnapshotID != st.SnapshotID || s.EventID != "clarus/stock_balances/"+st.SnapshotID+"/"+s.SKU+"@"+s.Warehouse ||
			s.AsOf.Before(epoch) || s.Source != schemas.SourceClarus {
			t.Fatalf("snapshot %+v", s)
		}
	}
	calls := e.api.all("/graphql")
	if len(calls) != 3 || e.api.count("/oauth/token", 200) != 1 {
		t.Fatalf("%d graphql calls, %d tokens", len(calls), e.api.count("/oauth/token", 200))
	}
	if !strings.Contains(calls[0].Body, `"after":null`) || strings.Contains(calls[1].Body, `"after":null`) {
		t.Fatalf("pagination variables: %s / %s", calls[0].Body, calls[1].Body)
	}
	curs := e.cursors()
	if len(curs) != 3 || !curs[0].InProgress || curs[0].After == "" || curs[2].InProgress || curs[2].HighWater.IsZero() ||
		curs[2].Balances != 250 || curs[2].SnapshotID != st.SnapshotID {
		t.Fatalf("cursors %+v", curs)
	}
}

// latest keeps the newest snapshot of each key.
func latest(snaps []schemas.StockSnapshot) []schemas.StockSnapshot {
	by := map[string]schemas.StockSnapshot{}
	for _, s := range snaps {
		k := schemas.StockKey(s.SKU, s.Warehouse)
		if old, ok := by[k]; !ok || s.AsOf.After(old.AsOf) {
			by[k] = s
		}
	}
	out := make([]schemas.StockSnapshot, 0, len(by))
	for _, s := range by {
		out = append(out, s)
	}
	return out
}

func TestSweepIncrementalThenFull(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{}, nil)
	e.receive(250)
	e.clock.Advance(10 * time.Second) // past the overlap: the set-up is not "recent" for the next sweep
	s := e.sweeper(e.clock)
	ctx := context.Background()
	if st, err := s.Sweep(ctx); err != nil || !st.Full || st.Balances != 250 {
		t.Fatalf("first sweep %+v %v", st, err)
	}
	e.clock.Advance(5 * time.Minute)
	for _, ev := range []clarussim.Event{
		{Type: "adjust", SKU: "SKU-0007", Warehouse: "WH1", Quantity: 3},
		{Type: "hold", SKU: "SKU-0100", Warehouse: "WH1", Quantity: 2},
		{Type: "allocate", SKU: "SKU-0200", Warehouse: "WH1", Quantity: 1},
		{Type: "receive", SKU: "SKU-0001", Warehouse: "WH2", Quantity: 4}, // a new balance
	} {
		if _, err := e.sim.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Sweep(ctx)
	if err != nil || st.Full || st.Balances != 4 || st.Pages != 1 {
		t.Fatalf("incremental sweep %+v %v", st, err)
	}
	calls := e.api.all("/graphql")
	if body := calls[len(calls)-1].Body; !strings.Contains(body, `"filter":{"updated_at":{"gt":"2026-03-02T09:00:09`) {
		t.Fatalf("incremental filter: %s", body)
	}
	e.matchTruth(latest(e.snapshots()))

	e.clock.Advance(time.Hour)
	if st, err := s.Sweep(ctx); err != nil || !st.Full || st.Balances != 251 {
		t.Fatalf("hourly full sweep %+v %v", st, err)
	}
	e.matchTruth(latest(e.snapshots()))
}

func TestSweepResumesAfterRestart(t *testing.T) {
	var served atomic.Int32
	var down atomic.Bool
	e := newSweepEnv(t, clarussim.Config{}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/graphql" {
				if down.Load() {
					http.Error(w, `{"error":"Internal Server Error"}`, http.StatusInternalServerError)
					return
				}
				if served.Add(1) == 2 {
					down.Store(true) // Clarus fails after serving the second page
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	e.receive(250)
	ctx := context.Background()
	first := e.sweeper(e.clock)
	st, err := first.Sweep(ctx)
	if err == nil || st.Pages != 2 {
		t.Fatalf("first run: %+v %v, want a failure after 2 pages", st, err)
	}
	if n := len(e.snapshots()); n != 200 {
		t.Fatalf("%d snapshots committed before the failure, want 200", n)
	}
	curs := e.cursors()
	mid := curs[len(curs)-1]
	if !mid.InProgress || mid.Pages != 2 || mid.After == "" {
		t.Fatalf("committed cursor %+v", mid)
	}
	first.Close() // the process dies

	down.Store(false)
	before := len(e.api.all("/graphql"))
	second := e.sweeper(e.clock)
	st2, err := second.Sweep(ctx)
	if err != nil || !st2.Resumed || st2.Pages != 1 || st2.Balances != 50 || st2.SnapshotID != mid.SnapshotID {
		t.Fatalf("resumed sweep %+v %v (cursor %+v)", st2, err, mid)
	}
	if body := e.api.all("/graphql")[before].Body; !strings.Contains(body, `"after":"`+mid.After+`"`) {
		t.Fatalf("resumed without the cursor: %s", body)
	}
	snaps := e.snapshots()
	e.matchTruth(snaps)
	for _, s := range snaps {
		if s.SnapshotID != mid.SnapshotID {
			t.Fatalf("snapshot id %s, want %s", s.SnapshotID, mid.SnapshotID)
		}
	}
}

func TestSweepAbortedCommitLeavesNothing(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{}, nil)
	e.receive(150)
	var commits atomic.Int32
	e.kafka.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.EndTxnRequest)
		if !r.Commit || commits.Add(1) > 1 {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.UnknownServerError.Code // outcome unknown: the sweep must abort
		return resp, nil, true
	})
	s := e.sweeper(e.clock)
	ctx := context.Background()
	if _, err := s.Sweep(ctx); err == nil {
		t.Fatal("sweep succeeded through a failed commit")
	}
	if n, c := len(e.snapshots()), len(e.cursors()); n != 0 || c != 0 {
		t.Fatalf("%d snapshots and %d cursors visible after an aborted transaction", n, c)
	}
	st, err := s.Sweep(ctx)
	if err != nil || st.Resumed || st.Balances != 150 {
		t.Fatalf("second sweep %+v %v", st, err)
	}
	e.matchTruth(e.snapshots())
}
