package prima

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/broker"
	"github.com/lockstep-dev/lockstep/connectors/clock"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Parity is the stock parity check (see the package doc): it follows
// lockstep.stock-pushed, prima.stock-levels and prima.items, judges each
// Prima SKU@warehouse lockstep pushed once its push is done and settled,
// and writes stock_parity drift events for finance to lockstep.drift, with
// the open ones kept in lockstep.stock-parity. It calls no Prima API.
type Parity struct {
	cfg   Config
	serde *schemas.Serde
	o     Options
	kopts []kgo.Opt
	ran   atomic.Bool

	pushedTopic, levelsTopic, itemsTopic, stateTopic, driftTopic, cursorTopic string
	// caughtUp is the stock-level feed's Cursor.CaughtUpAt: Prima's levels
	// on the feed are complete up to it.
	caughtUp time.Time

	// Run's state, touched by Run's goroutine only.
	keys   map[string]*parityKey // by prima sku@warehouse
	items  *itemIndex
	due    dueQueue
	dirty  map[string]bool
	read   map[string]int // records applied since the last pass, by topic
	counts map[keyState]int
	ready  bool      // the tables were read once; the state topic is this check's own echo since
	last   time.Time // clock reading of the last pass
}

// NewParity returns a parity check that will read and write with clients
// built from kopts. It only validates; Run connects.
func NewParity(cfg Config, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*Parity, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if serde == nil {
		return nil, errors.New("prima: parity: needs a serde")
	}
	o = o.withDefaults()
	p := o.TopicPrefix
	return &Parity{cfg: cfg, serde: serde, o: o, kopts: slices.Clone(kopts),
		pushedTopic: p + schemas.TopicStockPushed, levelsTopic: p + schemas.TopicPrimaStockLevels,
		itemsTopic: p + schemas.TopicItems, stateTopic: p + schemas.TopicStockParity, driftTopic: p + schemas.TopicDrift,
		cursorTopic: p + schemas.TopicSourceCursors,
		keys:        map[string]*parityKey{}, items: newItemIndex(), dirty: map[string]bool{}, read: map[string]int{},
		counts: map[keyState]int{},
	}, nil
}

// Run reads its tables to their end, judges every key once (so a restart
// resolves what was corrected, and opens what diverged, while it was
// down), then judges each key again whenever a record about it arrives or
// its settle window ends, until ctx ends. Only a failure to write to Kafka
// stops it. A Parity runs once.
func (c *Parity) Run(ctx context.Context) error {
	if !c.ran.CompareAndSwap(false, true) {
		return errors.New("prima: parity: Run called twice")
	}
	defer c.o.setReady(false)
	for _, st := range keyStates {
		c.o.Metrics.parityKeys.WithLabelValues(string(st)).Set(0)
	}
	f, err := broker.NewFollower(c.kopts, c.o.Logger, func(r *kgo.Record) { c.apply(ctx, r) },
		c.pushedTopic, c.levelsTopic, c.itemsTopic, c.stateTopic, c.cursorTopic)
	if err != nil {
		return fmt.Errorf("prima: parity: %w", err)
	}
	defer f.Close()
	if err := f.CatchUp(ctx); err != nil {
		return c.stopped(ctx, fmt.Errorf("prima: parity: read tables: %w", err))
	}
	c.ready = true
	for k := range c.keys {
		c.dirty[k] = true
	}
	if err := c.pass(ctx, f.Client()); err != nil {
		return c.stopped(ctx, err)
	}
	c.o.setReady(true)
	c.o.Logger.Info("prima parity: tables read", "keys", len(c.keys), "open", c.counts[keyDiffer])
	for {
		// Wake when the next settle window ends, or a settle window after
		// the last pass at the latest, so a quiet system is judged too.
		// The instant is fixed from the pass's own clock reading, so time
		// that passed during the pass shortens the wait.
		wake := c.last.Add(c.cfg.ParitySettle)
		if len(c.due) > 0 && c.due[0].at.Before(wake) {
			wake = c.due[0].at
		}
		pctx, cancel := afterCtx(ctx, c.o.Clock, wake.Sub(c.o.Clock.Now()))
		err := f.Step(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("prima: parity: read: %w", err)
		}
		if err := c.pass(ctx, f.Client()); err != nil {
			return c.stopped(ctx, err)
		}
	}
}

func (c *Parity) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// afterCtx is ctx, also cancelled once d has passed on clock c.
func afterCtx(ctx context.Context, c clock.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	pctx, cancel := context.WithCancel(ctx)
	fired := c.After(max(d, 0))
	go func() {
		select {
		case <-fired:
			cancel()
		case <-pctx.Done():
		}
	}()
	return pctx, cancel
}

