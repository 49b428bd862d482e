package stock

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Name is the processor's name: its consumer group, the prefix of its
// transactional id and its changelog (lockstep.stock.changelog).
const Name = "stock"

// The state stores.
const (
	// StoreLevels holds the encoded Level of each sku@warehouse.
	StoreLevels = "levels"
	// StoreJournal holds the encoded Journal of each sku@warehouse.
	StoreJournal = "journal"
	// StoreDirty holds, per partition, the index of the sku@warehouse keys
	// changed since the last push, in indexShards values "index/00" to
	// "index/3f" (by a hash of the key), each a sorted list. Every push
	// clears it; the shards keep an insert cheap when many keys change
	// within one interval (a full re-base, a replay).
	StoreDirty = "dirty"
)

const indexShards = 64

var pushTimer = []byte("push")

// indexKey is the dirty index shard of a sku@warehouse key.
func indexKey(key string) []byte {
	h := fnv.New32a()
	h.Write([]byte(key))
	return shardKey(int(h.Sum32() % indexShards))
}

func shardKey(shard int) []byte { return fmt.Appendf(nil, "index/%02x", shard) }

// seenMovements is the dedupe set of movement ids.
const seenMovements = "movements"

// Config is the stock processor's configuration, mounted under LOCKSTEP_.
type Config struct {
	// PushInterval is how often each partition pushes the available levels
	// that changed to Prima: at every multiple of it on the clock.
	PushInterval time.Duration `env:"STOCK_PUSH_INTERVAL, default=5m"`
	// DedupeTTL is how long a movement id is remembered to drop a repeat.
	DedupeTTL time.Duration `env:"STOCK_DEDUPE_TTL, default=168h"`
	// JournalWindow is how far back, from the latest movement of a key,
	// its journal keeps movement effects for re-basing on a snapshot: at
	// least the snapshot interval, better three times it. A snapshot older
	// than what the journal covers is ignored.
	JournalWindow time.Duration `env:"STOCK_JOURNAL_WINDOW, default=15m"`
	// ReportAllocationGaps also raises wms_feed_gap drift for a re-base
	// that corrected only allocated stock. Off by default: Clarus has no
	// webhook for allocations, so they reach lockstep through snapshots
	// and a snapshot correcting them is the normal case, not a gap.
	ReportAllocationGaps bool `env:"STOCK_REPORT_ALLOCATION_GAPS, default=false"`
	// TopicPrefix prefixes every topic name; the caller sets it from the
	// broker configuration (LOCKSTEP_KAFKA_TOPIC_PREFIX).
	TopicPrefix string
}

// withDefaults fills unset durations with the defaults of the env tags.
func (c Config) withDefaults() Config {
	if c.PushInterval == 0 {
		c.PushInterval = 5 * time.Minute
	}
	if c.DedupeTTL == 0 {
		c.DedupeTTL = 7 * 24 * time.Hour
	}
	if c.JournalWindow == 0 {
		c.JournalWindow = 15 * time.Minute
	}
	return c
}

// Validate reports every invalid setting, under its variable name.
func (c Config) Validate() error {
	var errs []error
	if c.PushInterval < time.Second {
		errs = append(errs, fmt.Errorf("LOCKSTEP_STOCK_PUSH_INTERVAL: %s: want at least 1s", c.PushInterval))
	}
	if c.DedupeTTL < time.Minute {
		errs = append(errs, fmt.Errorf("LOCKSTEP_STOCK_DEDUPE_TTL: %s: want at least 1m", c.DedupeTTL))
	}
	if c.JournalWindow < time.Second {
		errs = append(errs, fmt.Errorf("LOCKSTEP_STOCK_JOURNAL_WINDOW: %s: want at least 1s", c.JournalWindow))
	}
	return errors.Join(errs...)
}

