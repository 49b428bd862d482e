// Package state keeps processor state in Pebble as a cache of its Kafka changelog.
//
// The store is never ahead of the changelog: writes for a batch sit in an
// Overlay until the Kafka transaction that carries their changelog records has
// committed, and only then reach Pebble, in one batch with the changelog offset
// they correspond to (the checkpoint). Restore replays the changelog from that
// checkpoint.
package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrClosed is returned by operations on a closed Store.
var ErrClosed = errors.New("state: closed")

// Key layout. Every partition's data is contiguous so that a partition can be
// wiped with one range deletion when it moves or its changelog is rebuilt:
//
//	data:       'd' | partition (4 bytes, big endian) | store | 0x00 | key
//	checkpoint: 'c' | partition (4 bytes, big endian)
const (
	prefixData       = 'd'
	prefixCheckpoint = 'c'
	storeSep         = 0x00
)

// Options tune the Pebble instance. The zero value is usable; EnsureDefaults
// fills what is unset.
type Options struct {
	// CacheSize bounds Pebble's memory in bytes: the block cache and the
	// memtables, which Pebble reserves out of it (up to 2 x MemTableSize
	// while one flushes). Blocks get what the memtables leave, so keep it
	// well above 2 x MemTableSize. The default (128 MiB) leaves at least
	// 64 MiB of blocks beside the default memtables. BenchmarkReadModifyWrite
	// over 1M stock levels: 128 MiB keeps ~98% block cache hits at ~8 us an
	// event, where 64 MiB with 32 MiB memtables falls to 0% hits at ~17 us.
	CacheSize int64
	// MemTableSize in bytes; it counts against CacheSize. A larger memtable
	// absorbs the per-batch apply with fewer flushes and compactions
	// (default 32 MiB; 8 MiB measured 30-50% slower an event at 1M keys,
	// though small memtables restore faster, see BenchmarkRestore).
	MemTableSize uint64
	// RowCacheSize bounds, in bytes, the cache of values the processing
	// loop read (keys, values and about 64 bytes each), which spares a
	// Pebble seek for a key read again, as a stock level is at its next
	// movement (default 32 MiB; -1 turns it off). Values are cached when
	// read, not when written, so a dedupe set's ids, written once and
	// rarely read again, stay out of it.
	RowCacheSize int64
	// FS is the filesystem; nil means the OS. Tests and examples pass
	// vfs.NewMem().
	FS     vfs.FS
	Logger *slog.Logger
}

