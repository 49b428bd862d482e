package stream_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/lockstep-dev/lockstep/connectors/broker/brokertest"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

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
type outputWatcher struct {
	mu       sync.Mutex
	seen     map[[2]int64]int
	total    int
	progress chan struct{}
}

func (s *scenario) watchOutput(t testing.TB, ctx context.Context) *outputWatcher {
	w := &outputWatcher{seen: map[[2]int64]int{}, progress: make(chan struct{}, 1)}
	cl, err := kgo.NewClient(append(s.b.opts(), kgo.ConsumeTopics(s.out), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			w.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				w.seen[[2]int64{int64(binary.BigEndian.Uint32(r.Value)), int64(binary.BigEndian.Uint64(r.Value[4:]))}]++
				w.total++
			})
			w.mu.Unlock()
			select {
			case w.progress <- struct{}{}:
			default:
			}
		}
	}()
	return w
}

func (w *outputWatcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

// waitFor blocks until at least n distinct inputs were seen in the output,
// or the test's liveness bound passes.
func (w *outputWatcher) waitFor(t testing.TB, ctx context.Context, n int) {
	t.Helper()
	for w.count() < n {
		select {
		case <-ctx.Done():
			t.Fatalf("output stalled at %d of %d inputs: %v", w.count(), n, ctx.Err())
		case <-w.progress:
		}
	}
}

// waitTotal blocks until n output records (repeats included) were seen.
func (w *outputWatcher) waitTotal(t testing.TB, ctx context.Context, n int) {
	t.Helper()
	for {
		w.mu.Lock()
		got := w.total
		w.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("output stalled at %d of %d records: %v", got, n, ctx.Err())
		case <-w.progress:
		}
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
