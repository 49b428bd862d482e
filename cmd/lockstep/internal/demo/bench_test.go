package demo_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/analytics/analyticstest"
	"github.com/lockstep-dev/lockstep/cmd/lockstep/internal/demo"
	"github.com/lockstep-dev/lockstep/connectors/broker/brokertest"
)

// The end-to-end throughput benchmarks (issue 6, make bench-e2e): stock
// movements per second from Clarus webhook to Prima, through the wiring
// `lockstep run` uses with exactly-once on, with no faults. The clock starts
// with the first Clarus scenario and stops when Prima first equals Clarus
// for every balance (demo.Summary.CaughtUp); the drift injection and checks
// that follow are not timed, but a failed check fails the benchmark. One
// iteration is one full run: use -benchtime 1x and -count for repeats.

// BenchmarkStockFlowKafka runs on the local Apache Kafka broker
// (deploy/local/kafka.sh) with the ledger into the local ClickHouse.
func BenchmarkStockFlowKafka(b *testing.B) {
	seeds := brokertest.RealKafka(b)
	analyticstest.Require(b)
	benchStockFlow(b, seeds, func() *analytics.Config {
		cfg := analyticstest.Config(b)
		return &cfg
	})
}

// BenchmarkStockFlowKfake is the same workload on the in-process kfake
// broker, without the ledger (it only carries drift, and there is none
// until after the clock stops).
func BenchmarkStockFlowKfake(b *testing.B) {
	seeds := brokertest.Kfake(b)
	benchStockFlow(b, seeds, func() *analytics.Config { return nil })
}

func benchStockFlow(b *testing.B, seeds []string, ledger func() *analytics.Config) {
	// 50,000 movements over 1,000 SKUs x 3 warehouses, as in issue 6;
	// LOCKSTEP_BENCH_MOVEMENTS changes the count.
	n := 50_000
	if v, err := strconv.Atoi(os.Getenv("LOCKSTEP_BENCH_MOVEMENTS")); err == nil && v > 0 {
		n = v
	}
	run := 0
	var mps, secs float64
	for b.Loop() {
		run++
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		o := demo.Options{
			Kafka: []kgo.Opt{kgo.SeedBrokers(seeds...)}, Partitions: 6,
			TopicPrefix: fmt.Sprintf("bench%d.", time.Now().UnixNano()%1e9),
			StateDir:    b.TempDir(),
			Ledger:      ledger(),
			SKUs:        1000, Warehouses: 3, Movements: n,
			// One overwrite, so the drift checks and the ledger check
			// have something to find; it comes after the clock stops.
			Injected: 1,
			Settle:   5 * time.Minute,
			Logger:   logger(b),
		}
		if testing.Verbose() {
			o.Progress = &stamped{w: os.Stderr, start: time.Now(), prefix: fmt.Sprintf("%s run %d", b.Name(), run)}
		}
		sum, err := demo.Run(ctx, o)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("summary: %+v", sum)
		if !sum.OK() {
			b.Fatalf("checks failed: %s", strings.Join(sum.Failures, "\n"))
		}
		if sum.CaughtUp == "" || sum.MovementsPerSecond == 0 {
			b.Fatalf("lockstep did not catch up with Clarus within %s", o.Settle)
		}
		d, err := time.ParseDuration(sum.CaughtUp)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("run %d: %d movements, caught up %s after traffic started: %.0f movements/s", run, sum.Movements, sum.CaughtUp, sum.MovementsPerSecond)
		mps += sum.MovementsPerSecond
		secs += d.Seconds()
	}
	// Means over the iterations (one with -benchtime 1x).
	b.ReportMetric(mps/float64(run), "movements/s")
	b.ReportMetric(secs/float64(run), "s-to-converge")
}

// stamped prefixes each progress line with the seconds since the run
// started, to see where the time goes.
type stamped struct {
	mu     sync.Mutex
	w      io.Writer
	start  time.Time
	prefix string
}

