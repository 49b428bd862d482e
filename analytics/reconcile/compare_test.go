package reconcile_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/lockstep-dev/lockstep/analytics/reconcile"
)

func item(sku, code, cost string, active bool) reconcile.Item {
	return reconcile.Item{SKU: sku, ClarusCode: code, UnitCost: decimal.RequireFromString(cost), Currency: "EUR", Active: active, StockItem: true}
}

func ship(id, order string, qs ...reconcile.Qty) reconcile.Shipment {
	return reconcile.Shipment{ID: id, OrderRef: order, Warehouse: "WH1", Status: "confirmed", DispatchedAt: at("10:00"), Lines: qs}
}

func note(id, ref string, qs ...reconcile.Qty) reconcile.Note {
	return reconcile.Note{ID: id, Reference: ref, OrderRef: "SO", CreatedAt: at("11:00"), Lines: qs}
}

func q(code string, n int64) reconcile.Qty { return reconcile.Qty{Code: code, Quantity: n} }

// TestCompare covers the rules the ClickHouse tests do not reach: the SKU
// mapping when several items name one Clarus code, a shipment none of whose
// codes map, two notes for one shipment, a note SKU without an item.
func TestCompare(t *testing.T) {
	items := []reconcile.Item{
		item("PR-A", "CL-A", "2", true),
		// CL-B: an old inactive item and its active successor.
		item("PR-B-OLD", "CL-B", "7", false), item("PR-B", "CL-B", "5", true),
		// CL-M: two active items; CL-N: two inactive ones.
		item("PR-M1", "CL-M", "1", true), item("PR-M2", "CL-M", "1", true),
		item("PR-N1", "CL-N", "1", false), item("PR-N2", "CL-N", "1", false),
		// Shipping: on notes, never shipped.
		{SKU: "SHIP", UnitCost: decimal.RequireFromString("4.95"), Currency: "EUR", Active: true},
	}
	f := reconcile.Facts{
		Day:   day,
		Items: items,
		Shipments: []reconcile.Shipment{
			ship("S1", "SO-1", q("CL-B", 2), q("CL-M", 1)),
			ship("S2", "SO-2", q("CL-N", 3)),
			ship("S3", "SO-3", q("CL-A", 1)),
		},
		Notes: []reconcile.Note{
			note("N1", "S1", q("PR-B", 2), q("SHIP", 1)),
			// A fee-only note: nothing physical to compare. FEE-WRAP is
			// no item at all, kept out by its pattern as the orders flow
			// keeps it in Prima.
			note("N5", "fee", q("SHIP", 1), q("FEE-WRAP", 2)),
			// Two notes for S3: Prima made the note twice.
			note("N3a", "S3", q("PR-A", 1)), note("N3b", "S3", q("PR-A", 1)),
			// A SKU the item master does not have.
			note("N4", "typo", q("PR-Z", 2)),
		},
		Watermark: day.AddDate(0, 0, 1),
		Covers:    []reconcile.Cover{{DiscrepancyID: "d", OrderRef: "SO-2"}},
	}
	rules := reconcile.Rules{NonStockSKUs: []string{"FEE-*"}}
	r := reconcile.Compare(f, rules)
	want := []string{
		// S2's only code is ambiguous: the note is missing all the same.
		"missing_despatch|S2|||||3|0|-3||",
		"despatch_mismatch|S3|S3|N3a+N3b|PR-A|CL-A|1|2|1|2.0000|EUR",
		"despatch_without_shipment||typo|N4|PR-Z||0|2|2||",
		"sku_unmapped|S1||||CL-M|1|0|0||",
		"sku_unmapped|S2||||CL-N|3|0|0||",
	}
	if got := showAll(r.Lines); !reflect.DeepEqual(got, want) {
		t.Errorf("lines:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if d := r.Lines[3].Detail; !strings.Contains(d, "maps to 2 Prima SKUs (PR-M1, PR-M2)") {
		t.Errorf("ambiguous code detail: %s", d)
	}
	if d := r.Lines[4].Detail; !strings.Contains(d, "maps to 2 Prima SKUs (PR-N1, PR-N2)") {
		t.Errorf("ambiguous code detail: %s", d)
	}
	// CL-B is the active PR-B at 5, not the old item at 7.
	if got := money(r); !reflect.DeepEqual(got, []string{"EUR 12.0000 14.0000 2.0000"}) {
		t.Errorf("money %q", got)
	}
	if r.Unaccounted != nil || r.UnmappedUnits != 4 || r.Notes != 5 || r.Shipments != 3 || r.NonStockUnits != 4 || r.NotedUnits != 6 {
		t.Errorf("unaccounted %v (S2 is covered by its order), unmapped %d, notes %d, shipments %d, non-stock %d, noted %d",
			r.Unaccounted, r.UnmappedUnits, r.Notes, r.Shipments, r.NonStockUnits, r.NotedUnits)
	}

	if err := (reconcile.Rules{NonStockSKUs: []string{"["}}).Validate(); err == nil {
		t.Error("a bad pattern: want an error")
	}

	// Without an item master every code is unmapped, and nothing has a
	// value.
	f.Items = nil
	r = reconcile.Compare(f, rules)
	if len(r.Money) != 0 || r.UnmappedUnits != 7 {
		t.Errorf("no items: money %v, unmapped %d", money(r), r.UnmappedUnits)
	}
}
