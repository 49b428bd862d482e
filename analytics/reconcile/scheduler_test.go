package reconcile_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/analytics/analyticstest"
	"github.com/lockstep-dev/lockstep/analytics/reconcile"
	"github.com/lockstep-dev/lockstep/connectors/clock"
)

func TestLastClosed(t *testing.T) {
	for _, tt := range []struct {
		now  time.Time
		want time.Time
	}{
		{atDay(day, "00:59"), day.AddDate(0, 0, -2)}, // yesterday is not due until 01:00
		{atDay(day, "01:00"), day.AddDate(0, 0, -1)},
		{atDay(day, "23:59"), day.AddDate(0, 0, -1)},
		{time.Date(2026, 3, 2, 1, 30, 0, 0, time.FixedZone("CET", 3600)), day.AddDate(0, 0, -2)}, // 00:30 UTC
	} {
		if got := reconcile.LastClosed(tt.now, time.Hour); !got.Equal(tt.want) {
			t.Errorf("LastClosed(%v) = %v, want %v", tt.now, got, tt.want)
		}
	}
}

// runsOf counts the run rows of d.
func runsOf(t *testing.T, conn driver.Conn, d time.Time) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM reconciliation_runs WHERE day = toDate(?)",
		d.Format(time.DateOnly)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond (the scheduler works in its own goroutine) until it
// holds or a minute passes.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not %s: %s", what, saw)
		}
		<-tick.C
	}
}

// waiting reports whether the scheduler sleeps until want.
func waiting(c *clock.Fake, want time.Time) func() (bool, string) {
	return func() (bool, string) {
		next, ok := c.Next()
		return ok && next.Equal(want), fmt.Sprintf("next wake-up %v (%v)", next, ok)
	}
}

func startScheduler(t *testing.T, s *reconcile.Scheduler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
	})
}

// TestScheduler starts half an hour after midnight: the day before
// yesterday has no run, so it runs at once; yesterday runs at 01:00, and the
// next day 24 hours later. A scheduler started again after that finds
// yesterday done and waits.
func TestScheduler(t *testing.T) {
	conn, cfg := analyticstest.Migrated(t)
	s := &seeder{t: t, conn: conn}
	s.items()
	s.shipment("SH-01", "SO-1", "WH1", "confirmed", at("09:00"), "CL-A:2")
	next := day.AddDate(0, 0, 1)
	clk := clock.NewFake(atDay(next, "00:30"))
	reg := prometheus.NewRegistry()
	startScheduler(t, &reconcile.Scheduler{ClickHouse: cfg, Dir: t.TempDir(), Clock: clk, Registerer: reg,
		Logger: slog.New(slog.DiscardHandler)})

	prev := day.AddDate(0, 0, -1)
	waitFor(t, "the missed day run", func() (bool, string) { n := runsOf(t, conn, prev); return n == 1, fmt.Sprint(n, " runs") })
	waitFor(t, "waiting for 01:00", waiting(clk, atDay(next, "01:00")))
	if n := runsOf(t, conn, day); n != 0 {
		t.Fatalf("%s ran before it was due", day.Format(time.DateOnly))
	}

	clk.Advance(30 * time.Minute)
	waitFor(t, "waiting for the next day", waiting(clk, atDay(next.AddDate(0, 0, 1), "01:00")))
	if n := runsOf(t, conn, day); n != 1 {
		t.Fatalf("%s has %d runs at 01:00, want 1", day.Format(time.DateOnly), n)
	}
	var balanced uint8
	if err := conn.QueryRow(context.Background(), "SELECT balanced FROM reconciliation_runs WHERE day = toDate(?)",
		day.Format(time.DateOnly)).Scan(&balanced); err != nil || balanced != 0 {
		t.Errorf("the day with a shipment and no note: balanced %d (%v)", balanced, err)
	}
	clk.Advance(24 * time.Hour)
	waitFor(t, "the next day run", func() (bool, string) { n := runsOf(t, conn, next); return n == 1, fmt.Sprint(n, " runs") })
	if got := counter(t, reg, "lockstep_reconcile_runs_total", "discrepancies"); got != 1 {
		t.Errorf("runs with discrepancies = %v, want 1", got)
	}
	if got := counter(t, reg, "lockstep_reconcile_runs_total", "balanced"); got != 2 {
		t.Errorf("balanced runs = %v, want 2", got)
	}

	// Restarted the morning after: the day has its run.
	clk2 := clock.NewFake(atDay(next, "02:00"))
	startScheduler(t, &reconcile.Scheduler{ClickHouse: cfg, Clock: clk2, Logger: slog.New(slog.DiscardHandler)})
	waitFor(t, "the restarted scheduler waiting", waiting(clk2, atDay(next.AddDate(0, 0, 1), "01:00")))
	if n := runsOf(t, conn, day); n != 1 {
		t.Errorf("a restart ran %s again: %d runs", day.Format(time.DateOnly), n)
	}
}

// TestSchedulerRetries: with ClickHouse unreachable, a run is tried again
// every RetryAfter, and the scheduler keeps going.
func TestSchedulerRetries(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	clk := clock.NewFake(atDay(day, "03:00"))
	reg := prometheus.NewRegistry()
	startScheduler(t, &reconcile.Scheduler{ClickHouse: analytics.Config{Addr: addr, DialTimeout: time.Second}, Clock: clk,
		RetryAfter: time.Minute, Registerer: reg, Logger: slog.New(slog.DiscardHandler)})
	for i := 1; i <= 3; i++ {
		waitFor(t, "retrying", waiting(clk, clk.Now().Add(time.Minute)))
		if got := counter(t, reg, "lockstep_reconcile_runs_total", "failed"); got != float64(i) {
			t.Fatalf("failed runs = %v, want %d", got, i)
		}
		clk.Advance(time.Minute)
	}
	if err := (&reconcile.Scheduler{After: 24 * time.Hour}).Run(context.Background()); err == nil {
		t.Error("After of 24h: want an error")
	}
}

// counter reads the value of metric{result=result} from reg.
func counter(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
