package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/connectors/clock"
)

// Defaults for Scheduler's zero fields.
const (
	// DefaultAfter is how long after midnight UTC a day is reconciled: the
	// feeds' lag and the despatch SLA (30 minutes) have passed by then.
	DefaultAfter = time.Hour
	// DefaultRetryAfter is the pause after a failed run before the next try.
	DefaultRetryAfter = 5 * time.Minute
)

// Scheduler reconciles each day once it has closed: every day at midnight
// UTC plus After, it runs the day that just ended. On start it runs the
// latest closed day if that day has no run yet (a process that was down at
// the time, a new deployment). A run that fails is tried again every
// RetryAfter until it succeeds or the next day falls due. Two instances
// running it both run; the later run of a day is its answer.
type Scheduler struct {
	// ClickHouse is the ledger. Each run opens it, applies the migrations
	// and closes it, so ClickHouse may be down between runs.
	ClickHouse analytics.Config
	// Dir receives each run's CSV and HTML report; "" writes none.
	Dir        string
	After      time.Duration // default DefaultAfter; below 24h
	RetryAfter time.Duration // default DefaultRetryAfter
	Clock      clock.Clock   // default the wall clock
	Logger     *slog.Logger  // default slog.Default()
	// Registerer receives the scheduler's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Rules are the comparison's settings: set Rules.NonStockSKUs to the
	// orders flow's LOCKSTEP_ORDERS_NON_STOCK_SKUS.
	Rules Rules
}

// Run schedules reconciliations until ctx ends, then returns nil. It
// returns an error only for an invalid configuration.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.After == 0 {
		s.After = DefaultAfter
	}
	if s.RetryAfter <= 0 {
		s.RetryAfter = DefaultRetryAfter
	}
	if s.After < 0 || s.After >= 24*time.Hour {
		return fmt.Errorf("reconcile: scheduler: After %s: want at least 0 and below 24h", s.After)
	}
	if err := s.Rules.Validate(); err != nil {
		return err
	}
	if s.Clock == nil {
		s.Clock = clock.System()
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	m, err := newSchedulerMetrics(s.Registerer)
	if err != nil {
		return err
	}
	day := LastClosed(s.Clock.Now(), s.After)
	s.Logger.Info("reconciliation scheduler started", "after_midnight", s.After, "latest_closed_day", day.Format(time.DateOnly),
		"dir", s.Dir, "clickhouse", s.ClickHouse)
	onlyIfMissing := true
	for {
		s.runDay(ctx, m, day, onlyIfMissing)
		onlyIfMissing = false
		day = day.AddDate(0, 0, 1)
		if err := clock.Sleep(ctx, s.Clock, s.due(day).Sub(s.Clock.Now())); err != nil {
			return nil
		}
	}
}

// LastClosed is the latest day whose reconciliation is due at now: the day
// before the one now is in, once after has passed since midnight UTC, else
// the day before that.
func LastClosed(now time.Time, after time.Duration) time.Time {
	return Day(now.UTC().Add(-after)).AddDate(0, 0, -1)
}

// due is when day's reconciliation is due.
func (s *Scheduler) due(day time.Time) time.Time { return day.AddDate(0, 0, 1).Add(s.After) }

// runDay reconciles day, trying again after failures until it succeeds,
// ctx ends, or the next day is due.
func (s *Scheduler) runDay(ctx context.Context, m *schedulerMetrics, day time.Time, onlyIfMissing bool) {
	for {
		err := s.once(ctx, m, day, onlyIfMissing)
		if err == nil || ctx.Err() != nil {
			return
		}
		m.runs.WithLabelValues("failed").Inc()
		wait := min(s.RetryAfter, s.due(day.AddDate(0, 0, 1)).Sub(s.Clock.Now()))
		if wait <= 0 {
			s.Logger.Error("reconciliation failed and the next day is due; giving up on this day",
				"day", day.Format(time.DateOnly), "err", err)
			return
		}
		s.Logger.Warn("reconciliation failed; trying again", "day", day.Format(time.DateOnly), "in", wait, "err", err)
		if clock.Sleep(ctx, s.Clock, wait) != nil {
			return
		}
	}
}

// once opens the ledger and reconciles day, unless onlyIfMissing and day
// already has a run.
func (s *Scheduler) once(ctx context.Context, m *schedulerMetrics, day time.Time, onlyIfMissing bool) error {
	conn, err := analytics.Open(ctx, s.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := analytics.Migrate(ctx, conn); err != nil {
		return err
	}
	if onlyIfMissing {
		done, err := HasRun(ctx, conn, day)
		if err != nil {
			return err
		}
		if done {
			s.Logger.Info("reconciliation already ran", "day", day.Format(time.DateOnly))
			return nil
		}
	}
	r, err := Run(ctx, conn, day, Options{Dir: s.Dir, Clock: s.Clock, Logger: s.Logger, Rules: s.Rules})
	if err != nil {
		return err
	}
	result := "balanced"
	if !r.Balanced {
		result = "discrepancies"
	}
	m.runs.WithLabelValues(result).Inc()
	m.lastDay.Set(float64(r.Day.Unix()))
	m.discrepancies.Set(float64(len(r.Lines)))
	m.unaccounted.Set(float64(len(r.Unaccounted)))
	return nil
}

// schedulerMetrics say what the last run found and how runs go, so an alert
// can fire when a day is not reconciled or does not balance.
type schedulerMetrics struct {
	runs          *prometheus.CounterVec
	lastDay       prometheus.Gauge
	discrepancies prometheus.Gauge
	unaccounted   prometheus.Gauge
}

func newSchedulerMetrics(reg prometheus.Registerer) (*schedulerMetrics, error) {
	m := &schedulerMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_reconcile_runs_total",
			Help: "Scheduled reconciliation runs, by result: balanced, discrepancies or failed.",
		}, []string{"result"}),
		lastDay: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lockstep_reconcile_last_day_timestamp_seconds",
			Help: "The day (00:00 UTC, Unix seconds) of the last successful scheduled reconciliation.",
		}),
		discrepancies: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lockstep_reconcile_discrepancies",
			Help: "Discrepancy lines of the last successful scheduled reconciliation.",
		}),
		unaccounted: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lockstep_reconcile_unaccounted_shipments",
			Help: "Shipments of the last reconciled day with neither a despatch note nor an open drift row.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.runs, m.lastDay, m.discrepancies, m.unaccounted} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("reconcile: register scheduler metrics (one scheduler per registry): %w", err)
		}
	}
	return m, nil
}
