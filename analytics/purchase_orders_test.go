package analytics_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/analytics/analyticstest"
)

// poSeed is one PO version: its lines are (line_no, sku, quantity, cost).
type poSeed struct {
	ref, status, supplier, wh, currency string
	version                             int64
	lines                               []poLineSeed
}

type poLineSeed struct {
	no       uint32
	sku      string
	qty      int64
	unitCost string
}

func (p poSeed) rows(offset int64) []analytics.POLine {
	at := day1.Add(time.Duration(p.version) * time.Hour)
	base := analytics.POLine{
		PORef: p.ref, Version: p.version, EventID: "prima:purchase-order:" + p.ref + ":" + p.status, Status: p.status,
		SupplierRef: p.supplier, Warehouse: p.wh, Currency: p.currency, OccurredAt: at, IngestedAt: at.Add(time.Second),
		KafkaTopic: "prima.purchase-orders", KafkaOffset: offset,
	}
	if len(p.lines) == 0 {
		return []analytics.POLine{base}
	}
	var out []analytics.POLine
	for _, l := range p.lines {
		r := base
		r.LineNo, r.SKU, r.Quantity, r.UnitCost = l.no, l.sku, l.qty, decimal.RequireFromString(l.unitCost)
		out = append(out, r)
	}
	return out
}

// receiptSeed is one receipt: its lines are (clarus code, quantity),
// numbered in that order.
type receiptSeed struct {
	id, po, wh string
	at         time.Time
	lines      [][2]any
}

func (r receiptSeed) rows(eventID string, offset int64) []analytics.ReceiptLine {
	var out []analytics.ReceiptLine
	for i, l := range r.lines {
		out = append(out, analytics.ReceiptLine{
			ReceiptID: r.id, LineNo: uint32(i + 1), EventID: eventID, PORef: r.po, Warehouse: r.wh,
			ClarusCode: l[0].(string), Quantity: int64(l[1].(int)), ReceivedAt: r.at, IngestedAt: r.at.Add(time.Second),
			KafkaTopic: "clarus.receipts", KafkaOffset: offset,
		})
	}
	return out
}

var (
	poSeeds = []poSeed{
		// PO-1: received in two partial receipts on line 1, over-received
		// on line 2.
		{ref: "PO-1", version: 1, status: "approved", supplier: "SUP-1", wh: "WH1", currency: "EUR", lines: []poLineSeed{
			{1, "PR-A", 10, "2.5"}, {2, "PR-B", 5, "1.2"}}},
		// PO-2: amended from 10 to 6 of PR-C, with PR-D added; version 2
		// is inserted before version 1, and only version 2 counts.
		{ref: "PO-2", version: 2, status: "amended", supplier: "SUP-2", wh: "WH2", currency: "GBP", lines: []poLineSeed{
			{1, "PR-C", 6, "3"}, {2, "PR-D", 2, "4"}}},
		{ref: "PO-2", version: 1, status: "approved", supplier: "SUP-2", wh: "WH2", currency: "GBP", lines: []poLineSeed{
			{1, "PR-C", 10, "3"}}},
		// PO-3: cancelled after approval; its receipt matches no live PO.
		{ref: "PO-3", version: 1, status: "approved", supplier: "SUP-1", wh: "WH1", currency: "EUR", lines: []poLineSeed{
			{1, "PR-A", 5, "2.5"}}},
		{ref: "PO-3", version: 2, status: "cancelled", supplier: "SUP-1", wh: "WH1", currency: "EUR"},
		// PO-5: cancelled with its lines.
		{ref: "PO-5", version: 1, status: "approved", supplier: "SUP-2", wh: "WH2", currency: "GBP", lines: []poLineSeed{
			{1, "PR-B", 2, "1"}}},
		{ref: "PO-5", version: 2, status: "cancelled", supplier: "SUP-2", wh: "WH2", currency: "GBP", lines: []poLineSeed{
			{1, "PR-B", 2, "1"}}},
		// PO-4: PR-A on two lines, which fill in line order; PR-X has no
		// Clarus code and receives nothing.
		{ref: "PO-4", version: 1, status: "approved", supplier: "SUP-1", wh: "WH1", currency: "EUR", lines: []poLineSeed{
			{1, "PR-A", 3, "2.5"}, {2, "PR-A", 4, "2.5"}, {3, "PR-B", 1, "1.2"}, {4, "PR-X", 1, "9"}}},
	}
	receiptSeeds = []receiptSeed{
		{id: "R1", po: "PO-1", wh: "WH1", at: day1.Add(10 * time.Hour), lines: [][2]any{{"CL-A", 4}}},
		// CL-Z is not on PO-1: it is on no row.
		{id: "R2", po: "PO-1", wh: "WH1", at: day1.Add(11 * time.Hour), lines: [][2]any{{"CL-A", 3}, {"CL-B", 7}, {"CL-Z", 3}}},
		{id: "R3", po: "PO-2", wh: "WH2", at: day1.Add(12 * time.Hour), lines: [][2]any{{"CL-C", 4}}},
		{id: "R4", po: "PO-3", wh: "WH1", at: day1.Add(13 * time.Hour), lines: [][2]any{{"CL-A", 1}}},
		{id: "R5", po: "PO-4", wh: "WH1", at: day1.Add(14 * time.Hour), lines: [][2]any{{"CL-A", 5}}},
		{id: "R6", po: "PO-5", wh: "WH2", at: day1.Add(14*time.Hour + 30*time.Minute), lines: [][2]any{{"CL-B", 1}}},
		// Orphans: no PO reference, and a PO Prima never sent.
		{id: "R7", po: "", wh: "WH1", at: day1.Add(15 * time.Hour), lines: [][2]any{{"CL-A", 2}}},
		{id: "R8", po: "PO-99", wh: "WH2", at: day1.Add(16 * time.Hour), lines: [][2]any{{"CL-B", 1}}},
	}
)

