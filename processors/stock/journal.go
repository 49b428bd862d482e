package stock

import (
	"encoding/binary"
	"fmt"
	"time"
)

// maxJournal bounds a journal's entries whatever the window: a key hotter
// than that between two snapshots loses its oldest entries (and a snapshot
// older than them is ignored as stale).
const maxJournal = 4096

// Entry is the effect of one movement, at the instant it occurred.
type Entry struct {
	At     time.Time
	Effect Stock
}

// Journal is the recent movement effects of one key, in arrival order: the
// level as of an instant T is the current level minus the effects of the
// entries after T.
type Journal struct {
	// Since is how far back the journal is complete: every folded movement
	// that occurred after Since has its entry.
	Since   time.Time
	Entries []Entry
}

// Record appends the effect of a movement that occurred at at; a zero
// effect is not recorded.
func (j *Journal) Record(at time.Time, effect Stock) {
	if !effect.IsZero() {
		j.Entries = append(j.Entries, Entry{At: at, Effect: effect})
	}
}

// After sums the effects of the movements that occurred after t.
func (j Journal) After(t time.Time) Stock {
	var s Stock
	for _, e := range j.Entries {
		if e.At.After(t) {
			s = s.Add(e.Effect)
		}
	}
	return s
}

// Trim drops the entries of movements that occurred at or before through,
// and the earliest arrivals beyond maxJournal entries, and moves Since up
// to the latest instant dropped.
func (j *Journal) Trim(through time.Time) {
	drop := max(len(j.Entries)-maxJournal, 0)
	kept := j.Entries[:0]
	for i, e := range j.Entries {
		if i >= drop && e.At.After(through) {
			kept = append(kept, e)
		} else if e.At.After(j.Since) {
			j.Since = e.At
		}
	}
	clear(j.Entries[len(kept):])
	j.Entries = kept
}

// The journal encoding appends in place: a movement adds one entry to the
// stored bytes (AppendJournalEntry) instead of decoding and re-encoding the
// journal, so a busy key costs a copy, not a rewrite. The header has fixed
// width fields for that:
//
//	[0]      version
//	[1:9]    instant of the last entry, Unix ms (the base of the next delta)
//	[9:17]   earliest instant among the entries, Unix ms (0: no entries)
//	[17:21]  number of entries
//	[21:]    Since (varint ms), then per entry: the difference of its
//	         instant from the previous entry's (varint ms), a mask of its
//	         non-zero quantities, those quantities (varints).
const journalHeader = 21

// Journal entry masks: which quantities follow.
const (
	maskOnHand = 1 << iota
	maskAllocated
	maskHeld
)

// AppendJournal appends the encoding of j to b.
func AppendJournal(b []byte, j Journal) []byte {
	h := len(b)
	b = append(b, make([]byte, journalHeader)...)
	b[h] = codecVersion
	b = binary.AppendVarint(b, millis(j.Since))
	var last, oldest int64
	for i, e := range j.Entries {
		at := millis(e.At)
		b = appendEntry(b, at-last, e.Effect)
		last = at
		if i == 0 || at < oldest {
			oldest = at
		}
	}
	putHeader(b[h:], last, oldest, len(j.Entries))
	return b
}

// AppendJournalEntry appends to dst the encoding of the journal enc (nil
// for an empty one) with one more entry. enc is not modified.
func AppendJournalEntry(dst, enc []byte, at time.Time, effect Stock) ([]byte, error) {
	if len(enc) == 0 {
		return AppendJournal(dst, Journal{Entries: []Entry{{At: at, Effect: effect}}}), nil
	}
	last, oldest, n, err := readHeader(enc)
	if err != nil {
		return dst, err
	}
	h := len(dst)
	ms := millis(at)
	dst = appendEntry(append(dst, enc...), ms-last, effect)
	if n == 0 || ms < oldest {
		oldest = ms
	}
	putHeader(dst[h:], ms, oldest, n+1)
	return dst, nil
}

