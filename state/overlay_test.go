package state_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/state"
)

// The overlay tests run a small script of staged operations against a store
// seeded with base, then compare what the overlay reads and what it would
// emit as changelog records.
//
//	"put P KEY VALUE"  Put (P is the partition, VALUE may be "" via "put P KEY")
//	"del P KEY"        Delete
//	"mark"             push o.Mark()
//	"rollback"         Rollback to the most recent mark, and pop it
const levels = "levels"

var base = map[int32]map[string]string{
	0: {"a": "1", "b": "2", "c": "3"},
	1: {"a": "p1"},
}

func newSeeded(t *testing.T) (*state.Store, *state.Overlay) {
	t.Helper()
	s := openMem(t)
	for _, p := range slices.Sorted(maps.Keys(base)) {
		seed(t, s, p, levels, 100, base[p])
	}
	return s, s.NewOverlay()
}

func run(t *testing.T, o *state.Overlay, script []string) {
	t.Helper()
	var marks []int
	for _, line := range script {
		f := strings.Fields(line)
		var p int32
		if len(f) > 1 {
			fmt.Sscan(f[1], &p)
		}
		switch f[0] {
		case "put":
			v := ""
			if len(f) > 3 {
				v = f[3]
			}
			o.Put(p, levels, []byte(f[2]), []byte(v))
		case "del":
			o.Delete(p, levels, []byte(f[2]))
		case "mark":
			marks = append(marks, o.Mark())
		case "rollback":
			o.Rollback(marks[len(marks)-1])
			marks = marks[:len(marks)-1]
		default:
			t.Fatalf("bad script line %q", line)
		}
	}
}

// reads returns what the overlay reads for partition p's keys a..d and x,
// with "-" for absent.
func reads(t *testing.T, o *state.Overlay, p int32) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, k := range []string{"a", "b", "c", "d", "x"} {
		v, ok, err := o.Get(p, levels, []byte(k))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			v = []byte("-")
		}
		got[k] = string(v)
	}
	return got
}

// staged returns the overlay's dirty entries as "P/store/key" -> value, with
// "<del>" for a tombstone.
func staged(t *testing.T, o *state.Overlay) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := o.Each(func(p int32, ck, v []byte) error {
		store, key, err := state.SplitChangelogKey(ck)
		if err != nil {
			return err
		}
		s := string(v)
		if v == nil {
			s = "<del>"
		}
		id := fmt.Sprintf("%d/%s/%s", p, store, key)
		if _, dup := got[id]; dup {
			return fmt.Errorf("entry %s emitted twice", id)
		}
		got[id] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Len() != len(got) {
		t.Errorf("Len() = %d, Each yielded %d entries", o.Len(), len(got))
	}
	return got
}

func TestOverlayReadsStagedOverCommitted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script []string
		p      int32
		want   map[string]string // key -> value read, "-" absent
		staged map[string]string
	}{
		{
			name: "nothing staged reads committed",
			want: map[string]string{"a": "1", "b": "2", "c": "3", "d": "-", "x": "-"},
		},
		{
			name:   "put over committed",
			script: []string{"put 0 a 10"},
			want:   map[string]string{"a": "10", "b": "2", "c": "3", "d": "-", "x": "-"},
			staged: map[string]string{"0/levels/a": "10"},
		},
		{
			name:   "put of a new key",
			script: []string{"put 0 x 9"},
			want:   map[string]string{"a": "1", "b": "2", "c": "3", "d": "-", "x": "9"},
			staged: map[string]string{"0/levels/x": "9"},
		},
		{
			name:   "put of an empty value is a value",
			script: []string{"put 0 x"},
			want:   map[string]string{"a": "1", "b": "2", "c": "3", "d": "-", "x": ""},
			staged: map[string]string{"0/levels/x": ""},
		},
		{
			name:   "delete hides committed",
			script: []string{"del 0 b"},
			want:   map[string]string{"a": "1", "b": "-", "c": "3", "d": "-", "x": "-"},
			staged: map[string]string{"0/levels/b": "<del>"},
		},
		{
			name:   "delete of a key never written is still a tombstone",
			script: []string{"del 0 d"},
			want:   map[string]string{"a": "1", "b": "2", "c": "3", "d": "-", "x": "-"},
			staged: map[string]string{"0/levels/d": "<del>"},
		},
		{
			name:   "delete then put",
			script: []string{"del 0 a", "put 0 a 11"},
			want:   map[string]string{"a": "11", "b": "2", "c": "3", "d": "-", "x": "-"},
			staged: map[string]string{"0/levels/a": "11"},
		},
		{
			name:   "put then delete",
			script: []string{"put 0 x 1", "del 0 x", "put 0 a 5", "put 0 a 6"},
			want:   map[string]string{"a": "6", "b": "2", "c": "3", "d": "-", "x": "-"},
			staged: map[string]string{"0/levels/x": "<del>", "0/levels/a": "6"},
		},
		{
			name:   "other partition's writes are invisible",
			script: []string{"put 1 a 77", "del 1 b"},
			want:   map[string]string{"a": "1", "b": "2", "c": "3", "d": "-", "x": "-"},
			staged: map[string]string{"1/levels/a": "77", "1/levels/b": "<del>"},
		},
		{
			name:   "reads of the other partition",
			script: []string{"put 0 a 10", "put 1 b 20"},
			p:      1,
			want:   map[string]string{"a": "p1", "b": "20", "c": "-", "d": "-", "x": "-"},
			staged: map[string]string{"0/levels/a": "10", "1/levels/b": "20"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, o := newSeeded(t)
			run(t, o, tc.script)
			if got := reads(t, o, tc.p); !sameMap(got, tc.want) {
				t.Errorf("reads = %v, want %v", got, tc.want)
			}
			if tc.staged == nil {
				tc.staged = map[string]string{}
			}
			if got := staged(t, o); !sameMap(got, tc.staged) {
				t.Errorf("staged = %v, want %v", got, tc.staged)
			}
		})
	}
}

