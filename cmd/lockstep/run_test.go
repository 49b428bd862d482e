package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type componentFunc = runFunc

func testConfig(t *testing.T) Config {
	t.Helper()
	cfg, err := load(t, map[string]string{"LOCKSTEP_ADMIN_ADDR": "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runAsync starts run and returns its result channel.
func runAsync(ctx context.Context, t *testing.T, build buildFunc) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- run(ctx, testConfig(t), slog.New(slog.DiscardHandler), build) }()
	return done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return")
		return nil
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	var sawCancel bool
	done := runAsync(ctx, t, func(_ context.Context, _ Config, reg prometheus.Registerer, ready *readiness) ([]component, func(), error) {
		setReady := ready.Add("test")
		reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "lockstep_run_test_total", Help: "t"}))
		return []component{componentFunc(func(ctx context.Context) error {
			setReady(true)
			close(started)
			<-ctx.Done()
			sawCancel = true
			return ctx.Err() // returning ctx.Err() on shutdown is not a failure
		})}, nil, nil
	})
	<-started
	cancel()
	if err := wait(t, done); err != nil {
		t.Fatalf("run() = %v, want nil", err)
	}
	if !sawCancel {
		t.Error("component did not see the cancellation")
	}
}

func TestRunStopsOnComponentError(t *testing.T) {
	boom := errors.New("boom")
	var otherStopped bool
	done := runAsync(t.Context(), t, func(context.Context, Config, prometheus.Registerer, *readiness) ([]component, func(), error) {
		return []component{
			componentFunc(func(context.Context) error { return boom }),
			componentFunc(func(ctx context.Context) error { <-ctx.Done(); otherStopped = true; return nil }),
		}, nil, nil
	})
	if err := wait(t, done); !errors.Is(err, boom) {
		t.Fatalf("run() = %v, want %v", err, boom)
	}
	if !otherStopped {
		t.Error("the other component kept running")
	}
}

func TestRunBuildErrorReleasesAdminPort(t *testing.T) {
	cfg := testConfig(t)
	// Reserve a port to learn a free one, then let run bind it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdminAddr = ln.Addr().String()
	ln.Close()

	bad := errors.New("no such processor")
	err = run(t.Context(), cfg, slog.New(slog.DiscardHandler),
		func(context.Context, Config, prometheus.Registerer, *readiness) ([]component, func(), error) {
			return nil, nil, bad
		})
	if !errors.Is(err, bad) {
		t.Fatalf("run() = %v, want %v", err, bad)
	}
	ln, err = net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		t.Fatalf("admin port still held after a failed start: %v", err)
	}
	ln.Close()
}
