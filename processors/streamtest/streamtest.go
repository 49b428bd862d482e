// Package streamtest runs a stream processor in tests: an in-process kfake
// cluster, a producer, an in-memory schema registry, an injected clock,
// and read-committed readers of the processor's outputs.
package streamtest

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Rig is a kfake cluster with the topics of one processor (two
// partitions each) and the state directory its instance keeps across
// restarts.
type Rig struct {
	Seeds []string
	Serde *schemas.Serde
	Dir   string
	prod  *kgo.Client
	now   atomic.Int64 // unix ms
}

// New starts a cluster with topics, its clock at start.
func New(t testing.TB, start time.Time, topics ...string) *Rig {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	r := &Rig{Seeds: c.ListenAddrs(), Serde: schemas.NewSerde(schemas.NewMemRegistry()), Dir: t.TempDir()}
	r.now.Store(start.UnixMilli())
	if r.prod, err = kgo.NewClient(kgo.SeedBrokers(r.Seeds...)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.prod.Close)
	for _, topic := range topics {
		if _, err := kadm.NewClient(r.prod).CreateTopic(context.Background(), 2, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// Now is the processor's clock.
func (r *Rig) Now() time.Time { return time.UnixMilli(r.now.Load()).UTC() }

// Advance moves the clock on by d; timers due by then fire.
func (r *Rig) Advance(d time.Duration) { r.now.Add(d.Milliseconds()) }

// Set sets the clock.
func (r *Rig) Set(at time.Time) { r.now.Store(at.UnixMilli()) }

// Send produces ev (a tombstone when nil) to topic under key.
func (r *Rig) Send(t testing.TB, topic, key string, ev schemas.Event) {
	t.Helper()
	var v []byte
	if ev != nil {
		var err error
		if v, err = r.Serde.Encode(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.prod.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: []byte(key), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// SendRaw produces the bytes v to topic under key: a record no serde
// wrote, for the dead-letter paths.
func (r *Rig) SendRaw(t testing.TB, topic, key string, v []byte) {
	t.Helper()
	if err := r.prod.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: []byte(key), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// Start runs topo as one instance on the rig's clock and state directory;
// stop ends it and fails the test if it failed.
func (r *Rig) Start(t testing.TB, topo stream.Topology) (stop func()) {
	t.Helper()
	p, err := stream.New(stream.Config{Topology: topo, StateDir: r.Dir, InstanceID: "a",
		EncodeDeadLetter: deadletter.Avro(r.Serde), TimerTick: 20 * time.Millisecond, Clock: r.Now,
		Metrics: stream.NewMetrics(prometheus.NewRegistry()), Logger: slog.New(slog.DiscardHandler),
	}, kgo.SeedBrokers(r.Seeds...), kgo.FetchMaxWait(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("processor: %v", err)
		}
	}
}

// Reader reads a topic read-committed from the start, across calls.
type Reader struct {
	cl  *kgo.Client
	Got []*kgo.Record // every record read so far
}

// Reader reads topic.
func (r *Rig) Reader(t testing.TB, topic string) *Reader {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.Seeds...), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &Reader{cl: cl}
}

// Wait reads until n records arrived in all (failing the test after 30s)
// and returns them all.
func (rd *Reader) Wait(t testing.TB, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(rd.Got) < n {
		fs := rd.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d records, want %d", len(rd.Got), n)
		}
		fs.EachRecord(func(rec *kgo.Record) { rd.Got = append(rd.Got, rec) })
	}
	return rd.Got
}

// Decode decodes a record's value as a T.
func Decode[T any, P interface {
	*T
	schemas.Event
}](t testing.TB, s *schemas.Serde, rec *kgo.Record) *T {
	t.Helper()
	ev := P(new(T))
	if err := s.Decode(context.Background(), rec.Value, ev); err != nil {
		t.Fatal(err)
	}
	return (*T)(ev)
}

// Header is the value of the first header whose key contains key, as the
// DLQ's reason header.
func Header(rec *kgo.Record, key string) string {
	for _, h := range rec.Headers {
		if strings.Contains(h.Key, key) {
			return string(h.Value)
		}
	}
	return ""
}
