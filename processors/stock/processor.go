package stock

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Name is the processor's name: its consumer group, the prefix of its
// transactional id and its changelog (lockstep.stock.changelog).
const Name = "stock"

// The state stores.
const (
	// StoreLevels holds, per sku@warehouse, the encoded Level followed by
	// the encoded Journal of the key (nothing when it has none): one
	// value, so a movement costs one read, one write and one changelog
	// record for both (they were two stores, and twice that).
	StoreLevels = "levels"
	// StoreDirty holds, per partition, the index of the sku@warehouse keys
	// changed since the last push, in indexShards values "index/00" to
	// "index/3f" (by a hash of the key), each a sorted list. Every push
	// clears it; the shards keep an insert cheap when many keys change
	// within one interval (a full re-base, a replay).
	StoreDirty = "dirty"
	// StoreGaps holds the encoded Pending feed gaps of each sku@warehouse
	// that has some, each settled by a timer (gapTimer) at its deadline.
	StoreGaps = "gaps"
	// StoreOpen holds the open goods-out quantity of each order at each
	// sku@warehouse (key sku@warehouse, a 0 byte, order ref; a varint),
	// so that an order's new absolute quantity replaces its old one in
	// the level's sum.
	StoreOpen = "open"
)

// seenMovements is the dedupe set of movement ids.
const seenMovements = "movements"

// Topology declares the stock processor for the stream runtime: inputs
// clarus.stock-movements, clarus.stock-snapshots and
// lockstep.open-goods-out (co-partitioned by sku@warehouse), outputs lockstep.stock-levels, lockstep.cmd.prima-stock
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
		open:      p + schemas.TopicOpenGoodsOut,
		levels:    p + schemas.TopicStockLevels,
		commands:  p + schemas.TopicCmdPrimaStock,
		drift:     p + schemas.TopicDrift,
	}
	return stream.Topology{
		Name:    Name,
		Inputs:  []string{h.movements, h.snapshots, h.open},
		Stores:  []string{StoreLevels, StoreDirty, StoreGaps, StoreOpen},
		Outputs: []string{h.levels, h.commands, h.drift},
		Handler: h,
	}, nil
}

// handler is the stock processor's stream.Handler and stream.TimerHandler.
// The runtime calls it from one loop, so its buffers need no lock.
type handler struct {
	cfg                        Config
	serde                      *schemas.Serde
	movements, snapshots, open string
	levels, commands, drift    string
	buf, jbuf                  []byte // a state value, a journal being built
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
	case h.open:
		var o schemas.OpenGoodsOut
		if err := h.decode(ctx, rec, &o); err != nil {
			return err
		}
		return h.openGoodsOut(ctx, rec, &o)
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
	prev, journal, _, err := h.load(ctx, rec.Key)
	if err != nil {
		return err
	}
	if Superseded(prev, m) {
		// Counted in a snapshot already: the fold drops it, but it may
		// explain a gap that snapshot found.
		return h.explainLate(ctx, rec.Key, m)
	}
	effect := Effect(prev.Stock, m)
	next, changed := Fold(prev, *m)
	if !effect.IsZero() {
		h.jbuf, err = journalAdd(h.jbuf[:0], journal, m.OccurredAt, effect, next.AsOf.Add(-h.cfg.JournalWindow), h.cfg.JournalWindow/4)
		if err != nil {
			return fmt.Errorf("stock: journal of %s: %w", rec.Key, err)
		}
		journal = h.jbuf
	}
	if changed {
		if err := h.markDirty(ctx, key, &next); err != nil {
			return err
		}
	}
	h.store(ctx, rec.Key, next, journal)
	return nil
}

// snapshot checks the level against a Clarus snapshot as of its time,
// re-bases it when they disagree and holds the gap, to be reported at its
// deadline if late movements do not explain it.
func (h *handler) snapshot(ctx *stream.Context, rec *kgo.Record, s *schemas.StockSnapshot) error {
	if err := CheckSnapshot(s); err != nil {
		return stream.Reject(err)
	}
	key := schemas.StockKey(s.SKU, s.Warehouse)
	if string(rec.Key) != key {
		return stream.Reject(fmt.Errorf("stock: record key %q is not the snapshot's sku@warehouse %q", rec.Key, key))
	}
	prev, journal, _, err := h.load(ctx, rec.Key)
	if err != nil {
		return err
	}
	j, err := DecodeJournal(journal)
	if err != nil {
		return fmt.Errorf("stock: journal of %s: %w", rec.Key, err)
	}
	next, nj, gap, stale := Rebase(prev, j, *s)
	if stale {
		return nil // older than what the level and journal can be taken back to
	}
	journal = nil // no entries left: BaseAsOf now covers what Since said
	if len(nj.Entries) > 0 {
		h.jbuf = AppendJournal(h.jbuf[:0], nj)
		journal = h.jbuf
	}
	if next.Stock != prev.Stock {
		if err := h.markDirty(ctx, key, &next); err != nil {
			return err
		}
	}
	h.store(ctx, rec.Key, next, journal)
	if gap == nil || !Reportable(gap.Delta(), h.cfg.ReportAllocationGaps) {
		return nil
	}
	return h.holdGap(ctx, key, PendingGap{Gap: *gap, From: prev.BaseAsOf, Due: GapDeadline(s.AsOf, ctx.Now(), h.cfg.FeedGapGrace)})
}

