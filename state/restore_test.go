package state_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/lockstep-dev/lockstep/state"
)

func TestChangelogKeyRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		store string
		key   []byte
		want  []byte
	}{
		{"levels", []byte("SKU-1@WH1"), []byte("levels\x00SKU-1@WH1")},
		{"timers", []byte("\x00\x00\x01\x8f\x00k"), []byte("timers\x00\x00\x00\x01\x8f\x00k")}, // binary key with zero bytes
		{"levels", nil, []byte("levels\x00")},
		{"levels", []byte{}, []byte("levels\x00")},
		{"", []byte("k"), []byte("\x00k")},
		{"", nil, []byte{0}},
	} {
		ck := state.ChangelogKey(tc.store, tc.key)
		if !bytes.Equal(ck, tc.want) {
			t.Errorf("ChangelogKey(%q, %q) = %q, want %q", tc.store, tc.key, ck, tc.want)
		}
		store, key, err := state.SplitChangelogKey(ck)
		if err != nil || store != tc.store || !bytes.Equal(key, tc.key) {
			t.Errorf("SplitChangelogKey(%q) = %q, %q, %v; want %q, %q", ck, store, key, err, tc.store, tc.key)
		}
	}
}

func TestSplitChangelogKeyWithoutSeparator(t *testing.T) {
	for _, ck := range [][]byte{nil, {}, []byte("levels"), []byte("levels\x01SKU")} {
		store, key, err := state.SplitChangelogKey(ck)
		if !errors.Is(err, state.ErrBadChangelogKey) || store != "" || key != nil {
			t.Errorf("SplitChangelogKey(%q) = %q, %q, %v; want ErrBadChangelogKey", ck, store, key, err)
		}
	}
}

func FuzzSplitChangelogKey(f *testing.F) {
	f.Add([]byte("levels\x00SKU-1@WH1"))
	f.Add([]byte("no separator"))
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, ck []byte) {
		store, key, err := state.SplitChangelogKey(ck)
		if err != nil {
			if bytes.IndexByte(ck, 0) >= 0 {
				t.Fatalf("error on a key with a separator: %q", ck)
			}
			return
		}
		if again := state.ChangelogKey(store, key); !bytes.Equal(again, ck) {
			t.Fatalf("ChangelogKey(SplitChangelogKey(%q)) = %q", ck, again)
		}
	})
}