func (s *stamped) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := fmt.Fprintf(s.w, "%s %7.1fs %s", s.prefix, time.Since(s.start).Seconds(), p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// BenchmarkOrdersFlowKafka (issue 8, make bench-e2e) times 20,000 Prima
// orders (LOCKSTEP_BENCH_ORDERS) from their release in Prima until each is
// a goods-out in Clarus or held on an unmapped SKU: the Prima poll, the
// orders processor (exactly-once) and the Clarus sink (a look-up by
// reference and a create per order, one call at a time), on the local
// Apache Kafka broker with no faults. The changes, mapping and checks
// that follow are not timed; a failed check fails the benchmark.
func BenchmarkOrdersFlowKafka(b *testing.B) {
	seeds := brokertest.RealKafka(b)
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("LOCKSTEP_BENCH_ORDERS")); err == nil && v > 0 {
		n = v
	}
	run := 0
	var ops float64
	for b.Loop() {
		run++
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		o := demo.Options{
			Kafka: []kgo.Opt{kgo.SeedBrokers(seeds...)}, Partitions: 6,
			TopicPrefix: fmt.Sprintf("bench%d.", time.Now().UnixNano()%1e9),
			StateDir:    b.TempDir(),
			SKUs:        500, Warehouses: 3, Movements: 500, Injected: 1, Orders: n,
			Settle: 10 * time.Minute,
			Logger: logger(b),
		}
		if testing.Verbose() {
			o.Progress = &stamped{w: os.Stderr, start: time.Now(), prefix: fmt.Sprintf("%s run %d", b.Name(), run)}
		}
		sum, err := demo.Run(ctx, o)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if !sum.OK() || sum.OrdersPerSecond == 0 {
			b.Fatalf("checks failed or orders not all sent: %s", strings.Join(sum.Failures, "\n"))
		}
		b.Logf("run %d: %d orders in Clarus or held %s after release: %.0f orders/s", run, sum.Orders, sum.OrdersSentIn, sum.OrdersPerSecond)
		ops += sum.OrdersPerSecond
	}
	b.ReportMetric(ops/float64(run), "orders/s")
}

// BenchmarkInboundFlowKafka (issue 10, make bench-e2e) times 5,000 Prima
// purchase orders (LOCKSTEP_BENCH_POS) from their approval in Prima until
// each is a pre-receipt in Clarus (the Prima poll, the inbound processor
// with exactly-once, and the goods-in sink: a look-up by reference and a
// create per PO, one call at a time), and the receipts that follow (one to
// four deliveries per PO, with the demo's 3% orphans, 2% over-receipts and
// 1% products not on the PO) from the first delivery until every receipt
// problem is flagged as expected (the completed-receipt webhook, the
// inbound processor, the drift topic), on the local Apache Kafka broker
// with no API faults. A failed check fails the benchmark.
func BenchmarkInboundFlowKafka(b *testing.B) {
	seeds := brokertest.RealKafka(b)
	n := 5_000
	if v, err := strconv.Atoi(os.Getenv("LOCKSTEP_BENCH_POS")); err == nil && v > 0 {
		n = v
	}
	run := 0
	var pos, receipts float64
	for b.Loop() {
		run++
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		o := demo.Options{
			Kafka: []kgo.Opt{kgo.SeedBrokers(seeds...)}, Partitions: 6,
			TopicPrefix: fmt.Sprintf("bench%d.", time.Now().UnixNano()%1e9),
			StateDir:    b.TempDir(),
			SKUs:        500, Warehouses: 3, Movements: 500, Injected: 1,
			POs: n, OrphanReceipts: 0.03, OverReceipts: 0.02, WrongSKUReceipts: 0.01,
			Settle: 10 * time.Minute,
			Logger: logger(b),
		}
		if testing.Verbose() {
			o.Progress = &stamped{w: os.Stderr, start: time.Now(), prefix: fmt.Sprintf("%s run %d", b.Name(), run)}
		}
		sum, err := demo.Run(ctx, o)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if !sum.OK() || sum.POsPerSecond == 0 || sum.ReceiptsPerSecond == 0 {
			b.Fatalf("checks failed or POs not all sent: %s", strings.Join(sum.Failures, "\n"))
		}
		b.Logf("run %d: %d POs in Clarus %s after approval (%.0f POs/s); %d receipts matched in %s (%.0f receipts/s)",
			run, sum.POs, sum.POsSentIn, sum.POsPerSecond, sum.Receipts, sum.ReceiptsMatchedIn, sum.ReceiptsPerSecond)
		pos += sum.POsPerSecond
		receipts += sum.ReceiptsPerSecond
	}
	b.ReportMetric(pos/float64(run), "POs/s")
	b.ReportMetric(receipts/float64(run), "receipts/s")
}
