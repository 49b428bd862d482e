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
	n := envInt("LOCKSTEP_BENCH_MOVEMENTS", 50_000)
	benchRuns(b, seeds, func() demo.Options {
		return demo.Options{
			Ledger: ledger(),
			SKUs:   1000, Warehouses: 3, Movements: n,
			// One overwrite, so the drift checks and the ledger check
			// have something to find; it comes after the clock stops.
			Injected: 1,
			Settle:   5 * time.Minute,
		}
	}, func(run int, sum demo.Summary) map[string]float64 {
		if sum.CaughtUp == "" || sum.MovementsPerSecond == 0 {
			b.Fatal("lockstep did not catch up with Clarus within the settle window")
		}
		d, err := time.ParseDuration(sum.CaughtUp)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("run %d: %d movements, caught up %s after traffic started: %.0f movements/s", run, sum.Movements, sum.CaughtUp, sum.MovementsPerSecond)
		return map[string]float64{"movements/s": sum.MovementsPerSecond, "s-to-converge": d.Seconds()}
	})
}

// benchRuns runs one demo.Run per iteration of b with the options opts
// gives (the broker, a fresh topic prefix and state, the logger and the
// progress filled in), fails on a failed check, and reports the mean over
// the iterations of each metric measure returns.
func benchRuns(b *testing.B, seeds []string, opts func() demo.Options, measure func(run int, sum demo.Summary) map[string]float64) {
	run := 0
	totals := map[string]float64{}
	for b.Loop() {
		run++
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		o := opts()
		o.Kafka, o.Partitions = []kgo.Opt{kgo.SeedBrokers(seeds...)}, 6
		o.TopicPrefix = fmt.Sprintf("bench%d.", time.Now().UnixNano()%1e9)
		o.StateDir, o.Logger = b.TempDir(), logger(b)
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
		for k, v := range measure(run, sum) {
			totals[k] += v
		}
	}
	for k, v := range totals {
		b.ReportMetric(v/float64(run), k) // one run with -benchtime 1x
	}
}

// envInt is the positive integer in the variable name, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
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
	n := envInt("LOCKSTEP_BENCH_ORDERS", 20_000)
	benchRuns(b, brokertest.RealKafka(b), func() demo.Options {
		return demo.Options{SKUs: 500, Warehouses: 3, Movements: 500, Injected: 1, Orders: n, Settle: 10 * time.Minute}
	}, func(run int, sum demo.Summary) map[string]float64 {
		if sum.OrdersPerSecond == 0 {
			b.Fatal("orders not all sent or held within the settle window")
		}
		b.Logf("run %d: %d orders in Clarus or held %s after release: %.0f orders/s", run, sum.Orders, sum.OrdersSentIn, sum.OrdersPerSecond)
		return map[string]float64{"orders/s": sum.OrdersPerSecond}
	})
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
	n := envInt("LOCKSTEP_BENCH_POS", 5_000)
	benchRuns(b, brokertest.RealKafka(b), func() demo.Options {
		return demo.Options{SKUs: 500, Warehouses: 3, Movements: 500, Injected: 1,
			POs: n, OrphanReceipts: 0.03, OverReceipts: 0.02, WrongSKUReceipts: 0.01, WrongWarehouseReceipts: 0.01, Settle: 10 * time.Minute}
	}, func(run int, sum demo.Summary) map[string]float64 {
		if sum.POsPerSecond == 0 || sum.ReceiptsPerSecond == 0 {
			b.Fatal("POs not all in Clarus, or receipts not all matched, within the settle window")
		}
		b.Logf("run %d: %d POs in Clarus %s after approval (%.0f POs/s); %d receipts matched in %s (%.0f receipts/s)",
			run, sum.POs, sum.POsSentIn, sum.POsPerSecond, sum.Receipts, sum.ReceiptsMatchedIn, sum.ReceiptsPerSecond)
		return map[string]float64{"POs/s": sum.POsPerSecond, "receipts/s": sum.ReceiptsPerSecond}
	})
}
