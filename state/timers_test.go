package state_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/state"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestTimerKeyOrder(t *testing.T) {
	type timer struct {
		due time.Time
		key string
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name          string
		first, second timer
	}{
		{"earlier due first despite larger key", timer{now, "zzzz"}, timer{now.Add(ms), "a"}},
		{"earlier due first despite longer key", timer{now, "aaaaaaaaaaaaaaaaaaaa"}, timer{now.Add(ms), ""}},
		{"earlier due first, a day apart", timer{now, "\xff"}, timer{now.Add(24 * time.Hour), "\x00"}},
		{"big-endian: 255ms before 256ms", timer{time.UnixMilli(255), "b"}, timer{time.UnixMilli(256), "a"}},
		{"big-endian: across a 2^32 ms boundary", timer{time.UnixMilli(1<<32 - 1), "z"}, timer{time.UnixMilli(1 << 32), "a"}},
		{"1970 before 2100", timer{time.UnixMilli(1), "z"}, timer{time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), "a"}},
		{"same due: by key", timer{now, "a"}, timer{now, "b"}},
		{"same due: empty key first", timer{now, ""}, timer{now, "a"}},
		{"same due: prefix first", timer{now, "a"}, timer{now, "a\x00"}},
		{"same millisecond is the same due", timer{now.Add(900 * time.Microsecond), "a"}, timer{now.Add(100 * time.Microsecond), "b"}},
		{"before the epoch clamps to the epoch", timer{time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), "a"}, timer{time.Unix(0, 0), "b"}},
		{"time zone does not matter", timer{now.In(time.FixedZone("X", 3600)), "a"}, timer{now, "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := state.TimerKey(tc.first.due, []byte(tc.first.key))
			b := state.TimerKey(tc.second.due, []byte(tc.second.key))
			if bytes.Compare(a, b) >= 0 {
				t.Errorf("TimerKey(%v, %q) = %x does not sort before TimerKey(%v, %q) = %x",
					tc.first.due, tc.first.key, a, tc.second.due, tc.second.key, b)
			}
		})
	}
}

func TestSplitTimerKey(t *testing.T) {
	for _, tc := range []struct {
		due     time.Time
		key     string
		wantDue time.Time
	}{
		{now, "sla/ORD-1", now},
		{now.Add(1500 * time.Microsecond), "", now.Add(time.Millisecond)}, // truncated to the millisecond
		{now.In(time.FixedZone("X", -7200)), "k\x00ey", now},              // UTC
		{time.Unix(0, 0), "epoch", time.Unix(0, 0).UTC()},
		{time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), "old", time.Unix(0, 0).UTC()},
	} {
		due, key, err := state.SplitTimerKey(state.TimerKey(tc.due, []byte(tc.key)))
		if err != nil || !due.Equal(tc.wantDue) || due.Location() != time.UTC || string(key) != tc.key {
			t.Errorf("SplitTimerKey(TimerKey(%v, %q)) = %v, %q, %v; want %v, %q", tc.due, tc.key, due, key, err, tc.wantDue, tc.key)
		}
	}
	for _, short := range [][]byte{nil, {}, {1, 2, 3, 4, 5, 6, 7}} {
		if _, _, err := state.SplitTimerKey(short); !errors.Is(err, state.ErrBadTimerKey) {
			t.Errorf("SplitTimerKey(%x) error = %v, want ErrBadTimerKey", short, err)
		}
	}
}