func TestOverlayStoresAreSeparate(t *testing.T) {
	_, o := newSeeded(t)
	o.Put(0, "other", []byte("a"), []byte("Z"))
	o.Put(0, "level", []byte("sa"), []byte("prefix")) // "level"+0+"sa" vs "levels"+0+"a"
	if v, _, _ := o.Get(0, levels, []byte("a")); string(v) != "1" {
		t.Errorf("levels/a = %q, want the committed 1", v)
	}
	if v, ok, _ := o.Get(0, "other", []byte("a")); !ok || string(v) != "Z" {
		t.Errorf("other/a = %q, %v; want Z", v, ok)
	}
}

func TestOverlayRollback(t *testing.T) {
	committedReads := map[string]string{"a": "1", "b": "2", "c": "3", "d": "-", "x": "-"}
	for _, tc := range []struct {
		name   string
		script []string
		want   map[string]string
		staged map[string]string
	}{
		{
			name:   "key written twice rolls back to the first write",
			script: []string{"put 0 a 10", "mark", "put 0 a 20", "rollback"},
			want:   map[string]string{"a": "10", "b": "2", "c": "3", "d": "-", "x": "-"},
			staged: map[string]string{"0/levels/a": "10"},
		},
		{
			name:   "key written three times rolls back to the first write",
			script: []string{"put 0 a 10", "mark", "put 0 a 20", "put 0 a 30", "rollback"},
			want:   map[string]string{"a": "10", "b": "2", "c": "3", "d": "-", "x": "-"},
			staged: map[string]string{"0/levels/a": "10"},
		},
		{
			name:   "key that did not exist disappears",
			script: []string{"mark", "put 0 x 1", "put 0 x 2", "rollback"},
			want:   committedReads,
			staged: map[string]string{},
		},
		{
			name:   "committed key overwritten after the mark reads committed again, with no tombstone",
			script: []string{"mark", "put 0 a 5", "rollback"},
			want:   committedReads,
			staged: map[string]string{},
		},
		{
			name:   "delete after the mark is undone",
			script: []string{"mark", "del 0 b", "rollback"},
			want:   committedReads,
			staged: map[string]string{},
		},
		{
			name:   "staged delete restored over a later put",
			script: []string{"del 0 b", "mark", "put 0 b 9", "rollback"},
			want:   map[string]string{"a": "1", "b": "-", "c": "3", "d": "-", "x": "-"},
			staged: map[string]string{"0/levels/b": "<del>"},
		},
		{
			name:   "staged put restored over a later delete",
			script: []string{"put 0 x 7", "mark", "del 0 x", "rollback"},
			want:   map[string]string{"a": "1", "b": "2", "c": "3", "d": "-", "x": "7"},
			staged: map[string]string{"0/levels/x": "7"},
		},
		{
			name:   "nested marks unwind one at a time",
			script: []string{"put 0 a 10", "mark", "put 0 a 20", "put 0 x 1", "mark", "put 0 a 30", "del 0 c", "rollback"},
			want:   map[string]string{"a": "20", "b": "2", "c": "3", "d": "-", "x": "1"},
			staged: map[string]string{"0/levels/a": "20", "0/levels/x": "1"},
		},
		{
			name: "nested marks unwound fully",
			script: []string{"put 0 a 10", "mark", "put 0 a 20", "put 0 x 1", "mark", "put 0 a 30", "del 0 c",
				"rollback", "rollback"},
			want:   map[string]string{"a": "10", "b": "2", "c": "3", "d": "-", "x": "-"},
			staged: map[string]string{"0/levels/a": "10"},
		},
		{
			name:   "rollback with nothing written since the mark",
			script: []string{"put 0 a 10", "del 0 b", "mark", "rollback"},
			want:   map[string]string{"a": "10", "b": "-", "c": "3", "d": "-", "x": "-"},
			staged: map[string]string{"0/levels/a": "10", "0/levels/b": "<del>"},
		},
		{
			name:   "rollback to the first mark empties the overlay",
			script: []string{"mark", "put 0 a 10", "del 0 b", "put 1 a 3", "put 0 x 1", "rollback"},
			want:   committedReads,
			staged: map[string]string{},
		},
		{
			name:   "rollback touches only writes since the mark, in every partition",
			script: []string{"put 1 a 3", "mark", "put 1 a 4", "put 0 a 10", "rollback", "put 0 d 4"},
			want:   map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "x": "-"},
			staged: map[string]string{"1/levels/a": "3", "0/levels/d": "4"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, o := newSeeded(t)
			run(t, o, tc.script)
			if got := reads(t, o, 0); !sameMap(got, tc.want) {
				t.Errorf("reads = %v, want %v", got, tc.want)
			}
			if got := staged(t, o); !sameMap(got, tc.staged) {
				t.Errorf("staged = %v, want %v", got, tc.staged)
			}
		})
	}
}

