package stock

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestLevelCodec(t *testing.T) {
	for _, l := range []Level{
		{},
		{Stock: Stock{OnHand: 10}, AsOf: at(1)},
		{
			Stock:          Stock{OnHand: -3, Allocated: 1 << 40, Held: 7},
			LastMovementID: "goods_out/123/9", LastMovementAt: at(20), AsOf: at(30), BaseAsOf: at(25),
			Dirty: true, Pushed: true, PushedAvailable: 0,
		},
		{Stock: Stock{OnHand: 5}, AsOf: at(30), BaseAsOf: at(30), Pushed: true, PushedAvailable: 5},
	} {
		b := AppendLevel(nil, l)
		got, err := DecodeLevel(b)
		if err != nil {
			t.Fatalf("%+v: %v", l, err)
		}
		if !levelsEqual(got, l) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, l)
		}
	}
	b := AppendLevel(nil, Level{Stock: Stock{OnHand: 12, Allocated: 2}, AsOf: at(5), LastMovementAt: at(5), LastMovementID: "stock_adjustment/42"})
	if len(b) > 40 {
		t.Errorf("a typical level takes %d bytes", len(b))
	}
	for _, bad := range [][]byte{nil, {2}, {1}, b[:len(b)-1], append(slices.Clone(b), 0)} {
		if _, err := DecodeLevel(bad); !errors.Is(err, ErrCorruptState) {
			t.Errorf("DecodeLevel(%x) = %v, want ErrCorruptState", bad, err)
		}
	}
}

func levelsEqual(a, b Level) bool {
	return a.Stock == b.Stock && a.LastMovementID == b.LastMovementID && a.LastMovementAt.Equal(b.LastMovementAt) &&
		a.AsOf.Equal(b.AsOf) && a.BaseAsOf.Equal(b.BaseAsOf) && a.Dirty == b.Dirty && a.Pushed == b.Pushed &&
		a.PushedAvailable == b.PushedAvailable
}

func TestJournalCodec(t *testing.T) {
	j := Journal{Since: at(-60), Entries: []Entry{
		{At: at(10), Effect: Stock{OnHand: 5}},
		{At: at(3), Effect: Stock{OnHand: -2, Allocated: -2}}, // out of order
		{At: at(10), Effect: Stock{Held: 1}},
		{At: at(4000), Effect: Stock{OnHand: -1 << 40, Allocated: 7, Held: -7}},
	}}
	b := AppendJournal(nil, j)
	got, err := DecodeJournal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Since.Equal(j.Since) || len(got.Entries) != len(j.Entries) {
		t.Fatalf("round trip: %+v", got)
	}
	for i := range j.Entries {
		if !got.Entries[i].At.Equal(j.Entries[i].At) || got.Entries[i].Effect != j.Entries[i].Effect {
			t.Fatalf("entry %d: %+v, want %+v", i, got.Entries[i], j.Entries[i])
		}
	}
	if small := AppendJournal(nil, Journal{Entries: []Entry{{At: at(1), Effect: Stock{OnHand: 1}}, {At: at(2), Effect: Stock{OnHand: -1}}}}); len(small) > journalHeader+16 {
		t.Errorf("two entries take %d bytes", len(small))
	}
	if e, err := DecodeJournal(nil); err != nil || len(e.Entries) != 0 {
		t.Fatalf("empty journal: %+v %v", e, err)
	}
	for _, bad := range [][]byte{{2}, b[:len(b)-1], append(slices.Clone(b), 0), {1, 0, 0xff, 0xff, 0xff, 0x0f}} {
		if _, err := DecodeJournal(bad); !errors.Is(err, ErrCorruptState) {
			t.Errorf("DecodeJournal(%x) = %v, want ErrCorruptState", bad, err)
		}
	}
}

// Appending an entry to the encoded journal is encoding the journal with
// the entry recorded.
func TestAppendJournalEntry(t *testing.T) {
	var j Journal
	var enc []byte
	for i, e := range []Entry{
		{At: at(10), Effect: Stock{OnHand: 5}},
		{At: at(3), Effect: Stock{Allocated: -2}},
		{At: at(12), Effect: Stock{Held: 1, OnHand: -1}},
	} {
		orig := slices.Clone(enc)
		next, err := AppendJournalEntry(nil, enc, e.At, e.Effect)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(enc, orig) {
			t.Fatal("AppendJournalEntry modified its input")
		}
		j.Record(e.At, e.Effect)
		if want := AppendJournal(nil, j); !slices.Equal(next, want) {
			t.Fatalf("entry %d: %x, want %x", i, next, want)
		}
		enc = next
	}
	n, oldest, err := JournalStats(enc)
	if err != nil || n != 3 || !oldest.Equal(at(3)) {
		t.Fatalf("stats %d %s %v", n, oldest, err)
	}
	if _, err := AppendJournalEntry(nil, []byte{9, 9}, at(1), Stock{OnHand: 1}); !errors.Is(err, ErrCorruptState) {
		t.Fatalf("append to garbage: %v", err)
	}
}