// holdGap adds g to key's pending gaps and schedules its deadline; gaps
// pushed out by the bound on pending gaps are settled at once.
func (h *handler) holdGap(ctx *stream.Context, key string, g PendingGap) error {
	ps, err := h.pending(ctx, key)
	if err != nil {
		return err
	}
	ps, early := ps.Hold(g)
	h.putPending(ctx, key, ps)
	ctx.Schedule(g.Due, gapTimer(key))
	return h.reportGaps(ctx, key, early)
}

// explainLate counts a superseded movement against the pending gap it
// belongs to, if any.
func (h *handler) explainLate(ctx *stream.Context, key []byte, m *schemas.StockMovement) error {
	ps, err := h.pending(ctx, string(key))
	if err != nil || len(ps) == 0 {
		return err
	}
	if ps, counted := ps.Explain(m); counted {
		h.putPending(ctx, string(key), ps)
	}
	return nil
}

func (h *handler) pending(ctx *stream.Context, key string) (Pending, error) {
	b, _, err := ctx.Get(StoreGaps, []byte(key))
	if err != nil {
		return nil, err
	}
	ps, err := DecodePending(b)
	if err != nil {
		return nil, fmt.Errorf("stock: pending gaps of %s: %w", key, err)
	}
	return ps, nil
}

func (h *handler) putPending(ctx *stream.Context, key string, ps Pending) {
	if len(ps) == 0 {
		ctx.Delete(StoreGaps, []byte(key))
		return
	}
	h.buf = AppendPending(h.buf[:0], ps)
	ctx.Put(StoreGaps, []byte(key), h.buf)
}

// load reads a key's level and its encoded journal (nil when it has
// none; read-only).
func (h *handler) load(ctx *stream.Context, key []byte) (Level, []byte, bool, error) {
	b, ok, err := ctx.Get(StoreLevels, key)
	if err != nil || !ok {
		return Level{}, nil, false, err
	}
	l, journal, err := decodeLevelPrefix(b)
	if err != nil {
		return Level{}, nil, false, fmt.Errorf("stock: level of %s: %w", key, err)
	}
	if len(journal) == 0 {
		journal = nil
	}
	return l, journal, true, nil
}

// store writes a key's level and encoded journal as its one value. journal
// must not alias h.buf.
func (h *handler) store(ctx *stream.Context, key []byte, l Level, journal []byte) {
	h.buf = append(AppendLevel(h.buf[:0], l), journal...)
	ctx.Put(StoreLevels, key, h.buf)
}

func (h *handler) emit(ctx *stream.Context, topic string, key []byte, ev schemas.Event) error {
	v, err := h.serde.Encode(ctx.Context(), ev)
	if err != nil {
		return fmt.Errorf("stock: encode %s for %s: %w", ev.SchemaName(), topic, err)
	}
	ctx.Emit(topic, key, v)
	return nil
}

// openGoodsOut replaces an order's open quantity at a key in the key's
// sum, and marks the key dirty when what Prima is offered changes.
func (h *handler) openGoodsOut(ctx *stream.Context, rec *kgo.Record, o *schemas.OpenGoodsOut) error {
	key := schemas.StockKey(o.SKU, o.Warehouse)
	switch {
	case string(rec.Key) != key:
		return stream.Reject(fmt.Errorf("stock: record key %q is not the open goods-out's sku@warehouse %q", rec.Key, key))
	case o.OrderRef == "":
		return stream.Reject(errors.New("stock: open goods-out without an order ref"))
	case o.Open < 0 || o.Open > maxQuantity:
		return stream.Reject(fmt.Errorf("stock: open goods-out of order %s at %s: quantity %d out of range", o.OrderRef, key, o.Open))
	}
	okey := append(append([]byte(key), 0), o.OrderRef...)
	var was int64
	if b, ok, err := ctx.Get(StoreOpen, okey); err != nil {
		return err
	} else if ok {
		v, n := binary.Varint(b)
		if n <= 0 {
			return fmt.Errorf("stock: open goods-out of order %s at %s: %w", o.OrderRef, key, ErrCorruptState)
		}
		was = v
	}
	if was == o.Open {
		return nil
	}
	if o.Open == 0 {
		ctx.Delete(StoreOpen, okey)
	} else {
		ctx.Put(StoreOpen, okey, binary.AppendVarint(nil, o.Open))
	}
	prev, journal, _, err := h.load(ctx, rec.Key)
	if err != nil {
		return err
	}
	next := prev
	next.OpenGoodsOut = max(prev.OpenGoodsOut-was+o.Open, 0)
	// Dirty even when Prima's level stays (allocated covers it): the
	// key's StockLevel shows the new open quantity at the next push.
	if err := h.markDirty(ctx, key, &next); err != nil {
		return err
	}
	h.store(ctx, rec.Key, next, journal)
	return nil
}
