package stream_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/lockstep-dev/lockstep/connectors/broker/brokertest"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// seedFlag varies the seeded tests' data and kill schedules, so that
// `make soak` can run them many times over different interleavings; the
// default keeps a single run reproducible.
var seedFlag = flag.Uint64("seed", 1, "seed for the seeded runtime tests (data, kill points)")

// killsFlag is how many times the crash tests kill the processor
// (TestExactlyOnceUnderCrashes*; TestSIGKILLKafka kills a sixth as often,
// at least 3). The default keeps the package's tests within a few minutes
// on two cores; `make soak` raises it.
var killsFlag = flag.Int("kills", 30, "kills in the crash tests (the SIGKILL test does a sixth, at least 3)")

// seed returns the run's seed mixed with a per-use salt and logs it, so a
// failing soak run names what to re-run.
func seed(t testing.TB, salt uint64) uint64 {
	t.Helper()
	t.Logf("seed %d (re-run with -args -seed=%d)", *seedFlag, *seedFlag)
	return *seedFlag*1_000_003 + salt
}

// The test processor: per key, a count and a sum of int64 values. Each input
// record produces one output record naming the input's coordinates and the
// key's new count and sum, so a read-committed verifier can prove that every
// input was counted exactly once.

const countsStore = "counts"

type counter struct{ out string }

func (c counter) Handle(ctx *stream.Context, rec *kgo.Record) error {
	if len(rec.Value) != 8 {
		return stream.Reject(fmt.Errorf("value is %d bytes, want an 8-byte int64", len(rec.Value)))
	}
	v := int64(binary.BigEndian.Uint64(rec.Value))
	prev, _, err := ctx.Get(countsStore, rec.Key)
	if err != nil {
		return err
	}
	n, sum := decodeCount(prev)
	n, sum = n+1, sum+v
	ctx.Put(countsStore, rec.Key, encodeCount(n, sum))
	out := make([]byte, 28)
	binary.BigEndian.PutUint32(out, uint32(rec.Partition))
	binary.BigEndian.PutUint64(out[4:], uint64(rec.Offset))
	binary.BigEndian.PutUint64(out[12:], uint64(n))
	binary.BigEndian.PutUint64(out[20:], uint64(sum))
	ctx.Emit(c.out, rec.Key, out)
	return nil
}

func encodeCount(n, sum int64) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(n))
	return binary.BigEndian.AppendUint64(b, uint64(sum))
}

func decodeCount(b []byte) (n, sum int64) {
	if len(b) != 16 {
		return 0, 0
	}
	return int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint64(b[8:]))
}

// broker is where a test's topics live: an in-process kfake cluster or the
// real Kafka started by deploy/local/kafka.sh.
type broker struct {
	seeds []string
	adm   *kadm.Client
	name  string
}

func (b *broker) opts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(b.seeds...)}
	if os.Getenv("LOCKSTEP_TEST_LOG") == "kgo" {
		opts = append(opts, kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelInfo, nil)))
	}
	return opts
}

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
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &broker{seeds: seeds, adm: kadm.NewClient(cl), name: name}
}

func (b *broker) createTopic(t testing.TB, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := b.adm.CreateTopic(context.Background(), partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// scenario is one test's topics and names, unique per run so that tests can
// share a real broker.
type scenario struct {
	b          *broker
	name       string // processor name and topic prefix
	in, out    string
	prefix     string
	partitions int32
}

func newScenario(t testing.TB, b *broker, partitions int32) *scenario {
	id := fmt.Sprintf("t%d", time.Now().UnixNano()%1e12)
	s := &scenario{b: b, name: "count-" + id, in: id + ".in", out: id + ".out", prefix: id + ".", partitions: partitions}
	b.createTopic(t, s.in, partitions, nil)
	b.createTopic(t, s.out, partitions, nil)
	return s
}

func (s *scenario) config(instance, dir string) stream.Config {
	return stream.Config{
		Topology: stream.Topology{
			Name:    s.name,
			Inputs:  []string{s.in},
			Stores:  []string{countsStore},
			Outputs: []string{s.out},
			Handler: counter{out: s.out},
		},
		StateDir:    dir,
		InstanceID:  instance,
		TopicPrefix: s.prefix,
		MaxBatch:    500,
		Logger:      testLogger(),
		TimerTick:   100 * time.Millisecond,
	}
}

// input is what was produced, for the verifier.
type input struct {
	key   string
	value int64
}

// produce writes n records over keys distinct keys with seeded values and
// returns them by coordinates.
func (s *scenario) produce(t testing.TB, n, keys int, seed uint64) map[[2]int64]input {
	t.Helper()
	cl, err := kgo.NewClient(append(s.b.opts(), kgo.DefaultProduceTopic(s.in), kgo.ProducerLinger(5*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(seed, 1))
	var mu sync.Mutex
	got := make(map[[2]int64]input, n)
	var perr error
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("k%04d", rng.IntN(keys))
		v := int64(rng.IntN(100) + 1)
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Key: []byte(k), Value: binary.BigEndian.AppendUint64(nil, uint64(v))}, func(r *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				perr = err
				return
			}
			got[[2]int64{int64(r.Partition), r.Offset}] = input{k, v}
		})
	}
	wg.Wait()
	if perr != nil {
		t.Fatal(perr)
	}
	return got
}

