// Package clock is the connectors' time source, injected so tests run waits, backoff and schedules in fake time.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and delivers it once a duration has passed.
type Clock interface {
	Now() time.Time
	// After delivers the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// System is the wall clock.
func System() Clock { return system{} }

type system struct{}

func (system) Now() time.Time                         { return time.Now() }
func (system) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Sleep waits d on c, or until ctx ends, returning ctx's error then. A d of
// zero or less, or a ctx already done, returns ctx.Err() at once without
// asking c to wait.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.After(d):
		return nil
	}
}
