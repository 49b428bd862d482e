package state

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"
)

// Overlay holds the writes of the batch being processed. Reads see the
// overlay first, then Pebble. Nothing reaches Pebble until Apply, which the
// runtime calls only after the Kafka transaction carrying the same writes as
// changelog records has committed; Reset drops them after an abort.
//
// An Overlay is not safe for concurrent use: one processing loop owns it.
type Overlay struct {
	s     *Store
	parts map[int32]map[string]entry // partition -> changelog key -> latest write
	undo  []undoEntry
	buf   []byte
}

type entry struct {
	value   []byte
	deleted bool
}

type undoEntry struct {
	p    int32
	key  string
	prev entry
	had  bool
}

// NewOverlay returns an empty overlay over s.
func (s *Store) NewOverlay() *Overlay {
	return &Overlay{s: s, parts: make(map[int32]map[string]entry)}
}

// Get reads through the overlay. The returned slice must not be modified.
func (o *Overlay) Get(p int32, store string, key []byte) ([]byte, bool, error) {
	if m := o.parts[p]; m != nil {
		o.buf = appendChangelogKey(o.buf[:0], store, key)
		if e, ok := m[string(o.buf)]; ok {
			if e.deleted {
				return nil, false, nil
			}
			return e.value, true, nil
		}
	}
	o.buf = dataKey(o.buf[:0], p, store, key)
	return o.s.lookup(o.buf)
}

// Staged reports whether the overlay holds a write (not a deletion) of
// key: a caller about to write a value it knows is the same (a timer) can
// skip it.
func (o *Overlay) Staged(p int32, store string, key []byte) bool {
	m := o.parts[p]
	if m == nil {
		return false
	}
	o.buf = appendChangelogKey(o.buf[:0], store, key)
	e, ok := m[string(o.buf)]
	return ok && !e.deleted
}

// Put stages a write; value is copied.
func (o *Overlay) Put(p int32, store string, key, value []byte) {
	o.set(p, store, key, entry{value: append(make([]byte, 0, len(value)), value...)})
}

// Delete stages a deletion (a tombstone in the changelog).
func (o *Overlay) Delete(p int32, store string, key []byte) {
	o.set(p, store, key, entry{deleted: true})
}

func (o *Overlay) set(p int32, store string, key []byte, e entry) {
	m := o.parts[p]
	if m == nil {
		m = make(map[string]entry)
		o.parts[p] = m
	}
	k := string(appendChangelogKey(o.buf[:0], store, key))
	prev, had := m[k]
	o.undo = append(o.undo, undoEntry{p: p, key: k, prev: prev, had: had})
	m[k] = e
}

// Mark returns a point that Rollback can return to: the runtime marks before
// each record so that a rejected record leaves no trace in state.
func (o *Overlay) Mark() int { return len(o.undo) }

// Rollback undoes every write made since mark, newest first. A mark taken
// before the last Apply or Reset is void: rolling back to it does nothing.
func (o *Overlay) Rollback(mark int) {
	if mark >= len(o.undo) {
		// Nothing written since mark, or a stale mark: reslicing undo up to
		// it would resurrect a finished batch's undo records.
		return
	}
	for i := len(o.undo) - 1; i >= mark; i-- {
		u := o.undo[i]
		if u.had {
			o.parts[u.p][u.key] = u.prev
		} else {
			delete(o.parts[u.p], u.key)
		}
	}
	o.undo = o.undo[:mark]
}

// Len is the number of distinct dirty entries.
func (o *Overlay) Len() int {
	n := 0
	for _, m := range o.parts {
		n += len(m)
	}
	return n
}

// Each calls fn for every dirty entry, partition by partition, with the
// changelog key and the value (nil for a deletion).
func (o *Overlay) Each(fn func(p int32, changelogKey, value []byte) error) error {
	for p, m := range o.parts {
		for k, e := range m {
			var v []byte
			if !e.deleted {
				v = e.value
			}
			if err := fn(p, []byte(k), v); err != nil {
				return err
			}
		}
	}
	return nil
}