// due lists the timers that Range reports due at at, as "key=value",
// scanning as TimerKey's doc says: up to TimerKey(at+1ms, nil).
func due(t *testing.T, o *state.Overlay, p int32, at time.Time) []string {
	t.Helper()
	var got []string
	var last []byte
	err := o.Range(p, "timers", nil, state.TimerKey(at.Add(time.Millisecond), nil), func(k, v []byte) bool {
		if last != nil && bytes.Compare(last, k) >= 0 {
			t.Errorf("Range out of order: %x after %x", k, last)
		}
		last = append(last[:0], k...)
		d, key, err := state.SplitTimerKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if d.UnixMilli() > at.UnixMilli() {
			t.Errorf("Range returned a timer due %v, after %v", d, at)
		}
		got = append(got, string(key)+"="+string(v))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRangeDueTimers(t *testing.T) {
	const timers = "timers"
	s := openMem(t)
	put := func(o *state.Overlay, p int32, d time.Duration, key, value string) {
		o.Put(p, timers, state.TimerKey(now.Add(d), []byte(key)), []byte(value))
	}

	o := s.NewOverlay()
	o.Put(0, timers, state.TimerKey(time.Time{}, []byte("ancient")), []byte("c"))
	put(o, 0, -time.Hour, "push/A", "c")
	put(o, 0, -time.Hour, "push/0", "c")
	put(o, 0, -time.Millisecond, "sla/B", "c")
	put(o, 0, -time.Millisecond, "sla/B2", "c")
	put(o, 0, 0, "sla/now", "c") // due exactly now: due
	put(o, 0, time.Millisecond, "later", "c")
	put(o, 0, time.Hour, "much-later", "c")
	// Neighbours that must never show up.
	put(o, 1, -time.Hour, "other-partition", "c")
	o.Put(0, "timer", state.TimerKey(now.Add(-time.Hour), []byte("other-store")), []byte("c"))
	o.Put(0, "timersx", state.TimerKey(now.Add(-time.Hour), []byte("other-store")), []byte("c"))
	o.Put(0, levels, []byte("\x00"), []byte("not a timer"))
	if err := o.Apply(nil); err != nil {
		t.Fatal(err)
	}
	committedDue := []string{"ancient=c", "push/0=c", "push/A=c", "sla/B=c", "sla/B2=c", "sla/now=c"}

	for _, tc := range []struct {
		name   string
		script func(o *state.Overlay)
		at     time.Time
		want   []string
	}{
		{
			name: "committed only",
			at:   now,
			want: committedDue,
		},
		{
			name: "a millisecond earlier the timer due now is not due yet",
			at:   now.Add(-time.Millisecond),
			want: []string{"ancient=c", "push/0=c", "push/A=c", "sla/B=c", "sla/B2=c"},
		},
		{
			name: "later within now's millisecond it is still due",
			at:   now.Add(999 * time.Microsecond),
			want: committedDue,
		},
		{
			name: "a millisecond later the next timer is due",
			at:   now.Add(time.Millisecond),
			want: append(slices.Clone(committedDue), "later=c"),
		},
		{
			name: "at the epoch only the clamped zero time is due",
			at:   time.Unix(0, 0),
			want: []string{"ancient=c"},
		},
		{
			name: "staged puts and deletes merged in order",
			script: func(o *state.Overlay) {
				put(o, 0, -30*time.Minute, "new", "s")                                           // between push/* and sla/B
				put(o, 0, -time.Hour, "push/A", "s")                                             // overwrite of a committed timer
				put(o, 0, -time.Hour, "push/00", "s")                                            // same due, sorts between push/0 and push/A
				o.Delete(0, timers, state.TimerKey(now.Add(-time.Millisecond), []byte("sla/B"))) // fired
				put(o, 0, time.Minute, "future", "s")                                            // staged but not due
				put(o, 0, 0, "staged-now", "s")                                                  // staged, due exactly now
				o.Delete(0, timers, state.TimerKey(now.Add(time.Hour), []byte("much-later")))
				put(o, 1, -time.Hour, "other-partition-staged", "s")
				o.Put(0, "timer", state.TimerKey(now.Add(-2*time.Hour), []byte("other-store-staged")), []byte("s"))
			},
			at:   now,
			want: []string{"ancient=c", "push/0=c", "push/00=s", "push/A=s", "new=s", "sla/B2=c", "sla/now=c", "staged-now=s"},
		},
		{
			name: "staged only deletes",
			script: func(o *state.Overlay) {
				o.Delete(0, timers, state.TimerKey(time.Time{}, []byte("ancient")))
				o.Delete(0, timers, state.TimerKey(now.Add(-time.Hour), []byte("push/A")))
				o.Delete(0, timers, state.TimerKey(now.Add(-time.Hour), []byte("never-existed")))
			},
			at:   now,
			want: []string{"push/0=c", "sla/B=c", "sla/B2=c", "sla/now=c"},
		},
		{
			name: "a staged delete then re-put at a new due moves the timer",
			script: func(o *state.Overlay) {
				o.Delete(0, timers, state.TimerKey(now.Add(-time.Hour), []byte("push/A")))
				put(o, 0, -time.Millisecond/2, "push/A", "moved") // rounds down to now-1ms, sorts before sla/B
			},
			at:   now,
			want: []string{"ancient=c", "push/0=c", "push/A=moved", "sla/B=c", "sla/B2=c", "sla/now=c"},
		},
		{
			name: "a rolled-back delete is not merged",
			script: func(o *state.Overlay) {
				m := o.Mark()
				o.Delete(0, timers, state.TimerKey(now.Add(-time.Hour), []byte("push/A")))
				put(o, 0, -time.Minute, "x", "s")
				o.Rollback(m)
			},
			at:   now,
			want: committedDue,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := s.NewOverlay()
			if tc.script != nil {
				tc.script(o)
			}
			if got := due(t, o, 0, tc.at); !slices.Equal(got, tc.want) {
				t.Errorf("due = %q\nwant  %q", got, tc.want)
			}
		})
	}
}

func TestRangeBoundsAndStop(t *testing.T) {
	s := openMem(t)
	o := s.NewOverlay()
	for _, k := range []string{"a", "b", "c", "d"} {
		o.Put(0, "st", []byte(k), []byte("c"))
	}
	if err := o.Apply(nil); err != nil {
		t.Fatal(err)
	}
	o.Put(0, "st", []byte("bb"), []byte("s"))
	o.Put(0, "st", []byte("e"), []byte("s"))
	o.Delete(0, "st", []byte("c"))

	collect := func(lo, hi []byte, limit int) []string {
		var got []string
		err := o.Range(0, "st", lo, hi, func(k, v []byte) bool {
			got = append(got, string(k)+"="+string(v))
			return len(got) < limit
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, tc := range []struct {
		lo, hi []byte
		limit  int
		want   []string
	}{
		{nil, nil, 100, []string{"a=c", "b=c", "bb=s", "d=c", "e=s"}},
		{[]byte("b"), []byte("d"), 100, []string{"b=c", "bb=s"}}, // hi is exclusive
		{[]byte("bb"), nil, 100, []string{"bb=s", "d=c", "e=s"}}, // lo is inclusive
		{[]byte("c"), []byte("c\x00"), 100, nil},                 // deleted
		{nil, []byte("a"), 100, nil},                             // empty
		{[]byte("d"), []byte("b"), 100, nil},                     // inverted
		{nil, nil, 2, []string{"a=c", "b=c"}},                    // fn returning false stops
		{[]byte("b"), nil, 1, []string{"b=c"}},
	} {
		if got := collect(tc.lo, tc.hi, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("Range(%q, %q) limit %d = %q, want %q", tc.lo, tc.hi, tc.limit, got, tc.want)
		}
	}
}

func TestExpired(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		v    []byte
		now  time.Time
		want bool
	}{
		{"a millisecond before now", state.Expiry(now.Add(-ms)), now, true},
		{"an hour before now", state.Expiry(now.Add(-time.Hour)), now, true},
		{"exactly now is expired", state.Expiry(now), now, true},
		{"a millisecond after now", state.Expiry(now.Add(ms)), now, false},
		{"same millisecond, expiry later within it", state.Expiry(now.Add(900 * time.Microsecond)), now, true},
		{"same millisecond, now later within it", state.Expiry(now), now.Add(900 * time.Microsecond), true},
		{"just before the next millisecond", state.Expiry(now.Add(ms)), now.Add(999 * time.Microsecond), false},
		{"zero time is long expired", state.Expiry(time.Time{}), now, true},
		{"far future", state.Expiry(now.AddDate(100, 0, 0)), now, false},
		{"time zone does not matter", state.Expiry(now.Add(ms).In(time.FixedZone("X", -3600))), now, false},
		{"nil is malformed", nil, now, true},
		{"7 bytes is malformed", state.Expiry(now.Add(time.Hour))[:7], now, true},
		{"9 bytes is malformed", append(state.Expiry(now.Add(time.Hour)), 0), now, true},
	} {
		if got := state.Expired(tc.v, tc.now); got != tc.want {
			t.Errorf("%s: Expired(%x, %v) = %v, want %v", tc.name, tc.v, tc.now, got, tc.want)
		}
	}
}

// A timer and an expiry at the same instant agree: due (and expired) once the
// clock reaches it. The runtime sets a timer at a dedupe entry's Expiry and,
// when it fires, deletes the entry only if Expired; were the two boundaries
// different, a timer firing within the expiry's millisecond would leave the
// entry in state (and the changelog) for good.
func TestTimerAndExpiryAgree(t *testing.T) {
	s := openMem(t)
	o := s.NewOverlay()
	at := now.Add(1234 * time.Millisecond)
	o.Put(0, "timers", state.TimerKey(at, []byte("k")), nil)
	for _, d := range []time.Duration{-time.Millisecond, -time.Microsecond, 0, 500 * time.Microsecond, time.Millisecond, time.Second} {
		clock := at.Add(d)
		fired := len(due(t, o, 0, clock)) == 1
		if expired := state.Expired(state.Expiry(at), clock); fired != expired {
			t.Errorf("at %v: timer fired %v, expiry expired %v", d, fired, expired)
		}
		if wantFired := d >= 0; fired != wantFired {
			t.Errorf("at %v: timer fired %v, want %v", d, fired, wantFired)
		}
	}
	// The trap TimerKey's doc warns of: an exclusive bound at now itself
	// misses the timer due at now.
	n := 0
	if err := o.Range(0, "timers", nil, state.TimerKey(at, nil), func(k, v []byte) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("scan up to TimerKey(due, nil) returned %d timers, want 0", n)
	}
}

func FuzzSplitTimerKey(f *testing.F) {
	f.Add([]byte{})
	f.Add(state.TimerKey(now, []byte("k")))
	f.Fuzz(func(t *testing.T, b []byte) {
		due, key, err := state.SplitTimerKey(b)
		if err != nil {
			if len(b) >= 8 {
				t.Fatalf("error on %d bytes: %v", len(b), err)
			}
			return
		}
		if due.UnixMilli() >= 0 {
			if again := state.TimerKey(due, key); !bytes.Equal(again, b) {
				t.Fatalf("TimerKey(SplitTimerKey(%x)) = %x", b, again)
			}
		}
		_ = fmt.Sprint(due)
	})
}
