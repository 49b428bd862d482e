package primasim_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// POs are approved, amended and cancelled through the control API; every
// change is a new version, stamped modified; /_sim/state lists them by
// ref; what Prima itself would refuse is refused, and what it would keep
// as typed (a date in another form) is kept.
func TestPurchaseOrderEvents(t *testing.T) {
	sim, srv, clk := newSim(t, primasim.Options{})
	mustApply(t, sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"}, primasim.Event{Type: "add_item", SKU: "ST1/BLK/10"})
	approve := map[string]any{"type": "approve_po", "po_ref": "PO2", "supplier_ref": "SUP001", "warehouse": "WH1", "expected_date": "2026-03-20",
		"po_lines": []map[string]any{
			{"sku": "ST1/BLK/9", "quantity": 24, "unit_cost": "12.34"},
			{"line_no": 7, "sku": "ST1/BLK/10", "quantity": -1, "unit_cost": "0"},
		}}
	if status, b := control(t, "POST", srv.URL+"/_sim/events", approve); status != 200 {
		t.Fatalf("approve: %d %s", status, b)
	}
	clk.Advance(time.Second)
	for _, ev := range []map[string]any{
		{"type": "amend_po", "po_ref": "PO2", "po_lines": []map[string]any{{"sku": "ST1/BLK/9", "quantity": 30, "unit_cost": "12.34"}}},
		{"type": "amend_po", "po_ref": "PO2", "expected_date": "2026-03-27"},
		{"type": "approve_po", "po_ref": "PO1", "supplier_ref": "SUP002", "warehouse": "WH2", "currency": "EUR", "expected_date": "27/03/2026"},
		{"type": "cancel_po", "po_ref": "PO1"},
	} {
		if status, b := control(t, "POST", srv.URL+"/_sim/events", ev); status != 200 {
			t.Fatalf("%v: %d %s", ev, status, b)
		}
	}
	for _, bad := range []map[string]any{
		{"type": "approve_po", "po_ref": "PO2", "warehouse": "WH1"},
		{"type": "approve_po", "warehouse": "WH1"},
		{"type": "approve_po", "po_ref": "PO3", "po_lines": []map[string]any{{"sku": "ST1//", "quantity": 1}}},
		{"type": "amend_po", "po_ref": "NOPE", "expected_date": "2026-03-27"},
		{"type": "amend_po", "po_ref": "PO2"},
		{"type": "amend_po", "po_ref": "PO1", "expected_date": "2026-03-27"},
		{"type": "cancel_po", "po_ref": "PO1"},
		{"type": "approve_po", "po_ref": "PO4", "lines": []any{}}, // a sales order's lines, not a PO's
	} {
		if status, b := control(t, "POST", srv.URL+"/_sim/events", bad); status/100 != 4 {
			t.Errorf("%v: %d %s", bad, status, b)
		}
	}

	_, b := control(t, "GET", srv.URL+"/_sim/state", nil)
	var raw struct {
		PurchaseOrders []map[string]any `json:"purchase_orders"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || len(raw.PurchaseOrders) != 2 {
		t.Fatalf("state %s: %v", b, err)
	}
	for _, k := range []string{"po_ref", "version", "status", "supplier_ref", "warehouse", "currency", "expected_date", "lines", "modified"} {
		if _, ok := raw.PurchaseOrders[1][k]; !ok {
			t.Errorf("/_sim/state purchase order without %q: %v", k, raw.PurchaseOrders[1])
		}
	}
	var st primasim.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	po1, po2 := st.PurchaseOrders[0], st.PurchaseOrders[1]
	if po2.Ref != "PO2" || po2.Version != 3 || po2.Status != "Purchase" || po2.SupplierRef != "SUP001" ||
		po2.Currency != "GBP" || po2.ExpectedDate != "2026-03-27" || !po2.Modified.After(epoch) ||
		!reflect.DeepEqual(po2.Lines, []primasim.POLine{{LineNo: 1, SKU: "ST1/BLK/9", Quantity: 30, UnitCost: schemas.MustParseDecimal("12.34")}}) {
		t.Fatalf("PO2 %+v", po2)
	}
	if po1.Ref != "PO1" || po1.Version != 2 || po1.Status != primasim.POCancelled || po1.Currency != "EUR" || po1.ExpectedDate != "27/03/2026" ||
		len(po1.Lines) != 0 || !po1.Modified.After(po2.Modified) {
		t.Fatalf("PO1 %+v", po1)
	}
}

// PurchaseOrdersModifiedSince serves the POs in (Modified, PONumber)
// order, a page at a time, each PO whole as it stands now, and a PO
// changed comes again at its new version, after the others, exactly as
// sales orders are served; the cursor is exclusive, its key breaking
// ties within a millisecond.
func TestPurchaseOrdersModifiedSince(t *testing.T) {
	sim, srv, clk := newSim(t, primasim.Options{})
	mustApply(t, sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"}, primasim.Event{Type: "add_item", SKU: "ST1/BLK/10"})
	for _, ref := range []string{"PO3", "PO1", "PO2", "PO4"} {
		mustApply(t, sim, primasim.Event{Type: "approve_po", PORef: ref, SupplierRef: "SUP001", Warehouse: "WH1", ExpectedDate: "2026-03-20",
			POLines: []primasim.POLine{{SKU: "ST1/BLK/9", Quantity: 24, UnitCost: schemas.MustParseDecimal("12.5")},
				{SKU: "ST1/BLK/10", Quantity: 12, UnitCost: schemas.MustParseDecimal("12.5")}}})
	}
	clk.Advance(time.Millisecond)
	mustApply(t, sim, primasim.Event{Type: "cancel_po", PORef: "PO1"}, primasim.Event{Type: "amend_po", PORef: "PO4", ExpectedDate: "2026-03-21"})
	page := func(d wire.RequestData) ([]wire.PurchaseOrder, bool) {
		_, _, resp := request(t, srv.URL, wire.Request{RequestType: wire.TypePurchaseOrdersModifiedSince, Data: d})
		if resp.RequestStatus != wire.StatusOK {
			t.Fatal(resp.RequestError)
		}
		return resp.Data.PurchaseOrders, resp.Data.More
	}
	var seen []string
	d := wire.RequestData{PageSize: 2}
	for pages := 0; ; pages++ {
		pos, more := page(d)
		for _, o := range pos {
			seen = append(seen, o.PONumber+":"+o.Version+":"+o.Status+":"+o.ExpectedDate)
			d.ModifiedSince, d.AfterKey = o.Modified, o.PONumber
			if len(o.Lines) != 2 || o.Lines[0].Product != "ST1" || o.Lines[0].MtrxCode2 != "9" || o.Lines[0].UnitCost != "12.5000" ||
				o.Lines[1].LineNo != "2" || o.Lines[1].Quantity != "12" || o.Warehouse != "WH1" || o.Currency != "GBP" || o.SupplierRef != "SUP001" {
				t.Fatalf("PO %+v", o)
			}
		}
		if !more {
			if pages != 1 || len(pos) != 2 {
				t.Fatalf("%d pages, the last of %d: %v", pages+1, len(pos), seen)
			}
			break
		}
	}
	if want := "PO3:1:Purchase:2026-03-20 PO2:1:Purchase:2026-03-20 PO1:2:Cancelled:2026-03-20 PO4:2:Purchase:2026-03-21"; strings.Join(seen, " ") != want {
		t.Fatalf("paged %v, want %s", seen, want)
	}
	cancelled := wire.FormatTime(sim.State().PurchaseOrders[0].Modified) // PO1's
	if pos, more := page(wire.RequestData{ModifiedSince: cancelled, AfterKey: "PO1"}); more || len(pos) != 1 || pos[0].PONumber != "PO4" {
		t.Fatalf("after (the cancellation, PO1): %+v", pos)
	}
	if pos, _ := page(wire.RequestData{ModifiedSince: cancelled, AfterKey: "PO0"}); len(pos) != 2 || pos[0].PONumber != "PO1" {
		t.Fatalf("after (the cancellation, PO0): %+v", pos)
	}
	if _, _, resp := request(t, srv.URL, wire.Request{RequestType: wire.TypePurchaseOrdersModifiedSince,
		Data: wire.RequestData{ModifiedSince: "yesterday"}}); resp.RequestStatus != wire.StatusError {
		t.Fatalf("a bad ModifiedSince: %+v", resp)
	}
}

// The PO generator is a function of its seed, the item master and the
// clock, and its report is the ground truth: each PO as the simulator
// holds it, over mapped stock items, with its amendment kind; deferred,
// the changes wait for the caller and then leave the same POs.
func TestGeneratePOs(t *testing.T) {
	gen := func(seed uint64, deferChanges bool) (*primasim.Server, primasim.POReport) {
		sim := seeded(t, 60)
		rep, err := sim.GeneratePOs(primasim.POScenario{Seed: seed, POs: 400, Warehouses: 3, DeferChanges: deferChanges})
		if err != nil {
			t.Fatal(err)
		}
		return sim, rep
	}
	sim, rep := gen(7, false)
	_, again := gen(7, false)
	_, other := gen(8, false)
	if !reflect.DeepEqual(rep, again) || reflect.DeepEqual(rep.POs, other.POs) {
		t.Fatal("the generator is not a function of its seed")
	}
	st := sim.State()
	items := map[string]primasim.Item{}
	for _, it := range st.Items {
		items[it.SKU] = it
	}
	held := map[string]primasim.PurchaseOrder{}
	for _, o := range st.PurchaseOrders {
		held[o.Ref] = o
	}
	if len(rep.POs) != 400 || len(held) != 400 || rep.POs[0].Ref != "PO000001" {
		t.Fatalf("%d POs reported, %d held", len(rep.POs), len(held))
	}
	kinds := map[string]int{}
	warehouses := map[string]bool{}
	lines := 0
	for _, want := range rep.POs {
		got := held[want.Ref]
		if got.Version != want.Version || got.Status != want.Status || !reflect.DeepEqual(got.Lines, want.Lines) ||
			got.Warehouse != want.Warehouse || got.SupplierRef != want.SupplierRef || got.ExpectedDate != want.ExpectedDate {
			t.Fatalf("%s: held %+v, reported %+v", want.Ref, got, want)
		}
		switch {
		case want.Status == primasim.POCancelled && (want.Version != 2 || want.Amendment != ""),
			want.Amendment != "" && want.Version != 2,
			want.Amendment == "" && want.Status == primasim.POApproved && want.Version != 1:
			t.Fatalf("%s: version %d, status %s, amendment %q", want.Ref, want.Version, want.Status, want.Amendment)
		}
		d, err := time.Parse(time.DateOnly, want.ExpectedDate)
		if err != nil || !d.After(epoch) || d.After(epoch.AddDate(0, 0, 30)) {
			t.Fatalf("%s: expected %q", want.Ref, want.ExpectedDate)
		}
		kinds[want.Amendment]++
		warehouses[want.Warehouse] = true
		skus := map[string]bool{}
		for i, l := range want.Lines {
			lines++
			it := items[l.SKU]
			if !it.StockItem || !it.Active || it.ClarusCode == "" || l.Quantity < 1 || l.UnitCost != it.UnitCost || l.LineNo != i+1 || skus[l.SKU] {
				t.Fatalf("%s: line %+v of %+v", want.Ref, l, it)
			}
			skus[l.SKU] = true
		}
	}
	if kinds[primasim.AmendQuantity] == 0 || kinds[primasim.AmendPOLines] == 0 || kinds[primasim.AmendExpectedDate] == 0 ||
		rep.Cancelled == 0 || rep.Lines != lines || len(warehouses) != 3 {
		t.Fatalf("amendments %v, %d cancelled, %d lines, warehouses %v", kinds, rep.Cancelled, rep.Lines, warehouses)
	}
	// Near the defaults: 10% amended, 5% cancelled.
	if rep.Amended < 20 || rep.Amended > 65 || rep.Cancelled < 6 || rep.Cancelled > 40 {
		t.Errorf("%d amended, %d cancelled of 400", rep.Amended, rep.Cancelled)
	}

	dsim, drep := gen(7, true)
	if len(drep.Changes) != rep.Amended+rep.Cancelled || !reflect.DeepEqual(drep.POs, rep.POs) {
		t.Fatalf("%d changes deferred for %d amended and %d cancelled", len(drep.Changes), rep.Amended, rep.Cancelled)
	}
	for _, o := range dsim.State().PurchaseOrders {
		if o.Version != 1 || o.Status != primasim.POApproved {
			t.Fatalf("a change was not deferred: %+v", o)
		}
	}
	mustApply(t, dsim, drep.Changes...)
	strip := func(pos []primasim.PurchaseOrder) []primasim.PurchaseOrder {
		out := slices.Clone(pos)
		for i := range out {
			out[i].Modified = time.Time{}
		}
		return out
	}
	if !reflect.DeepEqual(strip(dsim.State().PurchaseOrders), strip(st.PurchaseOrders)) {
		t.Fatal("the deferred changes leave other POs than the report says")
	}

	// A second run keeps the refs of the first.
	more, err := sim.GeneratePOs(primasim.POScenario{Seed: 9, POs: 2})
	if err != nil || more.POs[0].Ref != "PO000401" {
		t.Fatalf("%+v %v", more.POs, err)
	}
	if _, err := primasim.New(primasim.Options{}).GeneratePOs(primasim.POScenario{}); err == nil ||
		!strings.Contains(err.Error(), "run the item scenario first") {
		t.Fatalf("an empty item master: %v", err)
	}
}

// POST /_sim/scenario seeds the item master and, asked, the POs over it;
// POST /_sim/scenario/purchase-orders generates more.
func TestPurchaseOrderScenarioOverHTTP(t *testing.T) {
	_, srv, _ := newSim(t, primasim.Options{})
	status, b := control(t, "POST", srv.URL+"/_sim/scenario", map[string]any{"seed": 1, "items": 50,
		"purchase_orders": map[string]any{"purchase_orders": 30, "warehouses": 2, "cancel_fraction": -1}})
	var res primasim.ScenarioResult
	if err := json.Unmarshal(b, &res); err != nil || status != 200 || res.PurchaseOrders == nil || len(res.PurchaseOrders.POs) != 30 ||
		res.PurchaseOrders.Cancelled != 0 || res.Orders != nil {
		t.Fatalf("%d %s", status, b)
	}
	status, b = control(t, "POST", srv.URL+"/_sim/scenario/purchase-orders", map[string]any{"purchase_orders": 5, "seed": 3})
	var rep primasim.POReport
	if err := json.Unmarshal(b, &rep); err != nil || status != 200 || len(rep.POs) != 5 || rep.POs[0].Ref != "PO000031" {
		t.Fatalf("%d %s", status, b)
	}
	if status, b := control(t, "POST", srv.URL+"/_sim/scenario/purchase-orders", map[string]any{"amend_fraction": 0.8, "cancel_fraction": 0.5}); status/100 != 4 {
		t.Fatalf("fractions over 1: %d %s", status, b)
	}
}
