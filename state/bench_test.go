package state

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
)

// The benchmarks run on the OS filesystem (b.TempDir) with unsynced writes,
// as in production. Each op is one event (ReadModifyWrite) or one changelog
// record (Restore).

const (
	benchStore      = "levels"
	benchValueSize  = 40    // a stock level: on hand, reserved, version, time
	benchBatch      = 1000  // events per Kafka transaction / Apply
	benchRestoreLen = 10000 // records per RestoreBatch.Commit
)

const mib = 1 << 20

func benchKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "SKU-%07d@WH-%02d", i/8, i%8)
	}
	return keys
}

// openBench opens a store in a fresh directory holding n stock levels in
// partition 0, flushed and compacted so that reads go through the block
// cache as they do once a processor has run for a while.
func openBench(b *testing.B, o Options, keys [][]byte) *Store {
	b.Helper()
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Open(b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	r := s.NewRestoreBatch(0)
	defer r.Close()
	v := make([]byte, benchValueSize)
	for i, k := range keys {
		binary.BigEndian.PutUint64(v, uint64(i))
		if err := r.Add(ChangelogKey(benchStore, k), v); err != nil {
			b.Fatal(err)
		}
		if r.Len() == benchRestoreLen || i == len(keys)-1 {
			if err := r.Commit(Checkpoint{Offset: int64(i + 1)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.db.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := s.db.Compact(context.Background(), []byte{prefixData}, []byte{prefixData + 1}, true); err != nil {
		b.Fatal(err)
	}
	return s
}

type benchOptions struct {
	cache    int64
	memtable uint64
}

func (o benchOptions) String() string {
	return fmt.Sprintf("cache=%dMiB/memtable=%dMiB", o.cache/mib, o.memtable/mib)
}

func grid(caches []int64, memtables []uint64) []benchOptions {
	var out []benchOptions
	for _, c := range caches {
		for _, m := range memtables {
			out = append(out, benchOptions{c * mib, m * mib})
		}
	}
	return out
}

// BenchmarkReadModifyWrite is the processing hot path: per event, read a
// stock level through the overlay and stage the updated level; Apply every
// benchBatch events. The grid of block cache and memtable sizes is what
// Options.EnsureDefaults is chosen from.
func BenchmarkReadModifyWrite(b *testing.B) {
	type run struct {
		keys int
		dist string
		opts []benchOptions
	}
	// Pebble reserves its memtables (up to 2 x MemTableSize) out of the
	// cache, so the two axes are not independent: a cache of 8 MiB has no
	// room left for blocks at any memtable size here.
	full := grid([]int64{8, 64, 128, 256}, []uint64{4, 32, 64})
	for _, r := range []run{
		{100_000, "uniform", full},
		{100_000, "zipf", full},
		// A key space whose blocks no longer fit what the memtables leave of
		// a 64 MiB cache.
		{1_000_000, "uniform", grid([]int64{64, 128, 256}, []uint64{8, 32})},
	} {
		keys := benchKeys(r.keys)
		for _, o := range r.opts {
			name := fmt.Sprintf("keys=%dk/dist=%s/%s", r.keys/1000, r.dist, o)
			b.Run(name, func(b *testing.B) {
				benchReadModifyWrite(b, keys, r.dist, Options{CacheSize: o.cache, MemTableSize: o.memtable})
			})
		}
	}
}

func benchReadModifyWrite(b *testing.B, keys [][]byte, dist string, opts Options) {
	s := openBench(b, opts, keys)
	rng := rand.New(rand.NewPCG(1, 2))
	var pick func() int
	switch dist {
	case "uniform":
		pick = func() int { return rng.IntN(len(keys)) }
	case "zipf":
		// A few hot SKUs take most events; the permutation spreads them over
		// the key space instead of the first blocks.
		z := rand.NewZipf(rng, 1.1, 1, uint64(len(keys)-1))
		perm := rng.Perm(len(keys))
		pick = func() int { return perm[z.Uint64()] }
	default:
		b.Fatalf("unknown distribution %q", dist)
	}

	o := s.NewOverlay()
	cps := map[int32]Checkpoint{}
	level := make([]byte, benchValueSize)
	before := s.db.Metrics().BlockCache
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		k := keys[pick()]
		v, ok, err := o.Get(0, benchStore, k)
		if err != nil || !ok {
			b.Fatalf("Get(%s) = %v, %v", k, ok, err)
		}
		copy(level, v)
		binary.BigEndian.PutUint64(level, binary.BigEndian.Uint64(level)+1)
		o.Put(0, benchStore, k, level)
		events++
		if events%benchBatch == 0 {
			cps[0] = Checkpoint{Offset: int64(len(keys) + events)}
			if err := o.Apply(cps); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	after := s.db.Metrics().BlockCache
	if hits, misses := after.Hits-before.Hits, after.Misses-before.Misses; hits+misses > 0 {
		b.ReportMetric(100*float64(hits)/float64(hits+misses), "cache-hit-%")
	}
}

// BenchmarkRestore replays a changelog into a fresh store: RestoreBatch.Add
// per record (1% tombstones), Commit every benchRestoreLen records.
func BenchmarkRestore(b *testing.B) {
	const n = 100_000
	keys := benchKeys(n)
	rng := rand.New(rand.NewPCG(3, 4))
	cks := make([][]byte, n)
	for i, j := range rng.Perm(n) { // a compacted changelog is in no key order
		cks[i] = ChangelogKey(benchStore, keys[j])
	}
	for _, m := range []uint64{4, 32, 64} {
		b.Run(fmt.Sprintf("memtable=%dMiB", m), func(b *testing.B) {
			s := openBench(b, Options{MemTableSize: m * mib}, nil)
			r := s.NewRestoreBatch(0)
			defer r.Close()
			v := make([]byte, benchValueSize)
			b.SetBytes(int64(len(cks[0]) + benchValueSize))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				var val []byte
				if i%100 != 99 {
					binary.BigEndian.PutUint64(v, uint64(i))
					val = v
				}
				if err := r.Add(cks[i%n], val); err != nil {
					b.Fatal(err)
				}
				i++
				if r.Len() == benchRestoreLen {
					if err := r.Commit(Checkpoint{Offset: int64(i)}); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkPointRead compares the ways a committed value can be read, over
// 1M stock levels flushed and compacted (so all in the bottom level), for
// keys held and keys not held (a dedupe set's usual answer): a Pebble Get
// per read (Store.Get), the loop's reused iterator with bloom filters
// (lookup, row cache off), and the same with the row cache (a key read
// again).
func BenchmarkPointRead(b *testing.B) {
	keys := benchKeys(1_000_000)
	for _, held := range []bool{true, false} {
		key := func(i int) []byte {
			if held {
				return dataKey(nil, 0, benchStore, keys[(i*7919)%len(keys)])
			}
			// Between held keys, so that no table's bounds rule it out.
			return dataKey(nil, 0, benchStore, fmt.Appendf(nil, "SKU-%07d@WH-99", (i*7919)%(len(keys)/8)))
		}
		for _, way := range []string{"get", "iterator", "cached"} {
			b.Run(fmt.Sprintf("held=%v/%s", held, way), func(b *testing.B) {
				o := Options{RowCacheSize: -1}
				if way == "cached" {
					o.RowCacheSize = 0 // the default
				}
				s := openBench(b, o, keys)
				read := s.lookup
				if way == "get" {
					read = s.get
				}
				i := 0
				for b.Loop() {
					if _, ok, err := read(key(i % 100_000)); err != nil || ok != held {
						b.Fatalf("read: %v, %v", ok, err)
					}
					i++
				}
			})
		}
	}
}
