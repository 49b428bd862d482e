package reconcile_test

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lockstep-dev/lockstep/analytics/analyticstest"
	"github.com/lockstep-dev/lockstep/analytics/reconcile"
	"github.com/lockstep-dev/lockstep/connectors/clock"
)

// show is a line as one comparable string:
// kind|shipment|reference|notes|sku|code|shipped|noted|delta|value|currency.
func show(l reconcile.Line) string {
	v := ""
	if l.Value != nil {
		v = l.Value.StringFixed(4)
	}
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%d|%d|%d|%s|%s", l.Kind, l.ShipmentID, l.NoteReference, strings.Join(l.NoteIDs, "+"),
		l.SKU, l.ClarusCode, l.ShippedQty, l.NotedQty, l.DeltaQty, v, l.Currency)
}

func showAll(ls []reconcile.Line) []string {
	out := []string{}
	for _, l := range ls {
		out = append(out, show(l))
	}
	return out
}

// money is a Result's money as "CUR shipped noted net" strings.
func money(r reconcile.Result) []string {
	out := []string{}
	for _, m := range r.Money {
		out = append(out, fmt.Sprintf("%s %s %s %s", m.Currency, m.Shipped.StringFixed(4), m.Noted.StringFixed(4), m.Net.StringFixed(4)))
	}
	return out
}