// A mark taken before Apply or Reset belongs to a batch that is gone; rolling
// back to it must not resurrect that batch's undo records.
func TestOverlayStaleMark(t *testing.T) {
	for _, finish := range []string{"Reset", "Apply"} {
		t.Run(finish, func(t *testing.T) {
			s, o := newSeeded(t)
			o.Put(0, levels, []byte("a"), []byte("10"))
			o.Put(0, levels, []byte("a"), []byte("20")) // undo record: a was 10
			o.Put(0, levels, []byte("x"), []byte("1"))
			stale := o.Mark()
			if finish == "Reset" {
				o.Reset()
			} else if err := o.Apply(nil); err != nil {
				t.Fatal(err)
			}
			want := committed(t, s, 0, levels)

			o.Put(0, levels, []byte("b"), []byte("5"))
			o.Rollback(stale) // void: must not bring back the old undo records
			if got := staged(t, o); !sameMap(got, map[string]string{"0/levels/b": "5"}) {
				t.Fatalf("after stale Rollback, staged = %v", got)
			}
			o.Rollback(0)
			if got := staged(t, o); len(got) != 0 {
				t.Errorf("after Rollback(0), staged = %v, want nothing (an old batch's write came back)", got)
			}
			if err := o.Apply(nil); err != nil {
				t.Fatal(err)
			}
			if got := committed(t, s, 0, levels); !sameMap(got, want) {
				t.Errorf("committed = %v, want %v", got, want)
			}
		})
	}
}

