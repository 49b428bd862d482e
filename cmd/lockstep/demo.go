package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/cmd/lockstep/internal/demo"
)

const demoUsage = `lockstep demo: the stock flow end to end, with nothing to install.

It starts an embedded Kafka (franz-go's kfake, persisted under DIR/kafka), an
embedded schema registry, the Clarus and Prima simulators and every stock
component; the ledger goes to ClickHouse when deploy/local/clickhouse.sh can
start it (or one answers at LOCKSTEP_CLICKHOUSE_ADDR), else the demo runs
without it and says so. Clarus traffic runs for --for, then lockstep catches
up, a few Prima levels are overwritten by hand, and the checks compare the
simulators' ground truth with lockstep's view. Exit status 1 if a check
fails.

Flags:
`

// demoCommand runs `lockstep demo`.
func demoCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lockstep demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, demoUsage); fs.PrintDefaults() }
	dur := fs.Duration("for", 30*time.Second, "how long Clarus traffic runs")
	asJSON := fs.Bool("json", false, "print the summary as JSON (progress goes to stderr)")
	dir := fs.String("dir", ".data/demo", "where the embedded Kafka and the state live (wiped at start)")
	skus := fs.Int("skus", 200, "Clarus products in the scenario")
	warehouses := fs.Int("warehouses", 3, "warehouses in the scenario")
	rate := fs.Float64("rate", 200, "Clarus movements per second")
	nOrders := fs.Int("orders", 500, "Prima sales orders released after the stock traffic (some with non-stock lines, unmapped SKUs, amendments, cancellations)")
	perOrder := fs.Float64("shipments-per-order", 2, "after the orders, Clarus ships each goods-out in 1 to 2n-1 shipments (0: no fulfilment phase)")
	dropDespatch := fs.Float64("drop-despatch", 0.03, "fraction of shipments whose despatch post Prima drops silently, each to be flagged missing_despatch")
	nPOs := fs.Int("pos", 200, "Prima purchase orders approved after the fulfilment phase, received in Clarus in 1 to 4 deliveries each (3% followed by a delivery without a PO's reference, 2% over-received, 1% with a product not on the PO)")
	inject := fs.Int("inject", 3, "Prima levels overwritten by hand, each to be flagged as stock_parity drift")
	seed := fs.Uint64("seed", 1, "seed of the scenario and the injected drift")
	noLedger := fs.Bool("no-ledger", false, "run without ClickHouse even if it is available")
	verbose := fs.Bool("v", false, "log every component's lines to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	logOut := io.Discard
	if *verbose {
		logOut = stderr
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	progress := stdout
	if *asJSON {
		progress = stderr
	}
	if err := os.RemoveAll(*dir); err != nil {
		fmt.Fprintf(stderr, "lockstep demo: %v\n", err)
		return exitFailed
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(filepath.Join(*dir, "kafka")),
		kfake.SeedTopics(-1, "_schemas"))
	if err != nil {
		fmt.Fprintf(stderr, "lockstep demo: embedded Kafka: %v\n", err)
		return exitFailed
	}
	defer cluster.Close()

	o := demo.Options{
		Kafka: []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}, StateDir: filepath.Join(*dir, "state"),
		Seed: *seed, SKUs: *skus, Warehouses: *warehouses, Rate: *rate, For: *dur, Injected: *inject, Orders: *nOrders,
		ShipmentsPerOrder: *perOrder, DropDespatch: *dropDespatch,
		POs: *nPOs, OrphanReceipts: 0.03, OverReceipts: 0.02, WrongSKUReceipts: 0.01, WrongWarehouseReceipts: 0.01,
		Progress: progress, Logger: log, Settle: 90 * time.Second,
		ReportDir: filepath.Join(*dir, "reconciliation"),
	}
	if !*noLedger {
		o.Ledger = demoLedger(ctx, progress)
	}
	fmt.Fprintf(progress, "lockstep demo: embedded Kafka at %v, Clarus traffic for %s at %.0f movements/s over %d SKUs x %d warehouses\n",
		cluster.ListenAddrs(), *dur, *rate, *skus, *warehouses)
	sum, err := demo.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "lockstep demo: %v\n", err)
		return exitFailed
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(sum)
	} else {
		printSummary(stdout, sum)
	}
	if !sum.OK() {
		return exitFailed
	}
	return exitOK
}

