package prima

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// sinkState is what the sink knows beyond the command in hand: the item
// master, the held levels and the last level pushed per key. The table
// follower writes it from prima.items, lockstep.stock-held and
// lockstep.stock-pushed; the command loop reads it and writes its own
// changes as it makes them. Lock order: Sink.mu before sinkState.mu.
type sinkState struct {
	mu     sync.Mutex
	items  *itemIndex
	held   map[string]heldLevel   // by clarus code@warehouse
	pushed map[string]pushedLevel // by prima sku@warehouse
	// synced are the owned command partitions whose held and pushed
	// records this sink has caught up with; from then on it is their only
	// writer, so the follower skips their records (its own, read back)
	// rather than let an echo overwrite a newer level in memory.
	synced  map[int32]bool
	toSync  map[int32]bool  // assigned, not yet caught up
	pending map[string]bool // Clarus codes whose mapping changed since the loop last looked
	failed  map[string]bool // keys of pushed whose last push failed: the retry's work list
	named   map[string]int  // push_failed discrepancy -> keys of pushed naming it (FailedRef)
}

func newSinkState() sinkState {
	return sinkState{items: newItemIndex(), held: map[string]heldLevel{}, pushed: map[string]pushedLevel{},
		synced: map[int32]bool{}, toSync: map[int32]bool{}, pending: map[string]bool{},
		failed: map[string]bool{}, named: map[string]int{}}
}

func (st *sinkState) count() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.items.bySKU)
}

func (st *sinkState) assign(ps []int32) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, p := range ps {
		st.toSync[p] = true
	}
}

func (st *sinkState) revoke(ps []int32) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, p := range ps {
		delete(st.synced, p)
		delete(st.toSync, p)
	}
}

func (st *sinkState) needsSync(p int32) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.toSync[p]
}

// takePending returns the codes whose mapping changed, and forgets them.
func (st *sinkState) takePending() map[string]bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	codes := st.pending
	st.pending = map[string]bool{}
	return codes
}

// setPushed records e as the key's last push, keeping the failed set and
// the discrepancy counts in step. Callers hold st.mu.
func (st *sinkState) setPushed(e pushedLevel) {
	k := e.key()
	if old, ok := st.pushed[k]; ok && old.FailedRef != "" {
		if st.named[old.FailedRef]--; st.named[old.FailedRef] <= 0 {
			delete(st.named, old.FailedRef)
		}
	}
	if e.FailedRef != "" {
		st.named[e.FailedRef]++
	}
	if e.State == stateFailed {
		st.failed[k] = true
	} else {
		delete(st.failed, k)
	}
	st.pushed[k] = e
}

// unnamedAfter returns the discrepancies among was that no key will name
// once entries replace their keys' last pushes. Callers hold st.mu.
func (st *sinkState) unnamedAfter(was map[string]bool, entries []pushedLevel) []string {
	delta := map[string]int{}
	for _, e := range entries {
		if old := st.pushed[e.key()].FailedRef; old != "" {
			delta[old]--
		}
		if e.FailedRef != "" {
			delta[e.FailedRef]++
		}
	}
	var out []string
	for ref := range was {
		if st.named[ref]+delta[ref] <= 0 {
			out = append(out, ref)
		}
	}
	slices.Sort(out)
	return out
}

// heldWhere returns the held levels of synced partitions that keep
// selects.
func (st *sinkState) heldWhere(keep func(heldLevel) bool) []heldLevel {
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []heldLevel
	for _, h := range st.held {
		if st.synced[h.Partition] && keep(h) {
			out = append(out, h)
		}
	}
	return out
}

