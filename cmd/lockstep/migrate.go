package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-envconfig"

	"github.com/lockstep-dev/lockstep/analytics"
)

// migrateCommand brings the drift ledger's schema up to date: it connects
// to the configured ClickHouse (creating the database if missing), applies
// the migrations it lacks and prints each one applied, or "up to date".
func migrateCommand(ctx context.Context, env envconfig.Lookuper, stdout, stderr io.Writer) int {
	cfg, err := Load(ctx, env)
	if err != nil {
		fmt.Fprintf(stderr, "lockstep migrate: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	chCfg := ledgerConfig(cfg.ClickHouse)
	conn, err := analytics.Open(ctx, chCfg)
	if err != nil {
		fmt.Fprintf(stderr, "lockstep migrate: %v\n", err)
		return exitFailed
	}
	defer conn.Close()
	applied, err := analytics.Migrate(ctx, conn)
	for _, name := range applied {
		fmt.Fprintf(stdout, "applied %s\n", name)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lockstep migrate: %s: %v\n", chCfg, err)
		return exitFailed
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "%s: up to date\n", chCfg)
	} else {
		fmt.Fprintf(stdout, "%s: %d migration(s) applied\n", chCfg, len(applied))
	}
	return exitOK
}

// ledgerConfig is the analytics package's view of the ClickHouse settings.
func ledgerConfig(c ClickHouseConfig) analytics.Config {
	return analytics.Config{Addr: c.Addr, Database: c.Database, Username: c.Username, Password: c.Password}
}