// journalAdd trims only once the oldest entry is slack beyond the cutoff.
func TestJournalAddTrims(t *testing.T) {
	var enc []byte
	var err error
	for i := range 10 {
		enc, err = journalAdd(nil, enc, at(i*60), Stock{OnHand: 1}, at(i*60-300), 100*time.Second)
		if err != nil {
			t.Fatal(err)
		}
	}
	// Trimming waits until the oldest entry is 100s past the cutoff: at
	// 420s (cutoff 120s, oldest 0s) it drops 0..120s; at 540s (cutoff
	// 240s) the oldest, 180s, is only 60s past it.
	j, err := DecodeJournal(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Entries) != 7 || !j.Entries[0].At.Equal(at(180)) || !j.Since.Equal(at(120)) {
		t.Fatalf("%d entries from %s, since %s", len(j.Entries), j.Entries[0].At, j.Since)
	}
	if after := j.After(at(300)); after.OnHand != 4 {
		t.Fatalf("after 300s: %+v", after)
	}
}

func TestIndexCodec(t *testing.T) {
	keys := []string{"B@W1", "A@W1", "B@W2", "sku@with@at@W3"}
	got, err := decodeIndex(appendIndex(nil, keys))
	if err != nil || !slices.Equal(got, keys) {
		t.Fatalf("round trip: %q %v", got, err)
	}
	if got, err := decodeIndex(nil); err != nil || got != nil {
		t.Fatalf("empty index: %q %v", got, err)
	}
	// Appending to the stored bytes, to nothing and to a version 1 shard
	// (a count, sorted keys) as state written before holds it.
	enc := appendIndex(nil, keys[:2])
	stored := slices.Clone(enc)
	b, err := appendIndexKey(nil, enc, "C@W1")
	if err != nil || !slices.Equal(enc, stored) {
		t.Fatalf("append: %v, stored bytes changed: %v", err, !slices.Equal(enc, stored))
	}
	if got, err := decodeIndex(b); err != nil || !slices.Equal(got, []string{"B@W1", "A@W1", "C@W1"}) {
		t.Fatalf("appended: %q %v", got, err)
	}
	if b, err = appendIndexKey(nil, nil, "A@W1"); err != nil {
		t.Fatal(err)
	}
	if got, err := decodeIndex(b); err != nil || !slices.Equal(got, []string{"A@W1"}) {
		t.Fatalf("first key: %q %v", got, err)
	}
	v1 := []byte{codecVersion, 2, 4, 'A', '@', 'W', '1', 4, 'B', '@', 'W', '1'}
	if got, err := decodeIndex(v1); err != nil || !slices.Equal(got, []string{"A@W1", "B@W1"}) {
		t.Fatalf("version 1: %q %v", got, err)
	}
	if b, err = appendIndexKey(nil, v1, "C@W2"); err != nil || b[0] != indexVersion {
		t.Fatalf("append to version 1: %x %v", b, err)
	}
	if got, err := decodeIndex(b); err != nil || !slices.Equal(got, []string{"A@W1", "B@W1", "C@W2"}) {
		t.Fatalf("version 1 appended: %q %v", got, err)
	}
	for _, bad := range [][]byte{
		{codecVersion, 3, 4, 'A', '@', 'W', '1'}, // fewer keys than counted
		{indexVersion, 9, 'A'},                   // a key past the end
		{7, 0},                                   // unknown version
	} {
		if _, err := decodeIndex(bad); !errors.Is(err, ErrCorruptState) {
			t.Errorf("%x: %v, want ErrCorruptState", bad, err)
		}
		if _, err := appendIndexKey(nil, bad, "X@W"); !errors.Is(err, ErrCorruptState) && bad[0] != indexVersion {
			t.Errorf("append to %x: %v, want ErrCorruptState", bad, err)
		}
	}
}