func TestRestoreBatchCommit(t *testing.T) {
	s := openMem(t)
	seed(t, s, 4, levels, 10, map[string]string{"a": "old", "b": "old", "keep": "old"})
	seed(t, s, 5, levels, 20, map[string]string{"a": "other partition"})

	r := s.NewRestoreBatch(4)
	defer r.Close()
	records := []struct {
		ck    []byte
		value []byte
	}{
		{state.ChangelogKey(levels, []byte("a")), []byte("new")},
		{state.ChangelogKey(levels, []byte("b")), nil}, // tombstone of a committed key
		{state.ChangelogKey(levels, []byte("c")), []byte("1")},
		{state.ChangelogKey(levels, []byte("c")), []byte("2")}, // later record wins
		{state.ChangelogKey(levels, []byte("d")), []byte("1")},
		{state.ChangelogKey(levels, []byte("d")), nil}, // set then tombstone
		{state.ChangelogKey(levels, []byte("e")), nil}, // tombstone of a key never seen
		{state.ChangelogKey(levels, []byte("empty")), []byte{}},
		{state.ChangelogKey("timers", []byte("t")), []byte("x")},
	}
	for _, rec := range records {
		if err := r.Add(rec.ck, rec.value); err != nil {
			t.Fatal(err)
		}
	}
	if r.Len() != len(records) {
		t.Errorf("Len = %d, want %d", r.Len(), len(records))
	}
	// Nothing is visible before Commit.
	if got := committed(t, s, 4, levels); !sameMap(got, map[string]string{"a": "old", "b": "old", "keep": "old"}) {
		t.Errorf("before Commit: %v", got)
	}
	if off, _ := checkpoint(t, s, 4); off != 10 {
		t.Errorf("checkpoint before Commit = %d, want 10", off)
	}

	cp := state.Checkpoint{Offset: 1000, TopicID: [16]byte{0xab}}
	if err := r.Commit(cp); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 {
		t.Errorf("Len after Commit = %d", r.Len())
	}
	if got, want := committed(t, s, 4, levels), map[string]string{"a": "new", "c": "2", "empty": "", "keep": "old"}; !sameMap(got, want) {
		t.Errorf("levels after Commit = %v, want %v", got, want)
	}
	if got := committed(t, s, 4, "timers"); !sameMap(got, map[string]string{"t": "x"}) {
		t.Errorf("timers after Commit = %v", got)
	}
	if got, ok, err := s.Checkpoint(4); err != nil || !ok || got != cp {
		t.Errorf("Checkpoint(4) = %+v, %v, %v; want %+v", got, ok, err, cp)
	}
	if got := committed(t, s, 5, levels); !sameMap(got, map[string]string{"a": "other partition"}) {
		t.Errorf("partition 5 touched: %v", got)
	}
	if off, _ := checkpoint(t, s, 5); off != 20 {
		t.Errorf("partition 5 checkpoint = %d, want 20", off)
	}

	// The batch is reused after Commit; a Commit with no records moves only
	// the checkpoint.
	if err := r.Add(state.ChangelogKey(levels, []byte("keep")), nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(state.Checkpoint{Offset: 1001, TopicID: cp.TopicID}); err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(state.Checkpoint{Offset: 1002, TopicID: cp.TopicID}); err != nil {
		t.Fatal(err)
	}
	if got, want := committed(t, s, 4, levels), map[string]string{"a": "new", "c": "2", "empty": ""}; !sameMap(got, want) {
		t.Errorf("levels after second Commit = %v, want %v", got, want)
	}
	if off, _ := checkpoint(t, s, 4); off != 1002 {
		t.Errorf("checkpoint after empty Commit = %d, want 1002", off)
	}
}

func TestRestoreBatchCloseWithoutCommit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		commits int // Commits before the uncommitted tail
	}{
		{"never committed", 0},
		{"tail after a commit", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			s := openAt(t, fs, "db")
			seed(t, s, 0, levels, 5, map[string]string{"a": "old"})

			r := s.NewRestoreBatch(0)
			wantLevels, wantOffset := map[string]string{"a": "old"}, int64(5)
			if tc.commits > 0 {
				if err := r.Add(state.ChangelogKey(levels, []byte("b")), []byte("committed")); err != nil {
					t.Fatal(err)
				}
				if err := r.Commit(state.Checkpoint{Offset: 6}); err != nil {
					t.Fatal(err)
				}
				wantLevels, wantOffset = map[string]string{"a": "old", "b": "committed"}, 6
			}
			for _, rec := range [][2][]byte{
				{state.ChangelogKey(levels, []byte("a")), nil},
				{state.ChangelogKey(levels, []byte("x")), []byte("lost")},
			} {
				if err := r.Add(rec[0], rec[1]); err != nil {
					t.Fatal(err)
				}
			}
			r.Close()

			check := func(s *state.Store) {
				t.Helper()
				if got := committed(t, s, 0, levels); !sameMap(got, wantLevels) {
					t.Errorf("levels = %v, want %v", got, wantLevels)
				}
				if off, ok := checkpoint(t, s, 0); !ok || off != wantOffset {
					t.Errorf("checkpoint = %d, %v; want %d", off, ok, wantOffset)
				}
			}
			check(s)
			// And nothing shows up after a reopen either.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			check(openAt(t, fs, "db"))
		})
	}
}

func TestRestoreBatchBadKey(t *testing.T) {
	s := openMem(t)
	r := s.NewRestoreBatch(0)
	defer r.Close()
	if err := r.Add([]byte("no separator"), []byte("v")); !errors.Is(err, state.ErrBadChangelogKey) {
		t.Errorf("Add of a bad key = %v, want ErrBadChangelogKey", err)
	}
	if err := r.Add(state.ChangelogKey(levels, []byte("ok")), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(state.Checkpoint{Offset: 2}); err != nil {
		t.Fatal(err)
	}
	if got := committed(t, s, 0, levels); !sameMap(got, map[string]string{"ok": "v"}) {
		t.Errorf("after a rejected record: %v", got)
	}
}
