package stream

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/broker"
)

// GlobalTable is a compacted topic every instance of a processor reads in
// full, as Kafka Streams' GlobalKTable: a lookup table for records keyed
// by something else (the orders processor, keyed by order ref, looks up
// items by SKU), so it needs no co-partitioning. The runtime reads it to
// its end before it handles any record, on every start (the topic is its
// own changelog; there is no local checkpoint, so restore time grows with
// the table), then follows it while processing. A lookup sees the table as
// far as it has been read, which is not part of any transaction: a
// handler that depends on a row arriving (a re-drive) must look again
// later, on a timer.
type GlobalTable struct {
	Topic string
	// Decode turns a record's value into what Context.Global returns; it
	// runs once per record read. A value it refuses is logged, counted and
	// leaves the key absent, as if it had never been written.
	Decode func(ctx context.Context, value []byte) (any, error)
}

// globals are the tables of a running processor.
type globals struct {
	mu   sync.RWMutex
	rows map[string]map[string]any // topic -> key -> decoded value
}

func (g *globals) get(topic, key string) (any, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	v, ok := g.rows[topic][key]
	return v, ok
}

// startGlobals reads every global table to its end, then follows them in
// a goroutine until ctx ends; the returned func waits for it.
func (p *Processor) startGlobals(ctx context.Context) (func(), error) {
	if len(p.topo.Globals) == 0 {
		return func() {}, nil
	}
	decode := map[string]func(context.Context, []byte) (any, error){}
	topics := make([]string, 0, len(p.topo.Globals))
	p.globals = &globals{rows: map[string]map[string]any{}}
	for _, g := range p.topo.Globals {
		decode[g.Topic] = g.Decode
		topics = append(topics, g.Topic)
		p.globals.rows[g.Topic] = map[string]any{}
	}
	apply := func(r *kgo.Record) {
		var v any
		if r.Value != nil {
			var err error
			if v, err = decode[r.Topic](ctx, r.Value); err != nil {
				p.m.globalRejected.WithLabelValues(p.topo.Name, r.Topic).Inc()
				p.log.Error("global table record skipped; its key reads as absent until it is written again",
					"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "key", string(r.Key), "err", err)
				v = nil
			}
		}
		p.globals.mu.Lock()
		if v == nil {
			delete(p.globals.rows[r.Topic], string(r.Key))
		} else {
			p.globals.rows[r.Topic][string(r.Key)] = v
		}
		p.globals.mu.Unlock()
	}
	f, err := broker.NewFollower(p.opts, p.log, apply, topics...)
	if err != nil {
		return nil, fmt.Errorf("stream: %s: global tables: %w", p.topo.Name, err)
	}
	if err := f.CatchUp(ctx); err != nil {
		f.Close()
		return nil, fmt.Errorf("stream: %s: restore global tables %v: %w", p.topo.Name, topics, err)
	}
	p.globals.mu.RLock()
	for t, rows := range p.globals.rows {
		p.log.Info("global table restored", "topic", t, "keys", len(rows))
	}
	p.globals.mu.RUnlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer f.Close()
		for f.Step(ctx) == nil {
		}
	}()
	return func() { <-done }, nil
}

// Global looks key up in a global table the topology declared; ok is
// false for an absent key.
func (c *Context) Global(topic string, key string) (any, bool) {
	if c.p.globals == nil || c.p.globals.rows[topic] == nil {
		c.fail(fmt.Errorf("stream: %s read undeclared global table %q", c.p.topo.Name, topic))
		return nil, false
	}
	return c.p.globals.get(topic, key)
}
