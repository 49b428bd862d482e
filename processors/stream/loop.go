package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lockstep-dev/lockstep/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// loop is the processing loop. A transaction starts with the first poll
// that returns records (or finds timers due) and keeps polling while it
// stays open: it ends once it holds MaxBatch records or CommitInterval has
// passed since the previous transaction ended, whichever comes first (so
// after an idle spell the first records commit at once). Then the timers
// that fell due are handled, the changelog records of every dirty key are
// produced, the transaction commits with the consumed offsets, and only
// then is the overlay applied to Pebble.
func (p *Processor) loop(ctx context.Context) error {
	promise := p.produced.promise(p.changelog)
	lastEnd := time.Now()
	for {
		if err := p.fatalErr(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if p.rearm.Swap(false) {
			if err := p.rearmRevokes(ctx); err != nil {
				return err
			}
		}
		recs, closed := p.poll(ctx, p.cfg.TimerTick, p.cfg.MaxBatch)
		if closed {
			return nil
		}
		if len(recs) == 0 {
			due, err := p.dueTimers(p.cfg.Clock())
			if err != nil {
				return err
			}
			if len(due) == 0 {
				continue
			}
		}
		err := p.transact(ctx, recs, lastEnd.Add(p.cfg.CommitInterval), promise)
		lastEnd = time.Now()
		if err != nil {
			return err
		}
	}
}

// poll returns up to max records, waiting at most wait for the first ones;
// closed reports that the client was closed. The slice is reused by the
// next poll.
func (p *Processor) poll(ctx context.Context, wait time.Duration, max int) (recs []*kgo.Record, closed bool) {
	pollCtx, cancel := context.WithTimeout(ctx, wait)
	fetches := p.sess.PollRecords(pollCtx, max)
	cancel()
	if fetches.IsClientClosed() {
		return nil, true
	}
	fetches.EachError(func(t string, part int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			p.log.Warn("fetch error", "topic", t, "partition", part, "err", err)
		}
	})
	recs = p.polled[:0]
	fetches.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	p.polled = recs
	p.observeLag(fetches)
	return recs, false
}

// rearmRevokes ends an empty transaction. GroupTransactSession reports
// only the first revoke after an End to OnPartitionsRevoked; ending at once
// after each reported revoke keeps the window in which a further revoke
// would go unreported (and the partitions it took would still look owned)
// as short as one loop turn. onAssigned also drops any partition the new
// assignment does not hold.
func (p *Processor) rearmRevokes(ctx context.Context) error {
	if err := p.sess.Begin(); err != nil {
		return fmt.Errorf("stream: %s: begin: %w", p.topo.Name, err)
	}
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.TransactionTimeout)
	defer cancel()
	if _, err := p.sess.End(endCtx, kgo.TryAbort); err != nil {
		return fmt.Errorf("stream: %s: end empty transaction after a revoke: %w", p.topo.Name, err)
	}
	return nil
}

