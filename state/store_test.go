package state_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/lockstep-dev/lockstep/state"
)

// openMem opens a store on an in-memory filesystem and closes it when the
// test ends.
func openMem(t testing.TB) *state.Store {
	t.Helper()
	return openAt(t, vfs.NewMem(), "db")
}

func openAt(t testing.TB, fs vfs.FS, dir string) *state.Store {
	t.Helper()
	s, err := state.Open(dir, state.Options{FS: fs, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// seed commits kvs (key -> value) to partition p's store name, with the
// given checkpoint offset.
func seed(t testing.TB, s *state.Store, p int32, name string, offset int64, kvs map[string]string) {
	t.Helper()
	o := s.NewOverlay()
	for k, v := range kvs {
		o.Put(p, name, []byte(k), []byte(v))
	}
	if err := o.Apply(map[int32]state.Checkpoint{p: {Offset: offset}}); err != nil {
		t.Fatal(err)
	}
}

// committed returns every committed key of store name in partition p.
func committed(t testing.TB, s *state.Store, p int32, name string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := s.Each(p, name, func(k, v []byte) error {
		got[string(k)] = string(v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func checkpoint(t testing.TB, s *state.Store, p int32) (int64, bool) {
	t.Helper()
	cp, ok, err := s.Checkpoint(p)
	if err != nil {
		t.Fatal(err)
	}
	return cp.Offset, ok
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestReopenKeepsAppliedState(t *testing.T) {
	dir := t.TempDir()
	topic := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

	s, err := state.Open(dir, state.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	seed(t, s, 0, "levels", 10, map[string]string{"sku1@wh1": "5", "sku2@wh1": "7", "gone": "x"})
	o := s.NewOverlay()
	o.Put(0, "levels", []byte("sku1@wh1"), []byte("4"))
	o.Delete(0, "levels", []byte("gone"))
	o.Put(3, "timers", []byte("t1"), []byte("push"))
	if err := o.Apply(map[int32]state.Checkpoint{0: {Offset: 42, TopicID: topic}, 3: {Offset: 7}}); err != nil {
		t.Fatal(err)
	}
	// Staged but never applied: must not survive.
	o.Put(0, "levels", []byte("sku9@wh9"), []byte("1"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, state.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}

	s, err = state.Open(dir, state.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	if got, want := committed(t, s, 0, "levels"), map[string]string{"sku1@wh1": "4", "sku2@wh1": "7"}; !sameMap(got, want) {
		t.Errorf("partition 0 levels after reopen = %v, want %v", got, want)
	}
	if got, want := committed(t, s, 3, "timers"), map[string]string{"t1": "push"}; !sameMap(got, want) {
		t.Errorf("partition 3 timers after reopen = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		p     int32
		want  state.Checkpoint
		found bool
	}{
		{0, state.Checkpoint{Offset: 42, TopicID: topic}, true},
		{3, state.Checkpoint{Offset: 7}, true},
		{1, state.Checkpoint{}, false},
	} {
		cp, ok, err := s.Checkpoint(tc.p)
		if err != nil || ok != tc.found || cp != tc.want {
			t.Errorf("Checkpoint(%d) = %+v, %v, %v; want %+v, %v, nil", tc.p, cp, ok, err, tc.want, tc.found)
		}
	}
}

func TestGet(t *testing.T) {
	s := openMem(t)
	seed(t, s, 2, "levels", 1, map[string]string{"a": "1", "b": ""})
	for _, tc := range []struct {
		p     int32
		store string
		key   string
		want  string
		found bool
	}{
		{2, "levels", "a", "1", true},
		{2, "levels", "b", "", true}, // empty value is a value, not a deletion
		{2, "levels", "c", "", false},
		{1, "levels", "a", "", false}, // other partition
		{3, "levels", "a", "", false},
		{2, "level", "a", "", false}, // store names are not prefixes of each other
		{2, "levelsx", "a", "", false},
	} {
		v, ok, err := s.Get(tc.p, tc.store, []byte(tc.key))
		if err != nil || ok != tc.found || string(v) != tc.want {
			t.Errorf("Get(%d, %q, %q) = %q, %v, %v; want %q, %v", tc.p, tc.store, tc.key, v, ok, err, tc.want, tc.found)
		}
	}
	// The returned slice is the caller's.
	v, _, _ := s.Get(2, "levels", []byte("a"))
	v[0] = 'X'
	if v, _, _ := s.Get(2, "levels", []byte("a")); string(v) != "1" {
		t.Errorf("modifying a returned value changed the store: %q", v)
	}
}

func TestEachIsScopedAndOrdered(t *testing.T) {
	s := openMem(t)
	seed(t, s, 1, "a", 1, map[string]string{"k2": "2", "k1": "1", "k\x00zero": "z", "k3": "3"})
	seed(t, s, 1, "ab", 1, map[string]string{"k0": "other store"})
	seed(t, s, 1, "", 1, map[string]string{"k0": "empty store name"})
	seed(t, s, 0, "a", 1, map[string]string{"k0": "other partition"})
	seed(t, s, 2, "a", 1, map[string]string{"k0": "other partition"})

	var keys []string
	err := s.Each(1, "a", func(k, v []byte) error {
		keys = append(keys, string(k)+"="+string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"k\x00zero=z", "k1=1", "k2=2", "k3=3"} // 0x00 sorts before '1'
	if fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Errorf("Each(1, a) = %q, want %q", keys, want)
	}

	stop := errors.New("stop")
	n := 0
	err = s.Each(1, "a", func(k, v []byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Each with failing fn: err %v after %d calls, want stop after 1", err, n)
	}
}

func TestWipe(t *testing.T) {
	fs := vfs.NewMem()
	s := openAt(t, fs, "one")
	other := openAt(t, fs, "two") // another store on the same filesystem

	for _, p := range []int32{0, 1, 2} {
		for _, st := range []*state.Store{s, other} {
			seed(t, st, p, "levels", int64(100+p), map[string]string{"k1": "v1", "k2": "v2"})
			seed(t, st, p, "timers", int64(100+p), map[string]string{"t1": "x"})
		}
	}
	if err := s.Wipe(1); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		s     *state.Store
		p     int32
		wiped bool
	}{
		{"wiped partition", s, 1, true},
		{"partition below", s, 0, false},
		{"partition above", s, 2, false},
		{"other store, same partition", other, 1, false},
		{"other store, other partition", other, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			levels, timers := committed(t, tc.s, tc.p, "levels"), committed(t, tc.s, tc.p, "timers")
			off, ok := checkpoint(t, tc.s, tc.p)
			if tc.wiped {
				if len(levels) != 0 || len(timers) != 0 || ok {
					t.Errorf("after Wipe: levels %v, timers %v, checkpoint %d (found %v); want all gone", levels, timers, off, ok)
				}
				if _, ok, _ := tc.s.NewOverlay().Get(tc.p, "levels", []byte("k1")); ok {
					t.Error("overlay still reads a wiped key")
				}
				return
			}
			if len(levels) != 2 || len(timers) != 1 || !ok || off != int64(100+tc.p) {
				t.Errorf("untouched partition: levels %v, timers %v, checkpoint %d (found %v)", levels, timers, off, ok)
			}
		})
	}

	// A wiped partition can be written again.
	seed(t, s, 1, "levels", 5, map[string]string{"k3": "v3"})
	if got := committed(t, s, 1, "levels"); !sameMap(got, map[string]string{"k3": "v3"}) {
		t.Errorf("rewritten partition = %v", got)
	}
	if off, _ := checkpoint(t, s, 1); off != 5 {
		t.Errorf("rewritten checkpoint = %d, want 5", off)
	}
}

func TestClosedStore(t *testing.T) {
	s, err := state.Open("db", state.Options{FS: vfs.NewMem(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	o := s.NewOverlay()
	o.Put(0, "levels", []byte("k"), []byte("v"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Get":        func() error { _, _, err := s.Get(0, "levels", []byte("k")); return err }(),
		"Checkpoint": func() error { _, _, err := s.Checkpoint(0); return err }(),
		"Wipe":       s.Wipe(0),
		"Each":       s.Each(0, "levels", func(k, v []byte) error { return nil }),
		"Overlay.Get (unstaged)": func() error {
			_, _, err := o.Get(0, "levels", []byte("other"))
			return err
		}(),
		"Overlay.Range": o.Range(0, "levels", nil, nil, func(k, v []byte) bool { return true }),
		"Overlay.Apply": o.Apply(nil),
	} {
		if !errors.Is(err, state.ErrClosed) {
			t.Errorf("%s on a closed store = %v, want ErrClosed", name, err)
		}
	}
}

func TestOptionsEnsureDefaults(t *testing.T) {
	var o state.Options
	o.EnsureDefaults()
	if o.CacheSize <= 0 || o.MemTableSize == 0 || o.Logger == nil {
		t.Errorf("EnsureDefaults left %+v", o)
	}
	set := state.Options{CacheSize: 1 << 20, MemTableSize: 4 << 20}
	set.EnsureDefaults()
	if set.CacheSize != 1<<20 || set.MemTableSize != 4<<20 {
		t.Errorf("EnsureDefaults overwrote set options: %+v", set)
	}
}

func TestValueIsNotAliased(t *testing.T) {
	s := openMem(t)
	o := s.NewOverlay()
	v := []byte("abc")
	o.Put(0, "levels", []byte("k"), v)
	v[0] = 'X'
	got, _, _ := o.Get(0, "levels", []byte("k"))
	if !bytes.Equal(got, []byte("abc")) {
		t.Errorf("Put kept the caller's slice: staged %q", got)
	}
}