func TestPendingCodec(t *testing.T) {
	ps := Pending{
		{Gap: Gap{SnapshotID: "s1", AsOf: at(30), Expected: Stock{15, 2, 1}, Actual: Stock{-1 << 40, 0, 1}}, Due: at(150)},
		{Gap: Gap{SnapshotID: "clarus-20261126T0905", AsOf: at(330), Expected: Stock{OnHand: 3}, Actual: Stock{OnHand: 1}, Late: 2}, From: at(30), Due: at(450)},
	}
	b := AppendPending(nil, ps)
	got, err := DecodePending(b)
	if err != nil || !reflect.DeepEqual(got, ps) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if got, err := DecodePending(nil); err != nil || got != nil {
		t.Fatalf("no gaps: %+v %v", got, err)
	}
	unsorted := AppendPending(nil, Pending{ps[1], ps[0]})
	for _, bad := range [][]byte{{2}, {1, 0xff, 0x01}, b[:len(b)-1], append(slices.Clone(b), 0), unsorted} {
		if _, err := DecodePending(bad); !errors.Is(err, ErrCorruptState) {
			t.Errorf("DecodePending(%x) = %v, want ErrCorruptState", bad, err)
		}
	}
}

func TestTimeEncoding(t *testing.T) {
	for _, tm := range []time.Time{{}, at(0), time.UnixMilli(1).UTC()} {
		if got := fromMillis(millis(tm)); !got.Equal(tm) {
			t.Errorf("%s -> %s", tm, got)
		}
	}
	// A time after its reference is stored as the reference.
	if got := fromBefore(at(10), before(at(10), at(11))); !got.Equal(at(10)) {
		t.Errorf("after the reference: %s", got)
	}
}

// The state decoders read bytes from Pebble and the changelog: whatever
// they are given, they return an error or a value that encodes back to
// bytes that decode to the same value.
func FuzzDecodeLevel(f *testing.F) {
	f.Add(AppendLevel(nil, Level{Stock: Stock{OnHand: 3}, AsOf: at(1), LastMovementID: "x", Pushed: true}))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLevel(b)
		if err != nil {
			return
		}
		l2, err := DecodeLevel(AppendLevel(nil, l))
		if err != nil || !levelsEqual(l, l2) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", l, l2, err)
		}
	})
}

func FuzzDecodeJournal(f *testing.F) {
	f.Add(AppendJournal(nil, Journal{Since: at(0), Entries: []Entry{{At: at(1), Effect: Stock{OnHand: 1, Held: -1}}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := DecodeJournal(b)
		if err != nil {
			return
		}
		j2, err := DecodeJournal(AppendJournal(nil, j))
		if err != nil || len(j2.Entries) != len(j.Entries) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", j, j2, err)
		}
		for i := range j.Entries {
			if !reflect.DeepEqual(j.Entries[i].Effect, j2.Entries[i].Effect) || !j.Entries[i].At.Equal(j2.Entries[i].At) {
				t.Fatalf("entry %d: %+v vs %+v", i, j.Entries[i], j2.Entries[i])
			}
		}
	})
}

func FuzzDecodeIndex(f *testing.F) {
	f.Add(appendIndex(nil, []string{"A@W", "B@W"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := decodeIndex(b)
		if err != nil {
			return
		}
		if got, err := decodeIndex(appendIndex(nil, keys)); err != nil || !slices.Equal(got, keys) {
			t.Fatalf("re-encoded %q decodes to %q, %v", keys, got, err)
		}
	})
}

func FuzzDecodePending(f *testing.F) {
	f.Add(AppendPending(nil, Pending{{Gap: Gap{SnapshotID: "s1", AsOf: at(30), Expected: Stock{OnHand: 5}, Late: 1}, From: at(1), Due: at(90)}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := DecodePending(b)
		if err != nil {
			return
		}
		got, err := DecodePending(AppendPending(nil, ps))
		if err != nil || len(got) != len(ps) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", ps, got, err)
		}
		for i := range ps {
			a, b := ps[i], got[i]
			if a.SnapshotID != b.SnapshotID || a.Expected != b.Expected || a.Actual != b.Actual || a.Late != b.Late ||
				!a.AsOf.Equal(b.AsOf) || !a.From.Equal(b.From) || !a.Due.Equal(b.Due) {
				t.Fatalf("gap %d: %+v vs %+v", i, a, b)
			}
		}
	})
}
