package stream

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lockstep-dev/lockstep/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Context is what a handler sees of the runtime while it handles one record
// or one timer: state reads and writes for the record's partition (staged in
// the batch's overlay), emitted records (staged until the record succeeds),
// timers and the injected clock.
type Context struct {
	ctx       context.Context
	p         *Processor
	partition int32
	now       time.Time
	out       []*kgo.Record
	err       error // first misuse (undeclared store or topic); fails the batch
}

// Context is the processing context (cancelled on shutdown).
func (c *Context) Context() context.Context { return c.ctx }

// Partition is the partition of the record or timer being handled.
func (c *Context) Partition() int32 { return c.partition }

// Now is the injected clock's time when the record being handled was
// polled, or when the timer being fired fell due was checked. A
// transaction spans several polls, so its records may see different times.
func (c *Context) Now() time.Time { return c.now }

// Get reads key from store as this batch sees it. The returned slice must
// not be modified.
func (c *Context) Get(store string, key []byte) ([]byte, bool, error) {
	if !c.checkStore(store) {
		return nil, false, c.err
	}
	return c.p.overlay.Get(c.partition, store, key)
}

// Put writes key in store; value is copied.
func (c *Context) Put(store string, key, value []byte) {
	if c.checkStore(store) {
		c.p.overlay.Put(c.partition, store, key, value)
	}
}

// Delete removes key from store.
func (c *Context) Delete(store string, key []byte) {
	if c.checkStore(store) {
		c.p.overlay.Delete(c.partition, store, key)
	}
}

// Emit stages a record for a declared output topic. It is produced in the
// batch's transaction once the current record has been handled without
// error; a rejected record's emits are dropped.
func (c *Context) Emit(topic string, key, value []byte, headers ...kgo.RecordHeader) {
	if _, ok := c.p.outputs[topic]; !ok {
		c.fail(fmt.Errorf("stream: %s emitted to undeclared topic %q", c.p.topo.Name, topic))
		return
	}
	c.out = append(c.out, &kgo.Record{Topic: topic, Key: key, Value: value, Headers: headers})
}

// Schedule sets a timer that fires through TimerHandler.OnTimer once the
// clock passes due. Scheduling the same (due, key) twice fires it once.
func (c *Context) Schedule(due time.Time, key []byte) {
	if len(key) > 0 && key[0] == 0 {
		c.fail(fmt.Errorf("stream: timer keys starting with a zero byte are reserved"))
		return
	}
	c.schedule(state.TimerKey(due, key))
}

// schedule stages a timer unless this batch staged it already: a push or
// sweep timer is scheduled again by every record of its interval, and
// each Put would cost a key, an undo entry and a map write.
func (c *Context) schedule(timerKey []byte) {
	if !c.p.overlay.Staged(c.partition, timerStore, timerKey) {
		c.p.overlay.Put(c.partition, timerStore, timerKey, nil)
	}
}

// Cancel removes a timer set with the same due time and key.
func (c *Context) Cancel(due time.Time, key []byte) {
	c.p.overlay.Delete(c.partition, timerStore, state.TimerKey(due, key))
}

// FirstSeen reports whether id has not been seen in set within ttl, and
// remembers it. Sources deliver at least once; processors drop repeats by
// event id with it. Expired entries are deleted, so the changelog forgets
// them too, by a sweep of the partition's entries at the end of each
// expiry bucket (ttl/8 wide, at least a second): one timer per bucket
// rather than one per id, which halved the changelog records and Pebble
// writes an id costs over its life (entry and tombstone, no timer and its
// tombstone).
func (c *Context) FirstSeen(set string, id []byte, ttl time.Duration) (bool, error) {
	if set == "" {
		c.fail(fmt.Errorf("stream: %s: FirstSeen needs a set name", c.p.topo.Name))
		return false, c.err
	}
	k := make([]byte, 0, len(set)+1+len(id))
	k = append(append(append(k, set...), 0), id...)
	v, ok, err := c.p.overlay.Get(c.partition, seenStore, k)
	if err != nil {
		return false, err
	}
	if ok && !state.Expired(v, c.now) {
		return false, nil
	}
	exp := c.now.Add(ttl)
	c.p.overlay.Put(c.partition, seenStore, k, state.Expiry(exp))
	bucket := max(ttl/8, time.Second)
	c.schedule(state.TimerKey(exp.Truncate(bucket).Add(bucket), sweepKey))
	return true, nil
}

func (c *Context) checkStore(store string) bool {
	if slices.Contains(c.p.topo.Stores, store) {
		return true
	}
	c.fail(fmt.Errorf("stream: %s used undeclared store %q", c.p.topo.Name, store))
	return false
}

func (c *Context) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}