// Apply writes every dirty entry and the given checkpoints to Pebble in one
// batch, then resets the overlay. The write is not synced: Pebble is a cache
// of the changelog, and a lost tail only moves the checkpoint back.
func (o *Overlay) Apply(checkpoints map[int32]Checkpoint) error {
	if o.s.db == nil {
		return ErrClosed
	}
	b := o.s.db.NewBatch()
	defer b.Close()
	var k []byte
	for p, m := range o.parts {
		for ck, e := range m {
			store, key, err := SplitChangelogKey([]byte(ck))
			if err != nil {
				return err
			}
			k = dataKey(k[:0], p, store, key)
			if e.deleted {
				err = b.Delete(k, nil)
			} else {
				err = b.Set(k, e.value, nil)
			}
			// The overlay's values are never written again once staged,
			// so the cache may keep them.
			o.s.rows.update(k, e.value, e.deleted)
			if err != nil {
				return fmt.Errorf("state: apply: %w", err)
			}
		}
	}
	for p, cp := range checkpoints {
		if err := b.Set(checkpointKey(p), cp.encode(), nil); err != nil {
			return fmt.Errorf("state: apply: %w", err)
		}
	}
	err := b.Commit(pebble.NoSync)
	o.s.wrote()
	if err != nil {
		return fmt.Errorf("state: apply: %w", err)
	}
	o.Reset()
	return nil
}

// Reset drops every staged write (after an abort, or once applied).
func (o *Overlay) Reset() {
	for _, m := range o.parts {
		clear(m)
	}
	o.undo = o.undo[:0]
}

// Range calls fn, in key order, for the keys of store in partition p within
// [lo, hi), as the overlay sees them (staged writes over committed ones).
// It stops early when fn returns false. Used for timers, whose ranges are
// small; it materialises the range.
func (o *Overlay) Range(p int32, store string, lo, hi []byte, fn func(key, value []byte) bool) error {
	type kv struct{ k, v []byte }
	var out []kv
	if o.s.db == nil {
		return ErrClosed
	}
	lower := dataKey(nil, p, store, lo)
	prefix := len(lower) - len(lo)
	upper := dataKey(nil, p, store, hi)
	if hi == nil {
		upper = append(upper[:prefix-1], storeSep+1)
	}
	it, err := o.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("state: range: %w", err)
	}
	for it.First(); it.Valid(); it.Next() {
		out = append(out, kv{append([]byte(nil), it.Key()[prefix:]...), append([]byte(nil), it.Value()...)})
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("state: range: %w", err)
	}
	if m := o.parts[p]; len(m) > 0 {
		staged := make(map[string]entry)
		sp := appendChangelogKey(nil, store, nil)
		for ck, e := range m {
			if !bytes.HasPrefix([]byte(ck), sp) {
				continue
			}
			k := []byte(ck[len(sp):])
			if bytes.Compare(k, lo) < 0 || (hi != nil && bytes.Compare(k, hi) >= 0) {
				continue
			}
			staged[string(k)] = e
		}
		if len(staged) > 0 {
			merged := out[:0:0]
			for _, c := range out {
				if _, ok := staged[string(c.k)]; !ok {
					merged = append(merged, c)
				}
			}
			for k, e := range staged {
				if !e.deleted {
					merged = append(merged, kv{[]byte(k), e.value})
				}
			}
			sort.Slice(merged, func(i, j int) bool { return bytes.Compare(merged[i].k, merged[j].k) < 0 })
			out = merged
		}
	}
	for _, c := range out {
		if !fn(c.k, c.v) {
			break
		}
	}
	return nil
}

func appendChangelogKey(dst []byte, store string, key []byte) []byte {
	dst = append(dst, store...)
	dst = append(dst, storeSep)
	return append(dst, key...)
}
