package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-envconfig"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
)

const simUsage = `lockstep sim: run a simulator of one of the two systems, for ` + "`lockstep run`" + ` to
talk to, with its /_sim/ control API (state, events, faults, scenario).

Usage:
  lockstep sim clarus [--addr HOST:PORT] [--seed N] [--skus N --warehouses N --rate R]
  lockstep sim prima  [--addr HOST:PORT] [--seed N] [--items N]

Settings come from LOCKSTEP_SIM_CLARUS_* and LOCKSTEP_SIM_PRIMA_* (e.g.
LOCKSTEP_SIM_CLARUS_CLIENT_SECRET, LOCKSTEP_SIM_CLARUS_WEBHOOK_URL); flags win.
`

// simCommand runs `lockstep sim clarus|prima` until SIGINT/SIGTERM.
func simCommand(ctx context.Context, args []string, env envconfig.Lookuper, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "clarus" && args[0] != "prima") {
		fmt.Fprint(stderr, simUsage)
		return exitUsage
	}
	which := args[0]
	fs := flag.NewFlagSet("lockstep sim "+which, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "listen address (default from the environment: 127.0.0.1:8081 for clarus, 127.0.0.1:8082 for prima)")
	seed := fs.Uint64("seed", 0, "seed of faults and of the scenario (0: from the environment)")
	skus := fs.Int("skus", 0, "clarus: start a scenario over this many products (0: none)")
	warehouses := fs.Int("warehouses", 3, "clarus: warehouses of the scenario")
	rate := fs.Float64("rate", 0, "clarus: scenario movements per second")
	items := fs.Int("items", 0, "prima: seed the item master with this many items mapped to the clarus scenario's products")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("sim", which)
	var err error
	switch which {
	case "clarus":
		err = runClarusSim(ctx, env, log, *addr, *seed, clarussim.Scenario{SKUs: *skus, Warehouses: *warehouses, MovementsPerSecond: *rate})
	case "prima":
		err = runPrimaSim(ctx, env, log, *addr, *seed, *items)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lockstep sim %s: %v\n", which, err)
		return exitFailed
	}
	return exitOK
}

func runClarusSim(ctx context.Context, env envconfig.Lookuper, log *slog.Logger, addr string, seed uint64, sc clarussim.Scenario) error {
	var cfg clarussim.Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &cfg, Lookuper: envconfig.PrefixLookuper("LOCKSTEP_SIM_CLARUS_", env)}); err != nil {
		return err
	}
	if addr != "" {
		cfg.Addr = addr
	}
	if seed != 0 {
		cfg.Seed = seed
	}
	sim, err := clarussim.New(cfg, clarussim.WithLogger(log))
	if err != nil {
		return err
	}
	if sc.SKUs > 0 {
		sc.Seed = cfg.Seed
		if _, err := sim.StartScenario(sc); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	log.Info("clarus simulator listening", "addr", ln.Addr().String(), "subdomain", cfg.Subdomain, "scenario_skus", sc.SKUs, "rate", sc.MovementsPerSecond)
	return sim.ServeListener(ctx, ln)
}

func runPrimaSim(ctx context.Context, env envconfig.Lookuper, log *slog.Logger, addr string, seed uint64, items int) error {
	var opts primasim.Options
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &opts, Lookuper: envconfig.PrefixLookuper("LOCKSTEP_SIM_PRIMA_", env)}); err != nil {
		return err
	}
	if seed != 0 {
		opts.Seed = seed
	}
	if addr == "" {
		addr = "127.0.0.1:8082"
		if v, ok := env.Lookup("LOCKSTEP_SIM_PRIMA_ADDR"); ok && v != "" {
			addr = v
		}
	}
	opts.Logger = log
	s := primasim.New(opts)
	if items > 0 {
		if _, err := s.RunScenario(primasim.Scenario{Seed: opts.Seed, Items: items}); err != nil {
			return err
		}
	}
	return s.Serve(ctx, addr)
}
