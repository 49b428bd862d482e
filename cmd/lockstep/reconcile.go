package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/analytics/reconcile"
)

// The exit codes of `lockstep reconcile`, for scripts and cron: whether the
// day balanced, not only whether the command worked.
const (
	reconcileBalanced      = 0
	reconcileDiscrepancies = 1
	reconcileError         = 2
)

const reconcileUsage = `Usage: lockstep reconcile --date YYYY-MM-DD [--out DIR]

Reconciles one UTC day: Clarus shipments against Prima despatch notes, per
shipment and Prima SKU, over the drift ledger's fact tables in ClickHouse
(LOCKSTEP_CLICKHOUSE_*). Applies the ledger's migrations first, records the
run in reconciliation_runs and reconciliation_lines, writes
reconciliation-DAY.csv and reconciliation-DAY.html to DIR, and prints a
summary.

Exit status: 0 balanced, 1 discrepancies found, 2 error.

Flags:
`

// reconcileCommand runs `lockstep reconcile`.
func reconcileCommand(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lockstep reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, reconcileUsage); fs.PrintDefaults() }
	date := fs.String("date", "", "the UTC day to reconcile, YYYY-MM-DD (required)")
	out := fs.String("out", ".", "directory for the CSV and HTML report")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return reconcileBalanced
		}
		return reconcileError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lockstep reconcile: unexpected arguments %q\n", fs.Args())
		return reconcileError
	}
	day, err := time.Parse(time.DateOnly, *date)
	if err != nil {
		fmt.Fprintf(stderr, "lockstep reconcile: --date %q: want a day as YYYY-MM-DD\n", *date)
		return reconcileError
	}
	dir, err := filepath.Abs(*out)
	if err != nil {
		fmt.Fprintf(stderr, "lockstep reconcile: --out %q: %v\n", *out, err)
		return reconcileError
	}
	cfg, err := Load(ctx, env)
	if err != nil {
		fmt.Fprintf(stderr, "lockstep reconcile: invalid configuration:\n%v\n", err)
		return reconcileError
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	chCfg := ledgerConfig(cfg.ClickHouse)
	conn, err := analytics.Open(ctx, chCfg)
	if err != nil {
		fmt.Fprintf(stderr, "lockstep reconcile: %v\n", err)
		return reconcileError
	}
	defer conn.Close()
	if _, err := analytics.Migrate(ctx, conn); err != nil {
		fmt.Fprintf(stderr, "lockstep reconcile: %s: %v\n", chCfg, err)
		return reconcileError
	}
	// The summary below says what the log line would.
	// The orders flow's non-stock patterns: what it keeps in Prima is not
	// compared with what Clarus shipped.
	r, err := reconcile.Run(ctx, conn, day, reconcile.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler),
		Rules: reconcile.Rules{NonStockSKUs: cfg.Orders.NonStockSKUs}})
	if err != nil {
		fmt.Fprintf(stderr, "lockstep reconcile: %s: %v\n", day.Format(time.DateOnly), err)
		return reconcileError
	}
	printReconciliation(stdout, r)
	if !r.Balanced {
		return reconcileDiscrepancies
	}
	return reconcileBalanced
}

// printReconciliation is the run's summary for a terminal or a cron mail.
func printReconciliation(w io.Writer, r *reconcile.Report) {
	fmt.Fprintf(w, "Reconciliation of %s (run %s)\n", r.Day.Format(time.DateOnly), r.RunID)
	fmt.Fprintf(w, "  Clarus shipments:      %6d  units %d\n", r.Shipments, r.ShippedUnits)
	fmt.Fprintf(w, "  Prima despatch notes:  %6d  units %d\n", r.Notes, r.NotedUnits)
	for _, m := range r.Money {
		fmt.Fprintf(w, "  value %s: shipped %s, on notes %s, net difference %s\n",
			m.Currency, m.Shipped.StringFixed(4), m.Noted.StringFixed(4), m.Net.StringFixed(4))
	}
	if r.NonStockUnits > 0 {
		fmt.Fprintf(w, "  non-stock units on the notes (shipping, fees; not compared): %d\n", r.NonStockUnits)
	}
	if r.UnmappedUnits > 0 {
		fmt.Fprintf(w, "  shipped units without a Prima SKU: %d\n", r.UnmappedUnits)
	}
	complete := "complete"
	if !r.Complete {
		complete = "INCOMPLETE: the feeds have not reached the end of the day"
	}
	fmt.Fprintf(w, "  watermark %s UTC (%s)\n", r.Watermark.UTC().Format(time.DateTime), complete)
	if len(r.Unaccounted) == 0 {
		fmt.Fprintln(w, "  every shipment dispatched before the watermark has a despatch note or an open drift row: holds")
	} else {
		fmt.Fprintf(w, "  every shipment dispatched before the watermark has a despatch note or an open drift row: BROKEN by %d: %s\n",
			len(r.Unaccounted), strings.Join(r.Unaccounted, ", "))
	}
	if r.Balanced {
		fmt.Fprintln(w, "BALANCED")
	} else {
		counts := map[string]int{}
		var kinds []string
		for _, l := range r.Lines {
			if counts[l.Kind] == 0 {
				kinds = append(kinds, l.Kind)
			}
			counts[l.Kind]++
		}
		var parts []string
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
		fmt.Fprintf(w, "NOT BALANCED: %d discrepancies (%s)\n", len(r.Lines), strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "csv:  %s\nhtml: %s\n", r.CSVPath, r.HTMLPath)
}
