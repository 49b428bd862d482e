package state

import "sync"

// rowCache keeps values the processing loop read from Pebble, by data key,
// within a byte budget. It is written through by Apply (a cached key gets
// its new value; a deleted one leaves) and cleared by restores and wipes,
// so it never answers differently from Pebble. When full it drops
// arbitrary entries (Go's map order): cheaper than tracking recency, and
// a key read often is soon back. The processing loop reads and updates it;
// a restore, run by the group's rebalance callback while the loop carries
// on with other partitions, clears it: hence the lock.
type rowCache struct {
	mu     sync.Mutex
	budget int64 // bytes; <= 0: off
	used   int64
	m      map[string][]byte
}

// rowOverhead approximates a map entry's cost beyond its key and value.
const rowOverhead = 64

// get returns the cached value, capped so that an append by the caller
// cannot write into it.
func (c *rowCache) get(k []byte) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[string(k)]
	return v[:len(v):len(v)], ok
}

// add caches v, which the cache then owns, under k.
func (c *rowCache) add(k, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(k, v)
}

func (c *rowCache) addLocked(k, v []byte) {
	cost := int64(len(k)+len(v)) + rowOverhead
	if c.budget <= 0 || cost > c.budget/16 {
		return // one large value must not flush the cache
	}
	if c.m == nil {
		c.m = make(map[string][]byte)
	}
	if old, ok := c.m[string(k)]; ok {
		c.used -= int64(len(k)+len(old)) + rowOverhead
	}
	for key, old := range c.m {
		if c.used+cost <= c.budget {
			break
		}
		c.used -= int64(len(key)+len(old)) + rowOverhead
		delete(c.m, key)
	}
	c.m[string(k)] = v
	c.used += cost
}

// update keeps a cached key in step with a write: its new value (which
// the cache then owns), or gone when deleted. An uncached key stays out.
func (c *rowCache) update(k, v []byte, deleted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.m[string(k)]
	if !ok {
		return
	}
	c.used -= int64(len(k)+len(old)) + rowOverhead
	delete(c.m, string(k))
	if !deleted {
		c.addLocked(k, v)
	}
}

func (c *rowCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.used = 0
}
