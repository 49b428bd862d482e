package ledger_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/broker/brokertest"
	"github.com/lockstep-dev/lockstep/connectors/ledger"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// broker is where a test's topics live: an in-process kfake cluster or the
// real Kafka started by deploy/local/kafka.sh.
type broker struct {
	name  string
	seeds []string
	adm   *kadm.Client
}

func (b *broker) opts() []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(b.seeds...)} }

func newKfake(t testing.TB) *broker {
	t.Helper()
	return newBroker(t, "kfake", brokertest.Kfake(t))
}

// realKafka returns the local Apache Kafka broker; absent, it skips the test
// locally and fails it in CI.
func realKafka(t testing.TB) *broker {
	t.Helper()
	return newBroker(t, "kafka", brokertest.RealKafka(t))
}

func newBroker(t testing.TB, name string, seeds []string) *broker {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &broker{name: name, seeds: seeds, adm: kadm.NewClient(cl)}
}

// onBrokers runs test once on kfake and once on the real broker.
func onBrokers(t *testing.T, test func(t *testing.T, b *broker)) {
	t.Run("kfake", func(t *testing.T) { test(t, newKfake(t)) })
	t.Run("kafka", func(t *testing.T) { test(t, realKafka(t)) })
}

// fixture is one test's topics, group, serde and producer, unique per test
// so that tests can share the real broker.
type fixture struct {
	b      *broker
	prefix string
	drift  string
	dlq    string
	// The fact topics the sink also reads.
	shipments, notes, items, pos, receipts string
	group                                  string
	reg                                    *schemas.MemRegistry
	serde                                  *schemas.Serde // the producers' serde; the sink gets its own
	cl                                     *kgo.Client
}

var fixtureSeq atomic.Int64

func newFixture(t *testing.T, b *broker, partitions int32) *fixture {
	t.Helper()
	id := fmt.Sprintf("lt%d-%d.", time.Now().UnixNano()%1e12, fixtureSeq.Add(1))
	f := &fixture{
		b: b, prefix: id, drift: id + schemas.TopicDrift, dlq: id + schemas.TopicDLQ, group: id + "ledger",
		shipments: id + schemas.TopicShipments, notes: id + schemas.TopicDespatchNotes, items: id + schemas.TopicItems,
		pos: id + schemas.TopicPurchaseOrders, receipts: id + schemas.TopicReceipts,
		reg: schemas.NewMemRegistry(),
	}
	f.serde = schemas.NewSerde(f.reg)
	// Every topic the sink reads exists, as EnsureTopics makes them in a
	// deployment.
	for _, topic := range f.read() {
		resp, err := b.adm.CreateTopic(context.Background(), partitions, 1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("create topic %s: %v", topic, err)
		}
	}
	// Cleanups run last-in first-out: this one after the sink has stopped.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = b.adm.DeleteGroup(ctx, f.group)
		_, _ = b.adm.DeleteTopics(ctx, append(f.read(), f.dlq)...)
	})
	var err error
	f.cl, err = kgo.NewClient(append(b.opts(), kgo.DefaultProduceTopic(f.drift))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.cl.Close)
	// A topic just created can be unknown to the partition leader for a
	// moment on the real broker: produce would fail with
	// UNKNOWN_TOPIC_OR_PARTITION.
	if err := stream.WaitTopics(context.Background(), f.cl, f.read()...); err != nil {
		t.Fatal(err)
	}
	return f
}

// read is every topic the sink reads.
func (f *fixture) read() []string {
	return []string{f.drift, f.shipments, f.notes, f.items, f.pos, f.receipts}
}

