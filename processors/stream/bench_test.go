package stream_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

type noop struct{}

func (noop) Handle(*stream.Context, *kgo.Record) error { return nil }

// BenchmarkRuntimeKfake measures the runtime end to end on the in-process
// broker: b.N records handled in transactions, offsets and changelog
// committed, state applied. "noop" has a trivial handler; "count" reads and
// writes state and emits one record per input. batch=default runs the
// Config defaults (MaxBatch, CommitInterval); batch=N sets MaxBatch. The
// clock starts once the processor is ready (startup is not throughput) and
// stops when the group's committed offsets cover every record. Compare with
// BenchmarkConsumeKfake, the cost of only reading the same records.
func BenchmarkRuntimeKfake(b *testing.B) { benchRuntime(b, newKfake, 100, 1000, 0) }

// BenchmarkRuntimeKafka is BenchmarkRuntimeKfake on the local Apache Kafka
// broker (deploy/local/kafka.sh); it skips when the broker is absent.
func BenchmarkRuntimeKafka(b *testing.B) { benchRuntime(b, realKafka, 1000, 0) }

func benchRuntime(b *testing.B, newBroker func(testing.TB) *broker, batches ...int) {
	for _, bc := range []struct {
		name    string
		handler func(out string) stream.Handler
	}{
		{"noop", func(string) stream.Handler { return noop{} }},
		{"count", func(out string) stream.Handler { return counter{out: out} }},
	} {
		for _, batch := range batches {
			name := fmt.Sprintf("%s/batch=%d", bc.name, batch)
			if batch == 0 {
				name = bc.name + "/batch=default"
			}
			b.Run(name, func(b *testing.B) {
				br := newBroker(b)
				s := newScenario(b, br, 6)
				s.produce(b, b.N, 10_000, 1)
				reg := prometheus.NewRegistry()
				cfg := s.config("a", b.TempDir())
				cfg.Topology.Handler = bc.handler(s.out)
				cfg.MaxBatch = batch
				cfg.TimerTick = 0
				cfg.Metrics = stream.NewMetrics(reg)
				// Timed from readiness (group joined, partitions
				// restored): startup is not throughput.
				inst := start(b, cfg, br.opts()...)
				for !inst.p.Ready() {
					time.Sleep(time.Millisecond)
				}
				b.ResetTimer()
				// Done when the group's committed offsets cover every
				// record: records handled in a transaction that then
				// aborted are handled again, so the handled count is no
				// measure of progress.
				for s.committed(b) < int64(b.N) {
					time.Sleep(5 * time.Millisecond) // polling a benchmark's progress, not a test's timing
				}
				b.StopTimer()
				inst.stop(b)
				txns := counterValue(b, reg, "lockstep_transactions_total")
				b.ReportMetric(txns, "txns")
				if a := abortedTxns(b, reg); a > 0 {
					b.ReportMetric(a, "aborted")
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkConsumeKfake is the baseline: a plain read-committed consumer
// reading b.N records from the same kind of topic.
func BenchmarkConsumeKfake(b *testing.B) {
	br := newKfake(b)
	s := newScenario(b, br, 6)
	s.produce(b, b.N, 10_000, 1)
	b.ResetTimer()
	cl, err := kgo.NewClient(append(br.opts(), kgo.ConsumeTopics(s.in), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	var sum uint64
	for n := 0; n < b.N; {
		fs := cl.PollFetches(context.Background())
		fs.EachRecord(func(r *kgo.Record) { sum += binary.BigEndian.Uint64(r.Value) })
		n += fs.NumRecords()
	}
	_ = sum
}

func counterValue(b testing.TB, reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if name == "lockstep_transactions_total" && m.GetLabel()[0].GetValue() != "committed" && m.GetLabel()[1].GetValue() != "committed" {
				continue
			}
			v += m.GetCounter().GetValue()
		}
	}
	return v
}

// stamp keeps a count per key (a state read-modify-write, as counter does)
// and emits the input's value, the producer's clock in Unix nanoseconds, so
// that a downstream reader can time each record end to end.
type stamp struct{ out string }

func (h stamp) Handle(ctx *stream.Context, rec *kgo.Record) error {
	prev, _, err := ctx.Get(countsStore, rec.Key)
	if err != nil {
		return err
	}
	n, sum := decodeCount(prev)
	ctx.Put(countsStore, rec.Key, encodeCount(n+1, sum))
	ctx.Emit(h.out, rec.Key, rec.Value)
	return nil
}

// BenchmarkLatencyKfake measures input-to-committed-output latency: b.N
// records produced at a steady rate, each timed from just before its
// produce call to its arrival at a read-committed consumer of the output
// (so it includes the producer, the runtime's poll, the transaction's
// commit and the downstream fetch). p50 and p99 are reported in ms, with
// the runtime's own lockstep_commit_latency_seconds median for comparison.
func BenchmarkLatencyKfake(b *testing.B) { benchLatency(b, newKfake) }

// BenchmarkLatencyKafka is BenchmarkLatencyKfake on the local Apache Kafka
// broker.
func BenchmarkLatencyKafka(b *testing.B) { benchLatency(b, realKafka) }

func benchLatency(b *testing.B, newBroker func(testing.TB) *broker) {
	for _, rate := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			br := newBroker(b)
			s := newScenario(b, br, 6)
			reg := prometheus.NewRegistry()
			cfg := s.config("a", b.TempDir())
			cfg.Topology.Handler = stamp{out: s.out}
			cfg.MaxBatch = 0
			cfg.TimerTick = 0
			cfg.Metrics = stream.NewMetrics(reg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			inst := start(b, cfg, br.opts()...)
			waitReady(b, ctx, inst)
			lat := make([]time.Duration, 0, b.N)
			var got atomic.Int64
			done := make(chan struct{})
			cons, err := kgo.NewClient(append(br.opts(), kgo.ConsumeTopics(s.out), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
			if err != nil {
				b.Fatal(err)
			}
			defer cons.Close()
			go func() {
				defer close(done)
				for len(lat) < b.N && ctx.Err() == nil {
					fs := cons.PollFetches(ctx)
					now := time.Now()
					fs.EachRecord(func(r *kgo.Record) {
						lat = append(lat, now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(r.Value)))))
					})
					got.Store(int64(len(lat)))
				}
			}()
			prod, err := kgo.NewClient(append(br.opts(), kgo.DefaultProduceTopic(s.in))...)
			if err != nil {
				b.Fatal(err)
			}
			defer prod.Close()
			b.ResetTimer()
			// Produce in steps of 5 ms at the given rate.
			perTick := max(rate/200, 1)
			tick := time.NewTicker(5 * time.Millisecond)
			for i := 0; i < b.N; {
				<-tick.C
				for j := 0; j < perTick && i < b.N; j, i = j+1, i+1 {
					v := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
					prod.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("k%04d", i%1000)), Value: v}, nil)
				}
			}
			tick.Stop()
			select {
			case <-done:
			case <-time.After(2 * time.Minute):
				b.Fatalf("only %d of %d outputs arrived", got.Load(), b.N)
			}
			b.StopTimer()
			inst.stop(b)
			slices.Sort(lat)
			ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e6 }
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(histQuantile(b, reg, "lockstep_commit_latency_seconds", 0.5)*1000, "commit-p50-ms")
			b.ReportMetric(counterValue(b, reg, "lockstep_transactions_total"), "txns")
		})
	}
}

