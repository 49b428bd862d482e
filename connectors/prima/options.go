package prima

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockstep-dev/lockstep/connectors/clock"
)

// Options are the components' dependencies beyond Config.
type Options struct {
	// TopicPrefix is prepended to every topic name (broker.Config.Topic).
	TopicPrefix string
	// Clock is the time source, injected so that tests run poll
	// intervals, backoff and Retry-After waits in fake time; nil is the
	// wall clock.
	Clock   clock.Clock
	Logger  *slog.Logger
	Metrics *Metrics
	// TransactionalID identifies the source's producer, so a restarted
	// source fences the one it replaces. Default lockstep-prima-source.
	TransactionalID string
	// Feeds are the cursor keys (CursorKeyItems, CursorKeyStockLevels,
	// CursorKeySalesOrders, CursorKeyDespatchNotes,
	// CursorKeyPurchaseOrders) of the feeds the source polls; empty polls
	// them all. A flow turns on the feeds it needs by their keys (the
	// inbound flow: CursorKeyPurchaseOrders, and CursorKeyItems for the
	// SKU mapping). One source polls every feed a process needs: one
	// transactional id and one cursor per feed allow no second poller.
	Feeds []string
	// Seed seeds the sink's backoff jitter; 0 seeds from the clock.
	Seed uint64
	// SetReady is told true when the component is ready (the source has
	// loaded its cursors; the sink has joined its group with the item
	// table caught up; the parity check has read its tables) and false
	// when it stops being so (cursors to reload, Prima down, Run over);
	// nil is a no-op.
	SetReady func(ready bool)
}

func (o Options) setReady(ok bool) {
	if o.SetReady != nil {
		o.SetReady(ok)
	}
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.System()
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

// sleep waits d on c, or until ctx ends, returning ctx's error then.
func sleep(ctx context.Context, c clock.Clock, d time.Duration) error { return clock.Sleep(ctx, c, d) }

// Metrics are the connector's Prometheus metrics; create them once per
// Registerer and share them between the source, the sink and the parity
// check.
type Metrics struct {
	events      *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	polls       *prometheus.CounterVec
	cursorAge   *prometheus.GaugeVec
	pushes      *prometheus.CounterVec
	retries     *prometheus.CounterVec
	parked      prometheus.Counter
	rateWaits   prometheus.Counter
	paused      prometheus.Gauge

	heldLines  prometheus.Counter
	held       prometheus.Gauge
	staleLines prometheus.Counter

	parityKeys    *prometheus.GaugeVec
	parityEvents  *prometheus.CounterVec
	parityRecords *prometheus.CounterVec
	parityChecked prometheus.Gauge

	despatch          *prometheus.CounterVec
	despatchCalls     *prometheus.CounterVec
	despatchRetries   *prometheus.CounterVec
	despatchRateWaits prometheus.Counter
	despatchPaused    prometheus.Gauge
}

// NewMetrics registers the metrics on reg; nil registers them nowhere.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_prima_source_events_total", Help: "Events produced by the Prima source in committed transactions, by resource (items, stock-levels, sales-orders, despatch-notes, purchase-orders).",
		}, []string{"resource"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_prima_source_dead_letters_total", Help: "Records the Prima source could not turn into events and sent to the DLQ in committed transactions, by resource (sales-orders, despatch-notes, purchase-orders).",
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
		heldLines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_prima_sink_held_lines_total", Help: "Command lines held because their Clarus code maps to no Prima stock item.",
		}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lockstep_prima_sink_held", Help: "Levels held now (clarus code@warehouse), waiting for their SKU mapping.",
		}),
		staleLines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_prima_sink_stale_lines_total", Help: "Lines not sent because Prima already acknowledged a newer level for them.",
		}),
		parityKeys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lockstep_prima_parity_keys", Help: "Prima SKU@warehouse pairs by parity state (untracked, in_flight, settling, unknown, agree, differ).",
		}, []string{"state"}),
		parityEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_prima_parity_drift_events_total", Help: "stock_parity drift events written, by status (open, updated, resolved).",
		}, []string{"status"}),
		parityRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_prima_parity_records_total", Help: "Records the parity check has read and judged, by topic.",
		}, []string{"topic"}),
		parityChecked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lockstep_prima_parity_checked_timestamp_seconds", Help: "Clock time of the parity check's last pass.",
		}),
		despatch: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_prima_despatch_commands_total", Help: "Despatch commands done in committed transactions, by outcome (created, found_existing, rejected, dead_lettered).",
		}, []string{"outcome"}),
		despatchCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_prima_despatch_calls_total", Help: "Prima calls of the despatch sink, by call (lookup, create) and outcome (ok, refused, throttled, failed; not_sent for what the client refused to send): look-ups over creates is the price of never sending a note twice.",
		}, []string{"call", "outcome"}),
		despatchRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_prima_despatch_retries_total", Help: "Prima calls retried by the despatch sink, by reason (429, 5xx, timeout, fault, busy, malformed).",
		}, []string{"reason"}),
		despatchRateWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_prima_despatch_rate_limited_waits_total", Help: "Despatch sink calls that waited for its token bucket (rate or Retry-After).",
		}),
		despatchPaused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lockstep_prima_despatch_paused", Help: "1 while Prima keeps failing the despatch sink, which waits on the commands in hand.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.despatch, m.despatchCalls, m.despatchRetries, m.despatchRateWaits, m.despatchPaused)
		reg.MustRegister(m.events, m.deadLetters, m.polls, m.cursorAge, m.pushes, m.retries, m.parked, m.rateWaits, m.paused,
			m.heldLines, m.held, m.staleLines, m.parityKeys, m.parityEvents, m.parityRecords, m.parityChecked)
	}
	return m
}
