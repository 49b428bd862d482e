// Package reconcile is the daily reconciliation of Clarus shipments against Prima despatch notes, over the ledger's fact tables.
//
// For one UTC day, every confirmed shipment dispatched that day is compared,
// per Prima SKU, with the created despatch notes whose reference is its
// shipment id (made that day or later), and every note made that day whose
// reference is no shipment is reported. Clarus codes become Prima SKUs
// through the item master; a code without one is itself a discrepancy line.
// Non-stock lines on the notes (shipping, fees), which Clarus never ships,
// are counted but not compared.
// Lines are valued at the SKU's unit cost, per currency. A run writes its
// lines and one run row to ClickHouse (reconciliation_lines,
// reconciliation_runs) and, when asked, a CSV file and a self-contained
// HTML report for finance.
//
// Each run also states how far it can be trusted: the watermark T that both
// feeds have reached, and whether every shipment dispatched before T has a
// despatch note or an open missing_despatch / despatch_post_failed row in
// the drift ledger (missing_despatch, despatch_post_failed,
// shipment_without_order); the shipments that have neither are listed.
//
// Scheduler runs the previous day once it has closed, every day.
package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lockstep-dev/lockstep/connectors/clock"
)

// Options tune a run; the zero value writes no files and uses the wall
// clock.
type Options struct {
	// Dir receives reconciliation-DAY.csv and reconciliation-DAY.html,
	// replacing those of an earlier run of the day; "" writes no files.
	Dir string
	// Clock stamps the run's start and finish (default: the wall clock).
	Clock clock.Clock
	// RunID names the run (default: the day, the start time and a random
	// suffix).
	RunID string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Rules are the comparison's settings; pass the orders flow's
	// non-stock patterns.
	Rules Rules
}

// Report is a finished run: its identity, what it found, and where its
// files are.
type Report struct {
	Result
	RunID      string
	Day        time.Time // 00:00 UTC
	StartedAt  time.Time
	FinishedAt time.Time
	CSVPath    string // "" when Options.Dir was ""
	HTMLPath   string
}

// Day returns 00:00 UTC of t's calendar date in t's own location: the day
// that Run reconciles for t.
func Day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Run reconciles day (see Day) over conn, whose database analytics.Migrate
// has prepared: it loads the facts, compares them, writes the files to
// opts.Dir, then the lines and the run row. The report is returned only
// when everything was written.
func Run(ctx context.Context, conn driver.Conn, day time.Time, opts Options) (*Report, error) {
	if opts.Clock == nil {
		opts.Clock = clock.System()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := opts.Rules.Validate(); err != nil {
		return nil, err
	}
	day = Day(day)
	r := &Report{Day: day, RunID: opts.RunID, StartedAt: opts.Clock.Now().UTC()}
	if r.RunID == "" {
		r.RunID = newRunID(day, r.StartedAt)
	}
	facts, err := Load(ctx, conn, day)
	if err != nil {
		return nil, err
	}
	r.Result = Compare(facts, opts.Rules)
	if opts.Dir != "" {
		base := filepath.Join(opts.Dir, "reconciliation-"+day.Format(time.DateOnly))
		r.CSVPath, r.HTMLPath = base+".csv", base+".html"
		if err := writeFile(r.CSVPath, func(w writer) error { return WriteCSV(w, r) }); err != nil {
			return nil, err
		}
		if err := writeFile(r.HTMLPath, func(w writer) error { return WriteHTML(w, r) }); err != nil {
			return nil, err
		}
	}
	r.FinishedAt = opts.Clock.Now().UTC()
	if err := store(ctx, conn, r); err != nil {
		return nil, err
	}
	opts.Logger.Info("reconciliation finished", "day", day.Format(time.DateOnly), "run_id", r.RunID,
		"balanced", r.Balanced, "discrepancies", len(r.Lines), "shipments", r.Shipments, "notes", r.Notes,
		"watermark", r.Watermark, "complete", r.Complete, "unaccounted", len(r.Unaccounted),
		"csv", r.CSVPath, "html", r.HTMLPath)
	return r, nil
}

// newRunID is readable in a listing of runs and unique even for two runs of
// one day started in the same second.
func newRunID(day, started time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return fmt.Sprintf("%s/%s/%s", day.Format(time.DateOnly), started.Format("20060102T150405Z"), hex.EncodeToString(b[:]))
}