// histQuantile estimates quantile q of a histogram the way Prometheus'
// histogram_quantile does (linear within the bucket); 0 if it is absent.
func histQuantile(b testing.TB, reg *prometheus.Registry, name string, q float64) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			rank := q * float64(h.GetSampleCount())
			lo, below := 0.0, 0.0
			for _, bk := range h.GetBucket() {
				c := float64(bk.GetCumulativeCount())
				if c >= rank {
					if c == below {
						return bk.GetUpperBound()
					}
					return lo + (bk.GetUpperBound()-lo)*(rank-below)/(c-below)
				}
				lo, below = bk.GetUpperBound(), c
			}
			return lo
		}
	}
	return 0
}

func abortedTxns(b testing.TB, reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != "lockstep_transactions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == "aborted" {
					v += m.GetCounter().GetValue()
				}
			}
		}
	}
	return v
}

// committed sums the group's committed offsets on the input.
func (s *scenario) committed(b testing.TB) int64 {
	offs, err := s.b.adm.FetchOffsets(context.Background(), stream.GroupID(s.prefix, s.name))
	if err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) || errors.Is(err, kerr.CoordinatorLoadInProgress) || errors.Is(err, kerr.CoordinatorNotAvailable) {
			return 0
		}
		b.Fatal(err)
	}
	var n int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == s.in && o.Err == nil {
			n += o.At
		}
	})
	return n
}