func TestOverlayApply(t *testing.T) {
	s, o := newSeeded(t)
	run(t, o, []string{"put 0 a 10", "del 0 b", "put 0 x 1", "put 1 a 2", "put 2 a new", "mark", "put 0 c 99", "rollback"})
	cps := map[int32]state.Checkpoint{
		0: {Offset: 200, TopicID: [16]byte{9}},
		1: {Offset: 201, TopicID: [16]byte{9}},
		2: {Offset: 1, TopicID: [16]byte{9}},
		5: {Offset: 3}, // a partition with a checkpoint but no dirty keys
	}
	if err := o.Apply(cps); err != nil {
		t.Fatal(err)
	}

	if o.Len() != 0 || len(staged(t, o)) != 0 {
		t.Errorf("overlay not reset after Apply: Len %d", o.Len())
	}
	for p, want := range map[int32]map[string]string{
		0: {"a": "10", "c": "3", "x": "1"},
		1: {"a": "2"},
		2: {"a": "new"},
		5: {},
	} {
		if got := committed(t, s, p, levels); !sameMap(got, want) {
			t.Errorf("partition %d committed = %v, want %v", p, got, want)
		}
		cp, ok, err := s.Checkpoint(p)
		if err != nil || !ok || cp != cps[p] {
			t.Errorf("Checkpoint(%d) = %+v, %v, %v; want %+v", p, cp, ok, err, cps[p])
		}
	}
	// The overlay still reads the applied values, now from Pebble.
	if got, want := reads(t, o, 0), (map[string]string{"a": "10", "b": "-", "c": "3", "d": "-", "x": "1"}); !sameMap(got, want) {
		t.Errorf("reads after Apply = %v, want %v", got, want)
	}
	// Rolling back to a mark from the applied batch changes nothing.
	o.Rollback(0)
	if got := committed(t, s, 0, levels); !sameMap(got, map[string]string{"a": "10", "c": "3", "x": "1"}) {
		t.Errorf("Rollback after Apply changed Pebble: %v", got)
	}

	// A second batch with no checkpoints leaves the checkpoints alone.
	o.Put(0, levels, []byte("a"), []byte("11"))
	if err := o.Apply(nil); err != nil {
		t.Fatal(err)
	}
	if off, _ := checkpoint(t, s, 0); off != 200 {
		t.Errorf("checkpoint moved to %d by an Apply without checkpoints", off)
	}
	if v, _, _ := s.Get(0, levels, []byte("a")); string(v) != "11" {
		t.Errorf("second Apply: a = %q, want 11", v)
	}
}

func TestOverlayResetLeavesPebbleUntouched(t *testing.T) {
	s, o := newSeeded(t)
	run(t, o, []string{"put 0 a 10", "del 0 b", "put 0 x 1", "put 1 a 2", "put 7 z 1"})
	o.Reset()

	for p, want := range base {
		if got := committed(t, s, p, levels); !sameMap(got, want) {
			t.Errorf("partition %d after Reset = %v, want %v", p, got, want)
		}
		if off, ok := checkpoint(t, s, p); !ok || off != 100 {
			t.Errorf("partition %d checkpoint after Reset = %d, %v; want 100", p, off, ok)
		}
	}
	if got := committed(t, s, 7, levels); len(got) != 0 {
		t.Errorf("partition 7 after Reset = %v", got)
	}
	if o.Len() != 0 {
		t.Errorf("Len after Reset = %d", o.Len())
	}
	if got, want := reads(t, o, 0), (map[string]string{"a": "1", "b": "2", "c": "3", "d": "-", "x": "-"}); !sameMap(got, want) {
		t.Errorf("reads after Reset = %v, want %v", got, want)
	}

	// The overlay is reusable after Reset.
	o.Put(0, levels, []byte("d"), []byte("4"))
	if err := o.Apply(map[int32]state.Checkpoint{0: {Offset: 101}}); err != nil {
		t.Fatal(err)
	}
	if got := committed(t, s, 0, levels); !sameMap(got, map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}) {
		t.Errorf("after reuse: %v", got)
	}
}

