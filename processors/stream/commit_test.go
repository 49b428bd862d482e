package stream_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestTransactionSpansPollsKfake(t *testing.T) { testTransactionSpansPolls(t, newKfake(t)) }
func TestTransactionSpansPollsKafka(t *testing.T) { testTransactionSpansPolls(t, realKafka(t)) }

// testTransactionSpansPolls checks that one transaction gathers the
// records of several polls until MaxBatch (CommitInterval is set far beyond
// the test's deadline, so only the count can end it): three chunks of 100
// records, each produced once the previous one was handled, commit as one
// transaction of 300. Then the same with a crash while the second chunk is
// handled: the first chunk's state must not have reached the store, and
// after a restart every input counts exactly once.
func testTransactionSpansPolls(t *testing.T, b *broker) {
	const chunk, chunks = 100, 3
	configure := func(s *scenario, dir string, reg prometheus.Registerer) stream.Config {
		c := s.config("a", dir)
		c.MaxBatch = chunk * chunks
		c.CommitInterval = 10 * time.Minute
		c.TransactionTimeout = 15 * time.Minute
		c.StaticMembership = true
		c.Metrics = stream.NewMetrics(reg)
		return c
	}
	t.Run("one transaction", func(t *testing.T) {
		s := newScenario(t, b, 3)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		dir := t.TempDir()
		reg := prometheus.NewRegistry()
		inst := start(t, configure(s, dir, reg), b.opts()...)
		waitReady(t, ctx, inst)
		// Once the processor is ready, the broker shows the output topic, so
		// the watcher's first metadata read finds it.
		w := s.watchOutput(t, ctx)
		p := newChunkProducer(t, s)
		for i := range chunks {
			p.send(t, ctx, chunk, uint64(i))
			waitCounter(t, ctx, inst, reg, "lockstep_records_in_total", float64(chunk*(i+1)))
			if i < chunks-1 {
				if n := counterValue(t, reg, "lockstep_transactions_total"); n != 0 {
					t.Fatalf("after %d of %d records, %v transactions committed: the transaction did not wait for MaxBatch or CommitInterval", chunk*(i+1), chunk*chunks, n)
				}
			}
		}
		w.waitFor(t, ctx, chunk*chunks)
		inst.stop(t)
		if n := counterValue(t, reg, "lockstep_transactions_total"); n != 1 {
			t.Fatalf("%v transactions committed for %d records in %d polls, want one", n, chunk*chunks, chunks)
		}
		// Each record read its key's count; the first read of a key in the
		// transaction went past the overlay to the store.
		if n := counterValue(t, reg, "lockstep_state_reads_total"); n < 1 || n > chunk*chunks {
			t.Fatalf("%v state reads counted for %d records", n, chunk*chunks)
		}
		s.verify(t, p.in)
		if err := diffState(storeState(t, dir), fold(p.in)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("crash mid-transaction", func(t *testing.T) {
		s := newScenario(t, b, 3)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		dir := t.TempDir()
		reg := prometheus.NewRegistry()
		c := configure(s, dir, reg)
		var calls atomic.Int32
		c.Failpoint = func(f stream.Failpoint) error {
			if f == stream.FailMidBatch && calls.Add(1) == 2 {
				return errKill
			}
			return nil
		}
		inst := start(t, c, b.opts()...)
		waitReady(t, ctx, inst)
		w := s.watchOutput(t, ctx)
		p := newChunkProducer(t, s)
		p.send(t, ctx, chunk, 0)
		waitCounter(t, ctx, inst, reg, "lockstep_records_in_total", chunk)
		p.send(t, ctx, chunk, 1)
		select {
		case err := <-inst.done:
			if !errors.Is(err, errKill) {
				t.Fatalf("processor stopped with %v, want the kill", err)
			}
		case <-ctx.Done():
			t.Fatal("the kill never happened")
		}
		if n := counterValue(t, reg, "lockstep_transactions_total"); n != 0 {
			t.Fatalf("%v transactions committed before the kill, want none", n)
		}
		// Nothing committed, so nothing may be in the store.
		if st := storeState(t, dir); len(st) != 0 {
			t.Fatalf("the store holds %d keys of a transaction that never committed", len(st))
		}
		reg = prometheus.NewRegistry()
		inst = start(t, configure(s, dir, reg), b.opts()...)
		p.send(t, ctx, chunk, 2)
		w.waitFor(t, ctx, chunk*chunks)
		inst.stop(t)
		s.verify(t, p.in)
		if err := diffState(storeState(t, dir), fold(p.in)); err != nil {
			t.Fatal(err)
		}
	})
}

// chunkProducer produces chunks of records and remembers them for the
// verifier.
type chunkProducer struct {
	cl *kgo.Client
	in map[[2]int64]input
}

func newChunkProducer(t testing.TB, s *scenario) *chunkProducer {
	cl, err := kgo.NewClient(append(s.b.opts(), kgo.DefaultProduceTopic(s.in))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &chunkProducer{cl: cl, in: map[[2]int64]input{}}
}

func (p *chunkProducer) send(t testing.TB, ctx context.Context, n int, salt uint64) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	vals := make([]input, n)
	for i := range recs {
		vals[i] = input{fmt.Sprintf("k%02d", (i+int(salt))%17), int64(i) + 1}
		recs[i] = &kgo.Record{Key: []byte(vals[i].key), Value: binary.BigEndian.AppendUint64(nil, uint64(vals[i].value))}
	}
	if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		p.in[[2]int64{int64(r.Partition), r.Offset}] = vals[i]
	}
}

// waitCounter waits until a counter reaches want, failing if the processor
// stops or ctx ends first.
func waitCounter(t testing.TB, ctx context.Context, in *instance, reg *prometheus.Registry, name string, want float64) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for counterValue(t, reg, name) < want {
		select {
		case <-ctx.Done():
			t.Fatalf("%s never reached %v (at %v)", name, want, counterValue(t, reg, name))
		case err := <-in.done:
			t.Fatalf("processor stopped with %v while waiting for %s to reach %v", err, name, want)
		case <-tick.C:
		}
	}
}
