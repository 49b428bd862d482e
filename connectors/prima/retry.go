package prima

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Levels Prima refused are pushed again: a stock batch that used up its
// retry budget is parked in the DLQ for the record, but its levels are
// absolute and the newest lockstep has for their keys, so the sink keeps
// offering them to Prima, RetryFailedAfter apart, until Prima takes them.
// Without this, a key that does not move again would stay wrong in Prima
// until someone re-drove the DLQ by hand.

// retryBatch is the failed levels of one warehouse of one partition.
type retryBatch struct {
	Warehouse string
	Partition int32
	// Ref is derived from the lines (key, level, its instant, the
	// discrepancy that covers it): the same levels retried after a crash
	// or a second failure carry the same reference, so Prima cannot apply
	// them twice, and different levels never share one.
	Ref  string
	AsOf time.Time
	push []pushLine
}

// planRetry groups the failed keys of synced partitions that failed at or
// before due into batches, one per warehouse of a partition.
func planRetry(failed map[string]bool, pushed map[string]pushedLevel, synced map[int32]bool, due time.Time) []retryBatch {
	type group struct {
		part int32
		wh   string
	}
	byGroup := map[group]*retryBatch{}
	var keys []pushedLevel
	for k := range failed {
		e, ok := pushed[k]
		if ok && e.State == stateFailed && synced[e.Partition] && !e.At.After(due) {
			keys = append(keys, e)
		}
	}
	slices.SortFunc(keys, func(a, b pushedLevel) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Warehouse, b.Warehouse), cmp.Compare(a.SKU, b.SKU))
	})
	var out []*retryBatch
	refs := map[*retryBatch]*strings.Builder{}
	for _, e := range keys {
		g := group{e.Partition, e.Warehouse}
		b := byGroup[g]
		if b == nil {
			b = &retryBatch{Warehouse: e.Warehouse, Partition: e.Partition}
			byGroup[g], refs[b] = b, &strings.Builder{}
			out = append(out, b)
		}
		b.push = append(b.push, pushLine{SKU: e.SKU, ClarusCode: e.ClarusCode, Available: e.Available, AsOf: e.AsOf})
		if e.AsOf.After(b.AsOf) {
			b.AsOf = e.AsOf
		}
		fmt.Fprintf(refs[b], "%s|%s|%d|%d\n", e.key(), e.FailedRef, e.Available, e.AsOf.UnixMilli())
	}
	batches := make([]retryBatch, len(out))
	for i, b := range out {
		sum := sha256.Sum256([]byte(refs[b].String()))
		b.Ref = "retry-" + b.Warehouse + "-" + hex.EncodeToString(sum[:8])
		batches[i] = *b
	}
	return batches
}

// retryDue is when the earliest failed level of a synced partition is due
// again; zero when there is none.
func (st *sinkState) retryDue(after time.Duration) time.Time {
	st.mu.Lock()
	defer st.mu.Unlock()
	var due time.Time
	for k := range st.failed {
		e := st.pushed[k]
		if !st.synced[e.Partition] {
			continue
		}
		if at := e.At.Add(after); due.IsZero() || at.Before(due) {
			due = at
		}
	}
	return due
}

// retryFailed pushes the failed levels that are due. It runs in the
// command loop, between commands, like the re-drive of held levels: every
// command not yet handled is newer, so levels reach Prima in order.
func (s *Sink) retryFailed(ctx context.Context) error {
	s.st.mu.Lock()
	var batches []retryBatch
	if len(s.st.failed) > 0 {
		batches = planRetry(s.st.failed, s.st.pushed, s.st.synced, s.o.Clock.Now().UTC().Add(-s.cfg.RetryFailedAfter))
	}
	s.st.mu.Unlock()
	for _, b := range batches {
		if err := s.retryBatch(ctx, b); err != nil && !errors.Is(err, errLost) {
			return err
		}
	}
	return nil
}

func (s *Sink) retryBatch(ctx context.Context, b retryBatch) error {
	p := b.Partition
	s.o.Logger.Info("prima sink: pushing again levels Prima refused", "batch", b.Ref, "warehouse", b.Warehouse, "lines", len(b.push))
	res, err := s.markAndPush(ctx, p, b.Warehouse, b.Ref, b.AsOf, b.push)
	if err != nil {
		return err
	}
	state := statePushed
	if res.parkReason != "" {
		state = stateFailed
		s.o.Metrics.pushes.WithLabelValues("failed_again").Inc()
		s.o.Logger.Warn("prima sink: Prima refused the levels again; they are pushed again later", "batch", b.Ref,
			"reason", res.parkReason, "retry_in", s.cfg.RetryFailedAfter)
	}
	return s.settle(ctx, p, b.push, b.Warehouse, b.Ref, state, "", nil)
}

// markAndPush marks lines as being pushed under ref, then pushes them: the
// path of the pushes that come from the sink's own state (held levels
// re-driven, refused levels retried) rather than from a command.
func (s *Sink) markAndPush(ctx context.Context, p int32, warehouse, ref string, asOf time.Time, lines []pushLine) (pushResult, error) {
	marks, apply, _, err := s.pushedWrites(lines, warehouse, ref, p, statePushing, "")
	if err != nil {
		return pushResult{}, err
	}
	if err := s.write(ctx, p, nil, marks, apply); err != nil {
		return pushResult{}, err
	}
	return s.push(ctx, p, StockBatch{Ref: ref, Warehouse: warehouse, AsOf: asOf, Lines: stockLines(lines)})
}