// fold is what the state must be: count and sum per key.
func fold(in map[[2]int64]input) map[string][2]int64 {
	f := make(map[string][2]int64)
	for _, r := range in {
		c := f[r.key]
		f[r.key] = [2]int64{c[0] + 1, c[1] + r.value}
	}
	return f
}

// outputWatcher reads the output topic read-committed and counts distinct
// input coordinates, so tests can act when processing reaches a point.
//
// Waiters are woken by a broadcast (a channel closed and replaced at every
// update). It once was a one-slot channel shared by the test and the
// producer: whichever took the token left the other asleep, and when the
// last records had been read nobody ever woke it again (issue 12's stall).
type outputWatcher struct {
	mu      sync.Mutex
	seen    map[[2]int64]int
	perPart map[int32]int // output records per output partition
	total   int
	changed chan struct{}
	// diagnose, if set, describes the pipeline when a wait stalls.
	diagnose func() string
}

// livenessBound is how long a wait may see no new output before the test
// fails as stalled: generous for a rebalance on a loaded 2-core machine
// (restore, offset fetch, one transaction timeout), far below the 5 minute
// test deadline.
const livenessBound = 45 * time.Second

func newOutputWatcher() *outputWatcher {
	return &outputWatcher{seen: map[[2]int64]int{}, perPart: map[int32]int{}, changed: make(chan struct{})}
}

func (s *scenario) watchOutput(t testing.TB, ctx context.Context) *outputWatcher {
	w := newOutputWatcher()
	cl, err := kgo.NewClient(append(s.b.opts(), kgo.ConsumeTopics(s.out), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			w.add(fs.Records())
		}
	}()
	return w
}

