package clarus_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/connectors/metricstest"
	"github.com/lockstep-dev/lockstep/schemas"
)

// sinkEnv is a command sink on kfake in front of the simulator, on a
// fakeClock (every wait passes at once, and is recorded): what the order
// and receipt sinks' tests share.
type sinkEnv struct {
	t     *testing.T
	clock *fakeClock
	sim   *clarussim.Sim
	log   *apiLog
	cfg   clarus.Config
	kopts []kgo.Opt
	serde *schemas.Serde
	reg   *prometheus.Registry
	met   *clarus.Metrics
	ready *readyLog
	// dropCreates is how many creations (POST createPath) still to apply
	// and then answer with a dropped connection: the write done, the
	// answer lost. dropUpdates does the same to updates (PATCH
	// createPath/{id}).
	dropCreates, dropUpdates atomic.Int32
	// onCreate, when set, is called once a creation was applied, before
	// its answer is lost (dropCreates) or sent.
	onCreate atomic.Pointer[func()]
	// cancel ends the sink run started last, without waiting for it.
	cancel atomic.Pointer[context.CancelFunc]
	// blindLookups makes the look-ups (GraphQL lookupRoot) answer as if
	// nothing existed (the look-up disabled), to show what it guards
	// against.
	blindLookups atomic.Bool
	// called is poked after every call the simulator answered.
	called                 chan struct{}
	createPath, lookupRoot string
}

// newSinkEnv starts the simulator (configured by simCfg) and a kfake
// cluster with cmdTopic (two partitions) and ackTopic and the DLQ (one).
func newSinkEnv(t *testing.T, simCfg clarussim.Config, cmdTopic, ackTopic, createPath, lookupRoot string) *sinkEnv {
	t.Helper()
	e := &sinkEnv{t: t, clock: newClock(), log: &apiLog{}, serde: schemas.NewSerde(schemas.NewMemRegistry()),
		reg: prometheus.NewRegistry(), ready: &readyLog{}, called: make(chan struct{}, 1), createPath: createPath, lookupRoot: lookupRoot}
	e.met = clarus.NewMetrics(e.reg)
	sim, srv := newSim(t, e.clock, simCfg, func(h http.Handler) http.Handler { return e.tamper(e.log.wrap(h)) })
	e.sim = sim
	e.cfg = testConfig(srv.URL)
	e.cfg.AccountID = "1"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1),
		kfake.SeedTopics(2, cmdTopic), kfake.SeedTopics(1, ackTopic, schemas.TopicDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e.kopts = []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	return e
}

// orderEnv is the order sink's sinkEnv.
type orderEnv struct{ *sinkEnv }

// newOrderEnv has Clarus products for codes, with stock in WH1.
func newOrderEnv(t *testing.T, codes ...string) *orderEnv {
	t.Helper()
	e := &orderEnv{newSinkEnv(t, clarussim.Config{}, schemas.TopicCmdClarusOrders, schemas.TopicOrderAcks, "/api/goods_outs", "goods_outs")}
	for _, c := range codes {
		e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: c, Quantity: 10})
	}
	return e
}

