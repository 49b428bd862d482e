package analytics

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
)

const startHint = "run deploy/local/clickhouse.sh start"

// testAddr is the ClickHouse native address the tests use.
func testAddr() string {
	if a := os.Getenv("LOCKSTEP_CLICKHOUSE_ADDR"); a != "" {
		return a
	}
	return DefaultAddr
}

// requireClickHouse skips the test when no ClickHouse answers locally and
// fails it in CI (CI=true), where deploy/local/clickhouse.sh must have run.
func requireClickHouse(t *testing.T) {
	t.Helper()
	addr := testAddr()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("ClickHouse is not reachable at %s (%v): CI must start it with deploy/local/clickhouse.sh start", addr, err)
	}
	t.Skipf("ClickHouse not reachable at %s: %s", addr, startHint)
}

// testDB opens a connection to a fresh database that is dropped when the
// test ends.
func testDB(t *testing.T) (driver.Conn, Config) {
	t.Helper()
	requireClickHouse(t)
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Addr:     testAddr(),
		Database: "lockstep_test_" + time.Now().UTC().Format("150405") + "_" + hex.EncodeToString(b[:]),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database); err != nil {
			t.Errorf("drop test database %s: %v", cfg.Database, err)
		}
		conn.Close()
	})
	return conn, cfg
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSplitStatements(t *testing.T) {
	got, err := SplitStatements(`-- header; with a semicolon
CREATE TABLE a (x String DEFAULT 'a;b') ENGINE = Memory;
/* block; comment */
INSERT INTO a (x) VALUES ('it''s; fine'), ('back\'slash;') ;

;  -- trailing
SELECT "quoted;ident", ` + "`bq;`" + ` FROM a`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"CREATE TABLE a (x String DEFAULT 'a;b') ENGINE = Memory",
		`INSERT INTO a (x) VALUES ('it''s; fine'), ('back\'slash;')`,
		"SELECT \"quoted;ident\", `bq;` FROM a",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SplitStatements:\n got %q\nwant %q", got, want)
	}
	if _, err := SplitStatements("SELECT 'open"); err == nil {
		t.Fatal("unterminated quote: want error")
	}
}

func TestMigrationsEmbedded(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 2 || ms[0].Name != "0001_drift_events.sql" || ms[1].Name != "0002_drift_current.sql" {
		t.Fatalf("migrations = %v", names(ms))
	}
	for _, m := range ms {
		if len(m.Checksum) != 64 {
			t.Errorf("%s: checksum %q", m.Name, m.Checksum)
		}
	}
	if _, err := loadMigrations(fstest.MapFS{"m/0001_a.sql": {}, "m/0001_b.sql": {}}, "m"); err == nil {
		t.Error("two migrations with one number: want error")
	}
	if _, err := loadMigrations(fstest.MapFS{"m/1_a.sql": {}}, "m"); err == nil {
		t.Error("badly named migration: want error")
	}
}

func names(ms []Migration) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func TestConfigStringHidesPassword(t *testing.T) {
	s := Config{Password: "hunter2"}.String()
	if strings.Contains(s, "hunter2") {
		t.Fatalf("Config.String leaks the password: %s", s)
	}
	if !strings.Contains(s, DefaultAddr) || !strings.Contains(s, DefaultDatabase) {
		t.Fatalf("Config.String = %s, want defaults", s)
	}
}

func TestOpenRefusesOddDatabaseName(t *testing.T) {
	if _, err := Open(context.Background(), Config{Database: "x; DROP TABLE y"}); err == nil {
		t.Fatal("want error")
	}
}

func TestMigrateIdempotent(t *testing.T) {
	conn, _ := testDB(t)
	ctx := ctxT(t)
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	applied, err := Migrate(ctx, conn)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if !reflect.DeepEqual(applied, names(all)) {
		t.Fatalf("first Migrate applied %v, want %v", applied, names(all))
	}
	applied, err = Migrate(ctx, conn)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(applied) != 0 {
		t.Fatalf("second Migrate applied %v, want nothing", applied)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(all)) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(all))
	}
	for _, table := range []string{"drift_events", "drift_current", "shipment_lines", "despatch_note_lines", "items",
		"reconciliation_runs", "reconciliation_lines"} {
		var exists uint8
		if err := conn.QueryRow(ctx, "EXISTS TABLE "+table).Scan(&exists); err != nil {
			t.Fatalf("EXISTS TABLE %s: %v", table, err)
		}
		if exists != 1 {
			t.Errorf("%s missing after Migrate", table)
		}
	}
}

