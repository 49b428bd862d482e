package ledger

import (
	"context"
	"math/rand/v2"
	"time"
)

// retrier paces the attempts at one thing that fails (an insert, a DLQ
// produce, a registry lookup) and logs its state changes only: the first
// failure as a warning, the recovery as info, the attempts between at debug.
type retrier struct {
	s       *Sink
	what    string
	onState func(ok bool) // called on each state change, if set
	fails   int           // consecutive failures; 0 while healthy
	since   time.Time     // first failure of the current run of them
}

func (s *Sink) retrier(what string) *retrier { return &retrier{s: s, what: what} }

// failing reports whether the last attempt failed.
func (r *retrier) failing() bool { return r.fails > 0 }

// failed records a failed attempt.
func (r *retrier) failed(err error, msg string, args ...any) {
	args = append(args, "err", err)
	if r.fails == 0 {
		r.since = time.Now()
		r.s.log.Warn(msg, args...)
		if r.onState != nil {
			r.onState(false)
		}
	} else {
		r.s.log.Debug(msg, append(args, "attempt", r.fails+1)...)
	}
	r.fails++
}

// recovered records a successful attempt.
func (r *retrier) recovered() {
	if r.fails == 0 {
		return
	}
	r.s.log.Info(r.what+" works again", "failed_attempts", r.fails, "after", time.Since(r.since).Round(time.Millisecond))
	r.fails = 0
	if r.onState != nil {
		r.onState(true)
	}
}

// delay is the pause before the next attempt: RetryMin doubled per
// consecutive failure up to RetryMax, with +-20% jitter so that instances
// do not retry in step.
func (r *retrier) delay() time.Duration {
	d := r.s.cfg.RetryMin
	for i := 1; i < r.fails && d < r.s.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, r.s.cfg.RetryMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// wait pauses for delay, or returns ctx's error.
func (r *retrier) wait(ctx context.Context) error {
	t := time.NewTimer(r.delay())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
