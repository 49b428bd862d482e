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

// Orders are released, amended and cancelled through the control API;
// every change is a new version, stamped modified; the state lists them;
// what Prima itself would refuse is refused.
func TestOrderEvents(t *testing.T) {
	sim, srv, clk := newSim(t, primasim.Options{})
	mustApply(t, sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9", Description: "Derby"},
		primasim.Event{Type: "add_item", SKU: "GIFTCARD", StockItem: ptr(false)})
	release := map[string]any{"type": "release_order", "order_ref": "SO1", "warehouse": "WH1", "customer_ref": "C1", "channel": "web",
		"delivery": map[string]any{"name": "Zoë", "line1": "1 High St", "city": "Leeds", "postcode": "LS1 1AA", "country_code": "GB"},
		"lines": []map[string]any{
			{"sku": "ST1/BLK/9", "quantity": 2, "unit_price": "59.99"},
			{"sku": "GIFTCARD", "quantity": 1, "unit_price": "25"},
			{"line_no": 7, "sku": "ST1/BLK/9", "quantity": -1, "unit_price": "0", "stock_type": "service", "description": "as told"},
		}}
	if status, b := control(t, "POST", srv.URL+"/_sim/events", release); status != 200 {
		t.Fatalf("release: %d %s", status, b)
	}
	clk.Advance(time.Second)
	for _, ev := range []map[string]any{
		{"type": "amend_order", "order_ref": "SO1", "lines": []map[string]any{{"sku": "ST1/BLK/9", "quantity": 3, "unit_price": "59.99"}}},
		{"type": "amend_order", "order_ref": "SO1", "delivery": map[string]any{"name": "Zoë", "line1": "2 Low St", "city": "York", "postcode": "YO1", "country_code": "GB"}},
	} {
		if status, b := control(t, "POST", srv.URL+"/_sim/events", ev); status != 200 {
			t.Fatalf("%v: %d %s", ev, status, b)
		}
	}
	mustApply(t, sim, primasim.Event{Type: "release_order", OrderRef: "SO2", Warehouse: "WH2"},
		primasim.Event{Type: "cancel_order", OrderRef: "SO2"})
	for _, bad := range []map[string]any{
		{"type": "release_order", "order_ref": "SO1", "warehouse": "WH1"},
		{"type": "release_order", "warehouse": "WH1"},
		{"type": "release_order", "order_ref": "SO3", "lines": []map[string]any{{"sku": "ST1//", "quantity": 1}}},
		{"type": "amend_order", "order_ref": "NOPE", "lines": []any{}},
		{"type": "amend_order", "order_ref": "SO1"},
		{"type": "amend_order", "order_ref": "SO2", "lines": []any{}},
		{"type": "cancel_order", "order_ref": "SO2"},
		{"type": "release_order", "order_ref": "SO4", "line": []any{}}, // misspelt
	} {
		if status, b := control(t, "POST", srv.URL+"/_sim/events", bad); status/100 != 4 {
			t.Errorf("%v: %d %s", bad, status, b)
		}
	}

	_, b := control(t, "GET", srv.URL+"/_sim/state", nil)
	var st primasim.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.SalesOrders) != 2 {
		t.Fatalf("orders %+v", st.SalesOrders)
	}
	so1, so2 := st.SalesOrders[0], st.SalesOrders[1]
	if so1.Ref != "SO1" || so1.Version != 3 || so1.Status != primasim.OrderReleased || so1.Warehouse != "WH1" || so1.Currency != "GBP" ||
		len(so1.Lines) != 1 || so1.Lines[0].Quantity != 3 || so1.Lines[0].LineNo != 1 || so1.Lines[0].Description != "Derby" ||
		so1.Delivery == nil || so1.Delivery.City != "York" || !so1.Modified.After(epoch) {
		t.Fatalf("SO1 %+v", so1)
	}
	if so2.Version != 2 || so2.Status != primasim.OrderCancelled || so2.Warehouse != "WH2" || len(so2.Lines) != 0 {
		t.Fatalf("SO2 %+v", so2)
	}
}