// demoLedger finds a ClickHouse for the demo's ledger: the configured one
// if it answers, else the local one deploy/local/clickhouse.sh starts. The
// demo's database is recreated, so every run's ledger is its own.
func demoLedger(ctx context.Context, out io.Writer) *analytics.Config {
	cfg := analytics.Config{Addr: os.Getenv("LOCKSTEP_CLICKHOUSE_ADDR"), Database: "lockstep_demo", DialTimeout: 2 * time.Second}
	try := func() bool {
		conn, err := analytics.Open(ctx, cfg)
		if err != nil {
			return false
		}
		defer conn.Close()
		return conn.Exec(ctx, "DROP DATABASE IF EXISTS lockstep_demo") == nil && conn.Exec(ctx, "CREATE DATABASE lockstep_demo") == nil
	}
	if try() {
		fmt.Fprintf(out, "ledger: ClickHouse at %s, database lockstep_demo\n", cfg)
		return &cfg
	}
	if _, err := os.Stat("deploy/local/clickhouse.sh"); err == nil {
		fmt.Fprintln(out, "ledger: starting ClickHouse with deploy/local/clickhouse.sh ...")
		sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(sctx, "deploy/local/clickhouse.sh", "start")
		if cmd.Run() == nil && try() {
			fmt.Fprintf(out, "ledger: ClickHouse at %s, database lockstep_demo\n", cfg)
			return &cfg
		}
	}
	fmt.Fprintln(out, "ledger: no ClickHouse (deploy/local/clickhouse.sh could not start one): running without the ledger; drift stays on lockstep.drift")
	return nil
}

func printSummary(w io.Writer, s demo.Summary) {
	fmt.Fprintf(w, "\nsummary (%s): %d Clarus movements, %d stock commands, %d batches applied by Prima, %d restarts\n",
		s.Duration, s.Movements, s.CommandBatches, s.Batches, s.Kills)
	if s.CaughtUp != "" {
		// No movements/s here: the demo's traffic runs at --rate for --for.
		fmt.Fprintf(w, "caught up: Prima equalled Clarus %s after traffic started\n", s.CaughtUp)
	} else {
		fmt.Fprintln(w, "caught up: not within the settle window")
	}
	if s.Orders > 0 {
		fmt.Fprintf(w, "orders: %d released, each in Clarus or held after %s\n", s.Orders, or(s.OrdersSentIn, "(not within the settle window)"))
	}
	if s.Shipments > 0 {
		fmt.Fprintf(w, "fulfilment: %d shipments, each with its Prima despatch note (or flagged) after %s\n", s.Shipments, or(s.ShipmentsNotedIn, "(not within the settle window)"))
	}
	if s.POs > 0 {
		fmt.Fprintf(w, "inbound: %d purchase orders, %d receipts, each matched or flagged as expected after %s\n", s.POs, s.Receipts, or(s.ReceiptsMatchedIn, "(not within the settle window)"))
	}
	fmt.Fprintf(w, "drift events by kind: %v; injected: %v\n", s.Drift, s.InjectedDrift)
	if s.Ledger {
		fmt.Fprintf(w, "ledger: %d distinct drift events in ClickHouse\n", s.LedgerRows)
		for _, r := range s.ReconciliationReports {
			fmt.Fprintf(w, "reconciliation: %d discrepancy lines (the dropped despatch notes and the shipments of orders lockstep never sent); report %s\n",
				s.ReconciliationLines, r)
		}
	} else {
		fmt.Fprintln(w, "ledger: off")
	}
	for _, name := range slices.Sorted(maps.Keys(s.Checks)) {
		mark := "ok  "
		if !s.Checks[name] {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s %s\n", mark, name)
	}
	for _, f := range s.Failures {
		fmt.Fprintf(w, "  - %s\n", f)
	}
	for _, f := range s.PushFailures {
		fmt.Fprintf(w, "  push failed: %s\n", f)
	}
}

func or(s, otherwise string) string {
	if s != "" {
		return s
	}
	return otherwise
}