// Topology declares the stock processor for the stream runtime: inputs
// clarus.stock-movements and clarus.stock-snapshots (co-partitioned by
// sku@warehouse), outputs lockstep.stock-levels, lockstep.cmd.prima-stock
// and lockstep.drift, all with cfg.TopicPrefix. Unset durations take their
// defaults.
func Topology(cfg Config, serde *schemas.Serde) (stream.Topology, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return stream.Topology{}, fmt.Errorf("stock: %w", err)
	}
	if serde == nil {
		return stream.Topology{}, errors.New("stock: no serde")
	}
	p := cfg.TopicPrefix
	h := &handler{
		cfg: cfg, serde: serde,
		movements: p + schemas.TopicStockMovements,
		snapshots: p + schemas.TopicStockSnapshots,
		levels:    p + schemas.TopicStockLevels,
		commands:  p + schemas.TopicCmdPrimaStock,
		drift:     p + schemas.TopicDrift,
	}
	return stream.Topology{
		Name:    Name,
		Inputs:  []string{h.movements, h.snapshots},
		Stores:  []string{StoreLevels, StoreJournal, StoreDirty},
		Outputs: []string{h.levels, h.commands, h.drift},
		Handler: h,
	}, nil
}

// handler is the stock processor's stream.Handler and stream.TimerHandler.
// The runtime calls it from one loop, so its buffers need no lock.
type handler struct {
	cfg                                           Config
	serde                                         *schemas.Serde
	movements, snapshots, levels, commands, drift string
	buf                                           []byte
}

// Handle decodes a movement or a snapshot; a record that cannot be decoded
// or used goes to the DLQ.
func (h *handler) Handle(ctx *stream.Context, rec *kgo.Record) error {
	switch rec.Topic {
	case h.movements:
		var m schemas.StockMovement
		if err := h.decode(ctx, rec, &m); err != nil {
			return err
		}
		return h.movement(ctx, rec, &m)
	case h.snapshots:
		var s schemas.StockSnapshot
		if err := h.decode(ctx, rec, &s); err != nil {
			return err
		}
		return h.snapshot(ctx, rec, &s)
	}
	return stream.Reject(fmt.Errorf("stock: record from unexpected topic %q", rec.Topic))
}