func run(t *testing.T, conn driver.Conn, d time.Time, opts reconcile.Options) *reconcile.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if opts.Clock == nil {
		opts.Clock = clock.NewFake(d.Add(25 * time.Hour))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := reconcile.Run(ctx, conn, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestBalancedDay: each shipment has its note, a shipment and a note were
// inserted twice (the ledger is at-least-once), one note came from both of
// its producers, the item master has an older version of a cost; the day
// balances, and the run is recorded.
func TestBalancedDay(t *testing.T) {
	conn, _ := analyticstest.Migrated(t)
	s := &seeder{t: t, conn: conn}
	s.items()
	rows := s.shipment("SH-01", "SO-1", "WH1", "confirmed", at("09:00"), "CL-A:2", "CL-B:1")
	s.insertShipments(rows) // a replayed copy
	s.note("DN-01", "SH-01", "SO-1", "lockstep", at("09:10"), "PR-A:2", "PR-B:1")
	s.note("DN-01", "SH-01", "SO-1", "prima", at("09:20"), "PR-A:2", "PR-B:1")
	s.note("DN-01", "SH-01", "SO-1", "prima", at("09:20"), "PR-A:2", "PR-B:1")
	s.shipment("SH-02", "SO-2", "WH2", "confirmed", at("11:00"), "CL-G:4")
	s.note("DN-02", "SH-02", "SO-2", "prima", at("11:30"), "PR-G:4")
	// The next day, so the feeds are past midnight.
	next := day.AddDate(0, 0, 1)
	s.shipment("SH-03", "SO-3", "WH1", "confirmed", atDay(next, "00:30"), "CL-A:1")
	s.note("DN-03", "SH-03", "SO-3", "prima", atDay(next, "00:40"), "PR-A:1")

	r := run(t, conn, day, reconcile.Options{RunID: "run-balanced"})
	if !r.Balanced || len(r.Lines) != 0 {
		t.Fatalf("not balanced: %q", showAll(r.Lines))
	}
	if r.Shipments != 2 || r.Notes != 2 || r.OtherDayNotes != 0 || r.ShippedUnits != 7 || r.NotedUnits != 7 || r.UnmappedUnits != 0 {
		t.Errorf("totals: %d shipments, %d notes (%d other days), units %d / %d, unmapped %d",
			r.Shipments, r.Notes, r.OtherDayNotes, r.ShippedUnits, r.NotedUnits, r.UnmappedUnits)
	}
	if got, want := money(r.Result), []string{"EUR 15.0000 15.0000 0.0000", "GBP 12.0000 12.0000 0.0000"}; !reflect.DeepEqual(got, want) {
		t.Errorf("money %q, want %q", got, want)
	}
	if want := []reconcile.WarehouseUnits{{"WH1", 3, 3}, {"WH2", 4, 4}}; !reflect.DeepEqual(r.Warehouses, want) {
		t.Errorf("warehouses %v, want %v", r.Warehouses, want)
	}
	if !r.Complete || !r.Watermark.Equal(next) || len(r.Unaccounted) != 0 {
		t.Errorf("completeness: watermark %v complete %v unaccounted %v", r.Watermark, r.Complete, r.Unaccounted)
	}
	ctx := context.Background()
	for d, want := range map[time.Time]bool{day: true, day.AddDate(0, 0, -1): false} {
		if got, err := reconcile.HasRun(ctx, conn, d); err != nil || got != want {
			t.Errorf("HasRun(%s) = %v, %v; want %v", d.Format(time.DateOnly), got, err, want)
		}
	}
	var balanced uint8
	var n uint32
	if err := conn.QueryRow(ctx, "SELECT balanced, discrepancies FROM reconciliation_runs FINAL WHERE run_id = 'run-balanced'").Scan(&balanced, &n); err != nil || balanced != 1 || n != 0 {
		t.Errorf("run row: balanced %d, discrepancies %d, %v", balanced, n, err)
	}
}

// seedDiscrepancies is a day with one of each problem, beside balanced
// shipments that must stay quiet.
func seedDiscrepancies(t *testing.T, conn driver.Conn) {
	s := &seeder{t: t, conn: conn}
	s.items()
	next, prev := day.AddDate(0, 0, 1), day.AddDate(0, 0, -1)
	// Balanced, the note from both producers.
	s.shipment("SH-01", "SO-1", "WH1", "confirmed", at("09:00"), "CL-A:2", "CL-B:1")
	s.note("DN-01", "SH-01", "SO-1", "lockstep", at("09:10"), "PR-A:2", "PR-B:1", "SHIP-STD:1")
	s.note("DN-01", "SH-01", "SO-1", "prima", at("09:20"), "PR-B:1", "SHIP-STD:1", "PR-A:2")
	// No note: the post failed, and an open drift row says so.
	s.shipment("SH-02", "SO-2", "WH1", "confirmed", at("09:30"), "CL-B:3")
	s.failedPost("SH-02", "SO-2", at("09:31"))
	s.drift("despatch_post_failed/SH-02", "despatch_post_failed", "open", "SH-02", "SO-2", at("09:32"))
	// A note made by hand, with no shipment.
	s.note("DN-03", "by hand: SO-3", "SO-3", "prima", at("14:00"), "PR-C:4")
	// Quantities differ: the acknowledgement had what lockstep asked for,
	// Prima's own later read has what the note holds.
	s.shipment("SH-04", "SO-4", "WH1", "confirmed", at("11:00"), "CL-A:5")
	s.note("DN-04", "SH-04", "SO-4", "lockstep", at("11:10"), "PR-A:5")
	s.note("DN-04", "SH-04", "SO-4", "prima", at("11:20"), "PR-A:4")
	// A Clarus code the item master does not know.
	s.shipment("SH-05", "SO-5", "WH1", "confirmed", at("11:30"), "CL-A:1", "CL-Q:2")
	s.note("DN-05", "SH-05", "SO-5", "prima", at("11:40"), "PR-A:1")
	// Partial shipments of one order: right in total, wrong per shipment.
	s.shipment("SH-06a", "SO-6", "WH1", "confirmed", at("12:00"), "CL-C:2")
	s.note("DN-06a", "SH-06a", "SO-6", "prima", at("12:10"), "PR-C:3")
	s.shipment("SH-06b", "SO-6", "WH1", "confirmed", at("12:30"), "CL-C:3")
	s.note("DN-06b", "SH-06b", "SO-6", "prima", at("12:40"), "PR-C:2")
	// Dispatched before midnight, noted after it: balanced.
	s.shipment("SH-07", "SO-7", "WH1", "confirmed", at("23:50"), "CL-B:1")
	s.note("DN-07", "SH-07", "SO-7", "prima", atDay(next, "00:10"), "PR-B:1")
	// Yesterday's shipment, today's note: reconciled with yesterday.
	s.shipment("SH-08", "SO-8", "WH1", "confirmed", atDay(prev, "22:00"), "CL-A:1")
	s.note("DN-08", "SH-08", "SO-8", "prima", at("00:05"), "PR-A:1")
	// Confirmed, then cancelled, yet noted.
	s.shipment("SH-09", "SO-9", "WH1", "confirmed", at("08:00"), "CL-A:1")
	s.shipment("SH-09", "SO-9", "WH1", "cancelled", at("08:30"))
	s.note("DN-09", "SH-09", "SO-9", "prima", at("09:00"), "PR-A:1")
	// No note and no drift row: breaks the completeness statement.
	s.shipment("SH-11", "SO-11", "WH1", "confirmed", at("10:00"), "CL-A:1")
	// No note; an older drift row names only the order.
	s.shipment("SH-12", "SO-12", "WH1", "confirmed", at("10:10"), "CL-C:2")
	s.drift("missing_despatch/SO-12", "missing_despatch", "open", "", "SO-12", at("10:45"))
	// No note; its drift row was resolved: breaks the statement.
	s.shipment("SH-13", "SO-13", "WH1", "confirmed", at("10:20"), "CL-A:1")
	s.drift("missing_despatch/SH-13", "missing_despatch", "open", "SH-13", "SO-13", at("10:55"))
	s.drift("missing_despatch/SH-13", "missing_despatch", "resolved", "SH-13", "SO-13", at("11:30"))
	// Another warehouse, another currency, balanced.
	s.shipment("SH-14", "SO-14", "WH2", "confirmed", at("13:00"), "CL-G:4")
	s.note("DN-14", "SH-14", "SO-14", "prima", at("13:10"), "PR-G:4")
	// Tomorrow: moves the shipment feed past midnight.
	s.shipment("SH-15", "SO-15", "WH1", "confirmed", atDay(next, "00:30"), "CL-A:1")
}

var wantDiscrepancies = []string{
	"missing_despatch|SH-02|||PR-B|CL-B|3|0|-3|-30.0000|EUR",
	"missing_despatch|SH-11|||PR-A|CL-A|1|0|-1|-2.5000|EUR",
	"missing_despatch|SH-12|||PR-C|CL-C|2|0|-2|-2.4690|EUR",
	"missing_despatch|SH-13|||PR-A|CL-A|1|0|-1|-2.5000|EUR",
	"despatch_mismatch|SH-04|SH-04|DN-04|PR-A|CL-A|5|4|-1|-2.5000|EUR",
	"despatch_mismatch|SH-06a|SH-06a|DN-06a|PR-C|CL-C|2|3|1|1.2345|EUR",
	"despatch_mismatch|SH-06b|SH-06b|DN-06b|PR-C|CL-C|3|2|-1|-1.2345|EUR",
	"despatch_without_shipment||SH-09|DN-09|PR-A|CL-A|0|1|1|2.5000|EUR",
	"despatch_without_shipment||by hand: SO-3|DN-03|PR-C|CL-C|0|4|4|4.9380|EUR",
	"sku_unmapped|SH-05||||CL-Q|2|0|0||",
}

func TestDiscrepancies(t *testing.T) {
	conn, _ := analyticstest.Migrated(t)
	seedDiscrepancies(t, conn)
	r := run(t, conn, day, reconcile.Options{RunID: "run-1", Dir: t.TempDir()})

	if got := showAll(r.Lines); !reflect.DeepEqual(got, wantDiscrepancies) {
		t.Errorf("lines:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(wantDiscrepancies, "\n     "))
	}
	if r.Balanced {
		t.Error("balanced, with discrepancies")
	}
	if r.Shipments != 11 || r.Notes != 9 || r.OtherDayNotes != 1 || r.ShippedUnits != 28 || r.NotedUnits != 23 ||
		r.UnmappedUnits != 2 || r.NonStockUnits != 1 {
		t.Errorf("totals: %d shipments, %d notes (%d other days), units %d / %d, unmapped %d, non-stock %d",
			r.Shipments, r.Notes, r.OtherDayNotes, r.ShippedUnits, r.NotedUnits, r.UnmappedUnits, r.NonStockUnits)
	}
	// Net = noted - shipped at cost: the unmapped units have no value.
	if got, want := money(r.Result), []string{"EUR 83.6415 51.1105 -32.5310", "GBP 12.0000 12.0000 0.0000"}; !reflect.DeepEqual(got, want) {
		t.Errorf("money %q, want %q", got, want)
	}
	if want := []reconcile.WarehouseUnits{{"", 0, 5}, {"WH1", 24, 14}, {"WH2", 4, 4}}; !reflect.DeepEqual(r.Warehouses, want) {
		t.Errorf("warehouses %v, want %v", r.Warehouses, want)
	}
	if !r.Complete || !r.Watermark.Equal(day.AddDate(0, 0, 1)) || !reflect.DeepEqual(r.Unaccounted, []string{"SH-11", "SH-13"}) {
		t.Errorf("completeness: watermark %v complete %v unaccounted %v", r.Watermark, r.Complete, r.Unaccounted)
	}
	checkStored(t, conn, r)
}

// checkStored reads the run back: its lines as the report has them, and
// its run row's totals.
func checkStored(t *testing.T, conn driver.Conn, r *reconcile.Report) {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT kind, shipment_id, note_reference, note_ids, sku, clarus_code,
	    shipped_qty, noted_qty, delta_qty, value_delta, currency FROM reconciliation_lines FINAL WHERE run_id = ? ORDER BY line_no`, r.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var stored []reconcile.Line
	for rows.Next() {
		var l reconcile.Line
		if err := rows.Scan(&l.Kind, &l.ShipmentID, &l.NoteReference, &l.NoteIDs, &l.SKU, &l.ClarusCode,
			&l.ShippedQty, &l.NotedQty, &l.DeltaQty, &l.Value, &l.Currency); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, l)
	}
	rows.Close()
	if got, want := showAll(stored), showAll(r.Lines); !reflect.DeepEqual(got, want) {
		t.Errorf("stored lines:\n got %q\nwant %q", got, want)
	}
	var (
		shipments, notes, discrepancies, breaks uint32
		shipped, noted                          int64
		currencies                              []string
		balanced, complete                      uint8
	)
	if err := conn.QueryRow(ctx, `SELECT shipments, notes, discrepancies, completeness_breaks, shipped_units, noted_units,
	    currencies, balanced, complete FROM reconciliation_runs FINAL WHERE run_id = ?`, r.RunID).Scan(
		&shipments, &notes, &discrepancies, &breaks, &shipped, &noted, &currencies, &balanced, &complete); err != nil {
		t.Fatal(err)
	}
	if int(shipments) != r.Shipments || int(notes) != r.Notes || int(discrepancies) != len(r.Lines) ||
		int(breaks) != len(r.Unaccounted) || shipped != r.ShippedUnits || noted != r.NotedUnits ||
		len(currencies) != len(r.Money) || (balanced == 1) != r.Balanced || (complete == 1) != r.Complete {
		t.Errorf("run row: %d shipments %d notes %d discrepancies %d breaks units %d/%d currencies %v balanced %d complete %d",
			shipments, notes, discrepancies, breaks, shipped, noted, currencies, balanced, complete)
	}
}

// TestIncompleteFeeds: the note feed has only reached 18:00, so the report
// says so, and only shipments before then can break the statement.
func TestIncompleteFeeds(t *testing.T) {
	conn, _ := analyticstest.Migrated(t)
	s := &seeder{t: t, conn: conn}
	s.items()
	s.shipment("SH-20", "SO-20", "WH1", "confirmed", at("17:00"), "CL-A:1")
	s.note("DN-20", "SH-20", "SO-20", "prima", at("18:00"), "PR-A:1")
	s.shipment("SH-21", "SO-21", "WH1", "confirmed", at("10:00"), "CL-A:1")
	s.shipment("SH-22", "SO-22", "WH1", "confirmed", at("19:00"), "CL-A:1")
	// An order lockstep never sent: no note by design, and a drift row
	// says so.
	s.shipment("SH-23", "WMS-23", "WH1", "confirmed", at("11:00"), "CL-A:1")
	s.drift("shipment_without_order/SH-23", "shipment_without_order", "open", "SH-23", "WMS-23", at("11:10"))

	r := run(t, conn, day, reconcile.Options{})
	if r.Complete || !r.Watermark.Equal(at("18:00")) {
		t.Errorf("watermark %v complete %v, want 18:00 and incomplete", r.Watermark, r.Complete)
	}
	if !reflect.DeepEqual(r.Unaccounted, []string{"SH-21"}) {
		t.Errorf("unaccounted %v, want SH-21 only (SH-22 is after the watermark, SH-23 has its drift row)", r.Unaccounted)
	}
	want := []string{"missing_despatch|SH-21|||PR-A|CL-A|1|0|-1|-2.5000|EUR", "missing_despatch|SH-22|||PR-A|CL-A|1|0|-1|-2.5000|EUR",
		"missing_despatch|SH-23|||PR-A|CL-A|1|0|-1|-2.5000|EUR"}
	if got := showAll(r.Lines); !reflect.DeepEqual(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	if !strings.HasPrefix(r.RunID, "2026-03-02/20260303T010000Z/") {
		t.Errorf("run id %q", r.RunID)
	}

	// An empty ledger reconciles too: nothing, and the feeds reached
	// nothing.
	empty, _ := analyticstest.Migrated(t)
	r = run(t, empty, day, reconcile.Options{})
	if !r.Balanced || r.Complete || r.Shipments != 0 || len(r.Money) != 0 {
		t.Errorf("empty ledger: %+v", r.Result)
	}
}
