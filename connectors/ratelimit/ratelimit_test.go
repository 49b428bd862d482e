package ratelimit

import (
	"testing"
	"time"
)

// The bucket hands out its burst at once, then one token per 1/rate, and
// nothing before a Retry-After has passed; a wait is reserved, so callers
// queue instead of all waking at once.
func TestBucket(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	b := New(2, 2)
	var got []time.Duration
	for range 4 {
		got = append(got, b.Reserve(t0))
	}
	want := []time.Duration{0, 0, 500 * time.Millisecond, time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
	// Two seconds on, the queue has drained and the burst refilled.
	t1 := t0.Add(3 * time.Second)
	if w := b.Reserve(t1); w != 0 {
		t.Fatalf("after refill: %v", w)
	}
	b.Hold(t1.Add(2 * time.Second))
	if w := b.Reserve(t1); w != 2*time.Second {
		t.Fatalf("under Retry-After: %v, want exactly 2s", w)
	}
	b.Hold(t1) // an earlier hold never shortens a later one
	if w := b.Reserve(t1.Add(time.Second)); w != time.Second {
		t.Fatalf("second caller under Retry-After: %v", w)
	}
}
