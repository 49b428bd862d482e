package stock_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/processors/stock"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The helpers run the stock processor on an in-process kfake cluster with
// an injected clock; they follow processors/stream/harness_test.go.

// rig is one test's cluster, topics, serde, clock and processor config.
type rig struct {
	seeds  []string
	adm    *kadm.Client
	serde  *schemas.Serde
	prefix string
	now    atomic.Int64 // the injected clock, Unix milliseconds
	prod   *kgo.Client
	dir    string
	stock  stock.Config
	batch  int // MaxBatch

	movements, snapshots, open, levels, commands, drift, dlq string
}

func newRig(t testing.TB, partitions int32, prefix string, cfg stock.Config) *rig {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(int(partitions)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	r := &rig{seeds: c.ListenAddrs(), serde: schemas.NewSerde(schemas.NewMemRegistry()), prefix: prefix, dir: t.TempDir(), batch: 500}
	cfg.TopicPrefix = prefix
	r.stock = cfg
	r.movements, r.snapshots = prefix+schemas.TopicStockMovements, prefix+schemas.TopicStockSnapshots
	r.levels, r.commands, r.drift, r.dlq = prefix+schemas.TopicStockLevels, prefix+schemas.TopicCmdPrimaStock, prefix+schemas.TopicDrift, prefix+schemas.TopicDLQ
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	r.adm = kadm.NewClient(cl)
	// Outputs too, so that consumers can start before the processor.
	r.open = prefix + schemas.TopicOpenGoodsOut
	for _, topic := range []string{r.movements, r.snapshots, r.open, r.levels, r.commands, r.drift, r.dlq} {
		resp, err := r.adm.CreateTopic(context.Background(), partitions, 1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("create topic %s: %v", topic, err)
		}
	}
	r.prod, err = kgo.NewClient(kgo.SeedBrokers(r.seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.prod.Close)
	return r
}

func (r *rig) setClock(t time.Time) { r.now.Store(t.UnixMilli()) }

func (r *rig) config(t testing.TB, reg prometheus.Registerer) stream.Config {
	t.Helper()
	topo, err := stock.Topology(r.stock, r.serde)
	if err != nil {
		t.Fatal(err)
	}
	return stream.Config{
		Topology:         topo,
		StateDir:         r.dir,
		InstanceID:       "a",
		TopicPrefix:      r.prefix,
		EncodeDeadLetter: deadletter.Avro(r.serde),
		MaxBatch:         r.batch,
		TimerTick:        20 * time.Millisecond,
		Clock:            func() time.Time { return time.UnixMilli(r.now.Load()).UTC() },
		Metrics:          stream.NewMetrics(reg),
		Logger:           testLogger(),
	}
}

// send produces events to their topics, keyed sku@warehouse, in order.
func (r *rig) send(t testing.TB, evs ...schemas.Event) {
	t.Helper()
	var recs []*kgo.Record
	for _, ev := range evs {
		v, err := r.serde.Encode(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		switch e := ev.(type) {
		case *schemas.StockMovement:
			recs = append(recs, &kgo.Record{Topic: r.movements, Key: []byte(schemas.StockKey(e.SKU, e.Warehouse)), Value: v})
		case *schemas.StockSnapshot:
			recs = append(recs, &kgo.Record{Topic: r.snapshots, Key: []byte(schemas.StockKey(e.SKU, e.Warehouse)), Value: v})
		case *schemas.OpenGoodsOut:
			recs = append(recs, &kgo.Record{Topic: r.open, Key: []byte(schemas.StockKey(e.SKU, e.Warehouse)), Value: v})
		default:
			t.Fatalf("cannot send a %T", ev)
		}
	}
	r.sendRaw(t, recs...)
}

func (r *rig) sendRaw(t testing.TB, recs ...*kgo.Record) {
	t.Helper()
	if err := r.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readAll reads topic read-committed up to its last stable offset: every
// committed transaction, in partition order.
func (r *rig) readAll(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := r.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	if len(remaining) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.seeds...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("read %s: %v", topic, err)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			end, ok := remaining[rec.Partition]
			if !ok || rec.Offset >= end {
				return
			}
			if rec.Offset == end-1 {
				delete(remaining, rec.Partition)
			}
			if !rec.Attrs.IsControl() {
				out = append(out, rec)
			}
		})
	}
	return out
}

// decodeAll decodes records of one event type.
func decodeAll[T any, P interface {
	*T
	schemas.Event
}](t testing.TB, s *schemas.Serde, recs []*kgo.Record) []*T {
	t.Helper()
	out := make([]*T, 0, len(recs))
	for _, rec := range recs {
		ev := P(new(T))
		if err := s.Decode(context.Background(), rec.Value, ev); err != nil {
			t.Fatalf("decode %s/%d@%d: %v", rec.Topic, rec.Partition, rec.Offset, err)
		}
		out = append(out, (*T)(ev))
	}
	return out
}

// instance runs one processor until stopped.
type instance struct {
	cancel context.CancelFunc
	done   chan error
	reg    *prometheus.Registry
}

func (r *rig) start(t testing.TB) *instance {
	t.Helper()
	reg := prometheus.NewRegistry()
	// A short fetch wait: after a restart, kfake can hold the first fetch
	// for its full max wait (5s by default) although records are there.
	p, err := stream.New(r.config(t, reg), kgo.SeedBrokers(r.seeds...), kgo.FetchMaxWait(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{cancel: cancel, done: make(chan error, 1), reg: reg}
	go func() { in.done <- p.Run(ctx) }()
	return in
}

func (in *instance) stop(t testing.TB) {
	t.Helper()
	in.cancel()
	if err := <-in.done; err != nil {
		t.Fatalf("processor stopped with: %v", err)
	}
}

// waitHandled waits until the processor has handled n input records
// (dead-lettered ones included). The counter moves before the batch
// commits, so a clock moved after it returns is only seen by later batches.
func (in *instance) waitHandled(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for counter(t, in.reg, "lockstep_records_in_total") < float64(n) {
		select {
		case err := <-in.done:
			t.Fatalf("processor stopped with %v after %v of %d records", err, counter(t, in.reg, "lockstep_records_in_total"), n)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("processor stalled at %v of %d records", counter(t, in.reg, "lockstep_records_in_total"), n)
		}
		time.Sleep(2 * time.Millisecond) // waiting for progress, not timing an assertion
	}
}

func counter(t testing.TB, reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue()
			}
		}
	}
	return v
}

