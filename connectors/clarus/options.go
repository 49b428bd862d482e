package clarus

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockstep-dev/lockstep/connectors/clock"
)

// Options are the dependencies of the connector's components (receiver,
// sweep, shipment and receipt sources, order and receipt sinks) beyond
// Config.
type Options struct {
	// TopicPrefix is prepended to every topic name (broker.Config.Topic).
	TopicPrefix string
	// Clock is the time source, injected so tests run token expiry,
	// Retry-After waits and the sweep schedule without sleeping; nil is
	// the wall clock.
	Clock   clock.Clock
	Logger  *slog.Logger
	Metrics *Metrics
	// HTTPClient calls the Clarus API; nil uses one with Config.RequestTimeout.
	HTTPClient *http.Client
	// TransactionalID identifies a transactional producer (the sweep's,
	// the shipment and receipt sources', the order and receipt sinks'):
	// one per component and tenant, so a restarted one fences the one it
	// replaces, and never shared between components, which would fence
	// each other. Empty, each takes its own default.
	TransactionalID string
	// SetReady is told when the component is ready (the receiver accepts
	// webhooks, the sweep has read its cursor) and when it stops being so;
	// nil is a no-op.
	SetReady func(ready bool)
}

func (o Options) setReady(ok bool) {
	if o.SetReady != nil {
		o.SetReady(ok)
	}
}

func (o Options) withDefaults(cfg Config) Options {
	if o.Clock == nil {
		o.Clock = clock.System()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: cfg.RequestTimeout}
	}
	if o.TransactionalID == "" {
		o.TransactionalID = "lockstep-clarus-sweep-" + cfg.Subdomain
	}
	return o
}

// Metrics are the connector's Prometheus metrics. Create them once per
// Registerer and share them between the components.
type Metrics struct {
	webhooks      *prometheus.CounterVec
	movements     prometheus.Counter
	snapshots     prometheus.Counter
	sweepSkipped  *prometheus.CounterVec
	sweeps        *prometheus.CounterVec
	lastSweep     prometheus.Gauge
	apiRetries    *prometheus.CounterVec
	tokenRefreshs prometheus.Counter

	// The window sources' (shipments, receipts), and the receiver's
	// events of the same kinds.
	shipments, receipts sourceMetrics
	// The command sinks'.
	orderSink, receiptSink sinkMetrics
}

// sourceMetrics are the metrics of one kind of event a window source and
// the receiver produce.
type sourceMetrics struct {
	events  *prometheus.CounterVec // by source: webhook, sweep
	skipped *prometheus.CounterVec // by reason: not_ours, invalid
	sweeps  *prometheus.CounterVec // by outcome: completed, failed
}

// newSourceMetrics names the metrics of records of kind (singular, plural).
func newSourceMetrics(kind, kinds, notOurs string) sourceMetrics {
	return sourceMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_" + kinds + "_total",
			Help: strings.ToUpper(kind[:1]) + kind[1:] + " events produced, by source (webhook, sweep); the same " + kind + " from both is one event id.",
		}, []string{"source"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_" + kinds + "_skipped_total",
			Help: strings.ToUpper(kinds[:1]) + kinds[1:] + " the " + kind + " source left out, by reason (not_ours: " + notOurs + "; invalid: lockstep cannot read it).",
		}, []string{"reason"}),
		sweeps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_" + kind + "_sweeps_total", Help: strings.ToUpper(kind[:1]) + kind[1:] + " sweeps ended, by outcome (completed, failed).",
		}, []string{"outcome"}),
	}
}

func (m sourceMetrics) all() []prometheus.Collector {
	return []prometheus.Collector{m.events, m.skipped, m.sweeps}
}

// newSinkMetrics names the metrics of the sink of commands of kind.
func newSinkMetrics(kind, sink, calls, acks string) sinkMetrics {
	return sinkMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_" + kind + "_requests_total",
			Help: "Clarus calls made by the " + sink + ", by call (" + calls + ") and outcome (ok, refused, throttled, failed).",
		}, []string{"call", "outcome"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_" + kind + "_acks_total", Help: "Acks committed by the " + sink + ", by " + acks + ".",
		}, []string{"action", "status"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_clarus_" + kind + "_dead_letters_total", Help: "Commands the " + sink + " could not read, committed to the DLQ.",
		}),
		rateWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_clarus_" + kind + "_rate_limited_waits_total", Help: "Calls of the " + sink + " that waited for the token bucket (rate or Retry-After).",
		}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lockstep_clarus_" + kind + "_sink_paused", Help: "1 while Clarus is failing the " + sink + "'s calls and it waits for Clarus to come back.",
		}),
	}
}

func (m sinkMetrics) all() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.acks, m.deadLetters, m.rateWaits, m.paused}
}

// NewMetrics registers the metrics on reg; nil registers them nowhere.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_webhooks_total", Help: "Clarus webhooks received, by trigger and HTTP status answered.",
		}, []string{"trigger", "status"}),
		movements: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_clarus_movements_total", Help: "Stock movements produced from webhooks (acknowledged by Kafka).",
		}),
		snapshots: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_clarus_snapshots_total", Help: "Stock snapshots produced by sweeps, in committed transactions.",
		}),
		sweepSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_sweep_refused_total",
			Help: "Balances a sweep refused, by reason (bad_code, code_collision, other_warehouse_or_account).",
		}, []string{"reason"}),
		sweeps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_sweeps_total", Help: "GraphQL stock sweeps ended, by outcome (completed, failed).",
		}, []string{"outcome"}),
		lastSweep: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lockstep_clarus_last_sweep_timestamp_seconds", Help: "When the last sweep completed.",
		}),
		apiRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_api_retries_total", Help: "Clarus API calls retried, by reason (429, 5xx, transport, malformed, 401).",
		}, []string{"reason"}),
		tokenRefreshs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_clarus_token_requests_total", Help: "OAuth access tokens requested.",
		}),
		shipments: newSourceMetrics("shipment", "shipments", "another warehouse or account, or not dispatched"),
		receipts:  newSourceMetrics("receipt", "receipts", "another warehouse or account, or not completed"),
		orderSink: newSinkMetrics("order", "order sink", "products, lookup, lines, create, cancel, close",
			"action (create, cancel, close) and status (created, rejected, cancelled, closed)"),
		receiptSink: newSinkMetrics("receipt", "goods-in receipt sink", "units, products, lookup, create, update, cancel",
			"action (create, update, cancel) and status (created, updated, rejected, cancelled)"),
	}
	if reg != nil {
		reg.MustRegister(m.webhooks, m.movements, m.snapshots, m.sweepSkipped, m.sweeps, m.lastSweep, m.apiRetries, m.tokenRefreshs)
		for _, ms := range [][]prometheus.Collector{m.shipments.all(), m.receipts.all(), m.orderSink.all(), m.receiptSink.all()} {
			reg.MustRegister(ms...)
		}
	}
	return m
}
