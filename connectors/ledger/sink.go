// Package ledger appends drift events and the facts they are about from Kafka to the ClickHouse drift ledger.
//
// The sink is one consumer group (read committed, no autocommit) on
// lockstep.drift and on the fact topics: clarus.shipments,
// prima.despatch-notes and prima.items, which the daily reconciliation
// compares, and prima.purchase-orders and clarus.receipts, which finance
// matches. It decodes each record into rows of that topic's table
// (drift_events, shipment_lines, despatch_note_lines, items, po_lines,
// receipt_lines; see routes) that carry the record's topic,
// partition and offset, inserts each table's rows in batches, and commits
// the offsets only after every insert of the batch succeeded:
// at-least-once. A record read twice (a retry after a failed commit, a
// rebalance, a reset of the group to replay the topics) inserts its rows
// again, and each table's ReplacingMergeTree collapses the copies; the
// ledger's views and queries read through FINAL or argMax, so an unmerged
// copy is never counted twice.
//
// A record that does not decode goes to lockstep.dlq in the one dead-letter
// format (connectors/deadletter: the DeadLetter envelope holding the
// original bytes, and the lockstep.dlq.* headers), and the sink carries on. While ClickHouse
// fails, the sink keeps its batch, retries with backoff, commits nothing and
// reports itself not ready.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Sink appends lockstep.drift and the fact topics to the ledger's tables.
type Sink struct {
	cfg   Config
	conn  driver.Conn
	serde *schemas.Serde
	opts  []kgo.Opt
	// topics are the prefixed topic names, in routes' order; route maps
	// each to its index in routes.
	topics []string
	route  map[string]int
	dlq    string
	log    *slog.Logger
	m      *metrics
	ready  atomic.Bool
	// ch tracks ClickHouse's health across batches and idle pings: it
	// drives readiness and logs its state changes.
	ch *retrier
}

// New returns a sink that reads with a Kafka client built from opts (seed
// brokers, TLS, SASL: connectors/broker's Config.Opts) and writes to conn,
// whose database analytics.Migrate has prepared. It registers the sink's
// metrics on cfg.Registerer.
func New(cfg Config, conn driver.Conn, serde *schemas.Serde, opts ...kgo.Opt) (*Sink, error) {
	if conn == nil || serde == nil {
		return nil, errors.New("ledger: New needs a ClickHouse connection and a serde")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Sink{
		cfg:   cfg,
		conn:  conn,
		serde: serde,
		opts:  slices.Clone(opts),
		route: map[string]int{},
		dlq:   cfg.TopicPrefix + schemas.TopicDLQ,
		log:   cfg.Logger.With("component", Stage),
		m:     m,
	}
	for i, r := range routes {
		s.topics = append(s.topics, cfg.TopicPrefix+r.topic)
		s.route[cfg.TopicPrefix+r.topic] = i
	}
	s.ch = s.retrier("ClickHouse")
	s.ch.onState = s.setReady
	return s, nil
}

// Ready reports whether the last contact with ClickHouse succeeded; /readyz
// uses it (or cfg.SetReady).
func (s *Sink) Ready() bool { return s.ready.Load() }

func (s *Sink) setReady(ok bool) {
	if s.ready.Swap(ok) != ok {
		s.cfg.SetReady(ok)
	}
}

// Run consumes until ctx is cancelled, then leaves the group and returns nil.
// Uncommitted records are read again by whichever member next owns their
// partition. It returns an error only when it cannot start.
func (s *Sink) Run(ctx context.Context) error {
	cl, err := kgo.NewClient(append(slices.Clone(s.opts),
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			s.log.Info("partitions assigned", "partitions", m)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			s.log.Info("partitions revoked", "partitions", m)
		}),
	)...)
	if err != nil {
		return fmt.Errorf("ledger: kafka client: %w", err)
	}
	defer cl.Close()
	if err := ensureDLQ(ctx, cl, s.dlq); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s.ping(ctx)
	s.log.Info("ledger sink started", "topics", s.topics, "group", s.cfg.Group, "dlq", s.dlq,
		"max_rows", s.cfg.MaxRows, "max_wait", s.cfg.MaxWait, "clickhouse_ready", s.Ready())

	b := newBatch()
	for ctx.Err() == nil {
		if len(b.recs) > 0 && (len(b.recs) >= s.cfg.MaxRows || time.Since(b.first) >= s.cfg.MaxWait) {
			if err := s.flush(ctx, cl, &b); err != nil {
				break // ctx ended: nothing more is committed
			}
			continue
		}
		// Poll until the batch is due; when idle and ClickHouse is failing,
		// wake up to ping it, so readiness comes back without traffic.
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		idlePing := false
		switch {
		case len(b.recs) > 0:
			pollCtx, cancel = context.WithDeadline(ctx, b.first.Add(s.cfg.MaxWait))
		case s.ch.failing():
			pollCtx, cancel = context.WithTimeout(ctx, s.ch.delay())
			idlePing = true
		}
		fetches := cl.PollRecords(pollCtx, s.cfg.MaxRows-len(b.recs))
		cancel()
		if fetches.IsClientClosed() || ctx.Err() != nil {
			break
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				s.log.Warn("fetch failed", "topic", topic, "partition", partition, "err", err)
			}
		})
		var stop error
		fetches.EachRecord(func(rec *kgo.Record) {
			if stop == nil {
				stop = s.add(ctx, cl, &b, rec)
			}
		})
		if stop != nil {
			break
		}
		if idlePing && len(b.recs) == 0 {
			s.ping(ctx)
		}
	}
	s.log.Info("ledger sink stopped", "uncommitted_records", len(b.recs))
	return nil
}

