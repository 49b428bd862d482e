package stream_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

type noop struct{}

func (noop) Handle(*stream.Context, *kgo.Record) error { return nil }

// BenchmarkRuntimeKfake measures the runtime end to end on the in-process
// broker: b.N records handled in transactions of MaxBatch, offsets and
// changelog committed, state applied. "noop" has a trivial handler; "count"
// reads and writes state and emits one record per input. Compare with
// BenchmarkConsumeKfake, the cost of only reading the same records.
func BenchmarkRuntimeKfake(b *testing.B) {
	for _, bc := range []struct {
		name    string
		handler func(out string) stream.Handler
	}{
		{"noop", func(string) stream.Handler { return noop{} }},
		{"count", func(out string) stream.Handler { return counter{out: out} }},
	} {
		for _, batch := range []int{100, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", bc.name, batch), func(b *testing.B) {
				br := newKfake(b)
				s := newScenario(b, br, 6)
				s.produce(b, b.N, 10_000, 1)
				reg := prometheus.NewRegistry()
				cfg := s.config("a", b.TempDir())
				cfg.Topology.Handler = bc.handler(s.out)
				cfg.MaxBatch = batch
				cfg.Metrics = stream.NewMetrics(reg)
				b.ResetTimer()
				inst := start(b, cfg, br.opts()...)
				for counterValue(b, reg, "lockstep_records_in_total") < float64(b.N) {
					time.Sleep(time.Millisecond) // polling a benchmark's progress, not a test's timing
				}
				// The last batch is counted before its commit; stop waits
				// for it to end.
				inst.stop(b)
				b.StopTimer()
				b.ReportMetric(counterValue(b, reg, "lockstep_transactions_total"), "txns")
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