// apply takes in one record of the tables and marks its key for judging.
func (c *Parity) apply(ctx context.Context, r *kgo.Record) {
	c.read[r.Topic]++
	switch r.Topic {
	case c.pushedTopic:
		var p pushedLevel
		if ok, err := decodeState(r, &p); err != nil || !ok {
			return
		}
		c.key(p.SKU, p.Warehouse).pushed = &p
	case c.levelsTopic:
		var ev schemas.PrimaStockLevel
		if r.Value == nil {
			return
		}
		if err := decodeTable(ctx, c.serde, c.o, r, &ev); err != nil {
			c.o.Logger.Error("prima parity: stock level record skipped", "key", string(r.Key), "err", err)
			return
		}
		c.key(ev.SKU, ev.Warehouse).prima = &primaLevel{Available: ev.Available, AsOf: ev.AsOf}
	case c.cursorTopic:
		var cur Cursor
		if string(r.Key) != CursorKeyStockLevels || r.Value == nil || json.Unmarshal(r.Value, &cur) != nil {
			return
		}
		if cur.CaughtUpAt.After(c.caughtUp) {
			c.caughtUp = cur.CaughtUpAt
			for k, pk := range c.keys {
				if pk.pushed != nil {
					c.dirty[k] = true
				}
			}
		}
	case c.itemsTopic:
		var it *itemInfo
		if r.Value != nil {
			var ev schemas.Item
			if err := decodeTable(ctx, c.serde, c.o, r, &ev); err != nil {
				c.o.Logger.Error("prima parity: item record skipped; its drift is not valued", "sku", string(r.Key), "err", err)
				return
			}
			v := itemFrom(&ev)
			it = &v
		}
		c.items.put(string(r.Key), it) // a cost change values the next event; it judges nothing
	case c.stateTopic:
		if c.ready {
			return // this check's own writes, read back: memory is newer
		}
		var o parityOpen
		ok, err := decodeState(r, &o)
		switch {
		case err != nil:
			c.o.Logger.Error("prima parity: state record skipped", "err", err)
		case ok:
			c.key(o.SKU, o.Warehouse).open = &o
		case c.keys[string(r.Key)] != nil:
			c.keys[string(r.Key)].open = nil
		}
	}
}

// key returns the key's record, created on first sight, marked for judging.
func (c *Parity) key(sku, warehouse string) *parityKey {
	id := schemas.StockKey(sku, warehouse)
	k := c.keys[id]
	if k == nil {
		k = &parityKey{SKU: sku, Warehouse: warehouse}
		c.keys[id] = k
	}
	c.dirty[id] = true
	return k
}

// pass judges the keys marked and those whose settle window has ended, and
// writes the drift events, then the open discrepancies, that follow.
func (c *Parity) pass(ctx context.Context, cl *kgo.Client) error {
	now := c.o.Clock.Now()
	c.last = now
	for len(c.due) > 0 && !c.due[0].at.After(now) {
		c.dirty[heap.Pop(&c.due).(dueKey).key] = true
	}
	var events, state []*kgo.Record
	var changes []func()
	statuses := map[schemas.DriftStatus]int{}
	for _, id := range slices.Sorted(maps.Keys(c.dirty)) {
		k := c.keys[id]
		v := judge(k, now, c.caughtUp, c.cfg.ParitySettle)
		changes = append(changes, func() { c.setState(k, v.state) })
		if !v.due.IsZero() {
			heap.Push(&c.due, dueKey{at: v.due, key: id})
		}
		if v.status == "" {
			continue
		}
		var it *itemInfo
		if x, ok := c.items.item(k.SKU); ok {
			it = &x
		}
		dr, err := driftRecord(ctx, c.serde, c.driftTopic, parityEvent(k, v.status, it, now.UTC()))
		if err != nil {
			return fmt.Errorf("prima: parity: %w", err)
		}
		var open *parityOpen
		sr, _ := stateRecord(c.stateTopic, id, nil)
		if v.status != schemas.DriftResolved {
			open = &parityOpen{SKU: k.SKU, Warehouse: k.Warehouse, Expected: k.pushed.Available, Actual: k.prima.Available}
			if sr, err = stateRecord(c.stateTopic, id, open); err != nil {
				return fmt.Errorf("prima: parity: %w", err)
			}
		}
		events, state = append(events, dr), append(state, sr)
		changes = append(changes, func() { k.open = open })
		statuses[v.status]++
	}
	// Events first: an open discrepancy recorded is what a restart goes
	// by, so a crash in between writes the same events again (same ids).
	// Memory and metrics follow once Kafka has both.
	for _, recs := range [][]*kgo.Record{events, state} {
		if len(recs) == 0 {
			continue
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("prima: parity: write %s: %w", recs[0].Topic, err)
		}
	}
	for _, ch := range changes {
		ch()
	}
	for st, n := range statuses {
		c.o.Metrics.parityEvents.WithLabelValues(string(st)).Add(float64(n))
	}
	for t, n := range c.read {
		c.o.Metrics.parityRecords.WithLabelValues(t).Add(float64(n))
	}
	c.o.Metrics.parityChecked.Set(float64(now.UnixMilli()) / 1000)
	c.dirty, c.read = map[string]bool{}, map[string]int{}
	return nil
}

func (c *Parity) setState(k *parityKey, s keyState) {
	if k.state == s {
		return
	}
	if k.state != "" {
		c.counts[k.state]--
		c.o.Metrics.parityKeys.WithLabelValues(string(k.state)).Set(float64(c.counts[k.state]))
	}
	k.state = s
	c.counts[s]++
	c.o.Metrics.parityKeys.WithLabelValues(string(s)).Set(float64(c.counts[s]))
}
