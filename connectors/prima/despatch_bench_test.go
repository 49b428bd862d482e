package prima_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// benchPrimaLatency is what each Prima call costs in the benchmark, on top
// of the simulator: a round trip to a remote instance, which is what the
// sink spends its time waiting on.
const benchPrimaLatency = 5 * time.Millisecond

// BenchmarkDespatchSink posts despatch commands through the sink, on
// kfake, to the simulator behind a fixed latency per call, one lane at a
// time and four. The sink has joined its group before the clock starts;
// the clock stops when the group has committed every command. The token
// bucket is opened wide and the clock is the wall clock: what is measured
// is the round trips, the Kafka transactions and the sink, not the rate
// configured. One iteration posts despatchBenchNotes notes, each to a
// shipment of its own, so each costs a look-up and a create.
func BenchmarkDespatchSink(b *testing.B) {
	for _, lanes := range []int{1, 4} {
		b.Run(fmt.Sprintf("concurrency=%d", lanes), func(b *testing.B) { benchDespatchSink(b, lanes) })
	}
}

const despatchBenchNotes = 256 // eight polls

func benchDespatchSink(b *testing.B, lanes int) {
	var notes int
	var took time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		kopts := newDespatchKafka(b, 3)
		sim, _ := orderedSim(b, newClock(), primasim.Options{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(benchPrimaLatency)
			sim.ServeHTTP(w, r)
		}))
		cfg := testConfig(srv.URL)
		cfg.DespatchConcurrency = lanes
		cfg.DespatchRatePerSecond, cfg.DespatchBurst = 1e6, 1000
		serde := schemas.NewSerde(schemas.NewMemRegistry())
		var recs []*kgo.Record
		for n := range despatchBenchNotes {
			c := despatchCmd(fmt.Sprintf("GO-%d-%04d", i, n), []string{"SO1", "SO2"}[n%2], schemas.Line{SKU: "ST1/BLK/9", Quantity: 1})
			v, err := serde.Encode(context.Background(), c)
			if err != nil {
				b.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: schemas.TopicCmdPrimaDespatch, Key: []byte(c.OrderRef), Value: v})
		}
		ready := &readiness{}
		sink, err := prima.NewDespatchSink(cfg, newClient(b, cfg), serde, prima.Options{Metrics: prima.NewMetrics(prometheus.NewRegistry()),
			Seed: 1, SetReady: ready.set, TransactionalID: fmt.Sprintf("bench-despatch-%d", i)}, kopts...)
		if err != nil {
			b.Fatal(err)
		}
		stop := runComponent(b, "despatch sink", ready, sink.Run)
		waitFor(b, "the sink to join its group", ready.ready)

		b.StartTimer()
		start := time.Now()
		offset := map[int32]int64{}
		produceTo(b, kopts, offset, recs...)
		waitGroupCommitted(b, kopts, prima.DespatchSinkGroup, schemas.TopicCmdPrimaDespatch, offset)
		took += time.Since(start)
		b.StopTimer()

		stop()
		srv.Close()
		if got := sim.State().Counters.DespatchNotesCreated; got != despatchBenchNotes {
			b.Fatalf("%d notes created, want %d", got, despatchBenchNotes)
		}
		notes += despatchBenchNotes
	}
	b.ReportMetric(float64(notes)/took.Seconds(), "notes/s")
}
