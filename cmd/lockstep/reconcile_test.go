package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/shopspring/decimal"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/analytics/analyticstest"
)

// TestReconcileCommand runs `lockstep reconcile` against the real
// ClickHouse: a day with a shipment Prima has no note for exits 1 and names
// its files; a quiet day balances and exits 0.
func TestReconcileCommand(t *testing.T) {
	conn, cfg := analyticstest.Migrated(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if err := analytics.InsertItems(ctx, conn, []analytics.Item{{SKU: "PR-A", ClarusCode: "CL-A", UnitCost: decimal.RequireFromString("2.5"),
		Currency: "EUR", Active: true, StockItem: true, EventID: "i1", Version: 1, OccurredAt: day, IngestedAt: day}}); err != nil {
		t.Fatal(err)
	}
	ship := func(id string, at time.Time) analytics.ShipmentLine {
		return analytics.ShipmentLine{ShipmentID: id, EventID: "clarus:shipment:" + id + ":confirmed", LineNo: 1, OrderRef: "SO-" + id,
			Warehouse: "WH1", Status: "confirmed", ClarusCode: "CL-A", Quantity: 2, DispatchedAt: at, IngestedAt: at}
	}
	if err := analytics.InsertShipmentLines(ctx, conn, []analytics.ShipmentLine{
		ship("SH-1", day.Add(10*time.Hour)), ship("SH-2", day.Add(11*time.Hour)), ship("SH-3", day.Add(25*time.Hour)),
	}); err != nil {
		t.Fatal(err)
	}
	// The note carries the order's shipping too, which no item names:
	// only the orders flow's non-stock patterns, from the configuration,
	// keep it out of the comparison.
	note := analytics.DespatchNoteLine{Reference: "SH-1", EventID: "prima:despatch-note:DN-1", LineNo: 1, NoteID: "DN-1",
		OrderRef: "SO-SH-1", Status: "created", SKU: "PR-A", Quantity: 2, Source: "prima",
		OccurredAt: day.Add(26 * time.Hour), IngestedAt: day.Add(26 * time.Hour)}
	shipping := note
	shipping.LineNo, shipping.SKU, shipping.Quantity = 2, "SHIPPING-STD", 1
	if err := analytics.InsertDespatchNoteLines(ctx, conn, []analytics.DespatchNoteLine{note, shipping}); err != nil {
		t.Fatal(err)
	}
	env := envconfig.MapLookuper(map[string]string{
		"LOCKSTEP_CLICKHOUSE_ADDR":     cfg.Addr,
		"LOCKSTEP_CLICKHOUSE_DATABASE": cfg.Database,
	})
	dir := t.TempDir()

	var stdout, stderr bytes.Buffer
	code := execute(t.Context(), []string{"reconcile", "--date", "2026-03-02", "--out", dir}, env, &stdout, &stderr)
	if code != reconcileDiscrepancies {
		t.Fatalf("reconcile = %d, want %d\nstdout: %s\nstderr: %s", code, reconcileDiscrepancies, stdout.String(), stderr.String())
	}
	csvPath, htmlPath := filepath.Join(dir, "reconciliation-2026-03-02.csv"), filepath.Join(dir, "reconciliation-2026-03-02.html")
	for _, want := range []string{
		"Reconciliation of 2026-03-02", "Clarus shipments:           2  units 4", "Prima despatch notes:       1  units 2",
		"value EUR: shipped 10.0000, on notes 5.0000, net difference -5.0000", "non-stock units on the notes (shipping, fees; not compared): 1",
		"(complete)", "BROKEN by 1: SH-2",
		"NOT BALANCED: 1 discrepancies (1 missing_despatch)", "csv:  " + csvPath, "html: " + htmlPath,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, p := range []string{csvPath, htmlPath} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}

	stdout.Reset()
	code = execute(t.Context(), []string{"reconcile", "--date", "2026-03-01", "--out", dir}, env, &stdout, &stderr)
	if code != reconcileBalanced || !strings.Contains(stdout.String(), "BALANCED") {
		t.Fatalf("a day without shipments = %d, want %d\nstdout: %s\nstderr: %s", code, reconcileBalanced, stdout.String(), stderr.String())
	}
}

// TestReconcileCommandErrors: every failure is exit status 2, never 1 (which
// says "discrepancies"), and names the problem without the password.
func TestReconcileCommandErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	const secret = "reconcile-test-secret"
	down := envconfig.MapLookuper(map[string]string{"LOCKSTEP_CLICKHOUSE_ADDR": closed, "LOCKSTEP_CLICKHOUSE_PASSWORD": secret})
	for _, tt := range []struct {
		args []string
		env  envconfig.Lookuper
		want string
	}{
		{[]string{"reconcile"}, down, `--date ""`},
		{[]string{"reconcile", "--date", "2.3.2026"}, down, "want a day as YYYY-MM-DD"},
		{[]string{"reconcile", "--date", "2026-03-02", "extra"}, down, "unexpected arguments"},
		{[]string{"reconcile", "--nope"}, down, "flag provided but not defined"},
		{[]string{"reconcile", "--date", "2026-03-02"}, envconfig.MapLookuper(map[string]string{"LOCKSTEP_CLICKHOUSE_ADDR": "no-port"}), "LOCKSTEP_CLICKHOUSE_ADDR"},
		{[]string{"reconcile", "--date", "2026-03-02", "--out", t.TempDir()}, down, closed},
	} {
		var stdout, stderr bytes.Buffer
		code := execute(t.Context(), tt.args, tt.env, &stdout, &stderr)
		if code != reconcileError || !strings.Contains(stderr.String(), tt.want) || strings.Contains(stderr.String(), secret) || stdout.Len() != 0 {
			t.Errorf("%q = %d, want %d\nstdout: %s\nstderr: %s", tt.args, code, reconcileError, stdout.String(), stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := execute(t.Context(), []string{"reconcile", "-h"}, down, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "Exit status: 0 balanced") {
		t.Errorf("reconcile -h = %d\n%s", code, stderr.String())
	}
}