// purchasingTables are the tables the three-way matching queries read.
var purchasingTables = []string{"items", "po_lines", "receipt_lines"}

// seedPurchasing inserts the item master, the POs and the receipts, then
// the copies the webhook, the sweep and a replay add: every PO version
// again, every receipt again under another event id, with merges stopped
// so that the copies stay unmerged.
func seedPurchasing(t *testing.T, ctx context.Context, conn driver.Conn) {
	t.Helper()
	stopMerges(t, ctx, conn, purchasingTables...)
	item := func(sku, code string, version uint64) analytics.Item {
		return analytics.Item{SKU: sku, ClarusCode: code, StockItem: true, UnitCost: decimal.RequireFromString("1"),
			Currency: "EUR", Active: true, EventID: "prima:item:" + sku, Version: version, OccurredAt: day1, IngestedAt: day1}
	}
	// PR-A was CL-OLD before it was CL-A; the older version comes last.
	items := []analytics.Item{item("PR-A", "CL-A", 2), item("PR-B", "CL-B", 1), item("PR-C", "CL-C", 1),
		item("PR-D", "CL-D", 1), item("PR-X", "", 1), item("PR-A", "CL-OLD", 1)}
	if err := analytics.InsertItems(ctx, conn, items); err != nil {
		t.Fatal(err)
	}
	for copyNo := range int64(2) {
		var pos []analytics.POLine
		var rcs []analytics.ReceiptLine
		for i, p := range poSeeds {
			pos = append(pos, p.rows(copyNo*100+int64(i))...)
		}
		for i, r := range receiptSeeds {
			eventID := "clarus:receipt:" + r.id
			if copyNo > 0 {
				eventID = "clarus:receipt-sweep:" + r.id
			}
			rcs = append(rcs, r.rows(eventID, copyNo*100+int64(i))...)
		}
		if err := analytics.InsertPOLines(ctx, conn, pos); err != nil {
			t.Fatal(err)
		}
		if err := analytics.InsertReceiptLines(ctx, conn, rcs); err != nil {
			t.Fatal(err)
		}
	}
	for table, want := range map[string][2]uint64{"po_lines": {2 * 13, 13}, "receipt_lines": {2 * 10, 10}} {
		if raw, final := countCopies(t, ctx, conn, table); raw != want[0] || final != want[1] {
			t.Fatalf("%s: %d rows, %d with FINAL; want %d unmerged copies of %d", table, raw, final, want[0], want[1])
		}
	}
}

// TestPurchaseOrderQueries runs the three-way matching queries over POs
// and receipts, copies unmerged and then merged: a PO received in two
// partial receipts, an over-receipt, a receipt of a SKU not on the PO, an
// amended PO (only the latest version counts), cancelled POs with and
// without lines (left out, their receipts listed without a PO), one SKU on
// two lines of a PO (filled in line order), a SKU without a Clarus code,
// and two orphan receipts.
func TestPurchaseOrderQueries(t *testing.T) {
	conn, _ := analyticstest.Migrated(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	seedPurchasing(t, ctx, conn)

	want := map[string][][]string{
		// po, supplier, warehouse, line, sku, code, ordered, unit cost, currency, received, value, outstanding, over
		analytics.QueryReceivedAgainstPO: {
			{"PO-1", "SUP-1", "WH1", "1", "PR-A", "CL-A", "10", "2.5000", "EUR", "7", "17.5000", "3", "0"},
			{"PO-1", "SUP-1", "WH1", "2", "PR-B", "CL-B", "5", "1.2000", "EUR", "7", "8.4000", "0", "2"},
			{"PO-2", "SUP-2", "WH2", "1", "PR-C", "CL-C", "6", "3.0000", "GBP", "4", "12.0000", "2", "0"},
			{"PO-2", "SUP-2", "WH2", "2", "PR-D", "CL-D", "2", "4.0000", "GBP", "0", "0.0000", "2", "0"},
			{"PO-4", "SUP-1", "WH1", "1", "PR-A", "CL-A", "3", "2.5000", "EUR", "3", "7.5000", "0", "0"},
			{"PO-4", "SUP-1", "WH1", "2", "PR-A", "CL-A", "4", "2.5000", "EUR", "2", "5.0000", "2", "0"},
			{"PO-4", "SUP-1", "WH1", "3", "PR-B", "CL-B", "1", "1.2000", "EUR", "0", "0.0000", "1", "0"},
			{"PO-4", "SUP-1", "WH1", "4", "PR-X", "", "1", "9.0000", "EUR", "0", "0.0000", "1", "0"},
		},
		// receipt, po, warehouse, received at, reason, lines, units
		analytics.QueryReceiptsWithoutPO: {
			{"R4", "PO-3", "WH1", "2026-03-02 13:00:00", "po_cancelled", "1", "1"},
			{"R6", "PO-5", "WH2", "2026-03-02 14:30:00", "po_cancelled", "1", "1"},
			{"R7", "", "WH1", "2026-03-02 15:00:00", "no_po_ref", "1", "2"},
			{"R8", "PO-99", "WH2", "2026-03-02 16:00:00", "unknown_po", "1", "1"},
		},
	}
	checkQueries(t, ctx, conn, want, "with unmerged copies")

	// Merged or not, the answers are the same.
	mergeAll(t, ctx, conn, purchasingTables...)
	checkQueries(t, ctx, conn, want, "after OPTIMIZE FINAL")
}
