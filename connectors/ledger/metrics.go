package ledger

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the sink's Prometheus metrics.
type metrics struct {
	rowsInserted   prometheus.Counter
	tableRows      *prometheus.CounterVec
	insertSeconds  prometheus.Histogram
	batchesFailed  prometheus.Counter
	deadLetters    prometheus.Counter
	commitFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rowsInserted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_ledger_rows_inserted_total",
			Help: "Rows inserted into the ClickHouse ledger, all tables (replayed copies included; the ledger collapses them).",
		}),
		tableRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockstep_ledger_table_rows_inserted_total",
			Help: "Rows inserted into each ledger table: drift_events and the fact tables (replayed copies included).",
		}, []string{"table"}),
		insertSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lockstep_ledger_insert_duration_seconds",
			Help:    "Time taken by successful ledger inserts, one per batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15), // 1ms .. 16s
		}),
		batchesFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_ledger_batches_failed_total",
			Help: "Ledger insert attempts that failed and will be retried (ClickHouse down or refusing).",
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_ledger_dead_letters_total",
			Help: "Records the ledger could not decode or store, parked in the DLQ.",
		}),
		commitFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockstep_ledger_commit_failures_total",
			Help: "Offset commits that failed after a successful insert (the records are read again; the ledger collapses them).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.rowsInserted, m.tableRows, m.insertSeconds, m.batchesFailed, m.deadLetters, m.commitFailures} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ledger: register metrics: %w", err)
		}
	}
	return m, nil
}
