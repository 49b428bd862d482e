package prima_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/clock"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// sinkEnv is a sink on kfake in front of a scripted simulator, with a
// source polling the simulator directly (not through the script) to fill
// prima.items and prima.stock-levels, and optionally the parity check.
type sinkEnv struct {
	t      *testing.T
	clock  *fakeClock  // nil when the env runs on a manual clock
	manual *clock.Fake // nil when the env runs on a fakeClock
	sim    *primasim.Server
	script *script
	kopts  []kgo.Opt
	serde  *schemas.Serde
	reg    *prometheus.Registry
	met    *prima.Metrics
	cfg    prima.Config
	direct string          // the simulator's URL without the script
	offset map[int32]int64 // next offset per partition, as produced
	src    *prima.Source
	levels int // stock level events the source produced
	ready  map[string]*readiness
}

// newSinkEnv runs on a fakeClock: every wait passes at once.
func newSinkEnv(t *testing.T, partitions int32, skus ...string) *sinkEnv {
	c := newClock()
	e := newEnv(t, partitions, c, c.Now, skus...)
	e.clock = c
	return e
}

// newManualEnv runs on a clock.Fake: time moves when the test says.
func newManualEnv(t *testing.T, skus ...string) *sinkEnv {
	c := clock.NewFake(epoch)
	e := newEnv(t, 1, c, c.Now, skus...)
	e.manual = c
	return e
}

