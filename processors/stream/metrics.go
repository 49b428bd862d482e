package stream

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the runtime's Prometheus metrics, shared by every processor
// of a binary (the processor is a label). Create them once per Registerer.
type Metrics struct {
	recordsIn        *prometheus.CounterVec
	recordsOut       *prometheus.CounterVec
	transactions     *prometheus.CounterVec
	dlq              *prometheus.CounterVec
	lag              *prometheus.GaugeVec
	restoreRemaining *prometheus.GaugeVec
	restoreRecords   *prometheus.CounterVec
	handlerSeconds   *prometheus.HistogramVec
	ready            *prometheus.GaugeVec
	// commitLatency times each input record from its timestamp to the
	// commit of the transaction that handled it; transactionRecords is how
	// many input records each committed transaction held.
	commitLatency      *prometheus.HistogramVec
	transactionRecords *prometheus.HistogramVec
	globalRejected     *prometheus.CounterVec
	stateReads         *prometheus.CounterVec
}

// NewMetrics registers the runtime's metrics on reg (never the global
// registry: tests and embedders get their own).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		recordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_records_in_total", Help: "Input records handled, by processor and topic.",
		}, []string{"processor", "topic"}),
		recordsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_records_out_total", Help: "Records produced in committed transactions, by processor and topic (changelog and DLQ included).",
		}, []string{"processor", "topic"}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_transactions_total", Help: "Kafka transactions ended, by outcome (committed, aborted).",
		}, []string{"processor", "outcome"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_dlq_records_total", Help: "Records sent to the dead-letter queue, by processor and source topic.",
		}, []string{"processor", "topic"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lockstep_consumer_lag_records", Help: "Records between the last one fetched and the partition's high watermark.",
		}, []string{"processor", "topic", "partition"}),
		restoreRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lockstep_restore_remaining_records", Help: "Changelog records still to replay into local state.",
		}, []string{"processor", "partition"}),
		restoreRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_restore_records_total", Help: "Changelog records replayed into local state (rate() is the restore rate).",
		}, []string{"processor"}),
		handlerSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lockstep_handler_duration_seconds", Help: "Time spent in the handler per record.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10), // 1us .. 262ms
		}, []string{"processor"}),
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lockstep_ready", Help: "1 once the processor has restored its assigned partitions and is processing.",
		}, []string{"processor"}),
		commitLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lockstep_commit_latency_seconds", Help: "Per input record, the time from its timestamp to the commit of the transaction that handled it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 17), // 1ms .. 65s
		}, []string{"processor"}),
		transactionRecords: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lockstep_transaction_records", Help: "Input records per committed transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10), // 1 .. 262,144
		}, []string{"processor"}),
		globalRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_global_table_rejected_total", Help: "Global table records that could not be decoded, so their key reads as absent.",
		}, []string{"processor", "topic"}),
		stateReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_state_reads_total",
			Help: "Reads of committed state by the processing loop, by where they were answered (row_cache, pebble); added at each commit. A small row_cache share on a busy processor says LOCKSTEP_STATE_ROW_CACHE_MB is too small.",
		}, []string{"processor", "source"}),
	}
	if reg != nil {
		reg.MustRegister(m.recordsIn, m.recordsOut, m.transactions, m.dlq, m.lag,
			m.restoreRemaining, m.restoreRecords, m.handlerSeconds, m.ready,
			m.commitLatency, m.transactionRecords, m.globalRejected, m.stateReads)
	}
	return m
}
