package stream_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// reminder drops repeated event ids (the value), announces each new one, and
// sets a timer a minute after a key's first event that announces the key.
type reminder struct{ out string }

func (r reminder) Handle(ctx *stream.Context, rec *kgo.Record) error {
	first, err := ctx.FirstSeen("events", rec.Value, time.Hour)
	if err != nil || !first {
		return err
	}
	ctx.Emit(r.out, rec.Key, append([]byte("seen:"), rec.Value...))
	if _, ok, err := ctx.Get("keys", rec.Key); err != nil || ok {
		return err
	}
	ctx.Put("keys", rec.Key, []byte{1})
	ctx.Schedule(ctx.Now().Add(time.Minute), rec.Key)
	return nil
}

func (r reminder) OnTimer(ctx *stream.Context, key []byte, due time.Time) error {
	ctx.Emit(r.out, key, append([]byte("fired:"), key...))
	return nil
}

// reminderRig runs the reminder handler on kfake with an injected clock
// (now, Unix ms, starting at reminderT0); send produces key, value pairs.
type reminderRig struct {
	b    *broker
	s    *scenario
	ctx  context.Context
	now  *atomic.Int64
	dir  string
	cfg  stream.Config
	out  *collector
	send func(kv ...string)
}

var reminderT0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func newReminderRig(t *testing.T) *reminderRig {
	t.Helper()
	r := &reminderRig{b: newKfake(t), now: &atomic.Int64{}, dir: t.TempDir()}
	r.s = newScenario(t, r.b, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	r.ctx = ctx
	r.now.Store(reminderT0.UnixMilli())
	r.cfg = r.s.config("a", r.dir)
	r.cfg.Topology.Stores = []string{"keys"}
	r.cfg.Topology.Handler = reminder{out: r.s.out}
	r.cfg.Clock = func() time.Time { return time.UnixMilli(r.now.Load()) }
	r.cfg.TimerTick = 20 * time.Millisecond
	cl, err := kgo.NewClient(append(r.b.opts(), kgo.DefaultProduceTopic(r.s.in))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	r.send = func(kv ...string) {
		t.Helper()
		var recs []*kgo.Record
		for i := 0; i < len(kv); i += 2 {
			recs = append(recs, &kgo.Record{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	r.out = newCollector(t, ctx, r.b, r.s.out)
	return r
}

func TestTimersAndDedupeKfake(t *testing.T) {
	r := newReminderRig(t)
	b, cfg, now, send, out := r.b, r.cfg, r.now, r.send, r.out

	inst := start(t, cfg, b.opts()...)
	send("k1", "e1", "k2", "e2", "k1", "e1", "k3", "e3", "k2", "e2", "k1", "e4")
	out.waitFor(t, "seen:e1", "seen:e2", "seen:e3", "seen:e4")
	if n := out.count("seen:e1") + out.count("seen:e2"); n != 2 {
		t.Fatalf("duplicates were not dropped: %d seen outputs for e1 and e2", n)
	}
	if out.count("fired:k1") != 0 {
		t.Fatal("timer fired before its due time")
	}
	now.Store(reminderT0.Add(2 * time.Minute).UnixMilli())
	out.waitFor(t, "fired:k1", "fired:k2", "fired:k3")
	inst.stop(t)

	// Restart on the same state, two hours later: no timer fires again, and
	// the dedupe entries have expired (through their runtime timers), so a
	// repeat of e1 counts as new.
	now.Store(reminderT0.Add(2 * time.Hour).UnixMilli())
	inst = start(t, cfg, b.opts()...)
	send("k9", "sentinel")
	out.waitFor(t, "seen:sentinel")
	send("k1", "e1")
	out.waitFor(t, "seen:e1#2")
	inst.stop(t)
	for _, k := range []string{"fired:k1", "fired:k2", "fired:k3"} {
		if n := out.count(k); n != 1 {
			t.Errorf("%s fired %d times, want once", k, n)
		}
	}
}

// collector reads a topic read-committed and counts values.
type collector struct {
	counts   map[string]int
	mu       chan struct{}
	progress chan struct{}
}

func newCollector(t testing.TB, ctx context.Context, b *broker, topic string) *collector {
	c := &collector{counts: map[string]int{}, mu: make(chan struct{}, 1), progress: make(chan struct{}, 1)}
	cl, err := kgo.NewClient(append(b.opts(), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			c.mu <- struct{}{}
			fs.EachRecord(func(r *kgo.Record) { c.counts[string(r.Value)]++ })
			<-c.mu
			select {
			case c.progress <- struct{}{}:
			default:
			}
		}
	}()
	return c
}

func (c *collector) count(v string) int {
	c.mu <- struct{}{}
	defer func() { <-c.mu }()
	return c.counts[v]
}

// waitFor waits until each value was seen; "v#n" means seen n times.
func (c *collector) waitFor(t testing.TB, vals ...string) {
	t.Helper()
	for _, v := range vals {
		want := 1
		if i := len(v) - 2; i > 0 && v[i] == '#' {
			want, v = int(v[i+1]-'0'), v[:i]
		}
		for c.count(v) < want {
			select {
			case <-time.After(time.Minute):
				t.Fatalf("never saw %q %d times (counts %v)", v, want, c.counts)
			case <-c.progress:
			}
		}
	}
}

// Expired dedupe entries are deleted, not only ignored: after the expiry
// bucket's sweep, Pebble holds nothing of them and the timers store only the
// sweep of entries still live, one timer per bucket rather than one per id.
func TestDedupeSweepForgetsExpiredKfake(t *testing.T) {
	r := newReminderRig(t)
	b, s, cfg, now, dir, out := r.b, r.s, r.cfg, r.now, r.dir, r.out
	send := func(key string, ids ...string) {
		t.Helper()
		var kv []string
		for _, id := range ids {
			kv = append(kv, key, id)
		}
		r.send(kv...)
	}
	inst := start(t, cfg, b.opts()...)
	var ids []string
	for i := range 300 {
		ids = append(ids, fmt.Sprintf("e%03d", i))
	}
	send("k", ids...)
	out.waitFor(t, "seen:e299")
	// Two hours on (the TTL is one hour): the sweep fires with the next
	// transaction, which the late event starts.
	now.Store(reminderT0.Add(2 * time.Hour).UnixMilli())
	send("k", "late")
	out.waitFor(t, "seen:late", "fired:k")
	inst.stop(t)

	st, err := state.Open(dir, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var seen, timers []string
	for p := range s.partitions {
		if err := st.Each(p, "__seen", func(k, _ []byte) error { seen = append(seen, string(k)); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := st.Each(p, "__timers", func(k, _ []byte) error { timers = append(timers, fmt.Sprintf("%x", k)); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 1 || seen[0] != "events\x00late" {
		t.Fatalf("dedupe entries left: %d (%q...)", len(seen), seen[:min(3, len(seen))])
	}
	if len(timers) != 1 {
		t.Fatalf("timers left: %v, want the live entry's sweep only", timers)
	}
}
