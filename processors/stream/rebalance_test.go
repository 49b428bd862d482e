package stream_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/processors/stream"
)

func TestRebalanceKfake(t *testing.T) { testRebalance(t, newKfake(t)) }
func TestRebalanceKafka(t *testing.T) { testRebalance(t, realKafka(t)) }

// owners checks that each partition is owned by one instance at a time.
type owners struct {
	mu         sync.Mutex
	by         map[int32]string
	violations []string
	moves      int
}

func (o *owners) owner(p int32) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if who, ok := o.by[p]; ok {
		return who
	}
	return "none"
}

func (o *owners) hook(instance string) func(int32, bool) {
	return func(p int32, owned bool) {
		o.mu.Lock()
		defer o.mu.Unlock()
		cur, held := o.by[p]
		switch {
		case owned && held && cur != instance:
			o.violations = append(o.violations, fmt.Sprintf("partition %d assigned to %s while %s still owns it", p, instance, cur))
		case owned:
			o.by[p] = instance
			o.moves++
		case cur == instance:
			delete(o.by, p)
		}
	}
}

// testRebalance runs three instances that join and leave while records
// flow, then checks exactly-once, single ownership and the final state.
func testRebalance(t *testing.T, b *broker) {
	const n, chunk = 60_000, 2_000
	s := newScenario(t, b, 6)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w := s.watchOutput(t, ctx)

	// The producer stays at most two chunks ahead of the processors, so
	// that records are still flowing during every membership change.
	in := make(map[[2]int64]input, n)
	var inMu sync.Mutex
	produced := make(chan error, 1)
	dataSeed := seed(t, 9)
	go func() {
		cl, err := kgo.NewClient(append(b.opts(), kgo.DefaultProduceTopic(s.in))...)
		if err != nil {
			produced <- err
			return
		}
		defer cl.Close()
		rng := rand.New(rand.NewPCG(dataSeed, 9))
		for i := 0; i < n; i += chunk {
			// No liveness bound here: the test's own waits report stalls.
			if err := w.until(ctx, time.Hour, func() bool { return len(w.seen) >= i-2*chunk }); err != nil {
				produced <- err
				return
			}
			recs := make([]*kgo.Record, chunk)
			vals := make([]input, chunk)
			for j := range recs {
				vals[j] = input{fmt.Sprintf("k%04d", rng.IntN(400)), int64(rng.IntN(100) + 1)}
				recs[j] = &kgo.Record{Key: []byte(vals[j].key), Value: binary.BigEndian.AppendUint64(nil, uint64(vals[j].value))}
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				produced <- err
				return
			}
			inMu.Lock()
			for j, r := range recs {
				in[[2]int64{int64(r.Partition), r.Offset}] = vals[j]
			}
			inMu.Unlock()
		}
		produced <- nil
	}()

	own := &owners{by: map[int32]string{}}
	step := "start"
	w.diagnose = func() string { return s.diagnose(own, step) }
	dirs := map[string]string{"a": t.TempDir(), "b": t.TempDir(), "c": t.TempDir()}
	running := map[string]*instance{}
	up := func(name string) {
		c := s.config(name, dirs[name])
		c.OnOwnership = own.hook(name)
		running[name] = start(t, c, b.opts()...)
	}
	down := func(name string) {
		running[name].stop(t)
		delete(running, name)
	}
	steps := []struct {
		at  int
		up  bool
		who string
	}{
		{0, true, "a"}, {n / 10, true, "b"}, {n / 5, true, "c"}, {n * 35 / 100, false, "a"},
		{n / 2, true, "a"}, {n * 65 / 100, false, "b"}, {n * 8 / 10, false, "c"},
	}
	for _, st := range steps {
		w.waitFor(t, ctx, st.at)
		step = fmt.Sprintf("after %s %s at %d", map[bool]string{true: "up", false: "down"}[st.up], st.who, st.at)
		if st.up {
			up(st.who)
		} else {
			down(st.who)
		}
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	step = "final drain"
	w.waitFor(t, ctx, n)
	down("a")

	s.verify(t, in)
	own.mu.Lock()
	defer own.mu.Unlock()
	if len(own.violations) > 0 {
		t.Fatalf("ownership overlapped: %v", own.violations)
	}
	if own.moves < 12 {
		t.Fatalf("only %d partition assignments; the membership changes did not move partitions", own.moves)
	}
	// "a" owned every partition at the end, so its store holds the fold.
	if err := diffState(storeState(t, dirs["a"]), fold(in)); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d partition assignments over 7 membership changes", own.moves)
}

// diagnose names, for a stalled run, each input partition's owner, its end
// offset and the group's committed (fetch) position, so a stall says where
// it is.
func (s *scenario) diagnose(own *owners, step string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "step: %s\n", step)
	ends, err := s.b.adm.ListEndOffsets(ctx, s.in)
	if err != nil {
		fmt.Fprintf(&b, "list end offsets: %v\n", err)
	}
	committed, err := s.b.adm.FetchOffsets(ctx, stream.GroupID(s.prefix, s.name))
	if err != nil {
		fmt.Fprintf(&b, "fetch group offsets: %v\n", err)
	}
	for p := int32(0); p < s.partitions; p++ {
		end, _ := ends.Lookup(s.in, p)
		pos, ok := committed.Lookup(s.in, p)
		at := "none"
		if ok {
			at = fmt.Sprint(pos.At)
		}
		fmt.Fprintf(&b, "  %s/%d owner=%s end=%d committed=%s\n", s.in, p, own.owner(p), end.Offset, at)
	}
	return b.String()
}