func TestMigrateRefusesChangedChecksum(t *testing.T) {
	conn, _ := testDB(t)
	ctx := ctxT(t)
	ms := []Migration{{Name: "0001_t.sql", Checksum: "aaaa", SQL: "CREATE TABLE IF NOT EXISTS t (x String) ENGINE = Memory"}}
	if _, err := migrate(ctx, conn, ms); err != nil {
		t.Fatal(err)
	}
	ms[0].Checksum = "bbbb"
	ms = append(ms, Migration{Name: "0002_u.sql", Checksum: "cccc", SQL: "CREATE TABLE u (x String) ENGINE = Memory"})
	applied, err := migrate(ctx, conn, ms)
	var mismatch *ChecksumMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("migrate with a changed checksum: err = %v, want ChecksumMismatchError", err)
	}
	if mismatch.Name != "0001_t.sql" || mismatch.Applied != "aaaa" || mismatch.Current != "bbbb" {
		t.Fatalf("mismatch = %+v", mismatch)
	}
	if len(applied) != 0 {
		t.Fatalf("applied %v despite the mismatch", applied)
	}
	var exists uint8
	if err := conn.QueryRow(ctx, "EXISTS TABLE u").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists != 0 {
		t.Fatal("a later migration ran despite the mismatch")
	}

	// The real migrations: tamper with the recorded checksum of 0001.
	conn2, _ := testDB(t)
	if _, err := Migrate(ctx, conn2); err != nil {
		t.Fatal(err)
	}
	if err := conn2.Exec(ctx, "ALTER TABLE schema_migrations DELETE WHERE name = '0001_drift_events.sql'"); err != nil {
		t.Fatal(err)
	}
	waitMutations(t, ctx, conn2)
	batch, err := conn2.PrepareBatch(ctx, "INSERT INTO schema_migrations (name, checksum, applied_at)")
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append("0001_drift_events.sql", "0000", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	if _, err := Migrate(ctx, conn2); !errors.As(err, &mismatch) {
		t.Fatalf("Migrate after tampering: err = %v, want ChecksumMismatchError", err)
	}
}

