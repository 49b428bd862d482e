package reconcile

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// CSVHeader is the first row of the CSV file: one row per discrepancy line
// follows, in the report's order.
var CSVHeader = []string{
	"run_id", "day", "kind", "owner", "shipment_id", "note_reference", "note_ids", "order_ref", "warehouse",
	"prima_sku", "clarus_code", "shipped_qty", "noted_qty", "delta_qty", "unit_cost", "value", "currency", "detail",
}

// WriteCSV writes r's lines as CSV (RFC 4180, comma separated, a header
// row). Quantities are integers, money has four decimals and no grouping,
// and an absent cost or value is empty. Text that a spreadsheet would run as
// a formula (=, +, -, @ first) is prefixed with ', since references come
// from people typing into Prima.
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	day := r.Day.Format(time.DateOnly)
	for _, l := range r.Lines {
		rec := []string{
			text(r.RunID), day, l.Kind, l.Owner, text(l.ShipmentID), text(l.NoteReference), text(strings.Join(l.NoteIDs, " ")),
			text(l.OrderRef), text(l.Warehouse), text(l.SKU), text(l.ClarusCode),
			strconv.FormatInt(l.ShippedQty, 10), strconv.FormatInt(l.NotedQty, 10), strconv.FormatInt(l.DeltaQty, 10),
			amount(l.UnitCost), amount(l.Value), text(l.Currency), text(l.Detail),
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// text defuses a cell that a spreadsheet would read as a formula.
func text(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func amount(d *decimal.Decimal) string {
	if d == nil {
		return ""
	}
	return d.StringFixed(4)
}

// writer is where a report file is written.
type writer = io.Writer

// writeFile writes path through a temporary file in the same directory and
// renames it into place, so that a reader (a browser, a mail job) never
// sees half a report.
func writeFile(path string, write func(w writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".reconciliation-*")
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename, there is nothing to remove
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("reconcile: write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("reconcile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("reconcile: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	return nil
}
