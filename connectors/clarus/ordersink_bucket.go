package clarus

import (
	"sync"
	"time"
)

// bucket is the token bucket in front of Clarus: rate tokens a second, up
// to burst, and none at all before a server's Retry-After has passed.
// Tokens may go negative: a caller reserves its token and waits for it, so
// waits queue fairly without polling.
//
// It is the Prima sink's bucket (connectors/prima/push.go) over again: the
// two belong in one shared package, which is outside this change.
type bucket struct {
	mu        sync.Mutex
	rate      float64
	burst     float64
	tokens    float64
	last      time.Time
	holdUntil time.Time
}

func newBucket(rate float64, burst int) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// reserve takes a token at now and returns how long to wait before using it.
func (b *bucket) reserve(now time.Time) time.Duration {
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

// hold stops handing out tokens before until: Clarus said when to come
// back, and every call honours it, not only the one that was told.
func (b *bucket) hold(until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if until.After(b.holdUntil) {
		b.holdUntil = until
	}
}
