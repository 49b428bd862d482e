package clarussim_test

import (
	"context"
	"net"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
)

func TestScenarioIsSeededAndConsistent(t *testing.T) {
	gen := func(seed uint64) clarussim.State {
		e := newEnv(t, clarussim.Config{})
		n, err := e.sim.StartScenario(clarussim.Scenario{Seed: seed, SKUs: 30, Warehouses: 3, Generate: 3000})
		if err != nil || n < 3000 {
			t.Fatalf("generated %d: %v", n, err)
		}
		return e.sim.State()
	}
	a, b := gen(21), gen(21)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed generated different traffic")
	}
	if reflect.DeepEqual(a.Stock, gen(22).Stock) {
		t.Fatal("another seed generated the same stock")
	}
	// The movement log accounts for every unit of the ground truth: on hand
	// from receipts, adjustments and picks; held from holds and releases;
	// allocated from allocations and cancellations, less what dispatch
	// consumed (a pick ships allocated units).
	type sums struct{ onHand, held, allocated int64 }
	by := map[string]*sums{}
	kinds := map[string]int{}
	ids := map[string]bool{}
	for _, m := range a.Movements {
		if ids[m.ID] {
			t.Fatalf("movement id %s repeated", m.ID)
		}
		ids[m.ID] = true
		kinds[m.Kind]++
		k := m.SKU + "@" + m.Warehouse
		if by[k] == nil {
			by[k] = &sums{}
		}
		switch m.Kind {
		case "receipt", "adjustment":
			by[k].onHand += m.Quantity
		case "pick":
			by[k].onHand += m.Quantity
			by[k].allocated += m.Quantity
		case "hold", "release":
			by[k].held += m.Quantity
		case "allocation", "deallocation":
			by[k].allocated += m.Quantity
		}
	}
	if len(kinds) != 7 {
		t.Fatalf("kinds generated: %v", kinds)
	}
	for _, s := range a.Stock {
		got := by[s.SKU+"@"+s.Warehouse]
		if got.onHand != s.OnHand || got.held != s.Held || got.allocated != s.Allocated || s.Available < 0 {
			t.Fatalf("%s@%s: log sums %+v, state %+v", s.SKU, s.Warehouse, *got, s)
		}
	}
}

func TestServeListener(t *testing.T) {
	sim, err := clarussim.New(clarussim.Config{ClientID: "c", ClientSecret: "s", Subdomain: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.ServeListener(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/_sim/state")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("state: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeListener did not stop")
	}
}