// SalesOrdersModifiedSince serves the orders in (Modified, OrderNumber)
// order, a page at a time, each order whole, and an order changed comes
// again at its new version, after the others.
func TestSalesOrdersModifiedSince(t *testing.T) {
	sim, srv, _ := newSim(t, primasim.Options{})
	mustApply(t, sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"}, primasim.Event{Type: "add_item", SKU: "GIFTCARD", StockItem: ptr(false)})
	for _, ref := range []string{"SO3", "SO1", "SO2"} {
		mustApply(t, sim, primasim.Event{Type: "release_order", OrderRef: ref, Warehouse: "WH1", Channel: "web",
			Delivery: &primasim.Address{Name: "Renée", Line1: "1 Rue", City: "Lyon", Postcode: "69002", CountryCode: "FR"},
			Lines: []primasim.OrderLine{{SKU: "ST1/BLK/9", Quantity: 1, UnitPrice: schemas.MustParseDecimal("12.5")},
				{SKU: "GIFTCARD", Quantity: 1, UnitPrice: schemas.MustParseDecimal("25")}}})
	}
	mustApply(t, sim, primasim.Event{Type: "cancel_order", OrderRef: "SO1"})
	var seen []string
	d := wire.RequestData{PageSize: 2}
	for range 10 {
		_, _, resp := request(t, srv.URL, wire.Request{RequestType: wire.TypeSalesOrdersModifiedSince, Data: d})
		if resp.RequestStatus != wire.StatusOK {
			t.Fatal(resp.RequestError)
		}
		for _, o := range resp.Data.SalesOrders {
			seen = append(seen, o.OrderNumber+":"+o.Version+":"+o.Status)
			d.ModifiedSince, d.AfterKey = o.Modified, o.OrderNumber
			if len(o.Lines) != 2 || o.Lines[0].Product != "ST1" || o.Lines[0].MtrxCode2 != "9" || o.Lines[0].Price != "12.5000" ||
				o.Lines[0].StockType != "stock" || o.Lines[1].StockType != "non_stock" || o.Lines[1].OrderLine != "2" ||
				o.Town != "Lyon" || o.DelName != "Renée" || o.Country != "FR" || o.Warehouse != "WH1" || o.Currency != "GBP" {
				t.Fatalf("order %+v", o)
			}
		}
		if !resp.Data.More {
			break
		}
	}
	if want := "SO3:1:Released SO2:1:Released SO1:2:Cancelled"; strings.Join(seen, " ") != want {
		t.Fatalf("paged %v, want %s", seen, want)
	}
}

// map_item with no code maps an item the scenario left unmapped to the
// code it meant for it; an item without one needs the code named.
func TestMapItemToIntendedCode(t *testing.T) {
	sim, _, _ := newSim(t, primasim.Options{})
	if _, err := sim.RunScenario(primasim.Scenario{Seed: 2, Items: 40, UnmappedFraction: 0.3, NonStockFraction: 0.1}); err != nil {
		t.Fatal(err)
	}
	var unmapped, nonStock *primasim.Item
	for _, it := range sim.State().Items {
		switch {
		case !it.StockItem:
			if it.IntendedCode != "" {
				t.Fatalf("non-stock %+v has an intended code", it)
			}
			nonStock = &it
		case it.ClarusCode == "" && unmapped == nil:
			unmapped = &it
		case it.ClarusCode != "" && it.IntendedCode != "":
			t.Fatalf("mapped %+v has an intended code", it)
		}
	}
	if unmapped == nil || nonStock == nil || !strings.HasPrefix(unmapped.IntendedCode, "SKU-000") {
		t.Fatalf("unmapped %+v, non-stock %+v", unmapped, nonStock)
	}
	mustApply(t, sim, primasim.Event{Type: "map_item", SKU: unmapped.SKU})
	for _, it := range sim.State().Items {
		if it.SKU == unmapped.SKU && (it.ClarusCode != unmapped.IntendedCode || !it.Modified.After(unmapped.Modified)) {
			t.Fatalf("mapped %+v", it)
		}
	}
	if err := sim.Apply(primasim.Event{Type: "map_item", SKU: nonStock.SKU}); err == nil || !strings.Contains(err.Error(), "no intended code") {
		t.Fatalf("map_item of an item without an intended code: %v", err)
	}
}

func seeded(t testing.TB, items int) *primasim.Server {
	t.Helper()
	sim := primasim.New(primasim.Options{Clock: func() time.Time { return epoch }})
	if _, err := sim.RunScenario(primasim.Scenario{Seed: 5, Items: items, Warehouses: 2, MaxInitialStock: 20,
		NonStockFraction: 0.05, UnmappedFraction: 0.05}); err != nil {
		t.Fatal(err)
	}
	return sim
}

// The generator is a function of its seed, and its report is the ground
// truth: each order as the simulator holds it, with its amendment kind and
// unmapped line, over lines of the kinds asked for.
func TestGenerateOrders(t *testing.T) {
	gen := func(seed uint64, deferChanges bool) (*primasim.Server, primasim.OrderReport) {
		sim := seeded(t, 120)
		rep, err := sim.GenerateOrders(primasim.OrderScenario{Seed: seed, Orders: 600, Warehouses: 2, DeferChanges: deferChanges})
		if err != nil {
			t.Fatal(err)
		}
		return sim, rep
	}
	sim, rep := gen(7, false)
	_, again := gen(7, false)
	_, other := gen(8, false)
	if !reflect.DeepEqual(rep, again) || reflect.DeepEqual(rep.Orders, other.Orders) {
		t.Fatal("the generator is not a function of its seed")
	}
	st := sim.State()
	items := map[string]primasim.Item{}
	for _, it := range st.Items {
		items[it.SKU] = it
	}
	orders := map[string]primasim.SalesOrder{}
	for _, o := range st.SalesOrders {
		orders[o.Ref] = o
	}
	if len(rep.Orders) != 600 || len(orders) != 600 {
		t.Fatalf("%d orders reported, %d held", len(rep.Orders), len(orders))
	}
	kinds := map[string]int{}
	var lines, nonStock, fee int
	for _, want := range rep.Orders {
		got := orders[want.Ref]
		if got.Version != want.Version || got.Status != want.Status || !reflect.DeepEqual(got.Lines, want.Lines) || got.Warehouse != want.Warehouse {
			t.Fatalf("%s: held %+v, reported %+v", want.Ref, got, want)
		}
		switch {
		case want.Status == primasim.OrderCancelled && (want.Version != 2 || want.Amendment != ""),
			want.Amendment != "" && want.Version != 2,
			want.Amendment == "" && want.Status == primasim.OrderReleased && want.Version != 1:
			t.Fatalf("%s: version %d, status %s, amendment %q", want.Ref, want.Version, want.Status, want.Amendment)
		}
		kinds[want.Amendment]++
		for _, l := range want.Lines {
			it := items[l.SKU]
			lines++
			switch {
			case l.StockType == primasim.StockTypeNonStock:
				nonStock++
				if it.StockItem {
					t.Fatalf("%s: non-stock line of stock item %+v", want.Ref, it)
				}
			case slices.Contains(rep.FeeSKUs, l.SKU):
				fee++
				if !it.StockItem || it.ClarusCode != "" || l.StockType != primasim.StockTypeStock {
					t.Fatalf("%s: fee line %+v of %+v", want.Ref, l, it)
				}
			case l.SKU == want.UnmappedSKU:
				if it.ClarusCode != "" || it.IntendedCode == "" || !slices.Contains(rep.UnmappedSKUs, l.SKU) {
					t.Fatalf("%s: unmapped line of %+v", want.Ref, it)
				}
			default:
				if !it.StockItem || it.ClarusCode == "" || l.StockType != primasim.StockTypeStock || l.Quantity < 1 {
					t.Fatalf("%s: stock line %+v of %+v", want.Ref, l, it)
				}
			}
		}
	}
	if kinds[primasim.AmendPrice] == 0 || kinds[primasim.AmendQuantity] == 0 || kinds[primasim.AmendDelivery] == 0 ||
		rep.Cancelled == 0 || rep.WithUnmapped == 0 || rep.Lines != lines || len(rep.UnmappedSKUs) == 0 {
		t.Fatalf("amendments %v, %d cancelled, %d with unmapped lines %v, %d lines", kinds, rep.Cancelled, rep.WithUnmapped, rep.UnmappedSKUs, rep.Lines)
	}
	// Near the defaults: 15% non-stock and 5% fee lines, 5% amended, 3% cancelled.
	if f := float64(nonStock) / float64(lines); f < 0.09 || f > 0.21 {
		t.Errorf("non-stock line fraction %.3f", f)
	}
	if f := float64(fee) / float64(lines); f < 0.01 || f > 0.09 {
		t.Errorf("fee line fraction %.3f", f)
	}
	if rep.Amended < 10 || rep.Amended > 60 || rep.Cancelled < 5 || rep.Cancelled > 40 {
		t.Errorf("%d amended, %d cancelled of 600", rep.Amended, rep.Cancelled)
	}

	// Deferred, the changes wait for the caller; applied, they leave the
	// orders as the report says.
	dsim, drep := gen(7, true)
	if len(drep.Changes) != rep.Amended+rep.Cancelled || !reflect.DeepEqual(drep.Orders, rep.Orders) {
		t.Fatalf("%d changes deferred for %d amended and %d cancelled", len(drep.Changes), rep.Amended, rep.Cancelled)
	}
	for _, o := range dsim.State().SalesOrders {
		if o.Version != 1 || o.Status != primasim.OrderReleased {
			t.Fatalf("a change was not deferred: %+v", o)
		}
	}
	mustApply(t, dsim, drep.Changes...)
	if got := dsim.State().SalesOrders; !reflect.DeepEqual(withoutStamps(got), withoutStamps(st.SalesOrders)) {
		t.Fatal("the deferred changes leave other orders than the report says")
	}
	// Mapping what the report lists leaves no order line unmapped.
	for _, sku := range rep.UnmappedSKUs {
		mustApply(t, sim, primasim.Event{Type: "map_item", SKU: sku})
	}
	for _, it := range sim.State().Items {
		if slices.Contains(rep.UnmappedSKUs, it.SKU) && it.ClarusCode != it.IntendedCode {
			t.Fatalf("%+v", it)
		}
	}
}

func withoutStamps(os []primasim.SalesOrder) []primasim.SalesOrder {
	out := slices.Clone(os)
	for i := range out {
		out[i].Modified = time.Time{}
	}
	return out
}

// The demo's and the end-to-end test's volume is generated in well under a
// few seconds, over HTTP as from Go.
func TestGenerateOrdersAtVolume(t *testing.T) {
	_, srv, _ := newSim(t, primasim.Options{})
	if status, b := control(t, "POST", srv.URL+"/_sim/scenario", map[string]any{"seed": 1, "items": 600, "unmapped_fraction": 0.02}); status != 200 {
		t.Fatalf("%d %s", status, b)
	}
	start := time.Now()
	status, b := control(t, "POST", srv.URL+"/_sim/scenario/orders", map[string]any{"seed": 1, "orders": 20000, "warehouses": 3})
	took := time.Since(start)
	var rep primasim.OrderReport
	if err := json.Unmarshal(b, &rep); err != nil || status != 200 || len(rep.Orders) != 20000 {
		t.Fatalf("%d, %v, %d orders", status, err, len(rep.Orders))
	}
	t.Logf("20000 orders, %d lines, in %s", rep.Lines, took)
	if took > 10*time.Second {
		t.Fatalf("20000 orders took %s", took)
	}
}
