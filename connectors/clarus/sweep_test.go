package clarus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
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

// sweepEnv is a simulated Clarus, in strict mode, whose automations post
// to a running receiver, and the Kafka both produce to.
type sweepEnv struct {
	t     *testing.T
	kafka *kfake.Cluster
	clock *fakeClock
	sim   *clarussim.Sim
	api   *apiLog
	cfg   clarus.Config
	opts  []kgo.Opt
	serde *schemas.Serde
	hooks string  // the receiver's URL
	hook  *apiLog // the webhooks the receiver answered, with their bodies
}

func newSweepEnv(t *testing.T, simCfg clarussim.Config, mw func(http.Handler) http.Handler) *sweepEnv {
	t.Helper()
	return newSweepEnvWith(t, simCfg, mw, nil)
}

// newSweepEnvWith is newSweepEnv with the configuration changed by mod
// before the receiver is built.
func newSweepEnvWith(t *testing.T, simCfg clarussim.Config, mw func(http.Handler) http.Handler, mod func(*clarus.Config)) *sweepEnv {
	t.Helper()
	e := &sweepEnv{t: t, clock: newClock(), api: &apiLog{}, hook: &apiLog{}, serde: schemas.NewSerde(schemas.NewMemRegistry())}
	e.kafka, e.opts = newKafka(t)
	wrap := func(h http.Handler) http.Handler {
		if mw != nil {
			h = mw(h)
		}
		return e.api.wrap(h)
	}
	sim, srv := newSim(t, e.clock, simCfg, wrap)
	e.sim, e.cfg = sim, testConfig(srv.URL)
	e.cfg.WebhookMaxBytes = 1 << 20
	if mod != nil {
		mod(&e.cfg)
	}
	setReady, ready := readiness()
	o := clarus.Options{Clock: e.clock, SetReady: setReady}
	rcv, err := clarus.NewReceiver(e.cfg, clarus.NewClient(e.cfg, o), e.serde, o, e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	runReceiver(t, rcv, ready)
	mux := http.NewServeMux()
	rcv.Register(mux)
	hooks := httptest.NewServer(e.hook.wrap(mux))
	t.Cleanup(hooks.Close)
	e.hooks = hooks.URL
	for _, a := range clarussim.DefaultAutomations(hooks.URL + "/webhooks/clarus/" + testToken) {
		sim.AddAutomation(a)
	}
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

// deliver delivers every webhook Clarus has queued.
func (e *sweepEnv) deliver() {
	e.t.Helper()
	if st := e.sim.DeliverWebhooks(context.Background()); st.GaveUp != 0 || st.Pending != 0 {
		e.t.Fatalf("webhooks not delivered: %+v", st)
	}
}

func (e *sweepEnv) apply(evs ...clarussim.Event) {
	e.t.Helper()
	for _, ev := range evs {
		if _, err := e.sim.Apply(ev); err != nil {
			e.t.Fatal(err)
		}
	}
}

// receive creates n balances, SKU-0001..n in WH1, with distinct quantities.
func (e *sweepEnv) receive(n int) {
	e.t.Helper()
	var lines []clarussim.Line
	for i := 1; i <= n; i++ {
		lines = append(lines, clarussim.Line{SKU: fmt.Sprintf("SKU-%04d", i), Quantity: int64(i)})
	}
	e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", Lines: lines})
}

// snapshots returns the committed snapshots, checking their keys.
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

// latest keeps the newest snapshot of each key.
func latest(snaps []schemas.StockSnapshot) []schemas.StockSnapshot {
	by := map[string]schemas.StockSnapshot{}
	for _, s := range snaps {
		k := schemas.StockKey(s.SKU, s.Warehouse)
		if old, ok := by[k]; !ok || !s.AsOf.Before(old.AsOf) {
			by[k] = s
		}
	}
	out := make([]schemas.StockSnapshot, 0, len(by))
	for _, s := range by {
		out = append(out, s)
	}
	return out
}

func TestSweepPaginates(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{}, nil)
	e.receive(250)
	e.apply(clarussim.Event{Type: "hold", SKU: "SKU-0007", Warehouse: "WH1", Quantity: 2},
		clarussim.Event{Type: "allocate", SKU: "SKU-0009", Warehouse: "WH1", Quantity: 3})
	st, err := e.sweeper(e.clock).Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Full || st.Pages != 3 || st.Balances != 250 || st.Resumed || st.Retried != 0 {
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
	// The warehouses are checked, then each page is read, its held stock
	// read, the page read again and its held stock again.
	calls := e.api.all("/graphql")
	if len(calls) != 1+3*4 || !strings.Contains(calls[0].Body, "LockstepWarehouses") {
		t.Fatalf("%d graphql calls: %v", len(calls), calls)
	}
	if !strings.Contains(calls[1].Body, `"after":null`) || !strings.Contains(calls[5].Body, `"after":"`) ||
		!strings.Contains(calls[2].Body, `"status":{"eq":"held"}`) || !strings.Contains(calls[4].Body, `"status":{"eq":"held"}`) {
		t.Fatalf("pagination variables: %s / %s", calls[1].Body, calls[5].Body)
	}
	curs := e.cursors()
	if len(curs) != 3 || !curs[0].InProgress || curs[0].After == "" || curs[2].InProgress || curs[2].Offsets == nil ||
		curs[2].Balances != 250 || curs[2].SnapshotID != st.SnapshotID {
		t.Fatalf("cursors %+v", curs)
	}
}

func TestSweepIncrementalReadsTouchedKeys(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{}, nil)
	e.receive(250)
	e.deliver()
	s := e.sweeper(e.clock)
	ctx := context.Background()
	if st, err := s.Sweep(ctx); err != nil || !st.Full || st.Balances != 250 {
		t.Fatalf("first sweep %+v %v", st, err)
	}
	if st, err := s.Sweep(ctx); err != nil || st.Full || st.Keys != 0 || st.Pages != 0 {
		t.Fatalf("a sweep with nothing touched: %+v %v", st, err)
	}
	e.clock.Advance(5 * time.Minute)
	e.apply(
		clarussim.Event{Type: "adjust", SKU: "SKU-0007", Warehouse: "WH1", Quantity: 3},
		clarussim.Event{Type: "hold", SKU: "SKU-0100", Warehouse: "WH1", Quantity: 2},
		clarussim.Event{Type: "receive", SKU: "SKU-0001", Warehouse: "WH2", Quantity: 4},  // a new balance
		clarussim.Event{Type: "allocate", SKU: "SKU-0200", Warehouse: "WH1", Quantity: 1}, // no webhook
	)
	e.deliver()
	before := len(e.api.all("/graphql"))
	st, err := s.Sweep(ctx)
	if err != nil || st.Full || st.Keys != 3 || st.Pages != 1 || st.Retried != 0 {
		t.Fatalf("incremental sweep %+v %v", st, err)
	}
	calls := e.api.all("/graphql")[before:]
	if !strings.Contains(calls[0].Body, `"product_code":{"in":["SKU-0001","SKU-0007","SKU-0100"]}`) {
		t.Fatalf("incremental filter: %s", calls[0].Body)
	}
	var got []string
	for _, sn := range e.snapshots() {
		if sn.SnapshotID == st.SnapshotID {
			got = append(got, schemas.StockKey(sn.SKU, sn.Warehouse))
		}
	}
	slices.Sort(got)
	// SKU-0001 is read in both warehouses: the filter is by product.
	if want := []string{"SKU-0001@WH1", "SKU-0001@WH2", "SKU-0007@WH1", "SKU-0100@WH1"}; !slices.Equal(got, want) {
		t.Fatalf("incremental snapshots %v, want %v", got, want)
	}
	// An allocation sends no webhook: the full sweep brings it.
	snaps := latest(e.snapshots())
	for _, sn := range snaps {
		if sn.SKU == "SKU-0200" && sn.Allocated != 0 {
			t.Fatalf("an allocation reached an incremental sweep: %+v", sn)
		}
	}
	e.clock.Advance(time.Hour)
	if st, err := s.Sweep(ctx); err != nil || !st.Full || st.Balances != 251 {
		t.Fatalf("hourly full sweep %+v %v", st, err)
	}
	e.matchTruth(latest(e.snapshots()))
}

// A key whose balance moves between the page read and its confirmation is
// not snapshotted, and is read again by the next sweep.
func TestSweepRetriesMovingKeys(t *testing.T) {
	var e *sweepEnv
	var calls atomic.Int32
	e = newSweepEnv(t, clarussim.Config{}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			// The warehouses, the page, the held stock: then a hold lands,
			// before the page is read again.
			if r.URL.Path == "/graphql" && calls.Add(1) == 3 {
				e.apply(clarussim.Event{Type: "hold", SKU: "SKU-0002", Warehouse: "WH1", Quantity: 1})
			}
		})
	})
	e.receive(5)
	e.deliver()
	s := e.sweeper(e.clock)
	st, err := s.Sweep(context.Background())
	if err != nil || st.Retried != 1 || st.Balances != 4 {
		t.Fatalf("sweep %+v %v", st, err)
	}
	if cur := s.Cursor(); !slices.Equal(cur.Retry, []string{"SKU-0002@WH1"}) {
		t.Fatalf("cursor retry %v", cur.Retry)
	}
	e.deliver() // the hold's webhook
	st, err = s.Sweep(context.Background())
	if err != nil || st.Full || st.Keys != 1 || st.Balances != 1 {
		t.Fatalf("next sweep %+v %v", st, err)
	}
	e.matchTruth(latest(e.snapshots()))
}

