package prima

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options are the source's and the sink's dependencies beyond Config.
type Options struct {
	// TopicPrefix is prepended to every topic name (broker.Config.Topic).
	TopicPrefix string
	Clock       Clock
	Logger      *slog.Logger
	Metrics     *Metrics
	// TransactionalID identifies the source's producer, so a restarted
	// source fences the one it replaces. Default lockstep-prima-source.
	TransactionalID string
	// Seed seeds the sink's backoff jitter; 0 seeds from the clock.
	Seed uint64
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = SystemClock()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.TransactionalID == "" {
		o.TransactionalID = "lockstep-prima-source"
	}
	if o.Seed == 0 {
		o.Seed = uint64(o.Clock.Now().UnixNano())
	}
	return o
}

// Clock is the time source, injected so that tests run poll intervals,
// backoff and Retry-After waits in fake time.
type Clock interface {
	Now() time.Time
	// After delivers the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the wall clock.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// sleep waits d on c, or until ctx ends, returning ctx's error then.
func sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.After(d):
		return nil
	}
}

// Metrics are the connector's Prometheus metrics; create them once per
// Registerer and share them between the source and the sink.
type Metrics struct {
	events    *prometheus.CounterVec
	polls     *prometheus.CounterVec
	cursorAge *prometheus.GaugeVec
	pushes    *prometheus.CounterVec
	retries   *prometheus.CounterVec
	parked    prometheus.Counter
	rateWaits prometheus.Counter
	paused    prometheus.Gauge
}

// NewMetrics registers the metrics on reg; nil registers them nowhere.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_prima_source_events_total", Help: "Events produced by the Prima source in committed transactions, by resource (items, stock-levels).",
		}, []string{"resource"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_prima_source_polls_total", Help: "Prima modified-since polls, by resource and outcome (ok, failed).",
		}, []string{"resource", "outcome"}),
		cursorAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lockstep_prima_source_cursor_timestamp_seconds", Help: "Modified stamp of the last record committed, by resource.",
		}, []string{"resource"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_prima_sink_pushes_total", Help: "Stock batches done, by outcome (applied, already_applied, parked).",
		}, []string{"outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_prima_sink_retries_total", Help: "Prima calls retried by the stock sink, by reason (429, 5xx, timeout, malformed).",
		}, []string{"reason"}),
		parked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_prima_sink_parked_total", Help: "Stock commands parked in the DLQ with a push_failed drift event.",
		}),
		rateWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_prima_sink_rate_limited_waits_total", Help: "Calls that waited for the token bucket (rate or Retry-After).",
		}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lockstep_prima_sink_paused", Help: "1 while Prima is down and the sink's fetching is paused.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.polls, m.cursorAge, m.pushes, m.retries, m.parked, m.rateWaits, m.paused)
	}
	return m
}