// journalAdd appends to dst the journal enc with one more entry, trimmed
// through cutoff when that is due: when its oldest entry is more than slack
// older than cutoff, or it holds more than a quarter over maxJournal
// entries. Trimming late keeps entries longer than needed, which is
// harmless, and spares most appends a decode.
func journalAdd(dst, enc []byte, at time.Time, effect Stock, cutoff time.Time, slack time.Duration) ([]byte, error) {
	h := len(dst)
	dst, err := AppendJournalEntry(dst, enc, at, effect)
	if err != nil {
		return dst, err
	}
	n, oldest, err := JournalStats(dst[h:])
	if err != nil || (n <= maxJournal+maxJournal/4 && oldest.After(cutoff.Add(-slack))) {
		return dst, err
	}
	j, err := DecodeJournal(dst[h:])
	if err != nil {
		return dst, err
	}
	j.Trim(cutoff)
	return AppendJournal(dst[:h], j), nil
}

// JournalStats reads from an encoded journal its number of entries and the
// earliest instant among them, without decoding it.
func JournalStats(enc []byte) (entries int, oldest time.Time, err error) {
	if len(enc) == 0 {
		return 0, time.Time{}, nil
	}
	_, o, n, err := readHeader(enc)
	return n, fromMillis(o), err
}

// DecodeJournal decodes what AppendJournal and AppendJournalEntry wrote;
// nil bytes are an empty journal.
func DecodeJournal(b []byte) (Journal, error) {
	if len(b) == 0 {
		return Journal{}, nil
	}
	last, oldest, n, err := readHeader(b)
	if err != nil {
		return Journal{}, err
	}
	if n > len(b) { // every entry takes at least two bytes
		return Journal{}, fmt.Errorf("%w: journal of %d entries in %d bytes", ErrCorruptState, n, len(b))
	}
	r := reader{b: b[journalHeader:]}
	j := Journal{Since: fromMillis(r.varint())}
	if n > 0 {
		j.Entries = make([]Entry, 0, n)
	}
	var at, low int64
	for i := range n {
		at += r.varint()
		mask := r.byte()
		var q [3]int64
		for k := range q {
			if mask&(1<<k) != 0 {
				q[k] = r.varint()
			}
		}
		if r.err != nil {
			break
		}
		if mask > maskOnHand|maskAllocated|maskHeld {
			return Journal{}, fmt.Errorf("%w: journal entry %d", ErrCorruptState, i)
		}
		if i == 0 || at < low {
			low = at
		}
		j.Entries = append(j.Entries, Entry{At: fromMillis(at), Effect: Stock{q[0], q[1], q[2]}})
	}
	if err := r.done("journal"); err != nil {
		return Journal{}, err
	}
	if at != last || low != oldest {
		return Journal{}, fmt.Errorf("%w: journal header does not match its entries", ErrCorruptState)
	}
	return j, nil
}

func appendEntry(b []byte, delta int64, e Stock) []byte {
	b = binary.AppendVarint(b, delta)
	var mask byte
	if e.OnHand != 0 {
		mask |= maskOnHand
	}
	if e.Allocated != 0 {
		mask |= maskAllocated
	}
	if e.Held != 0 {
		mask |= maskHeld
	}
	b = append(b, mask)
	for i, q := range [3]int64{e.OnHand, e.Allocated, e.Held} {
		if mask&(1<<i) != 0 {
			b = binary.AppendVarint(b, q)
		}
	}
	return b
}

func putHeader(h []byte, last, oldest int64, n int) {
	h[0] = codecVersion
	binary.BigEndian.PutUint64(h[1:], uint64(last))
	binary.BigEndian.PutUint64(h[9:], uint64(oldest))
	binary.BigEndian.PutUint32(h[17:], uint32(n))
}

func readHeader(b []byte) (last, oldest int64, n int, err error) {
	if len(b) < journalHeader+1 {
		return 0, 0, 0, fmt.Errorf("%w: journal of %d bytes", ErrCorruptState, len(b))
	}
	if b[0] != codecVersion {
		return 0, 0, 0, fmt.Errorf("%w: journal encoding version %d", ErrCorruptState, b[0])
	}
	last, oldest = int64(binary.BigEndian.Uint64(b[1:])), int64(binary.BigEndian.Uint64(b[9:]))
	return last, oldest, int(binary.BigEndian.Uint32(b[17:])), nil
}
