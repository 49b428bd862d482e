package stock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// State encodings: compact, versioned by their first byte, times in Unix
// milliseconds (what Avro carries), varints throughout. A zero time is
// written as 0, so the Unix epoch itself reads back as a zero time.

const codecVersion = 1

// Level flags.
const (
	flagDirty = 1 << iota
	flagPushed
	flagOpenGoodsOut // a varint after the pushed level; absent in levels written before it
)

// ErrCorruptState is wrapped by the decoders for bytes they cannot read.
var ErrCorruptState = errors.New("stock: corrupt state")

// AppendLevel appends the encoding of l to b.
func AppendLevel(b []byte, l Level) []byte {
	var flags byte
	if l.Dirty {
		flags |= flagDirty
	}
	if l.Pushed {
		flags |= flagPushed
	}
	if l.OpenGoodsOut != 0 {
		flags |= flagOpenGoodsOut
	}
	b = append(b, codecVersion, flags)
	b = binary.AppendVarint(b, l.OnHand)
	b = binary.AppendVarint(b, l.Allocated)
	b = binary.AppendVarint(b, l.Held)
	b = binary.AppendVarint(b, millis(l.AsOf))
	// The other instants are at or before AsOf: store how far before.
	b = binary.AppendUvarint(b, before(l.AsOf, l.LastMovementAt))
	b = binary.AppendUvarint(b, before(l.AsOf, l.BaseAsOf))
	if l.Pushed {
		b = binary.AppendVarint(b, l.PushedAvailable)
	}
	if l.OpenGoodsOut != 0 {
		b = binary.AppendVarint(b, l.OpenGoodsOut)
	}
	b = binary.AppendUvarint(b, uint64(len(l.LastMovementID)))
	return append(b, l.LastMovementID...)
}

// DecodeLevel decodes what AppendLevel wrote.
func DecodeLevel(b []byte) (Level, error) {
	l, rest, err := decodeLevelPrefix(b)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%w: %d bytes after the level", ErrCorruptState, len(rest))
	}
	return l, err
}

// decodeLevelPrefix decodes the level at the start of b and returns the
// bytes after it.
func decodeLevelPrefix(b []byte) (Level, []byte, error) {
	r := reader{b: b}
	if v := r.byte(); v != codecVersion && r.err == nil {
		return Level{}, nil, fmt.Errorf("%w: level encoding version %d", ErrCorruptState, v)
	}
	flags := r.byte()
	var l Level
	l.Dirty, l.Pushed = flags&flagDirty != 0, flags&flagPushed != 0
	l.OnHand, l.Allocated, l.Held = r.varint(), r.varint(), r.varint()
	asOf, lastBefore, baseBefore := r.varint(), r.uvarint(), r.uvarint()
	if asOf < 0 || (lastBefore > 0 && lastBefore-1 >= uint64(asOf)) || (baseBefore > 0 && baseBefore-1 >= uint64(asOf)) {
		return Level{}, nil, fmt.Errorf("%w: level instants out of range", ErrCorruptState)
	}
	l.AsOf = fromMillis(asOf)
	l.LastMovementAt = fromBefore(l.AsOf, lastBefore)
	l.BaseAsOf = fromBefore(l.AsOf, baseBefore)
	if l.Pushed {
		l.PushedAvailable = r.varint()
	}
	if flags&flagOpenGoodsOut != 0 {
		l.OpenGoodsOut = r.varint()
	}
	l.LastMovementID = string(r.bytes())
	if r.err != nil {
		return Level{}, nil, fmt.Errorf("%w: level: %w", ErrCorruptState, r.err)
	}
	return l, r.b, nil
}

// A dirty index shard is version 2: the version byte, then each key as a
// uvarint length and its bytes, in insertion order, so that marking a key
// dirty appends to the stored bytes (appendIndexKey) instead of decoding a
// sorted list into strings and encoding it again. Version 1 (state written
// before) had a key count after the version and kept the keys sorted; it is
// still read, and the next insert rewrites it as version 2.
const indexVersion = 2

// appendIndex encodes keys as a dirty index shard.
func appendIndex(b []byte, keys []string) []byte {
	b = append(b, indexVersion)
	for _, k := range keys {
		b = appendIndexEntry(b, k)
	}
	return b
}