// transact runs one transaction: recs (already polled), then further polls
// until the transaction holds MaxBatch records or deadline passes, then the
// timers due. It stops polling early on shutdown, on a fatal error, after a
// revoke (End would abort anyway) and after a produce error. The session
// is polled, begun and ended from this goroutine only, never concurrently.
func (p *Processor) transact(ctx context.Context, recs []*kgo.Record, deadline time.Time, promise func(*kgo.Record, error)) error {
	if err := p.sess.Begin(); err != nil {
		return fmt.Errorf("stream: %s: begin: %w", p.topo.Name, err)
	}
	p.produced.reset()
	p.stamps = p.stamps[:0]
	clear(p.txnFirst)
	hctx := &Context{ctx: ctx, p: p}
	// Records are produced with a context that shutdown does not cancel: a
	// record refused for a cancelled context is simply not in the
	// transaction, and committing the rest would lose it.
	pctx := context.WithoutCancel(ctx)
	var err error
	for {
		hctx.now = p.cfg.Clock()
		if err = p.handleRecords(hctx, pctx, recs, promise); err != nil {
			break
		}
		for _, r := range recs {
			p.stamps = append(p.stamps, r.Timestamp)
			p.noteFirst(r)
		}
		n := len(p.stamps)
		if n >= p.cfg.MaxBatch || !time.Now().Before(deadline) ||
			ctx.Err() != nil || p.fatalErr() != nil || p.rearm.Load() || p.produced.failed() {
			break
		}
		var closed bool
		if recs, closed = p.poll(ctx, time.Until(deadline), p.cfg.MaxBatch-n); closed {
			break
		}
	}
	if err == nil {
		hctx.now = p.cfg.Clock()
		err = p.handleTimersAndChangelog(hctx, pctx, promise)
	}
	if errors.Is(err, ErrFailpoint) {
		return err
	}
	// The end must not be cut short by shutdown: a cancelled End leaves the
	// client unusable, and the batch is nearly done anyway.
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.TransactionTimeout)
	defer cancel()
	forced := false
	if err == nil && p.cfg.Failpoint != nil {
		// Under test only: flush first, so that an abort forced here
		// leaves the transaction's records, changelog included, in the
		// logs, as a failure late in End would. (A flush cut short by
		// endCtx fails End too, which reports it.)
		_ = p.sess.Client().Flush(endCtx)
		if ferr := p.cfg.failpoint(FailBeforeEnd); ferr != nil {
			p.log.Info("failpoint forces an abort", "err", ferr)
			forced = true
		}
	}
	try := kgo.TryCommit
	if err != nil || p.produced.failed() || forced {
		try = kgo.TryAbort
	}
	committed, endErr := p.sess.End(endCtx, try)
	if committed && p.produced.err != nil {
		// Cannot happen (End flushes and fails on produce errors), but a
		// commit we cannot account for must not reach Pebble.
		return fmt.Errorf("stream: %s: committed with a produce error: %w", p.topo.Name, p.produced.err)
	}
	if !committed {
		p.overlay.Reset()
		p.m.transactions.WithLabelValues(p.topo.Name, "aborted").Inc()
		if err != nil {
			return err
		}
		if endErr != nil {
			return fmt.Errorf("stream: %s: end transaction: %w", p.topo.Name, endErr)
		}
		// End rewinds to the group's committed offsets. Rewinding every
		// partition of the transaction to its first record as well (where
		// the transaction began) covers a partition with no committed
		// offset yet, whatever End does for it; for the others it is the
		// same position.
		p.sess.Client().SetOffsets(p.txnFirst)
		p.log.Info("transaction aborted; its records will be re-polled", "records", len(p.stamps), "produce_err", p.produced.err, "forced", forced)
		return nil
	}
	p.observeCommit(time.Now())
	p.log.Debug("transaction committed", "records", len(p.stamps), "changelog", p.overlay.Len())
	if err := p.cfg.failpoint(FailAfterCommit); err != nil {
		return err
	}
	cps := make(map[int32]state.Checkpoint, len(p.produced.max))
	for part, off := range p.produced.max {
		cps[part] = state.Checkpoint{Offset: off + 1, TopicID: p.topicID}
	}
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	if err := p.overlay.Apply(cps); err != nil {
		return err
	}
	return p.cfg.failpoint(FailAfterApply)
}

// observeCommit counts a committed transaction and times each of its
// records from its timestamp to the commit.
func (p *Processor) observeCommit(at time.Time) {
	p.m.transactions.WithLabelValues(p.topo.Name, "committed").Inc()
	p.m.transactionRecords.WithLabelValues(p.topo.Name).Observe(float64(len(p.stamps)))
	for t, n := range p.produced.outs {
		p.m.recordsOut.WithLabelValues(p.topo.Name, t).Add(float64(n))
	}
	lat := p.m.commitLatency.WithLabelValues(p.topo.Name)
	for _, ts := range p.stamps {
		lat.Observe(max(at.Sub(ts).Seconds(), 0))
	}
	// The store counts its reads itself (an atomic add each); the
	// counters get the difference once per commit, not one Inc per read.
	r := p.store.ReadStats()
	p.m.stateReads.WithLabelValues(p.topo.Name, "row_cache").Add(float64(r.CacheHits - p.reads.CacheHits))
	p.m.stateReads.WithLabelValues(p.topo.Name, "pebble").Add(float64(r.PebbleReads - p.reads.PebbleReads))
	p.reads = r
}