// tamper drops answers of creations that were applied, and blinds
// look-ups, as the test asks.
func (e *sinkEnv) tamper(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			select {
			case e.called <- struct{}{}:
			default:
			}
		}()
		if r.Method == http.MethodPost && r.URL.Path == e.createPath {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			if f := e.onCreate.Load(); f != nil && rec.Code == http.StatusCreated {
				(*f)()
			}
			if e.dropCreates.Add(-1) >= 0 {
				panic(http.ErrAbortHandler) // the connection drops without an answer
			}
			copyAnswer(w, rec)
			return
		}
		if r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, e.createPath+"/") && e.dropUpdates.Add(-1) >= 0 {
			next.ServeHTTP(httptest.NewRecorder(), r)
			panic(http.ErrAbortHandler)
		}
		if e.blindLookups.Load() && r.URL.Path == "/graphql" {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.String()
			if firstRoot(body) == e.lookupRoot {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"data":{"` + e.lookupRoot + `":{"all":{"edges":[],"pageInfo":{"hasNextPage":false,"endCursor":null}}}}}`))
				return
			}
			copyAnswer(w, rec)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// copyAnswer sends what rec recorded.
func copyAnswer(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// nextCall waits until the simulator has answered another call.
func (e *sinkEnv) nextCall() {
	e.t.Helper()
	select {
	case <-e.called:
	case <-time.After(20 * time.Second):
		e.t.Fatalf("no call to Clarus for 20s; calls so far %v", e.log.paths())
	}
}

// firstRoot is the first key under data in a GraphQL answer.
func firstRoot(body string) string {
	const p = `{"data":{"`
	if len(body) < len(p) || body[:len(p)] != p {
		return ""
	}
	rest := body[len(p):]
	for i := range rest {
		if rest[i] == '"' {
			return rest[:i]
		}
	}
	return ""
}

var lineNo atomic.Int32

// line is a command line for Clarus code code.
func line(code string, qty int64) schemas.ClarusLine {
	return schemas.ClarusLine{LineNo: int(lineNo.Add(1)), SKU: "P-" + code, ClarusCode: code, Quantity: qty}
}

func command(ref string, version int64, action schemas.ClarusOrderAction, lines ...schemas.ClarusLine) *schemas.ClarusOrderCommand {
	line2 := "Flat 2"
	return &schemas.ClarusOrderCommand{
		Meta:     schemas.Meta{EventID: fmt.Sprintf("orders:%s:v%d:%s", ref, version, action), Source: schemas.SourceLockstep, OccurredAt: epoch, IngestedAt: epoch},
		OrderRef: ref, OrderVersion: version, Action: action, Warehouse: "WH1",
		Delivery: &schemas.DeliveryAddress{Name: "Ada Lovelace", Line1: "1 Analytical St", Line2: &line2, City: "London", Postcode: "N1 1AA", CountryCode: "GB"},
		Lines:    lines,
	}
}

func create(ref string, version int64, lines ...schemas.ClarusLine) *schemas.ClarusOrderCommand {
	return command(ref, version, schemas.ClarusOrderCreate, lines...)
}

func cancel(ref string, version int64) *schemas.ClarusOrderCommand {
	return command(ref, version, schemas.ClarusOrderCancel)
}

// send produces commands, keyed by order ref.
func (e *orderEnv) send(cmds ...*schemas.ClarusOrderCommand) {
	e.t.Helper()
	for _, c := range cmds {
		e.sendCommand(schemas.TopicCmdClarusOrders, c.OrderRef, c)
	}
}

// sendCommand produces one command to topic.
func (e *sinkEnv) sendCommand(topic, key string, cmd schemas.Event) {
	e.t.Helper()
	v, err := e.serde.Encode(context.Background(), cmd)
	if err != nil {
		e.t.Fatal(err)
	}
	e.produce(&kgo.Record{Topic: topic, Key: []byte(key), Value: v})
}

func (e *sinkEnv) produce(recs ...*kgo.Record) {
	e.t.Helper()
	cl, err := kgo.NewClient(e.kopts...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
}

// start runs an order sink until the test ends or stop is called.
func (e *orderEnv) start() (stop func()) {
	e.t.Helper()
	api := clarus.NewClient(e.cfg, clarus.Options{Clock: e.clock})
	sink, err := clarus.NewOrderSink(e.cfg, api, e.serde, e.options("test-orders"), e.kopts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.run(sink.Run)
}

// options are the sink's, with transactional id txid.
func (e *sinkEnv) options(txid string) clarus.Options {
	return clarus.Options{Clock: e.clock, Metrics: e.met, SetReady: e.ready.set, TransactionalID: txid}
}

// run runs a sink until the test ends or stop is called.
func (e *sinkEnv) run(run func(context.Context) error) (stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel.Store(&cancel)
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("sink: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

// waitAcks waits until n acks are committed and returns them in order.
func (e *orderEnv) waitAcks(n int) []schemas.OrderAck {
	e.t.Helper()
	return decodeAll(e.sinkEnv, e.waitRecords(schemas.TopicOrderAcks, n), orderAckKey)
}

// acks reads every committed ack: after stop, to see that there are no
// more than waitAcks waited for.
func (e *orderEnv) acks() []schemas.OrderAck {
	e.t.Helper()
	return decodeAll(e.sinkEnv, committed(e.t, e.kopts, schemas.TopicOrderAcks), orderAckKey)
}

func orderAckKey(a *schemas.OrderAck) string { return a.OrderRef }

// waitRecords waits until n records of topic are committed and returns
// them in order.
func (e *sinkEnv) waitRecords(topic string, n int) []*kgo.Record {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(append(slices.Clone(e.kopts), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("%d records of %d on %s after 30s; Clarus calls %v", len(out), n, topic, e.log.paths())
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// decodeAll decodes acks, checking each is keyed by key(ack).
func decodeAll[A any, P interface {
	*A
	schemas.Event
}](e *sinkEnv, recs []*kgo.Record, key func(P) string) []A {
	e.t.Helper()
	out := make([]A, 0, len(recs))
	for _, r := range recs {
		a := P(new(A))
		if err := e.serde.Decode(context.Background(), r.Value, a); err != nil {
			e.t.Fatal(err)
		}
		if string(r.Key) != key(a) {
			e.t.Fatalf("ack of %s keyed %q", key(a), r.Key)
		}
		out = append(out, *a)
	}
	return out
}

// ackOf returns the one ack of ref's action.
func ackOf(t *testing.T, acks []schemas.OrderAck, ref string, action schemas.ClarusOrderAction) schemas.OrderAck {
	t.Helper()
	return onlyOne(t, acks, fmt.Sprintf("%s ack of %s", action, ref), func(a schemas.OrderAck) bool { return a.OrderRef == ref && a.Action == action })
}

// onlyOne returns the one item of items that match picks, failing the
// test when there is none, or several.
func onlyOne[T any](t *testing.T, items []T, what string, match func(T) bool) T {
	t.Helper()
	var found []T
	for _, it := range items {
		if match(it) {
			found = append(found, it)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d of the %s in %+v", len(found), what, items)
	}
	return found[0]
}

// orders returns the simulator's goods outs with reference ref.
func (e *orderEnv) orders(ref string) []clarussim.Order {
	var out []clarussim.Order
	for _, o := range e.sim.State().Orders {
		if o.Reference == ref {
			out = append(out, o)
		}
	}
	return out
}

func (e *sinkEnv) apply(evs ...clarussim.Event) {
	e.t.Helper()
	for _, ev := range evs {
		if _, err := e.sim.Apply(ev); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *sinkEnv) metric(name string, labels ...string) float64 {
	e.t.Helper()
	return metricstest.Value(e.t, e.reg, name, labels...)
}

func (l *apiLog) paths() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, c := range l.calls {
		out = append(out, fmt.Sprintf("%s %d", c.Path, c.Status))
	}
	return out
}

// readyLog records every readiness change.
type readyLog struct {
	mu  sync.Mutex
	log []bool
}

func (r *readyLog) set(ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, ok)
}

func (r *readyLog) history() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

func ptr[T any](v T) *T { return &v }