// waitMutations waits for ALTER ... DELETE to finish (asynchronous in
// ClickHouse 18.16).
func waitMutations(t *testing.T, ctx context.Context, conn driver.Conn) {
	t.Helper()
	for i := 0; i < 100; i++ {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND is_done = 0").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("mutations did not finish")
}

func i64(v int64) *int64 { return &v }

func dec(s string) *decimal.Decimal {
	d := decimal.RequireFromString(s)
	return &d
}

func TestDriftEventsCollapseAndCurrent(t *testing.T) {
	conn, _ := testDB(t)
	ctx := ctxT(t)
	if _, err := Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	open := DriftEvent{
		EventID: "ev-1", DiscrepancyID: "disc-1", Kind: "stock_parity", Owner: "finance", Status: "open",
		SKU: "SKU-1", Warehouse: "WH1",
		ExpectedQty: i64(10), ActualQty: i64(7), DeltaQty: i64(-3), ValueDelta: dec("-37.5050"), Currency: "EUR",
		Detail: "prima 10, clarus 7", OccurredAt: at, IngestedAt: at.Add(time.Second),
		KafkaTopic: "lockstep.drift", KafkaPartition: 2, KafkaOffset: 41,
	}
	// The same event twice, as a replay would write it.
	for i := 0; i < 2; i++ {
		if err := InsertDriftEvents(ctx, conn, []DriftEvent{open}); err != nil {
			t.Fatal(err)
		}
	}
	var raw uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM drift_events").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if raw != 2 {
		t.Fatalf("before OPTIMIZE: %d rows, want 2 (two inserts, two parts)", raw)
	}
	if err := conn.Exec(ctx, "OPTIMIZE TABLE drift_events FINAL"); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM drift_events").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if raw != 1 {
		t.Fatalf("after OPTIMIZE FINAL: %d rows, want 1", raw)
	}

	// Round trip of every column.
	var got DriftEvent
	if err := conn.QueryRow(ctx, `SELECT event_id, discrepancy_id, kind, owner, status, sku, warehouse, order_ref, po_ref,
	    expected_qty, actual_qty, delta_qty, value_delta, currency, detail, occurred_at, ingested_at,
	    kafka_topic, kafka_partition, kafka_offset FROM drift_events`).Scan(
		&got.EventID, &got.DiscrepancyID, &got.Kind, &got.Owner, &got.Status, &got.SKU, &got.Warehouse, &got.OrderRef, &got.PORef,
		&got.ExpectedQty, &got.ActualQty, &got.DeltaQty, &got.ValueDelta, &got.Currency, &got.Detail, &got.OccurredAt, &got.IngestedAt,
		&got.KafkaTopic, &got.KafkaPartition, &got.KafkaOffset); err != nil {
		t.Fatal(err)
	}
	if !got.OccurredAt.Equal(open.OccurredAt) || !got.IngestedAt.Equal(open.IngestedAt) || !got.ValueDelta.Equal(*open.ValueDelta) {
		t.Fatalf("round trip: occurred %v ingested %v value %v", got.OccurredAt, got.IngestedAt, got.ValueDelta)
	}
	got.OccurredAt, got.IngestedAt, got.ValueDelta = open.OccurredAt, open.IngestedAt, open.ValueDelta
	if !reflect.DeepEqual(got, open) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, open)
	}

	// Later events for the same discrepancy, one in the same second (the
	// offset breaks the tie), plus an unrelated discrepancy.
	updated := open
	updated.EventID, updated.Status, updated.ActualQty, updated.DeltaQty, updated.KafkaOffset = "ev-2", "updated", i64(8), i64(-2), 42
	resolved := open
	resolved.EventID, resolved.Status, resolved.KafkaOffset = "ev-3", "resolved", 43
	resolved.OccurredAt = at.Add(time.Minute)
	resolved.ExpectedQty, resolved.ActualQty, resolved.DeltaQty, resolved.ValueDelta = nil, nil, nil, nil
	other := open
	other.EventID, other.DiscrepancyID, other.Kind, other.Owner, other.KafkaOffset = "ev-9", "disc-2", "missing_despatch", "finance", 44
	other.OrderRef, other.ExpectedQty, other.ActualQty, other.DeltaQty, other.ValueDelta = "SO-7", nil, nil, nil, nil
	if err := InsertDriftEvents(ctx, conn, []DriftEvent{resolved, updated, other, updated}); err != nil {
		t.Fatal(err)
	}

	type current struct {
		status    string
		lastEvent string
		actual    *int64
		value     *decimal.Decimal
		events    uint64
		openedAt  time.Time
		updatedAt time.Time
	}
	read := func(id string) current {
		t.Helper()
		var c current
		if err := conn.QueryRow(ctx, `SELECT status, last_event_id, actual_qty, value_delta, events, opened_at, updated_at
		    FROM drift_current WHERE discrepancy_id = ?`, id).Scan(&c.status, &c.lastEvent, &c.actual, &c.value, &c.events, &c.openedAt, &c.updatedAt); err != nil {
			t.Fatalf("drift_current %s: %v", id, err)
		}
		return c
	}
	c := read("disc-1")
	if c.status != "resolved" || c.lastEvent != "ev-3" || c.events != 3 {
		t.Fatalf("disc-1 current = %+v, want resolved by ev-3 after 3 events", c)
	}
	if c.actual != nil || c.value != nil {
		t.Fatalf("disc-1: the latest event has no quantities, got actual %v value %v", c.actual, c.value)
	}
	if !c.openedAt.Equal(at) || !c.updatedAt.Equal(at.Add(time.Minute)) {
		t.Fatalf("disc-1 opened %v updated %v", c.openedAt, c.updatedAt)
	}

	// Without ev-3, the tie at the same second goes to the higher offset.
	if err := conn.Exec(ctx, "ALTER TABLE drift_events DELETE WHERE event_id = 'ev-3'"); err != nil {
		t.Fatal(err)
	}
	waitMutations(t, ctx, conn)
	c = read("disc-1")
	if c.status != "updated" || c.lastEvent != "ev-2" || c.actual == nil || *c.actual != 8 || !c.value.Equal(decimal.RequireFromString("-37.505")) {
		t.Fatalf("disc-1 current without ev-3 = %+v (actual %v)", c, c.actual)
	}
	if c := read("disc-2"); c.status != "open" || c.events != 1 {
		t.Fatalf("disc-2 current = %+v", c)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM drift_current").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("drift_current has %d rows, want 2", n)
	}
}
