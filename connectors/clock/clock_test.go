package clock_test

import (
	"context"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clock"
)

var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestFakeFiresDueWaiters(t *testing.T) {
	f := clock.NewFake(epoch)
	if _, ok := f.Next(); ok {
		t.Fatal("a new clock has waiters")
	}
	now := f.After(0)
	short, long := f.After(time.Second), f.After(time.Minute)
	if got := <-now; !got.Equal(epoch) {
		t.Fatalf("After(0) delivered %v", got)
	}
	if next, ok := f.Next(); !ok || !next.Equal(epoch.Add(time.Second)) {
		t.Fatalf("Next = %v, %v", next, ok)
	}
	f.Advance(time.Second)
	select {
	case got := <-short:
		if !got.Equal(epoch.Add(time.Second)) {
			t.Fatalf("fired with %v", got)
		}
	default:
		t.Fatal("a due waiter did not fire")
	}
	select {
	case <-long:
		t.Fatal("a waiter fired early")
	default:
	}
	f.Advance(time.Hour)
	<-long
	if _, ok := f.Next(); ok {
		t.Fatal("fired waiters still pending")
	}
	if !f.Now().Equal(epoch.Add(time.Hour + time.Second)) {
		t.Fatalf("Now = %v", f.Now())
	}
}

func TestSleep(t *testing.T) {
	f := clock.NewFake(epoch)
	ctx, cancel := context.WithCancel(context.Background())
	if err := clock.Sleep(ctx, f, 0); err != nil {
		t.Fatalf("Sleep(0) = %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- clock.Sleep(ctx, f, time.Minute) }()
	for {
		if _, ok := f.Next(); ok {
			break
		}
		time.Sleep(time.Millisecond) // waiting for the sleeper to block, not timing
	}
	f.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatalf("Sleep = %v", err)
	}

	go func() { done <- clock.Sleep(ctx, f, time.Minute) }()
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("cancelled Sleep = %v", err)
	}
	if err := clock.Sleep(ctx, f, -time.Second); err != context.Canceled {
		t.Fatalf("Sleep(<0) on a done ctx = %v", err)
	}
	if err := clock.Sleep(ctx, clock.System(), time.Hour); err != context.Canceled {
		t.Fatalf("Sleep on a done ctx = %v", err)
	}
}
