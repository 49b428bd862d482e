package clock

import (
	"sync"
	"time"
)

// Fake is a Clock for tests that moves only when told to. After(d) fires
// once Advance has moved the clock d or more past the time After was called
// (at once when d <= 0), delivering the clock's time then. It is safe for
// concurrent use, so a test can advance it while the code under test waits
// on it. The zero value stands at the zero time; NewFake sets a start.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFake returns a Fake standing at now.
func NewFake(now time.Time) *Fake { return &Fake{now: now} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// After returns a channel that receives the fake time once Advance has
// moved the clock d on from now.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, waiter{at: f.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock on by d and fires every After whose deadline has
// now passed.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if w.at.After(f.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- f.now
	}
	clear(f.waiters[len(kept):])
	f.waiters = kept
}

// Next returns the earliest deadline an After still waits for, and false
// when nothing waits: a test can tell that the code under test is blocked
// on the clock before it advances it.
func (f *Fake) Next() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var next time.Time
	for i, w := range f.waiters {
		if i == 0 || w.at.Before(next) {
			next = w.at
		}
	}
	return next, len(f.waiters) > 0
}