func (h *handler) decode(ctx *stream.Context, rec *kgo.Record, ev schemas.Event) error {
	err := h.serde.Decode(ctx.Context(), rec.Value, ev)
	switch {
	case err == nil:
		return nil
	case schemas.IsPermanent(err):
		return stream.Reject(fmt.Errorf("stock: decode %s: %w", rec.Topic, err))
	default: // the registry is unreachable: retrying the batch can help
		return fmt.Errorf("stock: decode %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
	}
}

// movement drops a repeat, folds, journals the effect and marks the key
// dirty when its quantities changed.
func (h *handler) movement(ctx *stream.Context, rec *kgo.Record, m *schemas.StockMovement) error {
	if err := Check(m); err != nil {
		return stream.Reject(err)
	}
	key := schemas.StockKey(m.SKU, m.Warehouse)
	if string(rec.Key) != key {
		return stream.Reject(fmt.Errorf("stock: record key %q is not the movement's sku@warehouse %q", rec.Key, key))
	}
	first, err := ctx.FirstSeen(seenMovements, []byte(m.MovementID), h.cfg.DedupeTTL)
	if err != nil || !first {
		return err
	}
	prev, _, err := h.level(ctx, rec.Key)
	if err != nil || Superseded(prev, m) {
		return err
	}
	effect := Effect(prev.Stock, m)
	next, changed := Fold(prev, *m)
	if !effect.IsZero() {
		enc, _, err := ctx.Get(StoreJournal, rec.Key)
		if err != nil {
			return err
		}
		h.buf, err = journalAdd(h.buf[:0], enc, m.OccurredAt, effect, next.AsOf.Add(-h.cfg.JournalWindow), h.cfg.JournalWindow/4)
		if err != nil {
			return fmt.Errorf("stock: journal of %s: %w", rec.Key, err)
		}
		ctx.Put(StoreJournal, rec.Key, h.buf)
	}
	if changed {
		if err := h.markDirty(ctx, key, &next); err != nil {
			return err
		}
	}
	h.buf = AppendLevel(h.buf[:0], next)
	ctx.Put(StoreLevels, rec.Key, h.buf)
	return nil
}

// snapshot checks the level against a Clarus snapshot as of its time,
// re-bases it when they disagree and reports the gap.
func (h *handler) snapshot(ctx *stream.Context, rec *kgo.Record, s *schemas.StockSnapshot) error {
	if err := CheckSnapshot(s); err != nil {
		return stream.Reject(err)
	}
	key := schemas.StockKey(s.SKU, s.Warehouse)
	if string(rec.Key) != key {
		return stream.Reject(fmt.Errorf("stock: record key %q is not the snapshot's sku@warehouse %q", rec.Key, key))
	}
	prev, _, err := h.level(ctx, rec.Key)
	if err != nil {
		return err
	}
	enc, had, err := ctx.Get(StoreJournal, rec.Key)
	if err != nil {
		return err
	}
	j, err := DecodeJournal(enc)
	if err != nil {
		return fmt.Errorf("stock: journal of %s: %w", rec.Key, err)
	}
	next, nj, gap, stale := Rebase(prev, j, *s)
	if stale {
		return nil // older than what the level and journal can be taken back to
	}
	if len(nj.Entries) == 0 {
		if had {
			ctx.Delete(StoreJournal, rec.Key) // BaseAsOf now covers what Since said
		}
	} else if h.buf = AppendJournal(h.buf[:0], nj); !bytes.Equal(h.buf, enc) {
		ctx.Put(StoreJournal, rec.Key, h.buf)
	}
	if next.Stock != prev.Stock {
		if err := h.markDirty(ctx, key, &next); err != nil {
			return err
		}
	}
	h.buf = AppendLevel(h.buf[:0], next)
	ctx.Put(StoreLevels, rec.Key, h.buf)
	if gap == nil {
		return nil
	}
	if d := gap.Delta(); d.OnHand == 0 && d.Held == 0 && !h.cfg.ReportAllocationGaps {
		return nil
	}
	ev := gapEvent(s.SKU, s.Warehouse, *gap, ctx.Now())
	return h.emit(ctx, h.drift, []byte(ev.DiscrepancyID), ev)
}

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
	keys, err := decodeIndex(b)
	if err != nil {
		return fmt.Errorf("stock: dirty index %s of partition %d: %w", shard, ctx.Partition(), err)
	}
	if i, found := slices.BinarySearch(keys, key); !found {
		keys = slices.Insert(keys, i, key)
	}
	h.buf = appendIndex(h.buf[:0], keys)
	ctx.Put(StoreDirty, shard, h.buf)
	ctx.Schedule(ctx.Now().Truncate(h.cfg.PushInterval).Add(h.cfg.PushInterval), pushTimer)
	return nil
}

// OnTimer pushes the partition's dirty keys.
func (h *handler) OnTimer(ctx *stream.Context, key []byte, due time.Time) error {
	if string(key) != string(pushTimer) {
		return nil // a timer of another version of the processor
	}
	return h.push(ctx, due)
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
	now := ctx.Now()
	lines := map[string][]pushLine{}
	for _, key := range keys {
		l, ok, err := h.level(ctx, []byte(key))
		if err != nil {
			return err
		}
		sku, warehouse, okKey := SplitKey(key)
		if !ok || !okKey {
			continue // cannot happen: a key is indexed with its level
		}
		l.Dirty = false
		if avail := max(l.Available(), 0); !l.Pushed || avail != l.PushedAvailable {
			lines[warehouse] = append(lines[warehouse], pushLine{sku: sku, available: avail, asOf: l.AsOf})
			l.Pushed, l.PushedAvailable = true, avail
		}
		h.buf = AppendLevel(h.buf[:0], l)
		ctx.Put(StoreLevels, []byte(key), h.buf)
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

func (h *handler) level(ctx *stream.Context, key []byte) (Level, bool, error) {
	b, ok, err := ctx.Get(StoreLevels, key)
	if err != nil || !ok {
		return Level{}, false, err
	}
	l, err := DecodeLevel(b)
	if err != nil {
		return Level{}, false, fmt.Errorf("stock: level of %s: %w", key, err)
	}
	return l, true, nil
}

func (h *handler) emit(ctx *stream.Context, topic string, key []byte, ev schemas.Event) error {
	v, err := h.serde.Encode(ctx.Context(), ev)
	if err != nil {
		return fmt.Errorf("stock: encode %s for %s: %w", ev.SchemaName(), topic, err)
	}
	ctx.Emit(topic, key, v)
	return nil
}