// handleRecords handles one poll's records into the overlay and produces
// their outputs. A handler's error aborts the transaction; a failpoint's
// leaves it open, as a crash would.
func (p *Processor) handleRecords(hctx *Context, pctx context.Context, recs []*kgo.Record, promise func(*kgo.Record, error)) error {
	half := len(recs) / 2
	for i, rec := range recs {
		if i == half && len(recs) > 1 {
			if err := p.cfg.failpoint(FailMidBatch); err != nil {
				return err
			}
		}
		if err := p.handleRecord(hctx, pctx, rec, promise); err != nil {
			return err
		}
	}
	return nil
}

// handleTimersAndChangelog fires the timers due at hctx.now and produces a
// changelog record for every key the transaction changed.
func (p *Processor) handleTimersAndChangelog(hctx *Context, pctx context.Context, promise func(*kgo.Record, error)) error {
	due, err := p.dueTimers(hctx.now)
	if err != nil {
		return err
	}
	for _, t := range due {
		if err := p.fireTimer(hctx, pctx, t, promise); err != nil {
			return err
		}
	}
	return p.overlay.Each(func(part int32, key, value []byte) error {
		p.sess.Produce(pctx, &kgo.Record{Topic: p.changelog, Partition: part, Key: key, Value: value}, promise)
		return nil
	})
}

func (p *Processor) handleRecord(hctx *Context, pctx context.Context, rec *kgo.Record, promise func(*kgo.Record, error)) error {
	hctx.partition, hctx.out, hctx.err = rec.Partition, hctx.out[:0], nil
	mark := p.overlay.Mark()
	start := time.Now()
	err := p.topo.Handler.Handle(hctx, rec)
	p.handlerSeconds.Observe(time.Since(start).Seconds())
	if c, ok := p.recordsIn[rec.Topic]; ok {
		c.Inc()
	} else {
		p.m.recordsIn.WithLabelValues(p.topo.Name, rec.Topic).Inc()
	}
	if err == nil {
		err = hctx.err
	}
	var rej *RejectError
	switch {
	case err == nil:
		for _, o := range hctx.out {
			p.sess.Produce(pctx, o, promise)
		}
		return nil
	case errors.As(err, &rej):
		p.overlay.Rollback(mark)
		p.deadLetter(pctx, rec, rej.Err.Error(), promise)
		return nil
	default:
		return fmt.Errorf("stream: %s: handle %s/%d@%d: %w", p.topo.Name, rec.Topic, rec.Partition, rec.Offset, err)
	}
}

func (p *Processor) observeLag(fetches kgo.Fetches) {
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		last := fp.Records[len(fp.Records)-1].Offset
		p.m.lag.WithLabelValues(p.topo.Name, fp.Topic, strconv.Itoa(int(fp.Partition))).Set(float64(max(fp.HighWatermark-last-1, 0)))
	})
}

// noteFirst remembers the first record of each input partition in the open
// transaction: where an abort must rewind it to.
func (p *Processor) noteFirst(r *kgo.Record) {
	if p.txnFirst == nil {
		p.txnFirst = map[string]map[int32]kgo.EpochOffset{}
	}
	parts := p.txnFirst[r.Topic]
	if parts == nil {
		parts = map[int32]kgo.EpochOffset{}
		p.txnFirst[r.Topic] = parts
	}
	if _, ok := parts[r.Partition]; !ok {
		parts[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset}
	}
}