// appendIndexKey appends to dst the shard enc (nil for none) with key
// added. enc is not modified.
func appendIndexKey(dst, enc []byte, key string) ([]byte, error) {
	if len(enc) == 0 || enc[0] != indexVersion {
		keys, err := decodeIndex(enc)
		if err != nil {
			return dst, err
		}
		return appendIndexEntry(appendIndex(dst, keys), key), nil
	}
	return appendIndexEntry(append(dst, enc...), key), nil
}

func appendIndexEntry(b []byte, key string) []byte {
	b = binary.AppendUvarint(b, uint64(len(key)))
	return append(b, key...)
}

// decodeIndex decodes a dirty index shard of either version; the keys come
// in stored order, possibly repeated (the push sorts and compacts them).
func decodeIndex(b []byte) ([]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	r := reader{b: b}
	n := uint64(len(b)) // version 2: until the bytes run out
	switch v := r.byte(); v {
	case codecVersion:
		if n = r.uvarint(); n > uint64(len(b)) {
			return nil, fmt.Errorf("%w: index of %d keys in %d bytes", ErrCorruptState, n, len(b))
		}
	case indexVersion:
	default:
		return nil, fmt.Errorf("%w: index encoding version %d", ErrCorruptState, v)
	}
	var keys []string
	for i := uint64(0); i < n && len(r.b) > 0; i++ {
		k := r.bytes()
		if r.err != nil {
			break
		}
		keys = append(keys, string(k))
	}
	if err := r.done("index"); err != nil {
		return nil, err
	}
	if b[0] == codecVersion && uint64(len(keys)) != n {
		return nil, fmt.Errorf("%w: index of %d keys holds %d", ErrCorruptState, n, len(keys))
	}
	return keys, nil
}

// AppendPending appends the encoding of a key's pending gaps to b. The
// instants are absolute (they are few), so that any bytes that decode
// encode back to themselves.
func AppendPending(b []byte, ps Pending) []byte {
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, uint64(len(ps)))
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64(len(p.SnapshotID)))
		b = append(b, p.SnapshotID...)
		for _, v := range [...]int64{
			millis(p.AsOf), millis(p.From), millis(p.Due),
			p.Expected.OnHand, p.Expected.Allocated, p.Expected.Held,
			p.Actual.OnHand, p.Actual.Allocated, p.Actual.Held,
		} {
			b = binary.AppendVarint(b, v)
		}
		b = binary.AppendUvarint(b, uint64(p.Late))
	}
	return b
}

// DecodePending decodes what AppendPending wrote; nil bytes are no gaps.
func DecodePending(b []byte) (Pending, error) {
	if len(b) == 0 {
		return nil, nil
	}
	r := reader{b: b}
	if v := r.byte(); v != codecVersion && r.err == nil {
		return nil, fmt.Errorf("%w: pending gaps encoding version %d", ErrCorruptState, v)
	}
	n := r.uvarint()
	if n > uint64(len(b))/11 { // every gap takes at least 11 bytes
		return nil, fmt.Errorf("%w: %d pending gaps in %d bytes", ErrCorruptState, n, len(b))
	}
	ps := make(Pending, 0, n)
	for range n {
		var p PendingGap
		p.SnapshotID = string(r.bytes())
		p.AsOf, p.From, p.Due = fromMillis(r.varint()), fromMillis(r.varint()), fromMillis(r.varint())
		p.Expected = Stock{r.varint(), r.varint(), r.varint()}
		p.Actual = Stock{r.varint(), r.varint(), r.varint()}
		late := r.uvarint()
		if r.err != nil {
			break
		}
		if late > math.MaxInt32 {
			return nil, fmt.Errorf("%w: pending gap of %d late movements", ErrCorruptState, late)
		}
		p.Late = int(late)
		ps = append(ps, p)
	}
	if err := r.done("pending gaps"); err != nil {
		return nil, err
	}
	if !slices.IsSortedFunc(ps, func(a, b PendingGap) int { return a.AsOf.Compare(b.AsOf) }) {
		return nil, fmt.Errorf("%w: pending gaps not in order of as_of", ErrCorruptState)
	}
	return ps, nil
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// before encodes t relative to ref: 0 for a zero t, else 1 + how many
// milliseconds t is before ref (t after ref is stored as ref).
func before(ref, t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(max(millis(ref)-millis(t), 0)) + 1
}

func fromBefore(ref time.Time, v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMillis(millis(ref) - int64(v-1))
}

// reader reads varints and length-prefixed bytes, remembering the first
// error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errors.New("truncated")
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the %s", len(r.b), what)
	}
	if r.err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorruptState, what, r.err)
	}
	return nil
}