// newEnv adds each sku as a stock item mapped to the Clarus code codeOf(sku).
func newEnv(t *testing.T, partitions int32, clk clock.Clock, now func() time.Time, skus ...string) *sinkEnv {
	t.Helper()
	e := &sinkEnv{t: t, kopts: newKafka(t, partitions), serde: schemas.NewSerde(schemas.NewMemRegistry()),
		reg: prometheus.NewRegistry(), offset: map[int32]int64{}, ready: map[string]*readiness{}}
	e.met = prima.NewMetrics(e.reg)
	e.sim = primasim.New(primasim.Options{Clock: now})
	for _, sku := range skus {
		if err := e.sim.Apply(primasim.Event{Type: "add_item", SKU: sku, ClarusCode: ptr(codeOf(sku))}); err != nil {
			t.Fatal(err)
		}
	}
	e.script = &script{sim: e.sim, calls: map[string]int{}}
	srv := httptest.NewServer(e.script)
	t.Cleanup(srv.Close)
	direct := httptest.NewServer(e.sim)
	t.Cleanup(direct.Close)
	e.direct = direct.URL
	e.cfg = testConfig(srv.URL)
	e.cfg.DownAfter = 100 // tests about going down lower it
	src, err := prima.NewSource(testConfig(e.direct), newClient(t, testConfig(e.direct)), e.serde,
		prima.Options{Clock: clk, TransactionalID: "test-source"}, e.kopts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	e.src = src
	return e
}

func (e *sinkEnv) clk() clock.Clock {
	if e.manual != nil {
		return e.manual
	}
	return e.clock
}

// codeOf is the Clarus product code the env maps a Prima SKU to.
func codeOf(sku string) string { return "C-" + strings.ReplaceAll(sku, "/", "-") }

// pollPrima runs one source poll: Prima's items and levels reach Kafka.
func (e *sinkEnv) pollPrima() prima.PollStats {
	e.t.Helper()
	st, err := e.src.Poll(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	e.levels += st.StockLevels
	return st
}

// options are a component's, with its readiness recorded under name (the
// last component started under that name).
func (e *sinkEnv) options(name string) (prima.Options, *readiness) {
	r := &readiness{}
	e.ready[name] = r
	return prima.Options{Clock: e.clk(), Metrics: e.met, Seed: 1, SetReady: r.set}, r
}

// start polls Prima's item master into Kafka and runs a sink until the
// test ends or the returned stop is called.
func (e *sinkEnv) start() (stop func()) {
	e.t.Helper()
	e.pollPrima()
	return e.startSink()
}

// startSink runs a sink on what Kafka holds, polling nothing.
func (e *sinkEnv) startSink() (stop func()) {
	e.t.Helper()
	o, r := e.options("sink")
	sink, err := prima.NewSink(e.cfg, newClient(e.t, e.cfg), e.serde, o, e.kopts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.run("sink", r, sink.Run)
}

// startParity runs the parity check until the test ends or the returned
// stop is called.
func (e *sinkEnv) startParity() (stop func()) {
	e.t.Helper()
	o, r := e.options("parity")
	p, err := prima.NewParity(e.cfg, e.serde, o, e.kopts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.run("parity", r, p.Run)
}

func (e *sinkEnv) run(name string, r *readiness, run func(context.Context) error) (stop func()) {
	return runComponent(e.t, name, r, run)
}

// runComponent runs a component until the test ends or the returned stop
// is called, which fails the test if Run failed or left it ready.
func runComponent(t testing.TB, name string, r *readiness, run func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("%s: %v", name, err)
			}
			if r.ready() {
				t.Errorf("%s still ready after Run returned: %v", name, r.history())
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func command(ref, warehouse string, lines ...schemas.PrimaStockLine) schemas.PrimaStockCommand {
	return commandAt(ref, warehouse, epoch, lines...)
}

// commandAt is a command of the Clarus levels as they were at asOf.
func commandAt(ref, warehouse string, asOf time.Time, lines ...schemas.PrimaStockLine) schemas.PrimaStockCommand {
	return schemas.PrimaStockCommand{
		Meta:     schemas.Meta{EventID: "cmd:" + ref, Source: schemas.SourceLockstep, OccurredAt: asOf, IngestedAt: asOf},
		BatchRef: ref, Warehouse: warehouse, AsOf: asOf, Lines: lines,
	}
}

// line is a command line for the Clarus product the env maps sku to.
func line(sku string, n int64) schemas.PrimaStockLine {
	return schemas.PrimaStockLine{SKU: codeOf(sku), Available: n}
}

// cline is a command line for a Clarus code as it is.
func cline(code string, n int64) schemas.PrimaStockLine {
	return schemas.PrimaStockLine{SKU: code, Available: n}
}

// produce writes commands keyed by warehouse, as the stock processor does.
func (e *sinkEnv) produce(cmds ...schemas.PrimaStockCommand) []*kgo.Record {
	e.t.Helper()
	var recs []*kgo.Record
	for _, c := range cmds {
		v, err := e.serde.Encode(context.Background(), &c)
		if err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: schemas.TopicCmdPrimaStock, Key: []byte(c.Warehouse), Value: v})
	}
	return e.produceRaw(recs...)
}

func (e *sinkEnv) produceRaw(recs ...*kgo.Record) []*kgo.Record {
	e.t.Helper()
	return produceTo(e.t, e.kopts, e.offset, recs...)
}

// produceTo produces recs, noting in offset the next offset of each
// partition they went to.
func produceTo(t testing.TB, kopts []kgo.Opt, offset map[int32]int64, recs ...*kgo.Record) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		offset[r.Partition] = r.Offset + 1
	}
	return recs
}

// waitCommitted waits until the group has committed everything produced.
func (e *sinkEnv) waitCommitted() {
	e.t.Helper()
	waitGroupCommitted(e.t, e.kopts, prima.SinkGroup, schemas.TopicCmdPrimaStock, e.offset)
}

// waitGroupCommitted waits until group has committed offset (the next
// offset per partition) on topic.
func waitGroupCommitted(t testing.TB, kopts []kgo.Opt, group, topic string, offset map[int32]int64) {
	t.Helper()
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	waitFor(t, group+" to commit every record of "+topic, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false
		}
		for p, want := range offset {
			if o, ok := offs.Lookup(topic, p); !ok || o.At != want {
				return false
			}
		}
		return true
	})
}
