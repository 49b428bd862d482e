package analytics_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/analytics/analyticstest"
)

func TestQueriesEmbedded(t *testing.T) {
	qs, err := analytics.Queries()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{analytics.QueryDriftDailySummary, analytics.QueryOpenDriftByOwner, analytics.QueryReceiptsWithoutPO,
		analytics.QueryReceivedAgainstPO, analytics.QueryReconciliationLatest, analytics.QueryStockParityValueByWarehouse,
		analytics.QueryUnbilledShipments}
	var got []string
	for _, q := range qs {
		got = append(got, q.Name)
		if len(q.Question) < 20 || !strings.HasSuffix(q.Question, "?") {
			t.Errorf("%s: question %q: want a sentence ending in '?'", q.Name, q.Question)
		}
		if !strings.HasPrefix(q.SQL, "SELECT") || strings.Contains(q.SQL, "--") || strings.HasSuffix(q.SQL, ";") {
			t.Errorf("%s: SQL not a bare SELECT:\n%s", q.Name, q.SQL)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("queries = %v, want %v", got, want)
	}
	q, err := analytics.LookupQuery(analytics.QueryOpenDriftByOwner)
	if err != nil || q.Question != "which discrepancies are still open, per owning team and kind, and what are they worth?" {
		t.Fatalf("LookupQuery = %+v, %v", q, err)
	}
	if _, err := analytics.LookupQuery("nope"); err == nil {
		t.Fatal("LookupQuery(nope): want error")
	}
}

func TestQueryFileShape(t *testing.T) {
	for name, src := range map[string]string{
		"no_question": "SELECT 1",
		"two":         "-- Question: what?\nSELECT 1; SELECT 2",
		"empty":       "-- Question:\nSELECT 1",
	} {
		fsys := fstest.MapFS{"q/" + name + ".sql": {Data: []byte(src)}}
		if _, err := analytics.LoadQueriesForTest(fsys, "q"); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}

// Seed data: a day of drift over two UTC days, with the copies a replay
// writes, left unmerged so the queries must not double count them.
var (
	day1 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	day2 = day1.AddDate(0, 0, 1)
)

func i64(v int64) *int64 { return &v }

func dec(s string) *decimal.Decimal {
	d := decimal.RequireFromString(s)
	return &d
}

type seed struct {
	id, disc, kind, owner, status, sku, wh, order string
	exp, act, delta                               *int64
	value                                         *decimal.Decimal
	currency                                      string
	at                                            time.Time
}

func (s seed) event(offset int64) analytics.DriftEvent {
	return analytics.DriftEvent{
		EventID: s.id, DiscrepancyID: s.disc, Kind: s.kind, Owner: s.owner, Status: s.status,
		SKU: s.sku, Warehouse: s.wh, OrderRef: s.order,
		ExpectedQty: s.exp, ActualQty: s.act, DeltaQty: s.delta, ValueDelta: s.value, Currency: s.currency,
		Detail: s.kind + " " + s.status, OccurredAt: s.at, IngestedAt: s.at.Add(time.Second),
		KafkaTopic: "lockstep.drift", KafkaPartition: 0, KafkaOffset: offset,
	}
}

var seeds = []seed{
	// d1: stock parity at WH1, opened then updated; still open.
	{id: "e1", disc: "d1", kind: "stock_parity", owner: "finance", status: "open", sku: "SKU-A", wh: "WH1",
		exp: i64(10), act: i64(7), delta: i64(-3), value: dec("-37.5"), currency: "EUR", at: day1.Add(10 * time.Hour)},
	{id: "e2", disc: "d1", kind: "stock_parity", owner: "finance", status: "updated", sku: "SKU-A", wh: "WH1",
		exp: i64(10), act: i64(8), delta: i64(-2), value: dec("-25"), currency: "EUR", at: day1.Add(12 * time.Hour)},
	// d2: opened on day 1, resolved on day 2.
	{id: "e3", disc: "d2", kind: "stock_parity", owner: "finance", status: "open", sku: "SKU-B", wh: "WH1",
		exp: i64(6), act: i64(10), delta: i64(4), value: dec("20.1234"), currency: "EUR", at: day1.Add(13 * time.Hour)},
	{id: "e4", disc: "d2", kind: "stock_parity", owner: "finance", status: "resolved", sku: "SKU-B", wh: "WH1",
		at: day2.Add(8 * time.Hour)},
	// d3: at WH2, opened and acknowledged on day 2.
	{id: "e5", disc: "d3", kind: "stock_parity", owner: "finance", status: "open", sku: "SKU-A", wh: "WH2",
		exp: i64(0), act: i64(5), delta: i64(5), value: dec("62.5"), currency: "EUR", at: day2.Add(9 * time.Hour)},
	{id: "e6", disc: "d3", kind: "stock_parity", owner: "finance", status: "acknowledged", sku: "SKU-A", wh: "WH2",
		exp: i64(0), act: i64(5), delta: i64(5), value: dec("62.5"), currency: "EUR", at: day2.Add(10 * time.Hour)},
	// d4: the smallest amount Decimal(18,4) holds.
	{id: "e7", disc: "d4", kind: "stock_parity", owner: "finance", status: "open", sku: "SKU-C", wh: "WH1",
		exp: i64(3), act: i64(2), delta: i64(-1), value: dec("-0.0001"), currency: "EUR", at: day2.Add(11 * time.Hour)},
	// d5: no quantities, no value; the last second of day 1.
	{id: "e8", disc: "d5", kind: "missing_despatch", owner: "finance", status: "open", order: "SO-1",
		at: day1.Add(24*time.Hour - time.Second)},
	// d6: opened and resolved on day 1.
	{id: "e9", disc: "d6", kind: "sku_unmapped", owner: "warehouse", status: "open", sku: "SKU-X", at: day1.Add(time.Hour)},
	{id: "e10", disc: "d6", kind: "sku_unmapped", owner: "warehouse", status: "resolved", sku: "SKU-X", at: day1.Add(2 * time.Hour)},
	// d7: operations, day 2.
	{id: "e11", disc: "d7", kind: "push_failed", owner: "operations", status: "open", wh: "WH1", at: day2.Add(time.Hour)},
}

// seedLedger inserts every seed, then again the events a replay would
// repeat (some twice in one block), with merges stopped so that the copies
// stay in separate, unmerged parts.
func seedLedger(t *testing.T, ctx context.Context, conn driver.Conn) {
	t.Helper()
	stopMerges(t, ctx, conn, "drift_events")
	var all []analytics.DriftEvent
	for i, s := range seeds {
		all = append(all, s.event(int64(i)))
	}
	if err := analytics.InsertDriftEvents(ctx, conn, all); err != nil {
		t.Fatal(err)
	}
	// A replay re-produces events: same content, later offsets.
	var replay []analytics.DriftEvent
	for _, i := range []int{0, 4, 5, 6, 6, 7, 2} {
		e := all[i]
		e.KafkaOffset += 100
		replay = append(replay, e)
	}
	if err := analytics.InsertDriftEvents(ctx, conn, replay); err != nil {
		t.Fatal(err)
	}
	if raw, final := countCopies(t, ctx, conn, "drift_events"); raw != uint64(len(all)+len(replay)) || final != uint64(len(all)) {
		t.Fatalf("seeded %d rows (%d with FINAL), want %d unmerged copies of %d events", raw, final, len(all)+len(replay), len(all))
	}
}

// runQuery runs the named query and returns each row's columns formatted
// with %v (decimals as strings, times in UTC), which keeps the expectations
// readable.
func runQuery(t *testing.T, ctx context.Context, conn driver.Conn, name string) [][]string {
	t.Helper()
	q, err := analytics.LookupQuery(name)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, q.SQL)
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
			t.Fatalf("%s: scan: %v", name, err)
		}
		row := make([]string, len(dest))
		for i, d := range dest {
			switch v := reflect.ValueOf(d).Elem().Interface().(type) {
			case decimal.Decimal:
				row[i] = v.StringFixed(4)
			case time.Time:
				row[i] = v.UTC().Format(time.DateTime)
			default:
				row[i] = fmt.Sprint(v)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

func TestFinanceQueries(t *testing.T) {
	conn, _ := analyticstest.Migrated(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	seedLedger(t, ctx, conn)

	want := map[string][][]string{
		// owner, kind, currency, open, acknowledged, net value, gross value, oldest opened
		analytics.QueryOpenDriftByOwner: {
			{"finance", "missing_despatch", "", "1", "0", "0.0000", "0.0000", "2026-03-02 23:59:59"},
			{"finance", "stock_parity", "EUR", "3", "1", "37.4999", "87.5001", "2026-03-02 10:00:00"},
			{"operations", "push_failed", "", "1", "0", "0.0000", "0.0000", "2026-03-03 01:00:00"},
		},
		// warehouse, currency, open, skus, net units, gross units, net value, gross value
		analytics.QueryStockParityValueByWarehouse: {
			{"WH1", "EUR", "2", "2", "-3", "3", "-25.0001", "25.0001"},
			{"WH2", "EUR", "1", "1", "5", "5", "62.5000", "62.5000"},
		},
		// Over a ledger with drift and no facts or reconciliation runs,
		// these answer nothing; package analytics/reconcile runs them over
		// a reconciled day.
		analytics.QueryReconciliationLatest: nil,
		analytics.QueryUnbilledShipments:    nil,
		// TestPurchaseOrderQueries runs these over POs and receipts.
		analytics.QueryReceivedAgainstPO: nil,
		analytics.QueryReceiptsWithoutPO: nil,
		// day, kind, opened, acknowledged, resolved
		analytics.QueryDriftDailySummary: {
			{"2026-03-02 00:00:00", "missing_despatch", "1", "0", "0"},
			{"2026-03-02 00:00:00", "sku_unmapped", "1", "0", "1"},
			{"2026-03-02 00:00:00", "stock_parity", "2", "0", "0"},
			{"2026-03-03 00:00:00", "push_failed", "1", "0", "0"},
			{"2026-03-03 00:00:00", "stock_parity", "2", "1", "1"},
		},
	}
	qs, err := analytics.Queries()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		t.Run(q.Name, func(t *testing.T) {
			w, ok := want[q.Name]
			if !ok {
				t.Fatalf("query %s has no expectations in this test: add them", q.Name)
			}
			got := runQuery(t, ctx, conn, q.Name)
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("%s:\n got %q\nwant %q", q.Name, got, w)
			}
		})
	}

	// Merged or not, the answers are the same.
	mergeAll(t, ctx, conn, "drift_events")
	checkQueries(t, ctx, conn, want, "after OPTIMIZE FINAL")
}

// stopMerges stops the merges of tables, so that the copies inserted next
// stay in separate, unmerged parts.
func stopMerges(t *testing.T, ctx context.Context, conn driver.Conn, tables ...string) {
	t.Helper()
	for _, table := range tables {
		if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+table); err != nil {
			t.Fatal(err)
		}
	}
}

// mergeAll restarts the merges of tables and merges each into one part.
func mergeAll(t *testing.T, ctx context.Context, conn driver.Conn, tables ...string) {
	t.Helper()
	for _, table := range tables {
		if err := conn.Exec(ctx, "SYSTEM START MERGES "+table); err != nil {
			t.Fatal(err)
		}
		if err := conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
			t.Fatal(err)
		}
	}
}

// countCopies returns the rows of table, copies included, and the rows
// it has under FINAL.
func countCopies(t *testing.T, ctx context.Context, conn driver.Conn, table string) (raw, final uint64) {
	t.Helper()
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+table+" FINAL").Scan(&final); err != nil {
		t.Fatal(err)
	}
	return raw, final
}

// checkQueries runs each named query and compares its answer with want;
// when says at what point, for the failure message.
func checkQueries(t *testing.T, ctx context.Context, conn driver.Conn, want map[string][][]string, when string) {
	t.Helper()
	for name, w := range want {
		if got := runQuery(t, ctx, conn, name); !reflect.DeepEqual(got, w) {
			t.Errorf("%s %s:\n got %q\nwant %q", name, when, got, w)
		}
	}
}