// add decodes rec into the batch, or parks it in the DLQ when it cannot be
// a row. An error that is not the record's fault (the schema registry
// unreachable) is retried until it clears or ctx ends; only ctx's error is
// returned.
func (s *Sink) add(ctx context.Context, cl *kgo.Client, b *batch, rec *kgo.Record) error {
	r := s.retrier("schema registry")
	for {
		var err error
		if i, ok := s.route[rec.Topic]; ok {
			err = b.tables[i].add(ctx, s.serde, rec)
		} else {
			// Only subscribed topics are fetched; should another arrive, it
			// is parked and committed like any record that cannot be a row.
			err = fmt.Errorf("%w: no ledger table for topic %s", ErrInvalid, rec.Topic)
		}
		switch {
		case err == nil:
			r.recovered()
		case permanent(err):
			r.recovered()
			if err := s.deadLetter(ctx, cl, rec, err.Error()); err != nil {
				return err
			}
		default:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.failed(err, "decoding a record failed; retrying",
				"topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
			if err := r.wait(ctx); err != nil {
				return err
			}
			continue
		}
		if len(b.recs) == 0 {
			b.first = time.Now()
		}
		b.recs = append(b.recs, rec)
		return nil
	}
}

// flush inserts the batch's rows, table by table in routes' order,
// retrying with backoff until ClickHouse takes them, then commits the
// offsets of all its records. A table whose insert succeeded is not
// inserted again when a later one fails. It returns ctx's error if ctx ends
// first, with nothing committed.
func (s *Sink) flush(ctx context.Context, cl *kgo.Client, b *batch) error {
	rows := b.rows()
	for i := 0; i < len(b.tables); {
		t := b.tables[i]
		if t.len() == 0 {
			i++
			continue
		}
		start := time.Now()
		insCtx, cancel := context.WithTimeout(ctx, s.cfg.InsertTimeout)
		err := t.insert(insCtx, s.conn)
		cancel()
		if err == nil {
			s.m.insertSeconds.Observe(time.Since(start).Seconds())
			s.m.rowsInserted.Add(float64(t.len()))
			s.m.tableRows.WithLabelValues(routes[i].table).Add(float64(t.len()))
			s.ch.recovered()
			s.setReady(true)
			t.reset()
			i++
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.m.batchesFailed.Inc()
		s.ch.failed(err, "ledger insert failed; retrying with backoff, offsets stay uncommitted",
			"table", routes[i].table, "rows", t.len())
		if err := s.ch.wait(ctx); err != nil {
			return err
		}
	}
	// The rows are in: commit even if shutdown has begun, so that a restart
	// does not insert them again for nothing.
	commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := cl.CommitRecords(commitCtx, b.recs...); err != nil {
		// A rebalance took the partitions, or the coordinator moved: the
		// records will be read again, and their rows collapse.
		s.m.commitFailures.Inc()
		s.log.Warn("offset commit failed after the insert; the records will be read again", "records", len(b.recs), "err", err)
	}
	s.log.Debug("batch committed", "rows", rows, "records", len(b.recs))
	b.recs = b.recs[:0]
	return nil
}

// ping checks ClickHouse while no batch is due, so that readiness follows it.
func (s *Sink) ping(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, s.cfg.InsertTimeout)
	defer cancel()
	if err := s.conn.Ping(pctx); err != nil {
		if ctx.Err() == nil {
			s.ch.failed(err, "ClickHouse does not answer; the ledger waits for it")
		}
		return
	}
	s.ch.recovered()
	s.setReady(true)
}
