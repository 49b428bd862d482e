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
// Apply hands the batch to a goroutine that writes it to Pebble while the
// loop goes on with the next one (writing a batch into Pebble's memtable
// was a fifth of the stock processor's loop). Until that write is done the
// batch stays readable as a frozen layer under the open one, so reads never
// see Pebble without it; the next Apply, and every Store method that reads
// or writes Pebble directly, waits for it first.
//
// An Overlay is not safe for concurrent use: one processing loop owns it.
type Overlay struct {
	s      *Store
	parts  map[int32]map[string]entry // partition -> changelog key -> latest write
	frozen map[int32]map[string]entry // the batch job is writing; nil when none
	job    *applyJob
	spare  map[int32]map[string]entry // an applied batch's maps, cleared for reuse
	undo   []undoEntry
	buf    []byte
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
	o.reap()
	for _, layer := range [2]map[int32]map[string]entry{o.parts, o.frozen} {
		if m := layer[p]; m != nil {
			o.buf = appendChangelogKey(o.buf[:0], store, key)
			if e, ok := m[string(o.buf)]; ok {
				if e.deleted {
					return nil, false, nil
				}
				return e.value, true, nil
			}
		}
	}
	if err := o.settleOthers(); err != nil {
		return nil, false, err
	}
	o.buf = dataKey(o.buf[:0], p, store, key)
	return o.s.lookup(o.buf)
}

// settleOthers waits for writes to Pebble that this overlay's layers do
// not cover: another overlay's (tests, tools). The loop's own write in
// flight is covered by its frozen layer and is not waited for.
func (o *Overlay) settleOthers() error {
	n := o.s.inflight.Load()
	if n == 0 || (n == 1 && o.job != nil && !o.job.finished()) {
		return nil
	}
	return o.s.settle()
}

// reap drops the frozen layer once its write is done. A failed write keeps
// it, so that reads stay right until Apply reports the failure.
func (o *Overlay) reap() {
	if o.job == nil || !o.job.finished() || o.job.err != nil {
		return
	}
	o.job = nil
	for _, m := range o.frozen {
		clear(m)
	}
	o.spare, o.frozen = o.frozen, nil
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
// batch, then resets the overlay. It returns once the previous Apply's
// write is done (with its error) and this one's has started: the write
// goes on in the background, the batch still readable meanwhile. The write
// is not synced: Pebble is a cache of the changelog, and a lost tail only
// moves the checkpoint back.
func (o *Overlay) Apply(checkpoints map[int32]Checkpoint) error {
	if o.s.db == nil {
		return ErrClosed
	}
	// Writes reach Pebble in the order of their Applies: wait for every
	// one in flight, this overlay's last and any other's.
	if err := o.s.settle(); err != nil {
		return err
	}
	o.reap()
	// The row cache learns the new values now: the frozen layer answers
	// for these keys until Pebble has them, so nothing reads them stale.
	var k []byte
	for p, m := range o.parts {
		for ck, e := range m {
			store, key, err := SplitChangelogKey([]byte(ck))
			if err != nil {
				return err
			}
			k = dataKey(k[:0], p, store, key)
			o.s.rows.update(k, e.value, e.deleted)
		}
	}
	o.frozen = o.parts
	o.parts = o.spare
	if o.parts == nil {
		o.parts = make(map[int32]map[string]entry)
	}
	o.spare = nil
	o.undo = o.undo[:0]
	o.job = o.s.startApply(o.frozen, checkpoints)
	return nil
}

// applyJob is one batch being written to Pebble.
type applyJob struct {
	done chan struct{}
	err  error // set before done closes
}

func (j *applyJob) finished() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// startApply writes parts (read-only until the job is done) and
// checkpoints in one Pebble batch, in a goroutine.
func (s *Store) startApply(parts map[int32]map[string]entry, checkpoints map[int32]Checkpoint) *applyJob {
	j := &applyJob{done: make(chan struct{})}
	s.jobMu.Lock()
	if s.jobs == nil {
		s.jobs = make(map[*applyJob]struct{})
	}
	s.jobs[j] = struct{}{}
	s.inflight.Add(1)
	s.jobMu.Unlock()
	db, hook := s.db, s.beforeWrite
	go func() {
		var err error
		if hook != nil {
			err = hook()
		}
		if err == nil {
			err = writeBatch(db, parts, checkpoints)
		}
		s.wrote()
		s.jobMu.Lock()
		j.err = err
		if err != nil && s.jobErr == nil {
			s.jobErr = err
		}
		delete(s.jobs, j)
		s.inflight.Add(-1)
		s.jobMu.Unlock()
		close(j.done)
	}()
	return j
}

func writeBatch(db *pebble.DB, parts map[int32]map[string]entry, checkpoints map[int32]Checkpoint) error {
	b := db.NewBatch()
	defer b.Close()
	var k []byte
	for p, m := range parts {
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
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("state: apply: %w", err)
	}
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
	// Reaped before Pebble is read, never after: a layer dropped between
	// the two would hide a write the iterator did not see yet.
	o.reap()
	if err := o.settleOthers(); err != nil {
		return err
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
	if len(o.parts[p]) > 0 || len(o.frozen[p]) > 0 {
		staged := make(map[string]entry)
		sp := appendChangelogKey(nil, store, nil)
		for _, m := range [2]map[string]entry{o.frozen[p], o.parts[p]} { // the open batch's writes last: they win
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