// add counts output records and wakes every waiter.
func (w *outputWatcher) add(recs []*kgo.Record) {
	if len(recs) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range recs {
		w.perPart[r.Partition]++
		w.total++
		if outputKind(r) == kindFired {
			continue // a timer's output answers no input
		}
		w.seen[outputCoords(r)]++
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

func (w *outputWatcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

var errStalled = errors.New("no new output")

// until blocks until cond (called with w.mu held) holds, ctx ends, or
// bound passes without any new output.
func (w *outputWatcher) until(ctx context.Context, bound time.Duration, cond func() bool) error {
	for {
		w.mu.Lock()
		ok, changed := cond(), w.changed
		w.mu.Unlock()
		if ok {
			return nil
		}
		timer := time.NewTimer(bound)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("%w for %s", errStalled, bound)
		case <-changed:
			timer.Stop()
		}
	}
}

// waitFor blocks until at least n distinct inputs were seen in the output;
// output that stops growing for livenessBound fails the test with the
// pipeline's state.
func (w *outputWatcher) waitFor(t testing.TB, ctx context.Context, n int) {
	t.Helper()
	if err := w.until(ctx, livenessBound, func() bool { return len(w.seen) >= n }); err != nil {
		w.fail(t, fmt.Sprintf("waiting for %d distinct inputs", n), err)
	}
}

func (w *outputWatcher) fail(t testing.TB, step string, err error) {
	t.Helper()
	w.mu.Lock()
	msg := fmt.Sprintf("output stalled %s (%s): %d distinct inputs, %d records, per output partition %v", step, err, len(w.seen), w.total, w.perPart)
	w.mu.Unlock()
	if w.diagnose != nil {
		msg += "\n" + w.diagnose()
	}
	t.Fatal(msg)
}

// waitTotal blocks until n output records (repeats included) were seen.
func (w *outputWatcher) waitTotal(t testing.TB, ctx context.Context, n int) {
	t.Helper()
	if err := w.until(ctx, livenessBound, func() bool { return w.total >= n }); err != nil {
		w.fail(t, fmt.Sprintf("waiting for %d records", n), err)
	}
}

// verify reads the whole output read-committed and checks exactly-once:
// every input is answered once, and per key the outputs carry the counts
// 1..n and the running sums of the key's input values in input offset
// order (see checker).
func (s *scenario) verify(t testing.TB, in map[[2]int64]input) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := s.newOutputReader(t, expect(in, nil))
	defer r.close()
	r.readToStable(t, ctx)
	if err := r.chk.finish(); err != nil {
		t.Fatalf("exactly-once violated: %v", err)
	}
}

// storeState reads the counts of every partition from a stopped instance's
// Pebble directory.
func storeState(t testing.TB, dirs ...string) map[string][2]int64 {
	t.Helper()
	return storeStateFS(t, nil, dirs...)
}

// storeStateFS is storeState on a filesystem (nil: the OS's).
func storeStateFS(t testing.TB, fs vfs.FS, dirs ...string) map[string][2]int64 {
	t.Helper()
	got := map[string][2]int64{}
	for _, dir := range dirs {
		st, err := state.Open(dir, state.Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		for p := int32(0); p < 64; p++ {
			if err := st.Each(p, countsStore, func(k, v []byte) error {
				n, sum := decodeCount(v)
				got[string(k)] = [2]int64{n, sum}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
	}
	return got
}

func diffState(got, want map[string][2]int64) error {
	var errs []error
	for k, w := range want {
		if g := got[k]; g != w {
			errs = append(errs, fmt.Errorf("key %s: state (count, sum) = %v, fold = %v", k, g, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			errs = append(errs, fmt.Errorf("key %s in state but not in the input", k))
		}
	}
	if len(errs) > 5 {
		errs = append(errs[:5], fmt.Errorf("... and %d more", len(errs)-5))
	}
	return errors.Join(errs...)
}

// testLogger logs to stderr when LOCKSTEP_TEST_LOG is set, else nowhere.
func testLogger() *slog.Logger {
	if os.Getenv("LOCKSTEP_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// instance runs one processor until its context is cancelled or it stops.
type instance struct {
	cancel context.CancelFunc
	done   chan error
	p      *stream.Processor
}

func start(t testing.TB, cfg stream.Config, opts ...kgo.Opt) *instance {
	t.Helper()
	p, err := stream.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{cancel: cancel, done: make(chan error, 1), p: p}
	go func() {
		err := p.Run(ctx)
		if err != nil && testing.Verbose() {
			fmt.Fprintf(os.Stderr, "processor %s stopped: %v\n", cfg.InstanceID, err)
		}
		in.done <- err
	}()
	return in
}

func (in *instance) stop(t testing.TB) {
	t.Helper()
	in.cancel()
	if err := <-in.done; err != nil {
		t.Fatalf("processor stopped with: %v", err)
	}
}

// The crash tests' processor, events: the counter's count and sum per key,
// plus what real processors do besides: it drops repeated event ids
// (Context.FirstSeen), and keeps one timer per key pending: a key's first
// record after its previous timer fired schedules the next one,
// timerDelay later, numbered by an ordinal per key. Every input gets one
// output: a count (the counter's 28 bytes, then the ordinal of the timer
// the record scheduled, or 0) or a "dup" (the coordinates and the key's
// unchanged count and sum); every timer one "fired" output (its ordinal).
// A "drain" input (header drain) schedules a timer due at once, whose
// "drain" output (the input's coordinates) comes after every timer of the
// partition due before it: the tests use it to know that all timers fell.
//
// Its clock (progressClock) advances a millisecond per record handled, so
// timers fall due as processing advances, at the same places whatever the
// machine's speed.

const (
	ticksStore = "ticks" // per key: the latest timer's ordinal and whether it is pending
	idSet      = "ids"   // the FirstSeen set of event ids
	timerDelay = 3 * time.Second
	// dedupeTTL outlives any run's clock (a millisecond per record), so
	// every repeated id is a duplicate; the final jump of the clock expires
	// them all, through the runtime's expiry timers.
	dedupeTTL = 30 * 24 * time.Hour
)

// Output kinds, in the "kind" header; counts carry none.
const (
	kindCount = ""
	kindDup   = "dup"
	kindFired = "fired"
	kindDrain = "drain"
)

type events struct {
	out     string
	handled *atomic.Int64 // every Handle call, across incarnations: the clock
}

func (e events) Handle(ctx *stream.Context, rec *kgo.Record) error {
	e.handled.Add(1)
	if len(rec.Value) != 8 {
		return stream.Reject(fmt.Errorf("value is %d bytes, want an 8-byte int64", len(rec.Value)))
	}
	coords := appendCoords(nil, rec)
	if header(rec, "drain") != nil {
		ctx.Schedule(ctx.Now(), append([]byte("~drain"), coords...))
		return nil
	}
	prev, _, err := ctx.Get(countsStore, rec.Key)
	if err != nil {
		return err
	}
	n, sum := decodeCount(prev)
	if id := header(rec, "id"); id != nil {
		first, err := ctx.FirstSeen(idSet, id, dedupeTTL)
		if err != nil {
			return err
		}
		if !first {
			out := binary.BigEndian.AppendUint64(coords, uint64(n))
			out = binary.BigEndian.AppendUint64(out, uint64(sum))
			ctx.Emit(e.out, rec.Key, out, kgo.RecordHeader{Key: "kind", Value: []byte(kindDup)})
			return nil
		}
	}
	n, sum = n+1, sum+int64(binary.BigEndian.Uint64(rec.Value))
	ctx.Put(countsStore, rec.Key, encodeCount(n, sum))
	tick, _, err := ctx.Get(ticksStore, rec.Key)
	if err != nil {
		return err
	}
	ord, pending := decodeTick(tick)
	var scheduled int64
	if !pending {
		ord++
		scheduled = ord
		ctx.Schedule(ctx.Now().Add(timerDelay), keyTimer(rec.Key, ord))
		ctx.Put(ticksStore, rec.Key, encodeTick(ord, true))
	}
	out := binary.BigEndian.AppendUint64(coords, uint64(n))
	out = binary.BigEndian.AppendUint64(out, uint64(sum))
	out = binary.BigEndian.AppendUint64(out, uint64(scheduled))
	ctx.Emit(e.out, rec.Key, out)
	return nil
}

// OnTimer answers every firing, even one the key's state did not expect (a
// timer fired twice, or one restored after it fired): the verifier counts
// them.
func (e events) OnTimer(ctx *stream.Context, tk []byte, _ time.Time) error {
	if coords, ok := bytes.CutPrefix(tk, []byte("~drain")); ok {
		ctx.Emit(e.out, []byte("~drain"), coords, kgo.RecordHeader{Key: "kind", Value: []byte(kindDrain)})
		return nil
	}
	key, ord := splitKeyTimer(tk)
	ctx.Emit(e.out, key, binary.BigEndian.AppendUint64(nil, uint64(ord)), kgo.RecordHeader{Key: "kind", Value: []byte(kindFired)})
	tick, _, err := ctx.Get(ticksStore, key)
	if err != nil {
		return err
	}
	if cur, pending := decodeTick(tick); cur == ord && pending {
		ctx.Put(ticksStore, key, encodeTick(ord, false))
	}
	return nil
}

func keyTimer(key []byte, ord int64) []byte {
	return binary.BigEndian.AppendUint64(append(append([]byte(nil), key...), '#'), uint64(ord))
}

func splitKeyTimer(tk []byte) (key []byte, ord int64) {
	if len(tk) < 9 {
		return tk, -1
	}
	return tk[:len(tk)-9], int64(binary.BigEndian.Uint64(tk[len(tk)-8:]))
}

func encodeTick(ord int64, pending bool) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(ord))
	if pending {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeTick(b []byte) (ord int64, pending bool) {
	if len(b) != 9 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b)), b[8] == 1
}

func header(r *kgo.Record, key string) []byte {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

func appendCoords(dst []byte, r *kgo.Record) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.Partition))
	return binary.BigEndian.AppendUint64(dst, uint64(r.Offset))
}

func outputKind(r *kgo.Record) string { return string(header(r, "kind")) }

// outputCoords are the input coordinates an output answers (not for fired
// timers).
func outputCoords(r *kgo.Record) [2]int64 {
	if len(r.Value) < 12 {
		return [2]int64{-1, -1}
	}
	return [2]int64{int64(binary.BigEndian.Uint32(r.Value)), int64(binary.BigEndian.Uint64(r.Value[4:]))}
}

// progressClock is the events processor's clock: base, plus a millisecond
// per record handled, plus jump (which the tests set to make every timer
// due at the end).
type progressClock struct {
	base    time.Time
	handled *atomic.Int64
	jump    atomic.Int64 // nanoseconds
}

func (c *progressClock) now() time.Time {
	return c.base.Add(time.Duration(c.handled.Load())*time.Millisecond + time.Duration(c.jump.Load()))
}

// produceEvents is produce for the events processor: about a fifth of the
// records carry an event id (header id), and a quarter of those repeat an
// earlier id of the same key (a source's redelivery), which must be
// dropped. ids maps coordinates to ids.
func (s *scenario) produceEvents(t testing.TB, n, keys int, seed uint64) (in map[[2]int64]input, ids map[[2]int64]string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	recs := make([]*kgo.Record, n)
	vals := make([]input, n)
	past := map[string][]string{}
	for i := range recs {
		k := fmt.Sprintf("k%04d", rng.IntN(keys))
		vals[i] = input{k, int64(rng.IntN(100) + 1)}
		recs[i] = &kgo.Record{Key: []byte(k), Value: binary.BigEndian.AppendUint64(nil, uint64(vals[i].value))}
		if rng.IntN(5) == 0 {
			id := fmt.Sprintf("e%d", i)
			if p := past[k]; len(p) > 0 && rng.IntN(4) == 0 {
				id = p[rng.IntN(len(p))]
			} else {
				past[k] = append(past[k], id)
			}
			recs[i].Headers = []kgo.RecordHeader{{Key: "id", Value: []byte(id)}}
		}
	}
	s.produceRecords(t, recs)
	in = make(map[[2]int64]input, n)
	ids = map[[2]int64]string{}
	for i, r := range recs {
		c := [2]int64{int64(r.Partition), r.Offset}
		in[c] = vals[i]
		if id := header(r, "id"); id != nil {
			ids[c] = string(id)
		}
	}
	return in, ids
}

// produceRecords produces recs (in order within a partition: the client is
// idempotent) and sets their coordinates.
func (s *scenario) produceRecords(t testing.TB, recs []*kgo.Record, opts ...kgo.Opt) {
	t.Helper()
	cl, err := kgo.NewClient(append(append(s.b.opts(), kgo.DefaultProduceTopic(s.in), kgo.ProducerLinger(5*time.Millisecond)), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var perr error
	for _, r := range recs {
		wg.Add(1)
		cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				perr = errors.Join(perr, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if perr != nil {
		t.Fatal(perr)
	}
}

// expectation is what the output must be, derived from the input alone.
type expectation struct {
	want   map[[2]int64]expected
	perKey map[string][][2]int64 // the counted inputs of each key, in offset order
}

type expected struct {
	key    string
	dup    bool  // a repeated event id: dropped (a dup output)
	drain  bool  // a drain input (a drain output)
	n, sum int64 // the key's count and sum once this input was handled
}

// expect derives the expectation from the input and its event ids (nil
// for the counter): per partition in offset order, the first record of an
// id counts, later ones are dropped, as FirstSeen keeps ids per partition.
func expect(in map[[2]int64]input, ids map[[2]int64]string) *expectation {
	coords := make([][2]int64, 0, len(in))
	for c := range in {
		coords = append(coords, c)
	}
	slices.SortFunc(coords, func(a, b [2]int64) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	e := &expectation{want: make(map[[2]int64]expected, len(in)), perKey: map[string][][2]int64{}}
	run := map[string][2]int64{}
	seen := map[[2]string]bool{}
	for _, c := range coords {
		r := in[c]
		x := expected{key: r.key}
		if id, ok := ids[c]; ok {
			pid := [2]string{fmt.Sprint(c[0]), id}
			x.dup = seen[pid]
			seen[pid] = true
		}
		if !x.dup {
			run[r.key] = [2]int64{run[r.key][0] + 1, run[r.key][1] + r.value}
			e.perKey[r.key] = append(e.perKey[r.key], c)
		}
		x.n, x.sum = run[r.key][0], run[r.key][1]
		e.want[c] = x
	}
	return e
}

// addDrain expects a drain input at c.
func (e *expectation) addDrain(c [2]int64) { e.want[c] = expected{key: "~drain", drain: true} }

// fold is what the counts must be: per key, the count and sum of the
// inputs that were not dropped.
func (e *expectation) fold() map[string][2]int64 {
	f := map[string][2]int64{}
	for k, cs := range e.perKey {
		last := e.want[cs[len(cs)-1]]
		f[k] = [2]int64{last.n, last.sum}
	}
	return f
}

// checker checks read-committed output, record by record in each output
// partition's order, against an expectation: each input answered once; per
// key, the i-th count output answers the key's i-th counted input and
// carries count i and the running sum of the key's values up to it; a
// repeated id answered by a dup output carrying the key's count and sum at
// that point (and a new id never dropped); each timer fired once, only
// after the output that scheduled it. finish adds that nothing is missing.
type checker struct {
	exp       *expectation
	seen      map[[2]int64]int
	next      map[string]int            // count outputs seen per key
	parts     map[int32]*partSeen       // answered inputs per input partition
	scheduled map[string]map[int64]bool // timer ordinals scheduled per key
	fired     map[string]map[int64]int  // firings per key and ordinal
	errs      []string
	nerrs     int
	outputs   map[string]int // per kind
}

type partSeen struct {
	n   int64
	max int64
}

func newChecker(exp *expectation) *checker {
	return &checker{exp: exp, seen: map[[2]int64]int{}, next: map[string]int{}, parts: map[int32]*partSeen{},
		scheduled: map[string]map[int64]bool{}, fired: map[string]map[int64]int{}, outputs: map[string]int{}}
}

func (c *checker) errorf(format string, args ...any) {
	c.nerrs++
	if len(c.errs) < 8 {
		c.errs = append(c.errs, fmt.Sprintf(format, args...))
	}
}

// err reports the violations seen so far.
func (c *checker) err() error {
	if c.nerrs == 0 {
		return nil
	}
	msg := strings.Join(c.errs, "\n")
	if c.nerrs > len(c.errs) {
		msg += fmt.Sprintf("\n... %d violations in all", c.nerrs)
	}
	return errors.New(msg)
}

func (c *checker) add(r *kgo.Record) {
	kind := outputKind(r)
	c.outputs[kind]++
	key := string(r.Key)
	if kind == kindFired {
		if len(r.Value) != 8 {
			c.errorf("fired output of %d bytes", len(r.Value))
			return
		}
		ord := int64(binary.BigEndian.Uint64(r.Value))
		if !c.scheduled[key][ord] {
			c.errorf("key %s: timer %d fired before (or without) the output that scheduled it", key, ord)
		}
		if c.fired[key] == nil {
			c.fired[key] = map[int64]int{}
		}
		if c.fired[key][ord]++; c.fired[key][ord] > 1 {
			c.errorf("key %s: timer %d fired %d times", key, ord, c.fired[key][ord])
		}
		return
	}
	co := outputCoords(r)
	x, ok := c.exp.want[co]
	if !ok {
		c.errorf("output %s/%d@%d (%q) answers no input (coordinates %v)", r.Topic, r.Partition, r.Offset, kind, co)
		return
	}
	if c.seen[co]++; c.seen[co] > 1 {
		c.errorf("input %v (key %s) answered %d times", co, x.key, c.seen[co])
		return
	}
	ps := c.parts[int32(co[0])]
	if ps == nil {
		ps = &partSeen{max: -1}
		c.parts[int32(co[0])] = ps
	}
	ps.n++
	ps.max = max(ps.max, co[1])
	if kind == kindDrain || x.drain {
		if kind != kindDrain || !x.drain {
			c.errorf("input %v: output kind %q, want %q", co, kind, map[bool]string{true: kindDrain, false: "count or dup"}[x.drain])
		}
		return
	}
	if key != x.key {
		c.errorf("input %v: output keyed %s, want %s", co, key, x.key)
		return
	}
	if len(r.Value) < 28 {
		c.errorf("input %v: output of %d bytes", co, len(r.Value))
		return
	}
	n, sum := int64(binary.BigEndian.Uint64(r.Value[12:])), int64(binary.BigEndian.Uint64(r.Value[20:]))
	switch {
	case kind == kindDup && !x.dup:
		c.errorf("input %v (key %s): dropped as a repeated id, but its id was new", co, key)
	case kind == kindDup:
		if n != x.n || sum != x.sum {
			c.errorf("input %v (key %s): dup output carries (count, sum) (%d, %d), want (%d, %d)", co, key, n, sum, x.n, x.sum)
		}
	case kind != kindCount:
		c.errorf("input %v: unknown output kind %q", co, kind)
	case x.dup:
		c.errorf("input %v (key %s): a repeated id was counted", co, key)
	default:
		i := c.next[key]
		c.next[key]++
		want := c.exp.perKey[key]
		switch {
		case i >= len(want):
			c.errorf("key %s: count output %d answers %v, but the key has only %d counted inputs", key, i+1, co, len(want))
		case want[i] != co:
			c.errorf("key %s: count output %d answers input %v, want %v (an input counted out of order, skipped or twice)", key, i+1, co, want[i])
		case n != x.n || sum != x.sum:
			c.errorf("key %s: count output %d (input %v) carries (count, sum) (%d, %d), want the running (%d, %d)", key, i+1, co, n, sum, x.n, x.sum)
		}
		if len(r.Value) >= 36 {
			if ord := int64(binary.BigEndian.Uint64(r.Value[28:])); ord > 0 {
				if c.scheduled[key] == nil {
					c.scheduled[key] = map[int64]bool{}
				}
				if c.scheduled[key][ord] || int64(len(c.scheduled[key])) != ord-1 {
					c.errorf("key %s: input %v scheduled timer %d after %d timers", key, co, ord, len(c.scheduled[key]))
				}
				c.scheduled[key][ord] = true
			}
		}
	}
}

// answered is how many inputs of partition p were answered, and the
// highest offset among them (-1 for none).
func (c *checker) answered(p int32) (n, maxOffset int64) {
	if ps := c.parts[p]; ps != nil {
		return ps.n, ps.max
	}
	return 0, -1
}

// timers counts the timers scheduled and fired.
func (c *checker) timers() (scheduled, fired int) {
	for _, m := range c.scheduled {
		scheduled += len(m)
	}
	for _, m := range c.fired {
		for _, n := range m {
			fired += n
		}
	}
	return scheduled, fired
}

// finish checks, once the whole output was read, that nothing is missing.
func (c *checker) finish() error {
	missing := 0
	var example [2]int64
	for co := range c.exp.want {
		if c.seen[co] == 0 {
			if missing == 0 || co[0] < example[0] || (co[0] == example[0] && co[1] < example[1]) {
				example = co
			}
			missing++
		}
	}
	if missing > 0 {
		c.errorf("%d of %d inputs never answered (the first: %v)", missing, len(c.exp.want), example)
	}
	for k, want := range c.exp.perKey {
		if c.next[k] != len(want) {
			c.errorf("key %s: %d count outputs, want %d", k, c.next[k], len(want))
		}
	}
	for k, ords := range c.scheduled {
		for ord := range ords {
			if c.fired[k][ord] == 0 {
				c.errorf("key %s: timer %d scheduled but never fired", k, ord)
			}
		}
	}
	return c.err()
}

// outputReader reads the output topic read-committed (keeping control
// records, so that it knows when it reached an offset) into a checker.
type outputReader struct {
	s    *scenario
	cl   *kgo.Client
	next map[int32]int64
	chk  *checker
}

func (s *scenario) newOutputReader(t testing.TB, exp *expectation) *outputReader {
	cl, err := kgo.NewClient(append(s.b.opts(), kgo.ConsumeTopics(s.out), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		t.Fatal(err)
	}
	return &outputReader{s: s, cl: cl, next: map[int32]int64{}, chk: newChecker(exp)}
}

func (r *outputReader) close() { r.cl.Close() }

// readToStable reads every output partition up to its last stable offset
// as listed now.
func (r *outputReader) readToStable(t testing.TB, ctx context.Context) {
	t.Helper()
	ends, err := r.s.b.adm.ListCommittedOffsets(ctx, r.s.out)
	if err != nil {
		t.Fatal(err)
	}
	behind := func() bool {
		for p := int32(0); p < r.s.partitions; p++ {
			if end, ok := ends.Lookup(r.s.out, p); ok && r.next[p] < end.Offset {
				return true
			}
		}
		return false
	}
	for behind() {
		pctx, cancel := context.WithTimeout(ctx, livenessBound)
		fs := r.cl.PollFetches(pctx)
		timedOut := pctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("output reader: no records for %s while behind the stable offsets %v (at %v)", livenessBound, ends, r.next)
		}
		if err := fs.Err0(); err != nil {
			t.Fatalf("output reader: %v", err)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			r.next[rec.Partition] = rec.Offset + 1
			if !rec.Attrs.IsControl() {
				r.chk.add(rec)
			}
		})
	}
}

// groupOffsets waits until the processor's last transaction has settled
// (no commit or abort whose markers are still being written, so that the
// output's stable offsets and the group's offsets show the same outcome)
// and returns the group's committed offsets on the input, fetched with
// RequireStable. An open transaction (a crash mid-batch) does not count:
// its offsets are not in the group until it commits.
func (s *scenario) groupOffsets(t testing.TB, ctx context.Context, txnID string) map[int32]int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		d, err := s.b.adm.DescribeTransactions(ctx, txnID)
		var txnState string
		if err == nil {
			dt := d[txnID]
			switch {
			case errors.Is(dt.Err, kerr.TransactionalIDNotFound):
				// Before the first transaction only; a wrong id would make
				// this wait a no-op, so the caller passes the runtime's.
			case dt.Err != nil:
				err = dt.Err
			default:
				txnState = dt.State
			}
		}
		if err == nil && !strings.HasPrefix(txnState, "Prepare") {
			offs, ferr := s.b.adm.FetchOffsets(kadm.RequireStable(ctx), stream.GroupID(s.prefix, s.name))
			if ferr == nil {
				ferr = offs.Error()
			}
			if ferr == nil {
				out := map[int32]int64{}
				for p := int32(0); p < s.partitions; p++ {
					if o, ok := offs.Lookup(s.in, p); ok && o.At > 0 {
						out[p] = o.At
					}
				}
				return out
			}
			err = ferr
		}
		last = fmt.Sprintf("transaction %s in state %q, err %v", txnID, txnState, err)
		if time.Now().After(deadline) {
			t.Fatalf("the processor's transaction never settled: %s", last)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for the transaction to settle: %v (%s)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// checkCommitted checks that the group's committed input offsets are
// exactly what the output answers: per input partition, the inputs
// answered are the offsets 0..committed-1, none beyond, none missing. It
// returns how many inputs were committed, and the mismatches.
func (r *outputReader) checkCommitted(committed map[int32]int64) (int64, error) {
	var total int64
	var errs []error
	for p := int32(0); p < r.s.partitions; p++ {
		c := committed[p]
		n, maxOff := r.chk.answered(p)
		switch {
		case n > c || maxOff >= c:
			errs = append(errs, fmt.Errorf("input partition %d: committed offset %d, but the output answers %d inputs up to offset %d: output committed without its offsets", p, c, n, maxOff))
		case n < c:
			errs = append(errs, fmt.Errorf("input partition %d: committed offset %d, but the output answers only %d inputs (up to offset %d): offsets committed beyond the processed output", p, c, n, maxOff))
		}
		total += c
	}
	return total, errors.Join(errs...)
}

// checkKill is the check after a kill: the processor's last transaction
// settled, the output read to its stable end is right so far, and the
// group's committed offsets are exactly the inputs it answers. It returns
// how many inputs were committed.
func (r *outputReader) checkKill(t testing.TB, ctx context.Context, what string) int64 {
	t.Helper()
	committed := r.s.groupOffsets(t, ctx, stream.GroupID(r.s.prefix, r.s.name)+"-a") // the processor's transactional id
	r.readToStable(t, ctx)
	total, err := r.checkCommitted(committed)
	if oerr := r.chk.err(); oerr != nil || err != nil {
		t.Fatalf("after %s:\ncommitted offsets: %v\noutput: %v", what, err, oerr)
	}
	return total
}

// storeDump reads every store of partitions 0..parts-1 from a stopped
// instance's Pebble directory: partition/store/key -> value.
func storeDump(t testing.TB, fs vfs.FS, dir string, parts int32, stores ...string) map[string]string {
	t.Helper()
	st, err := state.Open(dir, state.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := map[string]string{}
	for p := range parts {
		for _, store := range stores {
			if err := st.Each(p, store, func(k, v []byte) error {
				out[fmt.Sprintf("%d/%s/%q", p, store, k)] = string(v)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}