// EnsureDefaults fills unset options.
func (o *Options) EnsureDefaults() {
	if o.CacheSize == 0 {
		o.CacheSize = 128 << 20
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 32 << 20
	}
	if o.RowCacheSize == 0 {
		o.RowCacheSize = 32 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Store is one processor instance's local state: every partition it owns (or
// has owned) lives in one Pebble database, separated by key prefix.
type Store struct {
	db  *pebble.DB
	log *slog.Logger
	// reads serves the processing loop's point reads (lookup): one
	// iterator reused for every read, rebuilt after each write (stale),
	// costs about a third of a Get, which builds an iterator per call, and
	// unlike Get it consults the bloom filters of the bottom level, where
	// most of a small store's tables live.
	reads *pebble.Iterator
	stale atomic.Bool
	rows  rowCache
	// Where lookups were answered, for ReadStats.
	cacheHits, pebbleReads atomic.Uint64
	// The writes Overlay.Apply started and has not seen finish.
	jobMu    sync.Mutex
	jobs     map[*applyJob]struct{}
	jobErr   error // the first failed write: the store is unusable after it
	inflight atomic.Int64
	// beforeWrite, set by tests only, runs in each write's goroutine
	// before it writes: a test holds a write in flight with it, or fails it.
	beforeWrite func() error
	onSettle    func() // tests only: settle is about to wait for writes

}

// settle waits for every write Apply started, so that Pebble holds them,
// and returns the first that failed.
func (s *Store) settle() error {
	s.jobMu.Lock()
	pending := make([]*applyJob, 0, len(s.jobs))
	for j := range s.jobs {
		pending = append(pending, j)
	}
	s.jobMu.Unlock()
	if len(pending) > 0 && s.onSettle != nil {
		s.onSettle()
	}
	for _, j := range pending {
		<-j.done
	}
	s.jobMu.Lock()
	defer s.jobMu.Unlock()
	return s.jobErr
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, o Options) (*Store, error) {
	o.EnsureDefaults()
	cache := pebble.NewCache(o.CacheSize)
	defer cache.Unref() // the DB holds its own reference
	po := &pebble.Options{
		Cache:        cache,
		MemTableSize: o.MemTableSize,
		Logger:       pebbleLogger{o.Logger.With("dir", dir)},
	}
	// Bloom filters on every level: the dedupe sets are read mostly for
	// ids they do not hold, and without a filter each such miss searches
	// every L0 file and level (measured: a quarter of the stock processor's
	// CPU went to those misses).
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	if o.FS != nil {
		po.FS = o.FS
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", dir, err)
	}
	return &Store{db: db, log: o.Logger, rows: rowCache{budget: o.RowCacheSize}}, nil
}

// Close flushes nothing (writes are already in Pebble) and closes the DB.
func (s *Store) Close() error {
	if s.db == nil {
		return ErrClosed
	}
	err := s.settle()
	if s.reads != nil {
		err = errors.Join(err, s.reads.Close())
		s.reads = nil
	}
	err = errors.Join(err, s.db.Close())
	s.db = nil
	return err
}

// Get reads a committed value. The returned slice is the caller's.
func (s *Store) Get(p int32, store string, key []byte) ([]byte, bool, error) {
	return s.get(dataKey(nil, p, store, key))
}

func (s *Store) get(k []byte) ([]byte, bool, error) {
	if s.db == nil {
		return nil, false, ErrClosed
	}
	if err := s.settle(); err != nil {
		return nil, false, err
	}
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: get: %w", err)
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, true, nil
}

// lookup is get through the reused iterator: the same answer, for the
// one goroutine that also writes (the processing loop).
func (s *Store) lookup(k []byte) ([]byte, bool, error) {
	if s.db == nil {
		return nil, false, ErrClosed
	}
	if v, ok := s.rows.get(k); ok {
		s.cacheHits.Add(1)
		return v, true, nil
	}
	s.pebbleReads.Add(1)
	if s.reads == nil || s.stale.Load() {
		s.stale.Store(false) // before the new view: a write after it marks it stale again
		if s.reads != nil {
			if err := s.reads.Close(); err != nil {
				s.reads = nil
				return nil, false, fmt.Errorf("state: get: %w", err)
			}
		}
		it, err := s.db.NewIter(&pebble.IterOptions{UseL6Filters: true})
		if err != nil {
			s.reads = nil
			return nil, false, fmt.Errorf("state: get: %w", err)
		}
		s.reads = it
	}
	if !s.reads.SeekPrefixGE(k) || !bytes.Equal(s.reads.Key(), k) {
		if err := s.reads.Error(); err != nil {
			return nil, false, fmt.Errorf("state: get: %w", err)
		}
		return nil, false, nil
	}
	v, err := s.reads.ValueAndErr()
	if err != nil {
		return nil, false, fmt.Errorf("state: get: %w", err)
	}
	out := append([]byte(nil), v...)
	s.rows.add(k, out)
	return out, true, nil
}

// ReadStats counts the processing loop's reads of committed values (those
// its overlay did not answer) since the store opened: CacheHits from the
// row cache, PebbleReads from Pebble.
type ReadStats struct{ CacheHits, PebbleReads uint64 }

// ReadStats returns the counts so far; safe from any goroutine.
func (s *Store) ReadStats() ReadStats {
	return ReadStats{CacheHits: s.cacheHits.Load(), PebbleReads: s.pebbleReads.Load()}
}

// wrote marks the lookup iterator's view out of date.
func (s *Store) wrote() { s.stale.Store(true) }

// Wipe deletes a partition's data and checkpoint, so that the next restore
// rebuilds it from the start of the changelog.
func (s *Store) Wipe(p int32) error {
	if s.db == nil {
		return ErrClosed
	}
	if err := s.settle(); err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	lo, hi := partitionBounds(p)
	if err := b.DeleteRange(lo, hi, nil); err != nil {
		return fmt.Errorf("state: wipe partition %d: %w", p, err)
	}
	if err := b.Delete(checkpointKey(p), nil); err != nil {
		return fmt.Errorf("state: wipe partition %d: %w", p, err)
	}
	err := b.Commit(pebble.Sync)
	s.wrote()
	s.rows.clear()
	if err != nil {
		return fmt.Errorf("state: wipe partition %d: %w", p, err)
	}
	return nil
}

// Each calls fn for every committed key of store in partition p, in key order.
// Tests and the replay diff use it; the processing path never scans.
func (s *Store) Each(p int32, store string, fn func(key, value []byte) error) error {
	if s.db == nil {
		return ErrClosed
	}
	if err := s.settle(); err != nil {
		return err
	}
	lo := dataKey(nil, p, store, nil)
	hi := append(append([]byte(nil), lo[:len(lo)-1]...), storeSep+1)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("state: scan: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key()[len(lo):], it.Value()); err != nil {
			return err
		}
	}
	return it.Error()
}

func dataKey(dst []byte, p int32, store string, key []byte) []byte {
	dst = append(dst, prefixData)
	dst = binary.BigEndian.AppendUint32(dst, uint32(p))
	dst = append(dst, store...)
	dst = append(dst, storeSep)
	return append(dst, key...)
}

func partitionBounds(p int32) (lo, hi []byte) {
	lo = binary.BigEndian.AppendUint32([]byte{prefixData}, uint32(p))
	hi = binary.BigEndian.AppendUint32([]byte{prefixData}, uint32(p)+1)
	return lo, hi
}

func checkpointKey(p int32) []byte {
	return binary.BigEndian.AppendUint32([]byte{prefixCheckpoint}, uint32(p))
}

// pebbleLogger drops Pebble's informational chatter and passes its errors to
// the store's logger: a failed background flush or compaction (a full disk)
// is reported only there, never as a returned error.
type pebbleLogger struct{ l *slog.Logger }

func (pebbleLogger) Infof(string, ...any) {}
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}
func (pebbleLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
