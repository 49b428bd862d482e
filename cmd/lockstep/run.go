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
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sethvargo/go-envconfig"
	"golang.org/x/sync/errgroup"

	"github.com/lockstep-dev/lockstep/cmd/lockstep/internal/admin"
	"github.com/lockstep-dev/lockstep/cmd/lockstep/internal/flows"
	"github.com/lockstep-dev/lockstep/schemas"
)

// component is a long-running part of the process: a processor, a source, a
// sink. Run blocks until ctx is cancelled and then returns nil; an error
// stops the whole process, so only unrecoverable errors should return one.
type component interface {
	Run(ctx context.Context) error
}

// runFunc adapts a flow component's Run to component.
type runFunc func(ctx context.Context) error

func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

// readiness is what components report readiness to.
type readiness = admin.Readiness

// components builds the process's components from the configuration: it
// creates the topics (one place, with their policies), opens the schema
// registry (a real one, or the embedded one on the same cluster) and wires
// the flows named in LOCKSTEP_FLOWS through the flow registry. cleanup
// closes what is shared by the components, after they have all stopped.
func components(ctx context.Context, cfg Config, reg prometheus.Registerer, ready *readiness) ([]component, func(), error) {
	kopts, err := cfg.Kafka.Opts()
	if err != nil {
		return nil, nil, err
	}
	if err := ensureTopics(ctx, cfg, kopts); err != nil {
		return nil, nil, err
	}
	serde, closeRegistry, err := openSerde(ctx, cfg, kopts)
	if err != nil {
		return nil, nil, err
	}
	deps := &flows.Deps{
		Kafka: kopts, TopicPrefix: cfg.Kafka.TopicPrefix, Serde: serde, Registerer: reg,
		Ready: ready.Add, Logger: slog.Default(), StateDir: cfg.StateDir,
		Settings: flowSettings(cfg),
	}
	fcs, err := flows.Build(cfg.Flows, deps)
	if err != nil {
		closeRegistry()
		return nil, nil, err
	}
	comps := make([]component, len(fcs))
	for i, c := range fcs {
		comps[i] = runFunc(c.Run)
	}
	return comps, closeRegistry, nil
}

// flowSettings is the flows' part of the configuration.
func flowSettings(cfg Config) flows.Settings {
	return flows.Settings{
		Clarus: cfg.Clarus, Prima: cfg.Prima, Stock: cfg.Stock, Orders: cfg.Orders, Fulfilment: cfg.Fulfilment, Inbound: cfg.Inbound, Webhook: cfg.Webhook,
		InstanceID: cfg.InstanceID,
		Store:      cfg.State.Options(),
		Ledger:     flows.LedgerConfig{Enabled: cfg.LedgerEnabled, Conn: ledgerConfig(cfg.ClickHouse), Reconcile: cfg.Reconcile},
	}
}

func ensureTopics(ctx context.Context, cfg Config, kopts []kgo.Opt) error {
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return flows.EnsureTopics(ctx, cl, flows.TopicOptions{
		Prefix: cfg.Kafka.TopicPrefix, Partitions: cfg.Kafka.Partitions, Replication: cfg.Kafka.ReplicationFactor,
	})
}

// openSerde connects to the configured schema registry, or starts the
// embedded one, which keeps its schemas in the cluster's _schemas topic.
func openSerde(ctx context.Context, cfg Config, kopts []kgo.Opt) (*schemas.Serde, func(), error) {
	if cfg.SchemaRegistryURL != "" {
		rc, err := schemas.NewRegistryClient(sr.URLs(cfg.SchemaRegistryURL))
		if err != nil {
			return nil, nil, err
		}
		return schemas.NewSerde(rc), func() {}, nil
	}
	r, err := schemas.NewEmbeddedRegistry(ctx, kopts...)
	if err != nil {
		return nil, nil, err
	}
	slog.Default().Info("embedded schema registry", "url", r.URL())
	return schemas.NewSerde(r), r.Close, nil
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
type buildFunc func(ctx context.Context, cfg Config, reg prometheus.Registerer, ready *readiness) ([]component, func(), error)

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

	// The whole configuration, secrets and URL credentials removed
	// (Config.LogValue), so a support question starts from what ran.
	log.Info("lockstep starting", "version", version, "go", runtime.Version(), "config", cfg)
	warnRisky(log, cfg)

	reg := admin.NewRegistry()
	ready := admin.NewReadiness(reg)
	srv, err := admin.Listen(cfg.AdminAddr, reg, ready, log)
	if err != nil {
		return err
	}
	comps, cleanup, err := build(ctx, cfg, reg, ready)
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("build components: %w", err)
	}
	if cleanup != nil {
		defer cleanup()
	}
	if len(comps) == 0 {
		log.Warn("no component to run: /readyz stays 503", "flows", cfg.Flows)
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
	if cfg.PrimaAllowPlainHTTPAuth {
		log.Warn("Prima basic-auth credentials may travel over plain http (LOCKSTEP_PRIMA_ALLOW_PLAIN_HTTP_AUTH=true); use https unless the network is private")
	}
}
