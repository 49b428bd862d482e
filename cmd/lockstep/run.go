package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sethvargo/go-envconfig"
	"golang.org/x/sync/errgroup"

	"github.com/lockstep-dev/lockstep/cmd/lockstep/internal/admin"
)

// component is a long-running part of the process: a processor, a source, a
// sink. Run blocks until ctx is cancelled and then returns nil; an error
// stops the whole process, so only unrecoverable errors should return one.
type component interface {
	Run(ctx context.Context) error
}

// readiness is what components report readiness to: Add(name) returns the
// func(ready bool) a component calls once restored, and again if it falls
// back (e.g. restoring after a rebalance).
type readiness = admin.Readiness

// components builds the process's components from the configuration.
//
// ---- WIRING POINT (the lead fills this in) ----
// Build each processor, source and sink here and return it. Every component:
//   - builds its Kafka client from cfg.Kafka.Opts() plus its own options
//     (consumer group, transactional id), with topic names through
//     cfg.Kafka.Topic(name);
//   - registers its metrics on reg (never the global registry);
//   - calls ready.Add("<name>") once, here, and flips the returned func to
//     true when it has restored its state and is processing;
//   - logs through slog.Default(), which runCommand has set to the
//     configured logger (add a *slog.Logger parameter if one per component
//     is preferred).
//
// Resources that need closing after the components stop are closed by the
// component's own Run before it returns. An error here aborts start-up
// before anything runs.
func components(ctx context.Context, cfg Config, reg prometheus.Registerer, ready *readiness) ([]component, error) {
	return nil, nil
}

// runCommand loads the configuration, then serves the admin endpoints and
// runs the components until SIGINT or SIGTERM.
func runCommand(ctx context.Context, env envconfig.Lookuper, stderr io.Writer) int {
	cfg, err := Load(ctx, env)
	if err != nil {
		fmt.Fprintf(stderr, "lockstep run: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	log, err := newLogger(stderr, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "lockstep run: %v\n", err)
		return exitUsage
	}
	slog.SetDefault(log)
	if err := run(ctx, cfg, log, components); err != nil {
		log.Error("lockstep stopped with an error", "err", err)
		return exitFailed
	}
	return exitOK
}

// buildFunc is the signature of components, a parameter of run for tests.
type buildFunc func(ctx context.Context, cfg Config, reg prometheus.Registerer, ready *readiness) ([]component, error)

// run is the process proper, separated from flag and config handling: it
// serves the admin endpoints and runs what build returns until the signal or
// the first component error.
func run(ctx context.Context, cfg Config, log *slog.Logger, build buildFunc) error {
	sigCtx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Components see ctx, cancelled only after the shutdown is logged, so the
	// log reads in order.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-sigCtx.Done():
		case <-ctx.Done():
			return
		}
		log.Info("shutting down", "cause", context.Cause(sigCtx))
		// Restore default signal handling: a second Ctrl-C kills a
		// shutdown that hangs.
		stop()
		cancel(context.Cause(sigCtx))
	}()

	log.Info("lockstep starting",
		"version", version, "go", runtime.Version(),
		"kafka", cfg.Kafka, "schema_registry", registryName(cfg.SchemaRegistryURL),
		"state_dir", cfg.StateDir, "clickhouse", cfg.ClickHouse)
	warnRisky(log, cfg)

	reg := admin.NewRegistry()
	ready := admin.NewReadiness(reg)
	srv, err := admin.Listen(cfg.AdminAddr, reg, ready, log)
	if err != nil {
		return err
	}
	comps, err := build(ctx, cfg, reg, ready)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("build components: %w", err)
	}
	if len(comps) == 0 {
		log.Info("no processors are enabled yet; serving the admin endpoints only")
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(gctx) })
	for _, c := range comps {
		g.Go(func() error { return c.Run(gctx) })
	}
	err = g.Wait()
	// A component that returns ctx.Err() on shutdown has not failed.
	if err != nil && !(ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		return err
	}
	log.Info("lockstep stopped")
	return nil
}

func registryName(url string) string {
	if url == "" {
		return "embedded"
	}
	return url
}

// warnRisky logs settings that are valid but unsafe outside a laptop.
func warnRisky(log *slog.Logger, cfg Config) {
	k := cfg.Kafka
	if k.SASL.Mechanism != "" && !k.TLS.Enabled {
		log.Warn("Kafka SASL credentials travel without TLS; set LOCKSTEP_KAFKA_TLS_ENABLED=true unless the network is private",
			"mechanism", k.SASL.Mechanism)
	}
	if k.TLS.InsecureSkipVerify {
		log.Warn("Kafka broker certificates are not verified (LOCKSTEP_KAFKA_TLS_INSECURE_SKIP_VERIFY=true)")
	}
}
