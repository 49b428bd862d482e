package prima

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockstep-dev/lockstep/connectors/clock"
	"github.com/lockstep-dev/lockstep/connectors/ratelimit"
)

// pacer is the connector's one retry policy in front of Prima, shared by
// its writers (the stock sink, the despatch sink): a token bucket that
// every call waits for and that a Retry-After holds shut, and a growing,
// jittered backoff after failures. Prima documents no rate limits, so
// the bucket is configuration and Retry-After rules over it.
//
// A pacer is safe for concurrent use: the despatch sink's lanes share
// one. The bucket locks itself; rngMu guards the jitter's generator,
// which is not safe to share.
type pacer struct {
	bucket *ratelimit.Bucket
	rngMu  sync.Mutex
	rng    *rand.Rand
	clock  clock.Clock
	waits  prometheus.Counter // calls that waited for the bucket
	max    time.Duration      // the longest backoff
}

// newPacer returns a pacer of rate calls a second (burst at once), its
// jitter drawn from seed on its own stream, so that two writers seeded
// alike do not retry in step.
func newPacer(rate float64, burst int, seed, stream uint64, c clock.Clock, maxBackoff time.Duration, waits prometheus.Counter) *pacer {
	return &pacer{bucket: ratelimit.New(rate, burst), rng: rand.New(rand.NewPCG(seed, stream)), clock: c, waits: waits,
		max: maxBackoff}
}

// take waits for a token of the bucket.
func (p *pacer) take(ctx context.Context) error {
	wait := p.bucket.Reserve(p.clock.Now())
	if wait <= 0 {
		return ctx.Err()
	}
	p.waits.Inc()
	return sleep(ctx, p.clock, wait)
}

// hold shuts the bucket for d from now: no call goes out before.
func (p *pacer) hold(d time.Duration) {
	if d > 0 {
		p.bucket.Hold(p.clock.Now().Add(d))
	}
}

// jitter spreads a backoff over [d/2, d): waits still grow strictly from
// one attempt to the next, but writers that failed together do not retry
// in step.
func (p *pacer) jitter(d time.Duration) time.Duration {
	p.rngMu.Lock()
	defer p.rngMu.Unlock()
	return d/2 + time.Duration(p.rng.Int64N(int64(max(d/2, 1))))
}

// throttled holds the bucket for a 429's Retry-After, at least a second:
// the next call's token waits it out. Throttling is the server asking for
// patience, so it costs no backoff step.
func (p *pacer) throttled(ae *APIError) { p.hold(max(ae.RetryAfter, time.Second)) }

// backoff waits out a failed call: the jittered backoff, or its
// Retry-After when longer (which also holds the bucket, for whoever calls
// next), then doubles backoff up to the longest. A 429 waits in the
// bucket instead (throttled).
func (p *pacer) backoff(ctx context.Context, ae *APIError, backoff *time.Duration) error {
	if ae.Throttled() {
		p.throttled(ae)
		return ctx.Err()
	}
	p.hold(ae.RetryAfter)
	d := max(p.jitter(*backoff), ae.RetryAfter)
	*backoff = min(2**backoff, p.max)
	return sleep(ctx, p.clock, d)
}

// reason names why a call is retried, the label of the sinks' retry
// metrics.
func reason(ae *APIError) string {
	switch {
	case ae.Throttled():
		return "429"
	case ae.Status >= 500: // SOAP 1.1 sends its faults with 500 too
		return "5xx"
	case ae.Fault != "":
		return "fault"
	case ae.Status == 0:
		return "timeout"
	case ae.Retryable && ae.Message != "" && ae.Err == nil:
		return "busy" // an ERROR answer Prima may not give next time (locked, busy)
	}
	return "malformed"
}