// A hold and its release both between the two balance reads leave the
// balance equal, while the held read between them saw the hold: the key is
// not snapshotted (on hand would count the held stock twice), because its
// held stock, read again, differs.
func TestSweepRetriesTornHeldRead(t *testing.T) {
	var e *sweepEnv
	var calls atomic.Int32
	e = newSweepEnv(t, clarussim.Config{}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The warehouses, the page: then a hold lands before the held
			// read, and its release after it, before the page is read again.
			n := int32(0)
			if r.URL.Path == "/graphql" {
				n = calls.Add(1)
			}
			if n == 3 {
				e.apply(clarussim.Event{Type: "hold", SKU: "SKU-0002", Warehouse: "WH1", Quantity: 1})
			}
			next.ServeHTTP(w, r)
			if n == 3 {
				e.apply(clarussim.Event{Type: "release", SKU: "SKU-0002", Warehouse: "WH1", Quantity: 1})
			}
		})
	})
	e.receive(5)
	e.deliver()
	s := e.sweeper(e.clock)
	st, err := s.Sweep(context.Background())
	if err != nil || st.Retried != 1 || st.Balances != 4 {
		t.Fatalf("sweep %+v %v: want SKU-0002@WH1 retried, not snapshotted", st, err)
	}
	if cur := s.Cursor(); !slices.Equal(cur.Retry, []string{"SKU-0002@WH1"}) {
		t.Fatalf("cursor retry %v", cur.Retry)
	}
	for _, sn := range e.snapshots() {
		if sn.SKU == "SKU-0002" && sn.Warehouse == "WH1" {
			t.Fatalf("torn snapshot %+v", sn)
		}
	}
}

func TestSweepChecksWarehouses(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{}, nil)
	e.receive(3)
	e.cfg.Warehouses = map[string]string{"1": "WH1", "2": "WH3"}
	_, err := e.sweeper(e.clock).Sweep(context.Background())
	if err == nil || !strings.Contains(err.Error(), "LOCKSTEP_CLARUS_WAREHOUSES does not match Clarus: warehouse WH3 is id 3 in Clarus, not 2") {
		t.Fatalf("got %v", err)
	}
	if n := len(e.snapshots()); n != 0 {
		t.Fatalf("%d snapshots after a failed check", n)
	}
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
				if served.Add(1) == 1+2*4 { // the warehouses check, then 4 requests a page
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
