// Package ratelimit is the token bucket in front of each system lockstep calls (Clarus, Prima), honouring the Retry-After the system sends.
package ratelimit

import (
	"sync"
	"time"
)

// Bucket is the token bucket in front of one system: rate tokens a second,
// up to burst, and none at all before a server's Retry-After has passed.
// Tokens may go negative: a caller reserves its token and waits for it, so
// waits queue fairly without polling.
type Bucket struct {
	mu        sync.Mutex
	rate      float64
	burst     float64
	tokens    float64
	last      time.Time
	holdUntil time.Time
}

// New returns a bucket of rate tokens a second, holding at most burst.
func New(rate float64, burst int) *Bucket {
	return &Bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// Reserve takes a token at now and returns how long to wait before using it.
func (b *Bucket) Reserve(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := now
	if b.holdUntil.After(t) {
		t = b.holdUntil
	}
	if b.last.IsZero() {
		b.last = t
	}
	if t.After(b.last) {
		b.tokens = min(b.burst, b.tokens+t.Sub(b.last).Seconds()*b.rate)
		b.last = t
	}
	b.tokens--
	wait := t.Sub(now)
	if b.tokens < 0 {
		wait += time.Duration(-b.tokens / b.rate * float64(time.Second))
	}
	return wait
}

// Hold stops handing out tokens before until: the server said when to
// come back, and every caller of the system honours it, not only the one
// that was told.
func (b *Bucket) Hold(until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if until.After(b.holdUntil) {
		b.holdUntil = until
	}
}
