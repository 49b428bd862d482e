package primasim_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
)

// The control API injects business events, reads the ground truth, sets
// faults and seeds a catalogue, refusing what it cannot apply.
func TestControlAPI(t *testing.T) {
	_, srv, _ := newSim(t, primasim.Options{})
	if status, b := control(t, "POST", srv.URL+"/_sim/scenario", map[string]any{"seed": 3, "items": 24, "warehouses": 2, "max_initial_stock": 50}); status != 200 || !strings.Contains(string(b), `"items":24`) {
		t.Fatalf("scenario: %d %s", status, b)
	}
	status, b := control(t, "POST", srv.URL+"/_sim/events", map[string]any{"events": []map[string]any{
		{"type": "set_item_cost", "sku": "ST0001/BLK/6", "unit_cost": "19.9900"},
		{"type": "set_stock", "sku": "ST0001/BLK/6", "warehouse": "WH1", "available": 123},
	}})
	if status != 200 {
		t.Fatalf("events: %d %s", status, b)
	}
	for _, bad := range []map[string]any{
		{"type": "set_stock", "sku": "NOPE", "warehouse": "WH1", "available": 1},
		{"type": "set_item_cost", "sku": "ST0001/BLK/6"},
		{"type": "teleport", "sku": "ST0001/BLK/6"},
		{"type": "add_item", "sku": "bad//"},
	} {
		if status, b := control(t, "POST", srv.URL+"/_sim/events", bad); status != 422 {
			t.Errorf("%v: %d %s", bad, status, b)
		}
	}
	if status, _ := control(t, "POST", srv.URL+"/_sim/faults", map[string]any{"error_rate": 1.5}); status != 400 {
		t.Errorf("rate 1.5 accepted: %d", status)
	}
	if status, _ := control(t, "POST", srv.URL+"/_sim/faults", map[string]any{"eror_rate": 0.1}); status != 400 {
		t.Errorf("misspelt fault accepted: %d", status)
	}
	if status, _ := control(t, "POST", srv.URL+"/_sim/faults", map[string]any{"throttle_rate": 0.25}); status != 200 {
		t.Errorf("faults refused: %d", status)
	}

	status, b = control(t, "GET", srv.URL+"/_sim/state", nil)
	var st primasim.State
	if err := json.Unmarshal(b, &st); err != nil || status != 200 {
		t.Fatalf("state: %d %v", status, err)
	}
	if len(st.Items) != 24 || st.Items[0].SKU != "ST0001/BLK/10" || st.Faults.ThrottleRate != 0.25 {
		t.Fatalf("state: %d items, first %+v, faults %+v", len(st.Items), st.Items[0], st.Faults)
	}
	var item primasim.Item
	for _, it := range st.Items {
		if it.SKU == "ST0001/BLK/6" {
			item = it
		}
	}
	if item.UnitCost.String() != "19.9900" || item.ClarusCode != "SKU-00001" {
		t.Fatalf("item %+v", item)
	}
	for _, l := range st.Stock {
		if l.SKU == "ST0001/BLK/6" && l.Warehouse == "WH1" && (l.Available != 123 || l.SetBy != primasim.ManualSetBy) {
			t.Fatalf("overwritten level %+v", l)
		}
	}
}

// A scenario is a function of its seed.
func TestScenarioDeterministic(t *testing.T) {
	gen := func(seed uint64) primasim.State {
		sim := primasim.New(primasim.Options{Clock: func() time.Time { return epoch }})
		if _, err := sim.RunScenario(primasim.Scenario{Seed: seed, Items: 60, Warehouses: 3, MaxInitialStock: 20,
			NonStockFraction: 0.1, UnmappedFraction: 0.1}); err != nil {
			t.Fatal(err)
		}
		return sim.State()
	}
	a, b, c := gen(5), gen(5), gen(6)
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a.Items, c.Items) {
		t.Fatal("the scenario is not a function of its seed")
	}
	nonStock, unmapped := 0, 0
	for _, it := range a.Items {
		if !it.StockItem {
			nonStock++
		}
		if it.ClarusCode == "" {
			unmapped++
		}
	}
	if nonStock == 0 || unmapped <= nonStock || len(a.Stock) != 3*(60-nonStock) {
		t.Fatalf("%d non-stock, %d unmapped, %d levels", nonStock, unmapped, len(a.Stock))
	}
}

// `lockstep sim prima` reads Options from the environment and calls Serve.
func TestOptionsFromEnvAndServe(t *testing.T) {
	var o primasim.Options
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &o,
		Lookuper: envconfig.MapLookuper(map[string]string{"COMPANY_ID": "DUB", "SEED": "9"})}); err != nil {
		t.Fatal(err)
	}
	if o.CompanyID != "DUB" || o.Seed != 9 || o.Currency != "GBP" || o.MaxPageSize != 1000 {
		t.Fatalf("options %+v", o)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- primasim.New(o).Serve(ctx, addr) }()
	var resp *http.Response
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if resp, err = http.Get("http://" + addr + "/_sim/state"); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond) // waiting for the listener, not asserting
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
