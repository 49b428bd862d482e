package reconcile_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/analytics/analyticstest"
	"github.com/lockstep-dev/lockstep/analytics/reconcile"
)

// namedQuery runs an analytics named query and formats its rows: decimals
// with four places, times in UTC, slices with fmt.
func namedQuery(t *testing.T, conn driver.Conn, name string) [][]string {
	t.Helper()
	q, err := analytics.LookupQuery(name)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(context.Background(), q.SQL)
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, q.SQL)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		cols := rows.ColumnTypes()
		dest := make([]any, len(cols))
		for i, c := range cols {
			dest[i] = reflect.New(c.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		row := make([]string, len(dest))
		for i, d := range dest {
			v := reflect.ValueOf(d).Elem()
			if v.Kind() == reflect.Pointer {
				if v.IsNil() {
					row[i] = "NULL"
					continue
				}
				v = v.Elem()
			}
			switch x := v.Interface().(type) {
			case decimal.Decimal:
				row[i] = x.StringFixed(4)
			case []decimal.Decimal:
				var parts []string
				for _, d := range x {
					parts = append(parts, d.StringFixed(4))
				}
				row[i] = "[" + strings.Join(parts, " ") + "]"
			case time.Time:
				row[i] = x.UTC().Format(time.DateTime)
			default:
				row[i] = fmt.Sprint(x)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNamedQueries runs the reconciliation's finance queries over a
// reconciled day and over the shipments still without a note.
func TestNamedQueries(t *testing.T) {
	conn, _ := analyticstest.Migrated(t)
	seedDiscrepancies(t, conn)
	s := &seeder{t: t, conn: conn, offset: 1000}
	// Two days later: one code unmapped, one ambiguous (two active items).
	s.item("PR-M1", "CL-M", "1", "EUR", true, day)
	s.item("PR-M2", "CL-M", "1", "EUR", true, day)
	s.shipment("SH-30", "SO-30", "WH2", "confirmed", atDay(day.AddDate(0, 0, 2), "08:00"), "CL-A:1", "CL-Q:2", "CL-M:1")

	r := run(t, conn, day, reconcile.Options{RunID: "run-q"})
	got := namedQuery(t, conn, analytics.QueryReconciliationLatest)
	if len(got) != len(r.Lines) {
		t.Fatalf("%s: %d rows, want one per line (%d)", analytics.QueryReconciliationLatest, len(got), len(r.Lines))
	}
	for i, row := range got {
		// run_id, day, ..., discrepancies (8), breaks (9), currencies, values, line_no (12), kind, owner, shipment (15) ...
		l := r.Lines[i]
		value := "NULL"
		if l.Value != nil {
			value = l.Value.StringFixed(4)
		}
		want := []string{"run-q", "2026-03-02 00:00:00", "10", "2", "[EUR GBP]", "[-32.5310 0.0000]", fmt.Sprint(i + 1), l.Kind,
			l.ShipmentID, l.SKU, fmt.Sprint(l.DeltaQty), value}
		have := []string{row[0], row[1], row[8], row[9], row[10], row[11], row[12], row[13], row[15], row[19], row[23], row[24]}
		if !reflect.DeepEqual(have, want) {
			t.Errorf("row %d: %q, want %q", i+1, have, want)
		}
	}

	// A later day, balanced and empty, is now the latest: one row, no line.
	run(t, conn, day.AddDate(0, 0, 5), reconcile.Options{RunID: "run-later"})
	got = namedQuery(t, conn, analytics.QueryReconciliationLatest)
	if len(got) != 1 || got[0][0] != "run-later" || got[0][5] != "1" || got[0][12] != "0" {
		t.Errorf("%s after a balanced run: %q", analytics.QueryReconciliationLatest, got)
	}

	// shipment, order, warehouse, dispatched, currency, units, unmapped units, value
	wantUnbilled := [][]string{
		{"SH-02", "SO-2", "WH1", "2026-03-02 09:30:00", "EUR", "3", "0", "30.0000"},
		{"SH-11", "SO-11", "WH1", "2026-03-02 10:00:00", "EUR", "1", "0", "2.5000"},
		{"SH-12", "SO-12", "WH1", "2026-03-02 10:10:00", "EUR", "2", "0", "2.4690"},
		{"SH-13", "SO-13", "WH1", "2026-03-02 10:20:00", "EUR", "1", "0", "2.5000"},
		{"SH-15", "SO-15", "WH1", "2026-03-03 00:30:00", "EUR", "1", "0", "2.5000"},
		{"SH-30", "SO-30", "WH2", "2026-03-04 08:00:00", "", "3", "3", "0.0000"},
		{"SH-30", "SO-30", "WH2", "2026-03-04 08:00:00", "EUR", "1", "0", "2.5000"},
	}
	if got := namedQuery(t, conn, analytics.QueryUnbilledShipments); !reflect.DeepEqual(got, wantUnbilled) {
		t.Errorf("%s:\n got %q\nwant %q", analytics.QueryUnbilledShipments, got, wantUnbilled)
	}
	// The query agrees with the reconciliation on the day's missing notes.
	for _, l := range r.Lines {
		if l.Kind != reconcile.KindMissingDespatch {
			continue
		}
		found := false
		for _, u := range wantUnbilled {
			found = found || l.Value != nil && u[0] == l.ShipmentID && u[7] == l.Value.Neg().StringFixed(4)
		}
		if !found {
			t.Errorf("missing_despatch of %s (%s) is not among the unbilled shipments", l.ShipmentID, l.Value)
		}
	}
}