// encode frames ev for Kafka.
func (f *fixture) encode(t testing.TB, ev schemas.Event) []byte {
	t.Helper()
	b, err := f.serde.Encode(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// produce writes recs to the drift topic, synchronously and in order, and
// returns them with their coordinates.
func (f *fixture) produce(t testing.TB, recs ...*kgo.Record) []*kgo.Record {
	t.Helper()
	if err := f.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return recs
}

// produceEvents encodes and produces events keyed by discrepancy id.
func (f *fixture) produceEvents(t testing.TB, evs ...*schemas.DriftEvent) []*kgo.Record {
	t.Helper()
	recs := make([]*kgo.Record, len(evs))
	for i, ev := range evs {
		recs[i] = &kgo.Record{Key: []byte(ev.DiscrepancyID), Value: f.encode(t, ev)}
	}
	return f.produce(t, recs...)
}

// produceAborted writes evs in a transaction that aborts: a read-committed
// consumer never sees them.
func (f *fixture) produceAborted(t testing.TB, evs ...*schemas.DriftEvent) {
	t.Helper()
	ctx := context.Background()
	cl, err := kgo.NewClient(append(f.b.opts(), kgo.DefaultProduceTopic(f.drift), kgo.TransactionalID(f.prefix+"aborted"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(ev.DiscrepancyID), Value: f.encode(t, ev)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
}

// committed returns the group's committed offsets on the drift topic.
func (f *fixture) committed(t testing.TB) map[int32]int64 {
	t.Helper()
	return f.committedOn(t, f.drift)
}

// committedOn returns the group's committed offsets on topic.
func (f *fixture) committedOn(t testing.TB, topic string) map[int32]int64 {
	t.Helper()
	resps, err := f.b.adm.FetchOffsets(context.Background(), f.group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return map[int32]int64{} // kfake, before the group's first join
	}
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", f.group, err)
	}
	out := map[int32]int64{}
	resps.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil {
			t.Fatalf("fetch offsets of %s: %v", f.group, o.Err)
		}
		if o.Topic == topic && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out
}

// resetGroup moves the (empty) group back to the start of the drift topic,
// as kafka-consumer-groups --reset-offsets --to-earliest does.
func (f *fixture) resetGroup(t testing.TB, partitions int32) {
	t.Helper()
	var os kadm.Offsets
	for p := range partitions {
		os.Add(kadm.Offset{Topic: f.drift, Partition: p, At: 0, LeaderEpoch: -1})
	}
	resps, err := f.b.adm.CommitOffsets(context.Background(), f.group, os)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		t.Fatalf("reset group %s: %v", f.group, err)
	}
}

// wantCommitted is what the group commits once every record is handled:
// one past the last record of each partition.
func wantCommitted(recs []*kgo.Record) map[int32]int64 {
	out := map[int32]int64{}
	for _, r := range recs {
		out[r.Partition] = max(out[r.Partition], r.Offset+1)
	}
	return out
}

// runningSink is a sink started in the background.
type runningSink struct {
	*ledger.Sink
	reg   *prometheus.Registry
	logs  *logBuffer
	ready *readyLog
	stop  context.CancelFunc
	done  chan error
}

// startSink starts a sink on f's topics writing to conn. Its serde is its
// own, sharing only the registry, as two processes would.
func (f *fixture) startSink(t *testing.T, conn driver.Conn, cfg ledger.Config) *runningSink {
	t.Helper()
	rs := &runningSink{reg: prometheus.NewRegistry(), logs: &logBuffer{}, ready: &readyLog{}, done: make(chan error, 1)}
	cfg.TopicPrefix = f.prefix
	cfg.Group = f.group
	cfg.Registerer = rs.reg
	cfg.Logger = slog.New(slog.NewTextHandler(rs.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.SetReady = rs.ready.set
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 50 * time.Millisecond
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin, cfg.RetryMax = 10*time.Millisecond, 100*time.Millisecond
	}
	s, err := ledger.New(cfg, conn, schemas.NewSerde(f.reg), f.b.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	rs.Sink = s
	ctx, cancel := context.WithCancel(context.Background())
	rs.stop = cancel
	go func() { rs.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-rs.done
		if t.Failed() {
			t.Logf("sink log:\n%s", rs.logs.String())
		}
	})
	return rs
}

// shutdown cancels the sink and waits for Run, which must return nil.
func (rs *runningSink) shutdown(t *testing.T) {
	t.Helper()
	rs.stop()
	select {
	case err := <-rs.done:
		rs.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// metric returns the value of a counter, or the sample count of a
// histogram, from the sink's registry.
func (rs *runningSink) metric(t testing.TB, name string) float64 {
	t.Helper()
	mfs, err := rs.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if h := m.GetHistogram(); h != nil {
			return float64(h.GetSampleCount())
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// logBuffer collects the sink's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// count returns how many lines at level contain msg.
func (l *logBuffer) count(level, msg string) int {
	n := 0
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, "level="+level) && strings.Contains(line, msg) {
			n++
		}
	}
	return n
}

// readyLog records what the sink told SetReady.
type readyLog struct {
	mu   sync.Mutex
	seen []bool
}

func (r *readyLog) set(ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, ok)
}

func (r *readyLog) calls() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// eventually polls cond until it holds or the deadline passes; cond
// describes what it saw, for the failure message.
func eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, still not %s: %s", within, what, saw)
		}
		<-tick.C
	}
}
