package stock

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The processor's timers, set in state through the runtime so that they
// fire exactly once and survive restarts and rebalances with the state:
//
//   - "push", per partition, at every multiple of PushInterval with keys
//     changed since the last push: the batched push to Prima.
//   - "gap/" + sku@warehouse, at the deadline of each of the key's pending
//     feed gaps: reports what late movements left unexplained.

const indexShards = 64

var pushTimer = []byte("push")

// gapTimerPrefix starts the key of a feed gap deadline timer.
const gapTimerPrefix = "gap/"

// gapTimer is the key of the deadline timers of sku@warehouse's gaps.
func gapTimer(key string) []byte { return []byte(gapTimerPrefix + key) }

// indexKey is the dirty index shard of a sku@warehouse key.
func indexKey(key string) []byte {
	h := fnv.New32a()
	h.Write([]byte(key))
	return shardKey(int(h.Sum32() % indexShards))
}

func shardKey(shard int) []byte { return fmt.Appendf(nil, "index/%02x", shard) }

// markDirty adds key to its partition's dirty index and makes sure a push
// is scheduled at the next multiple of the push interval. Scheduling the
// same due time again is a no-op, so doing it on every insert also heals
// an index left without its timer.
func (h *handler) markDirty(ctx *stream.Context, key string, l *Level) error {
	if l.Dirty {
		return nil
	}
	l.Dirty = true
	shard := indexKey(key)
	b, _, err := ctx.Get(StoreDirty, shard)
	if err != nil {
		return err
	}
	// The level's Dirty flag keeps a key from being appended twice
	// between pushes; a repeat would be harmless all the same.
	if h.buf, err = appendIndexKey(h.buf[:0], b, key); err != nil {
		return fmt.Errorf("stock: dirty index %s of partition %d: %w", shard, ctx.Partition(), err)
	}
	ctx.Put(StoreDirty, shard, h.buf)
	ctx.Schedule(ctx.Now().Truncate(h.cfg.PushInterval).Add(h.cfg.PushInterval), pushTimer)
	return nil
}

// OnTimer pushes the partition's dirty keys, or settles a key's pending
// gaps.
func (h *handler) OnTimer(ctx *stream.Context, key []byte, due time.Time) error {
	switch {
	case bytes.Equal(key, pushTimer):
		return h.push(ctx, due)
	case bytes.HasPrefix(key, []byte(gapTimerPrefix)):
		return h.settleGaps(ctx, string(key[len(gapTimerPrefix):]), due)
	}
	return nil // a timer of another version of the processor
}

// settleGaps reports the remainders of key's gaps due at or before due,
// and forgets them. A deadline timer whose gaps were settled early finds
// none.
func (h *handler) settleGaps(ctx *stream.Context, key string, due time.Time) error {
	ps, err := h.pending(ctx, key)
	if err != nil {
		return err
	}
	rest, settled := ps.Settle(due)
	if len(settled) == 0 {
		return nil
	}
	h.putPending(ctx, key, rest)
	return h.reportGaps(ctx, key, settled)
}

// reportGaps emits a wms_feed_gap DriftEvent for each settled gap with a
// remainder to report.
func (h *handler) reportGaps(ctx *stream.Context, key string, settled Pending) error {
	sku, warehouse, ok := schemas.SplitStockKey(key)
	if !ok {
		return nil // cannot happen: a gap is held under its snapshot's sku@warehouse
	}
	for _, g := range settled.Report(h.cfg.ReportAllocationGaps) {
		ev := gapEvent(sku, warehouse, g, ctx.Now())
		if err := h.emit(ctx, h.drift, []byte(ev.DiscrepancyID), ev); err != nil {
			return err
		}
	}
	return nil
}

// push emits, for the keys changed since the last push, their StockLevel,
// and per warehouse one PrimaStockCommand with the absolute available
// levels (clamped at 0) of those whose available changed since it was last
// pushed; then it clears the dirty index.
func (h *handler) push(ctx *stream.Context, due time.Time) error {
	var keys []string
	for i := range indexShards {
		shard := shardKey(i)
		b, ok, err := ctx.Get(StoreDirty, shard)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		more, err := decodeIndex(b)
		if err != nil {
			return fmt.Errorf("stock: dirty index %s of partition %d: %w", shard, ctx.Partition(), err)
		}
		keys = append(keys, more...)
		ctx.Delete(StoreDirty, shard)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	now := ctx.Now()
	lines := map[string][]pushLine{}
	for _, key := range keys {
		l, journal, ok, err := h.load(ctx, []byte(key))
		if err != nil {
			return err
		}
		sku, warehouse, okKey := schemas.SplitStockKey(key)
		if !ok || !okKey {
			continue // cannot happen: a key is indexed with its level
		}
		l.Dirty = false
		if avail := max(l.Promisable(), 0); !l.Pushed || avail != l.PushedAvailable {
			lines[warehouse] = append(lines[warehouse], pushLine{sku: sku, available: avail, asOf: l.AsOf})
			l.Pushed, l.PushedAvailable = true, avail
		}
		h.store(ctx, []byte(key), l, journal)
		if err := h.emit(ctx, h.levels, []byte(key), levelEvent(key, l, due, now)); err != nil {
			return err
		}
	}
	warehouses := make([]string, 0, len(lines))
	for w := range lines {
		warehouses = append(warehouses, w)
	}
	slices.Sort(warehouses)
	for _, w := range warehouses {
		ls := lines[w]
		slices.SortFunc(ls, func(a, b pushLine) int { return strings.Compare(a.sku, b.sku) })
		for _, cmd := range stockCommands(w, ctx.Partition(), due, now, ls) {
			if err := h.emit(ctx, h.commands, []byte(w), cmd); err != nil {
				return err
			}
		}
	}
	return nil
}
