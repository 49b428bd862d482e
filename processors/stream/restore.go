package stream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/lockstep-dev/lockstep/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// onAssigned restores the newly assigned partitions before the client
// starts fetching them: franz-go calls it before fetching offsets for the
// new assignment, and keeps heartbeating meanwhile.
func (p *Processor) onAssigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	p.setReady(false)
	var parts []int32
	seen := map[int32]bool{}
	for _, ps := range assigned {
		for _, part := range ps {
			if !seen[part] {
				seen[part] = true
				parts = append(parts, part)
			}
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	p.mu.Lock()
	stopping := p.stopping
	p.mu.Unlock()
	if stopping {
		return // an assignment that raced with shutdown: nobody will process it here
	}
	start := time.Now()
	n, err := p.restore(ctx, parts)
	if err != nil {
		p.setFatal(err)
		return
	}
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return
	}
	// The balancer is eager, so assigned is the whole assignment. Anything
	// else still marked owned was revoked without our callback running:
	// GroupTransactSession calls the user's OnPartitionsRevoked only for
	// the first revoke between two End calls, so an instance that stays
	// idle through two rebalances never hears of the second. Left owned,
	// those partitions' timers would fire here while another instance
	// owns them.
	var stale []int32
	for part := range p.owned {
		if !seen[part] {
			stale = append(stale, part)
			delete(p.owned, part)
		}
	}
	for _, part := range parts {
		p.owned[part] = true
	}
	p.mu.Unlock()
	if len(stale) > 0 {
		p.log.Info("releasing partitions revoked without a callback", "partitions", stale)
	}
	if p.cfg.OnOwnership != nil {
		for _, part := range stale {
			p.cfg.OnOwnership(part, false)
		}
		for _, part := range parts {
			p.cfg.OnOwnership(part, true)
		}
	}
	p.log.Info("partitions assigned", "partitions", parts, "restored_records", n, "restore_took", time.Since(start).Round(time.Millisecond))
	p.setReady(true)
}

func (p *Processor) onRevoked(_ context.Context, cl *kgo.Client, revoked map[string][]int32) {
	if cl != nil {
		// The session will not report another revoke until the next End;
		// the loop ends an empty transaction at once to re-arm it.
		p.rearm.Store(true)
	}
	var gone []int32
	p.mu.Lock()
	for _, ps := range revoked {
		for _, part := range ps {
			if p.owned[part] {
				gone = append(gone, part)
			}
			delete(p.owned, part)
		}
	}
	p.mu.Unlock()
	if p.cfg.OnOwnership != nil {
		for _, part := range gone {
			p.cfg.OnOwnership(part, false)
		}
	}
}

