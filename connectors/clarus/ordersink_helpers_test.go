package clarus_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
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

// orderEnv is the order sink on kfake in front of the simulator, on a
// fakeClock (every wait passes at once, and is recorded).
type orderEnv struct {
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
	// dropCreates is how many goods-out creations still to apply and then
	// answer with a dropped connection: the write done, the answer lost.
	dropCreates atomic.Int32
	// blindLookups makes goods-out look-ups answer as if nothing existed
	// (the look-up disabled), to show what it guards against.
	blindLookups atomic.Bool
	// called is poked after every call the simulator answered.
	called chan struct{}
}

// newOrderEnv has Clarus products for codes, with stock in WH1.
func newOrderEnv(t *testing.T, codes ...string) *orderEnv {
	t.Helper()
	e := &orderEnv{t: t, clock: newClock(), log: &apiLog{}, serde: schemas.NewSerde(schemas.NewMemRegistry()),
		reg: prometheus.NewRegistry(), ready: &readyLog{}, called: make(chan struct{}, 1)}
	e.met = clarus.NewMetrics(e.reg)
	sim, srv := newSim(t, e.clock, clarussim.Config{}, func(h http.Handler) http.Handler { return e.tamper(e.log.wrap(h)) })
	e.sim = sim
	for _, c := range codes {
		if _, err := sim.Apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: c, Quantity: 10}); err != nil {
			t.Fatal(err)
		}
	}
	e.cfg = testConfig(srv.URL)
	e.cfg.AccountID = "1"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1),
		kfake.SeedTopics(2, schemas.TopicCmdClarusOrders),
		kfake.SeedTopics(1, schemas.TopicOrderAcks, schemas.TopicDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	e.kopts = []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	return e
}

// tamper drops answers of creations that were applied, and blinds
// look-ups, as the test asks.
func (e *orderEnv) tamper(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			select {
			case e.called <- struct{}{}:
			default:
			}
		}()
		if r.Method == http.MethodPost && r.URL.Path == "/api/goods_outs" && e.dropCreates.Add(-1) >= 0 {
			next.ServeHTTP(httptest.NewRecorder(), r)
			panic(http.ErrAbortHandler) // the connection drops without an answer
		}
		if e.blindLookups.Load() && r.URL.Path == "/graphql" {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.String()
			if firstRoot(body) == "goods_outs" {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"data":{"goods_outs":{"all":{"edges":[],"pageInfo":{"hasNextPage":false,"endCursor":null}}}}}`))
				return
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// nextCall waits until the simulator has answered another call.
func (e *orderEnv) nextCall() {
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
	var recs []*kgo.Record
	for _, c := range cmds {
		v, err := e.serde.Encode(context.Background(), c)
		if err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: schemas.TopicCmdClarusOrders, Key: []byte(c.OrderRef), Value: v})
	}
	e.produce(recs...)
}

func (e *orderEnv) produce(recs ...*kgo.Record) {
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

// start runs an order sink until the test ends or stop is called, and
// waits until it has joined its group.
func (e *orderEnv) start() (stop func()) {
	e.t.Helper()
	api := clarus.NewClient(e.cfg, clarus.Options{Clock: e.clock})
	sink, err := clarus.NewOrderSink(e.cfg, api, e.serde, clarus.Options{Clock: e.clock, Metrics: e.met, SetReady: e.ready.set,
		TransactionalID: "test-orders"}, e.kopts...)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("order sink: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

// waitAcks waits until n acks are committed and returns them in order.
func (e *orderEnv) waitAcks(n int) []schemas.OrderAck {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(append(slices.Clone(e.kopts), kgo.ConsumeTopics(schemas.TopicOrderAcks),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	var out []schemas.OrderAck
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("%d acks of %d after 30s: %+v; Clarus calls %v", len(out), n, out, e.log.paths())
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, e.decodeAck(r)) })
	}
	return out
}

// acks reads every committed ack: after stop, to see that there are no
// more than waitAcks waited for.
func (e *orderEnv) acks() []schemas.OrderAck {
	e.t.Helper()
	var out []schemas.OrderAck
	for _, r := range committed(e.t, e.kopts, schemas.TopicOrderAcks) {
		out = append(out, e.decodeAck(r))
	}
	return out
}

func (e *orderEnv) decodeAck(r *kgo.Record) schemas.OrderAck {
	e.t.Helper()
	var a schemas.OrderAck
	if err := e.serde.Decode(context.Background(), r.Value, &a); err != nil {
		e.t.Fatal(err)
	}
	if string(r.Key) != a.OrderRef {
		e.t.Fatalf("ack of %s keyed %q", a.OrderRef, r.Key)
	}
	return a
}

// ackOf returns the one ack of ref's action.
func ackOf(t *testing.T, acks []schemas.OrderAck, ref string, action schemas.ClarusOrderAction) schemas.OrderAck {
	t.Helper()
	var found []schemas.OrderAck
	for _, a := range acks {
		if a.OrderRef == ref && a.Action == action {
			found = append(found, a)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s acks of %s in %+v", len(found), action, ref, acks)
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

func (e *orderEnv) apply(evs ...clarussim.Event) {
	e.t.Helper()
	for _, ev := range evs {
		if _, err := e.sim.Apply(ev); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *orderEnv) metric(name string, labels ...string) float64 {
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
