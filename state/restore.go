package state

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// RestoreBatch applies changelog records to one partition. Records are
// buffered in a Pebble batch and written, together with the checkpoint they
// reach, by Commit; a crash between commits loses only the uncommitted part,
// which the next restore reads again.
type RestoreBatch struct {
	s     *Store
	p     int32
	b     *pebble.Batch
	key   []byte
	count int
}

// NewRestoreBatch starts a restore batch for partition p. The restore
// must come after the last Apply's write (which Checkpoint waits for).
func (s *Store) NewRestoreBatch(p int32) *RestoreBatch {
	_ = s.settle() // its error reaches the caller through Checkpoint or the loop's next Apply
	return &RestoreBatch{s: s, p: p, b: s.db.NewBatch()}
}

// Add applies one changelog record: a nil value is a tombstone.
func (r *RestoreBatch) Add(changelogKey, value []byte) error {
	store, key, err := SplitChangelogKey(changelogKey)
	if err != nil {
		return err
	}
	r.key = dataKey(r.key[:0], r.p, store, key)
	if value == nil {
		err = r.b.Delete(r.key, nil)
	} else {
		err = r.b.Set(r.key, value, nil)
	}
	r.count++
	return err
}

// Len is the number of records added since the last Commit.
func (r *RestoreBatch) Len() int { return r.count }

// Commit writes the buffered records and the checkpoint atomically and starts
// a new batch.
func (r *RestoreBatch) Commit(cp Checkpoint) error {
	if err := r.b.Set(checkpointKey(r.p), cp.encode(), nil); err != nil {
		return err
	}
	err := r.b.Commit(pebble.NoSync)
	r.s.wrote()
	r.s.rows.clear() // restores are rare: forgetting every cached value is simplest
	if err != nil {
		return fmt.Errorf("state: restore partition %d: %w", r.p, err)
	}
	r.b.Reset()
	r.count = 0
	return nil
}

// Close releases the batch without writing what was not committed.
func (r *RestoreBatch) Close() { r.b.Close() }