// changelogEnds waits until no transaction is open on parts of the
// changelog (last stable offset == high watermark) and returns the end
// offsets. A previous owner's last transaction may still be writing its
// markers, or a crashed one's may be open until fenced or timed out; either
// way its outcome decides what the state is.
func (p *Processor) changelogEnds(ctx context.Context, parts []int32) (map[int32]int64, error) {
	deadline := time.Now().Add(p.cfg.TransactionTimeout + 5*time.Second)
	for {
		lso, err := p.admin.ListCommittedOffsets(ctx, p.changelog)
		if err != nil {
			return nil, fmt.Errorf("stream: %s: list changelog stable offsets: %w", p.topo.Name, err)
		}
		hwm, err := p.admin.ListEndOffsets(ctx, p.changelog)
		if err != nil {
			return nil, fmt.Errorf("stream: %s: list changelog end offsets: %w", p.topo.Name, err)
		}
		ends := make(map[int32]int64, len(parts))
		stable := true
		for _, part := range parts {
			l, err1 := listed(lso, p.changelog, part)
			h, err2 := listed(hwm, p.changelog, part)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("stream: %s: changelog partition %d: %w", p.topo.Name, part, err)
			}
			stable = stable && l == h
			ends[part] = h
		}
		if stable {
			return ends, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("stream: %s: changelog %s still has an open transaction after %s", p.topo.Name, p.changelog, p.cfg.TransactionTimeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func listed(l kadm.ListedOffsets, topic string, part int32) (int64, error) {
	o, ok := l.Lookup(topic, part)
	if !ok {
		return 0, fmt.Errorf("no offset listed")
	}
	return o.Offset, o.Err
}

// restore brings parts of the local store up to the end of the changelog,
// and returns how many records it replayed.
func (p *Processor) restore(ctx context.Context, parts []int32) (int, error) {
	if len(parts) == 0 {
		return 0, nil
	}
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	ends, err := p.changelogEnds(ctx, parts)
	if err != nil {
		return 0, err
	}
	from := map[int32]kgo.Offset{}
	next := map[int32]int64{}
	for _, part := range parts {
		cp, ok, err := p.store.Checkpoint(part)
		if err != nil {
			return 0, err
		}
		end := ends[part]
		if ok && (cp.Offset > end || (cp.TopicID != p.topicID && cp.TopicID != [16]byte{} && p.topicID != [16]byte{})) {
			p.log.Warn("local state is ahead of its changelog or belongs to an older changelog topic: wiping the partition and restoring it in full",
				"partition", part, "checkpoint", cp.Offset, "changelog_end", end, "topic_recreated", cp.TopicID != p.topicID)
			if err := p.store.Wipe(part); err != nil {
				return 0, err
			}
			ok = false
		}
		switch {
		case ok && cp.Offset >= end:
			continue // up to date
		case ok:
			from[part], next[part] = kgo.NewOffset().At(cp.Offset), cp.Offset
		default:
			from[part], next[part] = kgo.NewOffset().AtStart(), 0
		}
		p.m.restoreRemaining.WithLabelValues(p.topo.Name, strconv.Itoa(int(part))).Set(float64(end - next[part]))
	}
	if len(from) == 0 {
		return 0, nil
	}
	return p.replay(ctx, from, next, ends)
}

// replay reads the changelog partitions in from up to ends (read committed,
// keeping control records so that a trailing commit marker is seen) into
// the store.
func (p *Processor) replay(ctx context.Context, from map[int32]kgo.Offset, next, ends map[int32]int64) (int, error) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), p.opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{p.changelog: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		// Restore reads a known range; a long-poll only delays noticing
		// that a fetch came back without a partition's next records.
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		return 0, fmt.Errorf("stream: %s: restore client: %w", p.topo.Name, err)
	}
	defer cl.Close()
	batches := map[int32]*state.RestoreBatch{}
	for part := range from {
		batches[part] = p.store.NewRestoreBatch(part)
		defer batches[part].Close()
	}
	commit := func(part int32) error {
		cp := state.Checkpoint{Offset: next[part], TopicID: p.topicID}
		if err := batches[part].Commit(cp); err != nil {
			return err
		}
		p.m.restoreRemaining.WithLabelValues(p.topo.Name, strconv.Itoa(int(part))).Set(float64(max(ends[part]-next[part], 0)))
		return nil
	}
	total := 0
	for {
		for part := range from {
			if next[part] >= ends[part] {
				if err := commit(part); err != nil {
					return total, err
				}
				delete(from, part)
			}
		}
		if len(from) == 0 {
			return total, nil
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var ferr error
		fetches.EachError(func(t string, part int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = errors.Join(ferr, fmt.Errorf("%s/%d: %w", t, part, err))
			}
		})
		if ferr != nil {
			return total, fmt.Errorf("stream: %s: restore fetch: %w", p.topo.Name, ferr)
		}
		if fetches.NumRecords() == 0 {
			p.log.Debug("restore waiting for changelog records", "remaining_partitions", len(from))
			continue
		}
		var rerr error
		fetches.EachRecord(func(r *kgo.Record) {
			if _, ok := from[r.Partition]; !ok || rerr != nil || r.Offset < next[r.Partition] {
				return
			}
			next[r.Partition] = r.Offset + 1
			if r.Attrs.IsControl() {
				return
			}
			b := batches[r.Partition]
			if rerr = b.Add(r.Key, r.Value); rerr != nil {
				return
			}
			total++
			if b.Len() >= p.cfg.RestoreChunk {
				if rerr = commit(r.Partition); rerr == nil {
					rerr = p.cfg.failpoint(FailDuringRestore)
				}
			}
		})
		p.m.restoreRecords.WithLabelValues(p.topo.Name).Add(float64(fetches.NumRecords()))
		if rerr != nil {
			return total, rerr
		}
	}
}
