package stream_test

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/broker/brokertest"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// seedFlag varies the seeded tests' data and kill schedules, so that
// `make soak` can run them many times over different interleavings; the
// default keeps a single run reproducible.
var seedFlag = flag.Uint64("seed", 1, "seed for the seeded runtime tests (data, kill points)")

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
		w.seen[[2]int64{int64(binary.BigEndian.Uint32(r.Value)), int64(binary.BigEndian.Uint64(r.Value[4:]))}]++
		w.perPart[r.Partition]++
		w.total++
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
// every input appears once; per key the counts run 1..n with the running
// sums of the input in offset order.
func (s *scenario) verify(t testing.TB, in map[[2]int64]input) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ends, err := s.b.adm.ListCommittedOffsets(ctx, s.out)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(s.b.opts(), kgo.ConsumeTopics(s.out), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	next := map[int32]int64{}
	remaining := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining++
		}
	})
	seen := map[[2]int64]int{}
	perKey := map[string][]int64{} // counts in output order
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("verifier: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, _ := ends.Lookup(s.out, r.Partition)
			if r.Offset >= end.Offset {
				return
			}
			if r.Offset == end.Offset-1 {
				remaining--
			}
			if r.Attrs.IsControl() {
				return
			}
			c := [2]int64{int64(binary.BigEndian.Uint32(r.Value)), int64(binary.BigEndian.Uint64(r.Value[4:]))}
			seen[c]++
			perKey[string(r.Key)] = append(perKey[string(r.Key)], int64(binary.BigEndian.Uint64(r.Value[12:])))
		})
		_ = next
	}
	var missing, dup int
	for c := range in {
		switch seen[c] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
	}
	if missing > 0 || dup > 0 || len(seen) != len(in) {
		t.Fatalf("exactly-once violated: %d inputs, %d distinct outputs, %d missing, %d counted more than once", len(in), len(seen), missing, dup)
	}
	want := fold(in)
	for k, counts := range perKey {
		for i, c := range counts {
			if c != int64(i+1) {
				t.Fatalf("key %s: output %d carries count %d, want %d (a count repeated or skipped)", k, i, c, i+1)
			}
		}
		if int64(len(counts)) != want[k][0] {
			t.Fatalf("key %s: %d outputs, want %d", k, len(counts), want[k][0])
		}
	}
}

// storeState reads the counts of every partition from a stopped instance's
// Pebble directory.
func storeState(t testing.TB, dirs ...string) map[string][2]int64 {
	t.Helper()
	got := map[string][2]int64{}
	for _, dir := range dirs {
		st, err := state.Open(dir, state.Options{})
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
