package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
)

const insertLines = `INSERT INTO reconciliation_lines (
    run_id, day, line_no, kind, owner, shipment_id, note_reference, note_ids, order_ref, warehouse,
    sku, clarus_code, shipped_qty, noted_qty, delta_qty, unit_cost, value_delta, currency, detail)`

const insertRun = `INSERT INTO reconciliation_runs (
    run_id, day, started_at, finished_at, watermark, complete, shipments, notes, other_day_notes,
    shipped_units, noted_units, unmapped_units, non_stock_units, currencies, shipped_value, noted_value, discrepancy_value,
    discrepancies, completeness_breaks, balanced)`

// store writes the report's lines, then its run row: a run row is written
// last, so that one that exists has all its lines, and a run that failed
// half-way is run again by the scheduler (its partial lines belong to a
// run id that no run row names).
func store(ctx context.Context, conn driver.Conn, r *Report) error {
	if len(r.Lines) > 0 {
		batch, err := conn.PrepareBatch(ctx, insertLines)
		if err != nil {
			return fmt.Errorf("reconcile: insert lines: %w", err)
		}
		for i, l := range r.Lines {
			noteIDs := l.NoteIDs
			if noteIDs == nil {
				noteIDs = []string{}
			}
			if err := batch.Append(r.RunID, r.Day, uint32(i+1), l.Kind, l.Owner, l.ShipmentID, l.NoteReference, noteIDs,
				l.OrderRef, l.Warehouse, l.SKU, l.ClarusCode, l.ShippedQty, l.NotedQty, l.DeltaQty,
				l.UnitCost, l.Value, l.Currency, l.Detail); err != nil {
				batch.Abort()
				return fmt.Errorf("reconcile: insert line %d: %w", i+1, err)
			}
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("reconcile: insert %d lines: %w", len(r.Lines), err)
		}
	}
	currencies := []string{}
	var shipped, noted, net []decimal.Decimal
	for _, m := range r.Money {
		currencies = append(currencies, m.Currency)
		shipped, noted, net = append(shipped, m.Shipped), append(noted, m.Noted), append(net, m.Net)
	}
	batch, err := conn.PrepareBatch(ctx, insertRun)
	if err != nil {
		return fmt.Errorf("reconcile: insert run: %w", err)
	}
	if err := batch.Append(r.RunID, r.Day, sec(r.StartedAt), sec(r.FinishedAt), sec(r.Watermark), flag(r.Complete),
		uint32(r.Shipments), uint32(r.Notes), uint32(r.OtherDayNotes), r.ShippedUnits, r.NotedUnits, r.UnmappedUnits,
		r.NonStockUnits, currencies, orEmpty(shipped), orEmpty(noted), orEmpty(net),
		uint32(len(r.Lines)), uint32(len(r.Unaccounted)), flag(r.Balanced)); err != nil {
		batch.Abort()
		return fmt.Errorf("reconcile: insert run %s: %w", r.RunID, err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("reconcile: insert run %s: %w", r.RunID, err)
	}
	return nil
}

// HasRun reports whether day (00:00 UTC) has a finished reconciliation run.
func HasRun(ctx context.Context, conn driver.Conn, day time.Time) (bool, error) {
	var n uint64
	// A date string, not a time: toDate of a DateTime uses the server's
	// time zone.
	if err := conn.QueryRow(ctx, "SELECT count() FROM reconciliation_runs WHERE day = toDate(?)",
		day.Format(time.DateOnly)).Scan(&n); err != nil {
		return false, fmt.Errorf("reconcile: look for a run of %s: %w", day.Format(time.DateOnly), err)
	}
	return n > 0, nil
}

func sec(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func orEmpty(ds []decimal.Decimal) []decimal.Decimal {
	if ds == nil {
		return []decimal.Decimal{}
	}
	return ds
}
