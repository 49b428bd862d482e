package prima_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/clock"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fakeClock is the injected clock: unlike a bare clock.Fake, every wait
// (After) moves time on at once and is recorded, so backoff and Retry-After
// are asserted in fake time and tests never sleep. onWait, when set, runs
// after each wait (outside the lock).
type fakeClock struct {
	*clock.Fake
	mu     sync.Mutex
	waits  []time.Duration
	onWait func(time.Duration)
}

func newClock() *fakeClock { return &fakeClock{Fake: clock.NewFake(epoch)} }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	hook := c.onWait
	c.mu.Unlock()
	ch := c.Fake.After(d)
	c.Fake.Advance(max(d, 0))
	if hook != nil {
		hook(d)
	}
	return ch
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

func (c *fakeClock) setOnWait(fn func(time.Duration)) {
	c.mu.Lock()
	c.onWait = fn
	c.mu.Unlock()
}

// newSim starts a simulator on the test's clock.
func newSim(t testing.TB, clock *fakeClock, opts primasim.Options) (*primasim.Server, *httptest.Server) {
	t.Helper()
	opts.Clock = clock.Now
	sim := primasim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv
}

func testConfig(url string) prima.Config {
	cfg := prima.DefaultConfig()
	cfg.BaseURL = url
	cfg.RequestTimeout = 10 * time.Second
	return cfg
}

func newClient(t testing.TB, cfg prima.Config) *prima.Client {
	t.Helper()
	c, err := prima.NewClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newKafka starts an in-process cluster with lockstep's topics.
func newKafka(t *testing.T, partitions int32) []kgo.Opt {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1),
		kfake.SeedTopics(partitions, schemas.TopicCmdPrimaStock),
		kfake.SeedTopics(1, schemas.TopicItems, schemas.TopicPrimaStockLevels, schemas.TopicSourceCursors,
			schemas.TopicDLQ, schemas.TopicDrift),
		// Several partitions, so that keys of one table spread as they do
		// in production.
		kfake.SeedTopics(3, schemas.TopicStockHeld, schemas.TopicStockPushed, schemas.TopicStockParity))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
}

// committed reads every committed record of topic, read committed, up to
// the topic's end when called (markers kept, to know the end was reached).
func committed(t *testing.T, opts []kgo.Opt, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admCl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	ends, err := kadm.NewClient(admCl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		if err := fs.Err0(); err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		for _, r := range fs.Records() {
			if end, ok := want[r.Partition]; ok && r.Offset >= end-1 {
				delete(want, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		}
	}
	return out
}

// waitFor polls cond in real time: the components run in goroutines against
// kfake, and this is a deadline, not a sleep an assertion depends on.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }

// sleeping reports whether something waits on c for at most d more: the
// sink backing off, as opposed to the parity check's longer settle-window
// waits. The settle-window tests run on a bare clock.Fake, where fakeClock's
// jump on every wait would settle everything at once.
func sleeping(c *clock.Fake, d time.Duration) bool {
	next, ok := c.Next()
	return ok && !next.After(c.Now().Add(d))
}

// readiness records what a component reported through SetReady.
type readiness struct {
	mu  sync.Mutex
	log []bool
}

func (r *readiness) set(ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, ok)
}

func (r *readiness) history() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

func (r *readiness) ready() bool {
	h := r.history()
	return len(h) > 0 && h[len(h)-1]
}
