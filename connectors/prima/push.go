package prima

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// pushResult is how a command ended: applied (by this push, or found
// applied by a lookup), or to be parked for parkReason after attempts.
type pushResult struct {
	alreadyApplied bool
	attempts       int
	parkReason     string
}

// push delivers one batch. Failed sends (5xx, timeouts, lost answers)
// count against MaxAttempts and back off exponentially with jitter;
// throttling (429) waits out Retry-After through the bucket and counts
// against the larger MaxThrottled, as it is the server asking for
// patience, not failing. After an ambiguous failure the batch is looked up
// before it is sent again; a failed lookup backs off like a failed send
// but costs no attempt (counting them gave a batch twice the exposure: at
// 20% errors, 1 batch in 6,000 gave up). It returns errLost when the
// partition moves away, and ctx's error when ctx ends.
func (s *Sink) push(ctx context.Context, part int32, b StockBatch) (pushResult, error) {
	var (
		res       pushResult
		throttled int
		ambiguous bool // the last failure may have applied the batch
		backoff   = s.cfg.BackoffBase
	)
	for {
		if s.paused {
			applied, err := s.probe(ctx, part, b.Ref, &backoff)
			if err != nil || applied {
				res.alreadyApplied = applied
				return s.done(res, err)
			}
			ambiguous = false // the probe looked: not applied
		}
		if err := s.pace.take(ctx); err != nil {
			return res, err
		}
		var err error
		applied, lookup := false, ambiguous
		if lookup {
			err = s.guard(part, func() (e error) { applied, e = s.api.LookupStockBatch(ctx, b.Ref); return e })
			if err == nil {
				s.failures = 0
				if applied {
					res.alreadyApplied = true
					return s.done(res, nil)
				}
				ambiguous = false
				continue // send it, with a token of its own
			}
		} else {
			err = s.guard(part, func() error { return s.api.UpdateStock(ctx, b) })
			if err == nil {
				s.failures = 0
				return s.done(res, nil)
			}
		}
		if errors.Is(err, errLost) || ctx.Err() != nil {
			return res, errors.Join(err, ctx.Err())
		}
		var ae *APIError
		if !errors.As(err, &ae) || !ae.Retryable {
			res.parkReason = "refused: " + err.Error()
			return res, nil
		}
		if ae.Throttled() {
			throttled++
			s.o.Metrics.retries.WithLabelValues("429").Inc()
			s.pace.throttled(ae)
			if throttled >= s.cfg.MaxThrottled {
				res.parkReason = fmt.Sprintf("throttled %d times: %v", throttled, err)
				return res, nil
			}
			continue
		}
		if !lookup {
			res.attempts++
		}
		s.failures++
		ambiguous = ambiguous || ae.Ambiguous
		s.o.Metrics.retries.WithLabelValues(reason(ae)).Inc()
		if res.attempts >= s.cfg.MaxAttempts {
			res.parkReason = fmt.Sprintf("gave up after %d failed attempts: %v", res.attempts, err)
			return res, nil
		}
		if s.failures >= s.cfg.DownAfter {
			s.pace.hold(ae.RetryAfter)
			s.pause()
			continue // the probe does the waiting
		}
		if err := s.pace.backoff(ctx, ae, &backoff); err != nil {
			return res, err
		}
	}
}

// probe waits, with growing pauses, until Prima answers a lookup of ref,
// then resumes fetching. Probe failures cost the command no attempts:
// while Prima is down, commands wait rather than all being parked.
func (s *Sink) probe(ctx context.Context, part int32, ref string, backoff *time.Duration) (bool, error) {
	for {
		if err := sleep(ctx, s.o.Clock, s.pace.jitter(*backoff)); err != nil {
			return false, err
		}
		*backoff = min(2**backoff, s.cfg.BackoffMax)
		if err := s.pace.take(ctx); err != nil {
			return false, err
		}
		var applied bool
		err := s.guard(part, func() (e error) { applied, e = s.api.LookupStockBatch(ctx, ref); return e })
		var ae *APIError
		switch {
		case errors.Is(err, errLost) || ctx.Err() != nil:
			return false, errors.Join(err, ctx.Err())
		case err == nil || errors.As(err, &ae) && !ae.Retryable:
			// Prima answered, if only to refuse: it is up. A refused
			// lookup leaves applied false, and a send of absolute levels
			// is harmless either way.
			s.failures = 0
			s.resume()
			return applied, nil
		case ae != nil:
			s.pace.hold(ae.RetryAfter)
		}
	}
}

func (s *Sink) done(res pushResult, err error) (pushResult, error) {
	if err == nil {
		outcome := "applied"
		if res.alreadyApplied {
			outcome = "already_applied"
		}
		s.o.Metrics.pushes.WithLabelValues(outcome).Inc()
	}
	return res, err
}
