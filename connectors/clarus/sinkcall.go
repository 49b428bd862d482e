package clarus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clock"
)

// How a command sink calls Clarus: one attempt at a time through the token
// bucket, under the revoke guard, counted by outcome; failures wait for
// Retry-After or a jittered, growing backoff, and enough of them in a row
// mark the sink paused (not ready) until a call succeeds again. And what
// Clarus's answers to writes mean: a refusal, or a failure that may have
// been applied.

// retry makes the read call until it succeeds, however long Clarus fails
// it: a look-up has no refusal to ack, and a command is never dropped for
// want of one. It returns only ctx's error or errRevoked.
func (s *sinkLoop) retry(ctx context.Context, call string, fn func(context.Context) error) error {
	backoff := s.backoffBase()
	for {
		err := s.attempt(ctx, call, fn)
		if err == nil || stopped(ctx, err) {
			return err
		}
		var ge *GraphQLError
		if errors.As(err, &ge) {
			// Clarus refused the query itself: no wait mends that, but
			// dropping the command would be worse. Operations must see it.
			s.o.Logger.Error("clarus "+s.name+": Clarus refused a look-up; retrying", "call", call, "err", err)
		}
		if err := s.wait(ctx, err, &backoff); err != nil {
			return err
		}
	}
}

// retried is retry for a read that returns what it read.
func retried[T any](ctx context.Context, s *sinkLoop, call string, read func(context.Context) (T, error)) (T, error) {
	var v T
	err := s.retry(ctx, call, func(ctx context.Context) (err error) {
		v, err = read(ctx)
		return err
	})
	return v, err
}

// stopped reports that work on the command must stop: ctx ended, or a
// partition was revoked.
func stopped(ctx context.Context, err error) bool {
	return errors.Is(err, errRevoked) || ctx.Err() != nil
}

// attempt makes one call, after a token of the bucket, unless a partition
// was revoked since the transaction began.
func (s *sinkLoop) attempt(ctx context.Context, call string, fn func(context.Context) error) error {
	if err := s.take(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	if s.revoked {
		s.mu.Unlock()
		return errRevoked
	}
	err := fn(ctx)
	s.mu.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var te *TransientError
	_, refused := refusal(err)
	switch {
	case err == nil:
		s.m.requests.WithLabelValues(call, "ok").Inc()
		s.succeeded()
	case refused:
		// Clarus answered: it is up, if unwilling.
		s.m.requests.WithLabelValues(call, "refused").Inc()
		s.succeeded()
	case errors.As(err, &te) && te.Throttled():
		s.m.requests.WithLabelValues(call, "throttled").Inc()
	default:
		s.m.requests.WithLabelValues(call, "failed").Inc()
		s.o.Logger.Warn("clarus "+s.name+": call failed; retrying", "call", call, "err", err)
		s.failed()
	}
	return err
}

// wait waits out a failed call: a 429 holds the bucket for its Retry-After
// (at least a second), which the next call's token then waits for; any
// other failure waits the jittered backoff, or Retry-After if longer.
func (s *sinkLoop) wait(ctx context.Context, err error, backoff *time.Duration) error {
	var te *TransientError
	var after time.Duration
	if errors.As(err, &te) {
		after = te.RetryAfter
		if te.Throttled() {
			s.bucket.Hold(s.o.Clock.Now().Add(max(after, time.Second)))
			return ctx.Err()
		}
	}
	if after > 0 {
		s.bucket.Hold(s.o.Clock.Now().Add(after))
	}
	d := max(s.jitter(*backoff), after)
	*backoff = min(2**backoff, s.backoffMax())
	return clock.Sleep(ctx, s.o.Clock, d)
}

// take waits for a token of the bucket.
func (s *sinkLoop) take(ctx context.Context) error {
	wait := s.bucket.Reserve(s.o.Clock.Now())
	if wait <= 0 {
		return ctx.Err()
	}
	s.m.rateWaits.Inc()
	return clock.Sleep(ctx, s.o.Clock, wait)
}

// jitter spreads a backoff over [d/2, d), so sinks that failed together
// do not retry in step.
func (s *sinkLoop) jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(s.rng.Int64N(int64(max(d/2, 1))))
}

func (s *sinkLoop) succeeded() {
	s.mu.Lock()
	s.failures = 0
	resumed := s.paused
	s.paused = false
	joined := s.joined
	s.mu.Unlock()
	if resumed {
		s.m.paused.Set(0)
		s.o.Logger.Info("clarus " + s.name + ": Clarus answers again; resumed")
		if joined {
			s.o.setReady(true)
		}
	}
}

func (s *sinkLoop) failed() {
	s.mu.Lock()
	s.failures++
	pause := !s.paused && s.failures >= sinkDownAfter
	if pause {
		s.paused = true
	}
	n := s.failures
	s.mu.Unlock()
	if pause {
		s.m.paused.Set(1)
		s.o.Logger.Error("clarus "+s.name+": Clarus keeps failing; waiting for it, commands are held", "failures", n)
		s.o.setReady(false)
	}
}

// refusal returns Clarus's reason when err is Clarus refusing the write
// itself (400, 409, 413, 422): a validation rejection, never retried.
func refusal(err error) (string, bool) {
	var ae *APIError
	if !errors.As(err, &ae) {
		return "", false
	}
	switch ae.Status {
	case 400, 409, 413, 422:
		msg := ae.Message
		if msg == "" {
			msg = ae.Body
		}
		return fmt.Sprintf("HTTP %d: %s", ae.Status, msg), true
	}
	return "", false
}

// ambiguous reports whether a failed write may have been applied.
func ambiguous(err error) bool {
	var te *TransientError
	var ae *APIError
	switch {
	case errors.As(err, &te):
		return te.Ambiguous
	case errors.As(err, &ae):
		return false // Clarus answered, and not with success
	}
	return true // unknown: assume the worst, the look-up settles it
}