func TestOverlayEach(t *testing.T) {
	_, o := newSeeded(t)
	o.Put(0, levels, []byte("a"), []byte("10"))
	o.Put(0, "timers", []byte("t\x00bin"), []byte("fire"))
	o.Delete(3, levels, []byte("b"))

	type rec struct {
		p     int32
		ck    string
		value string
		isNil bool
	}
	var got []rec
	err := o.Each(func(p int32, ck, v []byte) error {
		got = append(got, rec{p: p, ck: string(ck), value: string(v), isNil: v == nil})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b rec) int { return strings.Compare(fmt.Sprint(a.p, a.ck), fmt.Sprint(b.p, b.ck)) })
	want := []rec{
		{p: 0, ck: string(state.ChangelogKey(levels, []byte("a"))), value: "10"},
		{p: 0, ck: string(state.ChangelogKey("timers", []byte("t\x00bin"))), value: "fire"},
		{p: 3, ck: string(state.ChangelogKey(levels, []byte("b"))), isNil: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Each = %+v, want %+v", got, want)
	}

	stop := errors.New("stop")
	n := 0
	if err := o.Each(func(int32, []byte, []byte) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("Each with failing fn: %v after %d calls", err, n)
	}
}

// TestOverlayReadsSeeEveryWrite: the overlay's reads of committed values go
// through one reused Pebble iterator, whose view is fixed when it is made;
// every way of writing the store (an Apply, a restore, a wipe) must make the
// next read see the write, including writes by another overlay.
func TestOverlayReadsSeeEveryWrite(t *testing.T) {
	s, o := newSeeded(t)
	get := func(key string) string {
		t.Helper()
		v, ok, err := o.Get(0, levels, []byte(key))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return "<none>"
		}
		return string(v)
	}
	want := func(key, w string) {
		t.Helper()
		if got := get(key); got != w {
			t.Fatalf("%s: got %s, want %s", key, got, w)
		}
	}
	want("a", "1") // the iterator is made here, and a and b are cached
	want("b", "2")
	want("z", "<none>")

	o.Put(0, levels, []byte("a"), []byte("applied"))
	o.Delete(0, levels, []byte("b"))
	o.Put(0, levels, []byte("z"), []byte("new"))
	if err := o.Apply(nil); err != nil {
		t.Fatal(err)
	}
	want("a", "applied")
	want("b", "<none>")
	want("z", "new")

	seed(t, s, 0, levels, 200, map[string]string{"c": "by another overlay"})
	want("c", "by another overlay")

	r := s.NewRestoreBatch(0)
	if err := r.Add(state.ChangelogKey(levels, []byte("a")), []byte("restored")); err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(state.Checkpoint{Offset: 300}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	want("a", "restored")

	if err := s.Wipe(0); err != nil {
		t.Fatal(err)
	}
	want("a", "<none>")
	want("z", "<none>")
}

func TestOverlayStaged(t *testing.T) {
	_, o := newSeeded(t)
	k := []byte("t")
	if o.Staged(0, levels, []byte("a")) {
		t.Fatal("a committed value is not staged")
	}
	mark := o.Mark()
	o.Put(0, levels, k, nil)
	if !o.Staged(0, levels, k) || o.Staged(1, levels, k) {
		t.Fatal("staged put: want staged in partition 0 only")
	}
	o.Rollback(mark)
	if o.Staged(0, levels, k) {
		t.Fatal("rolled back put still staged")
	}
	o.Put(0, levels, k, nil)
	o.Delete(0, levels, k)
	if o.Staged(0, levels, k) {
		t.Fatal("a staged deletion counts as staged")
	}
}
