package clarus

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockstep-dev/lockstep/connectors/clock"
)

// Options are the dependencies of the connector's components (receiver,
// sweep, shipment source, order sink) beyond Config.
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
	// the shipment source's, the order sink's): one per component and
	// tenant, so a restarted one fences the one it replaces, and never
	// shared between components, which would fence each other. Empty, each
	// takes its own default.
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
// Registerer and share them between the receiver and the sweep.
type Metrics struct {
	webhooks      *prometheus.CounterVec
	movements     prometheus.Counter
	snapshots     prometheus.Counter
	sweepSkipped  *prometheus.CounterVec
	sweeps        *prometheus.CounterVec
	lastSweep     prometheus.Gauge
	apiRetries    *prometheus.CounterVec
	tokenRefreshs prometheus.Counter

	// The shipments, from webhooks and the shipment source.
	shipments        *prometheus.CounterVec
	shipmentsSkipped *prometheus.CounterVec
	shipmentSweeps   *prometheus.CounterVec

	// The order sink's.
	orderRequests    *prometheus.CounterVec
	orderAcks        *prometheus.CounterVec
	orderDeadLetters prometheus.Counter
	orderRateWaits   prometheus.Counter
	orderPaused      prometheus.Gauge
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
		shipments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_shipments_total", Help: "Shipment events produced, by source (webhook, sweep); the same shipment from both is one event id.",
		}, []string{"source"}),
		shipmentsSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_shipments_skipped_total",
			Help: "Shipments the shipment source left out, by reason (not_ours: another warehouse or account, or not dispatched; invalid: lockstep cannot read it).",
		}, []string{"reason"}),
		shipmentSweeps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_shipment_sweeps_total", Help: "Shipment sweeps ended, by outcome (completed, failed).",
		}, []string{"outcome"}),
		orderRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_order_requests_total",
			Help: "Clarus calls made by the order sink, by call (products, lookup, lines, create, cancel, close) and outcome (ok, refused, throttled, failed).",
		}, []string{"call", "outcome"}),
		orderAcks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_clarus_order_acks_total", Help: "Order acks committed by the order sink, by action (create, cancel, close) and status (created, rejected, cancelled, closed).",
		}, []string{"action", "status"}),
		orderDeadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_clarus_order_dead_letters_total", Help: "Order commands the order sink could not read, committed to the DLQ.",
		}),
		orderRateWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_clarus_order_rate_limited_waits_total", Help: "Order sink calls that waited for the token bucket (rate or Retry-After).",
		}),
		orderPaused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lockstep_clarus_order_sink_paused", Help: "1 while Clarus is failing the order sink's calls and it waits for Clarus to come back.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.webhooks, m.movements, m.snapshots, m.sweepSkipped, m.sweeps, m.lastSweep, m.apiRetries, m.tokenRefreshs,
			m.shipments, m.shipmentsSkipped, m.shipmentSweeps,
			m.orderRequests, m.orderAcks, m.orderDeadLetters, m.orderRateWaits, m.orderPaused)
	}
	return m
}