// watcher reads topics read-committed in the background, so a test can
// wait until records appear.
type watcher struct {
	mu       sync.Mutex
	recs     map[string][]*kgo.Record
	progress chan struct{}
}

func (r *rig) watch(t testing.TB, topics ...string) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{recs: map[string][]*kgo.Record{}, progress: make(chan struct{}, 1)}
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.seeds...), kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			w.mu.Lock()
			fs.EachRecord(func(rec *kgo.Record) { w.recs[rec.Topic] = append(w.recs[rec.Topic], rec) })
			w.mu.Unlock()
			select {
			case w.progress <- struct{}{}:
			default:
			}
		}
	}()
	return w
}

// waitCount waits until topic holds at least n records.
func (w *watcher) waitCount(t testing.TB, topic string, n int) {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		w.mu.Lock()
		got := len(w.recs[topic])
		w.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-timeout:
			t.Fatalf("%s: %d records after a minute, want %d", topic, got, n)
		case <-w.progress:
		}
	}
}

// testLogger logs to stderr when LOCKSTEP_TEST_LOG is set, else nowhere.
func testLogger() *slog.Logger {
	if os.Getenv("LOCKSTEP_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Event builders.

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func move(id, sku, wh string, kind schemas.StockMovementKind, qty int64, sec int) *schemas.StockMovement {
	return &schemas.StockMovement{
		Meta:       schemas.Meta{EventID: "clarus/" + id, Source: schemas.SourceClarus, OccurredAt: at(sec), IngestedAt: at(sec + 1)},
		MovementID: id, SKU: sku, Warehouse: wh, Kind: kind, Quantity: qty,
	}
}

func snapshot(id, sku, wh string, onHand, allocated, held int64, sec int) *schemas.StockSnapshot {
	return &schemas.StockSnapshot{
		Meta:       schemas.Meta{EventID: "clarus/stock_balances/" + id + "/" + sku + "@" + wh, Source: schemas.SourceClarus, OccurredAt: at(sec), IngestedAt: at(sec + 2)},
		SnapshotID: id, SKU: sku, Warehouse: wh, OnHand: onHand, Allocated: allocated, Held: held, AsOf: at(sec),
	}
}

// linesOf maps a warehouse's command lines by SKU.
func linesOf(cmds []*schemas.PrimaStockCommand) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for _, c := range cmds {
		if out[c.Warehouse] == nil {
			out[c.Warehouse] = map[string]int64{}
		}
		for _, l := range c.Lines {
			out[c.Warehouse][l.SKU] = l.Available
		}
	}
	return out
}

func fmtLines(m map[string]map[string]int64) string { return fmt.Sprint(m) }
