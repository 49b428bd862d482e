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

// loop is the processing loop: poll a batch, handle it and the timers that
// fell due into the overlay, produce outputs and changelog records, commit
// the transaction with the consumed offsets, then apply the overlay.
func (p *Processor) loop(ctx context.Context) error {
	promise := p.produced.promise(p.changelog)
	var recs []*kgo.Record
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
		pollCtx, cancel := context.WithTimeout(ctx, p.cfg.TimerTick)
		fetches := p.sess.PollRecords(pollCtx, p.cfg.MaxBatch)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(t string, part int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				p.log.Warn("fetch error", "topic", t, "partition", part, "err", err)
			}
		})
		recs = recs[:0]
		fetches.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
		p.observeLag(fetches)
		now := p.cfg.Clock()
		due, err := p.dueTimers(now)
		if err != nil {
			return err
		}
		if len(recs) == 0 && len(due) == 0 {
			continue
		}
		if err := p.transact(ctx, recs, due, now, promise); err != nil {
			return err
		}
	}
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

// transact runs one batch in one transaction.
func (p *Processor) transact(ctx context.Context, recs []*kgo.Record, due []dueTimer, now time.Time, promise func(*kgo.Record, error)) error {
	if err := p.sess.Begin(); err != nil {
		return fmt.Errorf("stream: %s: begin: %w", p.topo.Name, err)
	}
	p.produced.reset()
	hctx := &Context{ctx: ctx, p: p, now: now}
	// Records are produced with a context that shutdown does not cancel: a
	// record refused for a cancelled context is simply not in the
	// transaction, and committing the rest would lose it.
	pctx := context.WithoutCancel(ctx)
	ok, err := p.handleBatch(hctx, pctx, recs, due, promise)
	if errors.Is(err, ErrFailpoint) {
		return err
	}
	// The end must not be cut short by shutdown: a cancelled End leaves the
	// client unusable, and the batch is nearly done anyway.
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.TransactionTimeout)
	defer cancel()
	try := kgo.TryCommit
	if err != nil || !ok || p.produced.failed() {
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
		p.log.Info("transaction aborted; batch will be re-polled", "records", len(recs), "produce_err", p.produced.err)
		return nil
	}
	p.m.transactions.WithLabelValues(p.topo.Name, "committed").Inc()
	p.log.Debug("transaction committed", "records", len(recs), "timers", len(due), "changelog", p.overlay.Len())
	for t, n := range p.produced.outs {
		p.m.recordsOut.WithLabelValues(p.topo.Name, t).Add(float64(n))
	}
	if err := p.cfg.failpoint(FailAfterCommit); err != nil {
		return err
	}
	cps := make(map[int32]state.Checkpoint, len(p.produced.max))
	for part, off := range p.produced.max {
		cps[part] = state.Checkpoint{Offset: off + 1, TopicID: p.topicID}
	}
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	return p.overlay.Apply(cps)
}

// handleBatch handles records and timers into the overlay and produces
// outputs and changelog records. ok is false when the batch must abort
// (a produce failed); err is a handler error that stops the processor.
func (p *Processor) handleBatch(hctx *Context, pctx context.Context, recs []*kgo.Record, due []dueTimer, promise func(*kgo.Record, error)) (ok bool, err error) {
	half := len(recs) / 2
	for i, rec := range recs {
		if i == half && len(recs) > 1 {
			if err := p.cfg.failpoint(FailMidBatch); err != nil {
				return false, err
			}
		}
		if err := p.handleRecord(hctx, pctx, rec, promise); err != nil {
			return false, err
		}
	}
	for _, t := range due {
		if err := p.fireTimer(hctx, pctx, t, promise); err != nil {
			return false, err
		}
	}
	if err := p.overlay.Each(func(part int32, key, value []byte) error {
		p.sess.Produce(pctx, &kgo.Record{Topic: p.changelog, Partition: part, Key: key, Value: value}, promise)
		return nil
	}); err != nil {
		return false, err
	}
	return true, nil
}

func (p *Processor) handleRecord(hctx *Context, pctx context.Context, rec *kgo.Record, promise func(*kgo.Record, error)) error {
	hctx.partition, hctx.out, hctx.err = rec.Partition, hctx.out[:0], nil
	mark := p.overlay.Mark()
	start := time.Now()
	err := p.topo.Handler.Handle(hctx, rec)
	p.m.handlerSeconds.WithLabelValues(p.topo.Name).Observe(time.Since(start).Seconds())
	p.m.recordsIn.WithLabelValues(p.topo.Name, rec.Topic).Inc()
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
