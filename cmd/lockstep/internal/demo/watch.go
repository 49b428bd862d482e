package demo

import (
	"context"
	"fmt"
	"io"
	"maps"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// watcher follows lockstep's outputs as a downstream reader would: read
// committed, from the start, decoded through the registry.
type watcher struct {
	cl    *kgo.Client
	serde *schemas.Serde
	done  chan struct{}

	mu        sync.Mutex
	levels    map[string]schemas.StockLevel // by sku@warehouse, the latest
	drift     []schemas.DriftEvent
	commands  int
	items     map[string]bool   // Prima SKUs on prima.items
	codes     map[string]string // their Clarus codes, as last seen ("" unmapped)
	batchRefs map[string]int
	closed    map[string]int // FulfilmentClosed events by order ref
	// versions is the latest version of each order on prima.sales-orders.
	versions  map[string]int64
	undecoded int
}

func newWatcher(ctx context.Context, o Options, serde *schemas.Serde) *watcher {
	w := &watcher{serde: serde, done: make(chan struct{}), levels: map[string]schemas.StockLevel{}, batchRefs: map[string]int{}, items: map[string]bool{}, codes: map[string]string{},
		closed: map[string]int{}, versions: map[string]int64{}}
	p := o.TopicPrefix
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), o.Kafka...),
		kgo.ConsumeTopics(p+schemas.TopicStockLevels, p+schemas.TopicDrift, p+schemas.TopicCmdPrimaStock, p+schemas.TopicItems,
			p+schemas.TopicFulfilment, p+schemas.TopicSalesOrders),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)...)
	if err != nil {
		close(w.done)
		return w
	}
	w.cl = cl
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			if fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) { w.add(ctx, p, r) })
		}
	}()
	return w
}

func (w *watcher) add(ctx context.Context, prefix string, r *kgo.Record) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch r.Topic {
	case prefix + schemas.TopicStockLevels:
		var l schemas.StockLevel
		if w.serde.Decode(ctx, r.Value, &l) != nil {
			w.undecoded++
			return
		}
		w.levels[string(r.Key)] = l
	case prefix + schemas.TopicDrift:
		var d schemas.DriftEvent
		if w.serde.Decode(ctx, r.Value, &d) != nil {
			w.undecoded++
			return
		}
		w.drift = append(w.drift, d)
	case prefix + schemas.TopicFulfilment:
		var c schemas.FulfilmentClosed
		if w.serde.Decode(ctx, r.Value, &c) != nil {
			w.undecoded++
			return
		}
		w.closed[c.OrderRef]++
	case prefix + schemas.TopicSalesOrders:
		var so schemas.SalesOrder
		if w.serde.Decode(ctx, r.Value, &so) != nil {
			w.undecoded++
			return
		}
		w.versions[so.OrderRef] = max(w.versions[so.OrderRef], so.Version)
	case prefix + schemas.TopicItems:
		w.items[string(r.Key)] = r.Value != nil
		var it schemas.Item
		if r.Value != nil && w.serde.Decode(ctx, r.Value, &it) == nil {
			w.codes[string(r.Key)] = deref(it.ClarusCode)
		}
	case prefix + schemas.TopicCmdPrimaStock:
		var c schemas.PrimaStockCommand
		if w.serde.Decode(ctx, r.Value, &c) != nil {
			w.undecoded++
			return
		}
		w.commands++
		w.batchRefs[c.BatchRef]++
	}
}

func (w *watcher) close() {
	if w.cl != nil {
		w.cl.Close()
	}
	<-w.done
}

// versionsSeen reports whether prima.sales-orders carries every order of
// want at its version or later.
func (w *watcher) versionsSeen(want map[string]int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ref, v := range want {
		if w.versions[ref] < v {
			return false
		}
	}
	return true
}

// unmappedSeen reports whether prima.items shows every one of skus
// without a Clarus code.
func (w *watcher) unmappedSeen(skus []string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, sku := range skus {
		if code, ok := w.codes[sku]; !ok || code != "" {
			return false
		}
	}
	return true
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// itemCount is how many Prima items are on prima.items.
func (w *watcher) itemCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.items)
}

// closedOrders copies the FulfilmentClosed counts by order ref.
func (w *watcher) closedOrders() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.closed)
}

// snapshot copies what was read so far.
func (w *watcher) snapshot() (levels map[string]schemas.StockLevel, drift []schemas.DriftEvent, commands int, refs map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	levels = make(map[string]schemas.StockLevel, len(w.levels))
	for k, v := range w.levels {
		levels[k] = v
	}
	refs = make(map[string]int, len(w.batchRefs))
	for k, v := range w.batchRefs {
		refs[k] = v
	}
	return levels, append([]schemas.DriftEvent(nil), w.drift...), w.commands, refs
}

// progress prints a line a second: traffic in, pushes out, drift.
type progress struct {
	o    Options
	s    *sims
	w    *watcher
	last time.Time
}

func newProgress(o Options, s *sims, w *watcher) *progress { return &progress{o: o, s: s, w: w} }

// tick waits up to d for a component error, then prints a line if a
// second has passed since the last one.
func (p *progress) tick(ctx context.Context, errc <-chan error, d time.Duration) error {
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case err := <-errc:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	} else {
		select {
		case err := <-errc:
			if err != nil {
				return err
			}
		default:
		}
	}
	if p.o.Progress == nil || time.Since(p.last) < time.Second {
		return nil
	}
	p.last = time.Now()
	p.line(p.o.Progress)
	return nil
}

func (p *progress) line(out io.Writer) {
	cs := p.s.clarus.State()
	ps := p.s.prima.State()
	_, drift, commands, _ := p.w.snapshot()
	open := map[string]bool{}
	for _, d := range drift {
		open[d.DiscrepancyID] = d.Status != schemas.DriftResolved
	}
	n := 0
	for _, o := range open {
		if o {
			n++
		}
	}
	fmt.Fprintf(out, "clarus movements %6d | webhooks pending %4d | stock commands %5d | prima batches applied %5d | open drift %3d\n",
		len(cs.Movements), cs.Webhooks.Pending, commands, ps.Counters.BatchesApplied, n)
}