// applyTable is the follower's apply: one record of a table topic.
func (s *Sink) applyTable(ctx context.Context, r *kgo.Record) {
	st := &s.st
	switch r.Topic {
	case s.itemsTopic:
		var it *itemInfo
		if r.Value != nil {
			var ev schemas.Item
			if err := decodeTable(ctx, s.serde, s.o, r, &ev); err != nil {
				s.o.Logger.Error("prima sink: item record skipped; its mapping is unknown until the item changes", "sku", string(r.Key), "err", err)
				return
			}
			v := itemFrom(&ev)
			it = &v
		}
		st.mu.Lock()
		for _, c := range st.items.put(string(r.Key), it) {
			st.pending[c] = true
		}
		n := len(st.pending)
		st.mu.Unlock()
		if n > 0 {
			s.poke()
		}
	case s.heldTopic:
		var h heldLevel
		ok, err := decodeState(r, &h)
		if err != nil {
			s.o.Logger.Error("prima sink: held record skipped", "err", err)
			return
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		old, had := st.held[string(r.Key)]
		switch {
		case ok && !st.synced[h.Partition]:
			st.held[string(r.Key)] = h
		case !ok && had && !st.synced[old.Partition]:
			delete(st.held, string(r.Key))
		}
		s.o.Metrics.held.Set(float64(len(st.held)))
	case s.pushedTopic:
		var p pushedLevel
		ok, err := decodeState(r, &p)
		if err != nil {
			s.o.Logger.Error("prima sink: pushed record skipped", "err", err)
			return
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		if ok && !st.synced[p.Partition] {
			st.setPushed(p)
		}
	}
}

// decodeTable decodes an Avro table record, waiting out a registry that
// cannot be reached: skipping an item for that would hold its code.
func decodeTable(ctx context.Context, serde *schemas.Serde, o Options, r *kgo.Record, into schemas.Event) error {
	for {
		err := serde.Decode(ctx, r.Value, into)
		if err == nil || schemas.IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		o.Logger.Warn("prima: table record decode failed; retrying", "topic", r.Topic, "offset", r.Offset, "err", err)
		if err := sleep(ctx, o.Clock, time.Second); err != nil {
			return err
		}
	}
}

// housekeep catches newly assigned partitions up with the held and pushed
// tables, then re-drives the held levels whose codes now map: those of the
// partitions just caught up, and those of codes whose mapping changed.
func (s *Sink) housekeep(ctx context.Context) error {
	if err := s.syncAssigned(ctx); err != nil {
		return err
	}
	if codes := s.st.takePending(); len(codes) > 0 {
		if err := s.redrive(ctx, s.st.heldWhere(func(h heldLevel) bool { return codes[h.ClarusCode] })); err != nil {
			return err
		}
	}
	return s.retryFailed(ctx)
}

// syncAssigned waits until the follower has read every held and pushed
// record written before now, which includes every write of a partition's
// previous owner (it wrote under Sink.mu, and its revoke waited for that),
// then marks the assigned partitions synced and re-drives their held
// levels that map.
func (s *Sink) syncAssigned(ctx context.Context) error {
	s.st.mu.Lock()
	parts := make([]int32, 0, len(s.st.toSync))
	for p := range s.st.toSync {
		parts = append(parts, p)
	}
	s.st.mu.Unlock()
	if len(parts) == 0 {
		return nil
	}
	slices.Sort(parts)
	m, err := s.f.Mark(ctx, s.itemsTopic, s.heldTopic, s.pushedTopic)
	if err == nil {
		err = s.f.Wait(ctx, m)
	}
	if err != nil {
		return fmt.Errorf("prima: sink: catch up for partitions %v: %w", parts, err)
	}
	synced := map[int32]bool{}
	s.mu.Lock()
	s.st.mu.Lock()
	for _, p := range parts {
		if s.owned[p] && s.st.toSync[p] {
			s.st.synced[p] = true
			synced[p] = true
		}
		delete(s.st.toSync, p)
	}
	s.st.mu.Unlock()
	s.mu.Unlock()
	return s.redrive(ctx, s.st.heldWhere(func(h heldLevel) bool { return synced[h.Partition] }))
}

// redrive pushes the held levels among entries whose codes now map, one
// batch per warehouse of a partition, each only while the partition is
// owned. It runs in the command loop, between commands: the held levels
// came from commands already handled, and every command not yet handled
// is newer, so levels reach Prima in the order Clarus had them.
func (s *Sink) redrive(ctx context.Context, entries []heldLevel) error {
	if len(entries) == 0 {
		return nil
	}
	s.st.mu.Lock()
	batches := planRedrive(entries, s.st.items, s.st.pushed)
	s.st.mu.Unlock()
	for _, b := range batches {
		if err := s.redriveBatch(ctx, b); err != nil && !errors.Is(err, errLost) {
			return err
		}
	}
	return nil
}

func (s *Sink) redriveBatch(ctx context.Context, b redriveBatch) error {
	p := b.Partition
	s.o.Logger.Info("prima sink: pushing held levels whose SKU mapping arrived", "batch", b.Ref, "warehouse", b.Warehouse,
		"lines", len(b.push), "settled_without_push", len(b.entries)-len(b.push))
	if len(b.push) > 0 {
		res, err := s.markAndPush(ctx, p, b.Warehouse, b.Ref, b.AsOf, b.push)
		if err != nil {
			return err
		}
		if res.parkReason != "" {
			// There is no command to park: the levels stay held, and are
			// tried again when this partition is next assigned.
			return s.redriveFailed(ctx, b, res)
		}
	}
	return s.settle(ctx, p, b.push, b.Warehouse, b.Ref, statePushed, "", b.entries)
}

// redriveFailed records a re-drive Prima would not take: a push_failed
// drift event for operations, then its lines failed (the retry pushes them
// again later).
func (s *Sink) redriveFailed(ctx context.Context, b redriveBatch, res pushResult) error {
	ev := pushFailedEvent(s.o.Clock.Now().UTC(), "push_failed:prima-stock:"+b.Ref, b.Warehouse,
		fmt.Sprintf("Held stock levels (batch %s, %d lines, warehouse %s) were not pushed to Prima after %d attempts (%s); they stay held in %s, and the sink pushes them again every %s until Prima takes them.",
			b.Ref, len(b.push), b.Warehouse, res.attempts, res.parkReason, s.heldTopic, s.cfg.RetryFailedAfter))
	dr, err := driftRecord(ctx, s.serde, s.driftTopic, ev)
	if err != nil {
		return err
	}
	s.o.Metrics.pushes.WithLabelValues("parked").Inc()
	s.o.Logger.Warn("prima sink: held levels not pushed; they stay held", "batch", b.Ref, "reason", res.parkReason)
	if err := s.write(ctx, b.Partition, []*kgo.Record{dr}, nil, func() {}); err != nil {
		return err
	}
	return s.settle(ctx, b.Partition, b.push, b.Warehouse, b.Ref, stateFailed, b.Ref, nil)
}
