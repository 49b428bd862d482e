package clarussim_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
)

// shipEnv has 10 of A and 10 of B in WH1 and goods out SO-1 (A 4, B 3,
// A 2: two lines of A) allocated in full, its webhooks going to ep.
func shipEnv(t *testing.T, cfg clarussim.Config) (*env, *endpoint) {
	t.Helper()
	ep, url := newEndpoint(t, 0)
	cfg.ClientID, cfg.ClientSecret, cfg.Subdomain, cfg.WebhookURL = "lockstep", "secret", "acme", url
	e := newEnv(t, cfg)
	e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", Lines: []clarussim.Line{{SKU: "A", Quantity: 10}, {SKU: "B", Quantity: 10}}},
		clarussim.Event{Type: "allocate", Warehouse: "WH1", Reference: "SO-1",
			Lines: []clarussim.Line{{SKU: "A", Quantity: 4}, {SKU: "B", Quantity: 3}, {SKU: "A", Quantity: 2}}})
	e.sim.DeliverWebhooks(context.Background())
	ep.got = nil // the receipt's
	return e, ep
}

func ship(lines ...clarussim.Line) clarussim.Event {
	return clarussim.Event{Type: "ship", Reference: "SO-1", Lines: lines}
}

func stockOf(t *testing.T, e *env, sku string) clarussim.Balance {
	t.Helper()
	for _, b := range e.sim.State().Stock {
		if b.SKU == sku && b.Warehouse == "WH1" {
			return b
		}
	}
	t.Fatalf("no stock of %s", sku)
	return clarussim.Balance{}
}

// The ship rules: what may ship, and what a refusal leaves (nothing).
func TestShipRefusals(t *testing.T) {
	for _, c := range []struct {
		name   string
		before []clarussim.Event
		ev     clarussim.Event
		reason string
	}{
		{"more than allocated", nil, ship(clarussim.Line{SKU: "A", Quantity: 7}), "7 of A asked: more than order"},
		{"more than left after a shipment", []clarussim.Event{ship(clarussim.Line{SKU: "B", Quantity: 2})}, ship(clarussim.Line{SKU: "B", Quantity: 2}), "2 of B asked"},
		{"twice in one event", nil, ship(clarussim.Line{SKU: "B", Quantity: 2}, clarussim.Line{SKU: "B", Quantity: 2}), "2 of B asked"},
		{"not on the order", nil, ship(clarussim.Line{SKU: "C", Quantity: 1}), "C is not on order"},
		{"no lines", nil, ship(), "ship needs lines"},
		{"zero", nil, ship(clarussim.Line{SKU: "A", Quantity: 0}), "positive quantity"},
		{"completed", []clarussim.Event{{Type: "dispatch", Reference: "SO-1"}}, clarussim.Event{Type: "ship", SKU: "A", Quantity: 1}, "is COMPLETED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, ep := shipEnv(t, clarussim.Config{})
			e.apply(c.before...)
			e.sim.DeliverWebhooks(context.Background())
			hooks := len(ep.got)
			if c.ev.Reference == "" {
				c.ev.OrderID = order(t, e, "SO-1").ID
			}
			before := e.sim.State()
			if _, err := e.sim.Apply(c.ev); err == nil || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("got %v, want a refusal with %q", err, c.reason)
			}
			after := e.sim.State()
			if len(after.Shipments) != len(before.Shipments) || len(after.Movements) != len(before.Movements) ||
				!slices.Equal(after.Stock, before.Stock) || !slices.EqualFunc(after.Orders, before.Orders, func(a, b clarussim.Order) bool {
				return a.Status == b.Status && slices.Equal(a.Lines, b.Lines)
			}) {
				t.Fatalf("a refused ship changed the ground truth")
			}
			if e.sim.DeliverWebhooks(context.Background()); len(ep.got) != hooks {
				t.Fatal("a refused ship sent a webhook")
			}
		})
	}
	// A pending order (nothing allocated) cannot ship.
	e, _ := shipEnv(t, clarussim.Config{})
	e.apply(clarussim.Event{Type: "order", Warehouse: "WH1", Reference: "SO-2", SKU: "A", Quantity: 1})
	if _, err := e.sim.Apply(clarussim.Event{Type: "ship", Reference: "SO-2", SKU: "A", Quantity: 1}); err == nil || !strings.Contains(err.Error(), "is PENDING") {
		t.Fatalf("shipping a pending order: %v", err)
	}
}

// Partial shipments leave stock as they go, each a shipment record with
// its picks logged at its own time; only the last one completes the goods
// out, and only completion sends a webhook, with cumulative quantities.
func TestShipPartialThenComplete(t *testing.T) {
	e, ep := shipEnv(t, clarussim.Config{})
	res, err := e.sim.Apply(clarussim.Event{Type: "ship", Reference: "SO-1", Lines: []clarussim.Line{{SKU: "A", Quantity: 5}},
		Carrier: "DPD", Tracking: "TRK-1"})
	if err != nil {
		t.Fatal(err)
	}
	o := order(t, e, "SO-1")
	// A takes line 1 whole and 1 of line 3, in line order.
	if o.Status != "PICK" || res.RecordID != o.ID || res.ShipmentID == 0 || len(res.Movements) != 2 ||
		o.Lines[0].Dispatched != 4 || o.Lines[1].Dispatched != 0 || o.Lines[2].Dispatched != 1 {
		t.Fatalf("after the first shipment: %+v, result %+v", o, res)
	}
	if a := stockOf(t, e, "A"); a.OnHand != 5 || a.Allocated != 1 || a.Available != 4 {
		t.Fatalf("A after the first shipment: %+v", a)
	}
	sh := e.sim.Shipments()
	t1 := sh[0].DispatchedAt // the simulator's instant: the clock, made unique to the millisecond
	if len(sh) != 1 || sh[0].ID != res.ShipmentID || sh[0].GoodsOutID != o.ID || sh[0].Reference != "SO-1" || sh[0].Warehouse != "WH1" ||
		sh[0].Status != "dispatched" || sh[0].Carrier != "DPD" || sh[0].Tracking != "TRK-1" || t1.Sub(e.clock.Now()) > time.Second ||
		len(sh[0].Lines) != 2 || sh[0].Lines[0].SKU != "A" || sh[0].Lines[0].Quantity != 4 || sh[0].Lines[1].Quantity != 1 {
		t.Fatalf("shipments %+v", sh)
	}
	if st := e.sim.DeliverWebhooks(context.Background()); st.Queued != 1 || len(ep.got) != 0 {
		t.Fatalf("a partial shipment sent a webhook: %+v", st)
	}
	for _, m := range e.sim.State().Movements {
		if strings.HasPrefix(m.ID, "shipment/") && (m.Trigger != "" || m.Kind != "pick" || !m.At.Equal(t1) || m.Reference != "SO-1") {
			t.Fatalf("pick of an incomplete goods out: %+v", m)
		}
	}

	e.clock.Advance(time.Hour)
	res2, err := e.sim.Apply(clarussim.Event{Type: "ship", Reference: "SO-1", Lines: []clarussim.Line{{SKU: "B", Quantity: 3}, {SKU: "A", Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	o = order(t, e, "SO-1")
	t2 := e.sim.Shipments()[1].DispatchedAt
	if want := []string{"DRAFT", "PENDING", "ALLOCATED", "PICK", "COMPLETED"}; !slices.Equal(o.History, want) || res2.ShipmentID == res.ShipmentID {
		t.Fatalf("after the last shipment: %+v (result %+v)", o, res2)
	}
	if a, b := stockOf(t, e, "A"), stockOf(t, e, "B"); a.OnHand != 4 || a.Allocated != 0 || b.OnHand != 7 || b.Allocated != 0 {
		t.Fatalf("stock after completion: %+v %+v", a, b)
	}
	e.sim.DeliverWebhooks(context.Background())
	if len(ep.got) != 1 || ep.got[0].header.Get("X-ClarusWMS-Automation-ID") != "101" {
		t.Fatalf("%d webhooks at completion", len(ep.got))
	}
	var body struct {
		Data struct {
			ID       int64     `json:"id"`
			Status   int       `json:"goods_out_status_id"`
			Dispatch time.Time `json:"actual_date_of_dispatch"`
			Lines    []struct {
				Product                          struct{ Code string }
				Order, Allocated, Pick, Dispatch int64
			} `json:"lines"`
		} `json:"data"`
	}
	raw := strings.NewReplacer(`"order_quantity"`, `"Order"`, `"allocated_quantity"`, `"Allocated"`, `"pick_quantity"`, `"Pick"`,
		`"dispatch_quantity"`, `"Dispatch"`).Replace(string(ep.got[0].body))
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, l := range body.Data.Lines {
		got += l.Product.Code + ":" + itoa(l.Order) + "/" + itoa(l.Allocated) + "/" + itoa(l.Pick) + "/" + itoa(l.Dispatch) + " "
	}
	if body.Data.ID != o.ID || body.Data.Status != 6 || (t2.Sub(t1)-time.Hour).Abs() > time.Second || !body.Data.Dispatch.Equal(t2) || got != "A:4/4/4/4 B:3/3/3/3 A:2/2/2/2 " {
		t.Fatalf("webhook %s", ep.got[0].body)
	}
	// Every pick is logged at its shipment's time, and announced now.
	var at []string
	for _, m := range e.sim.State().Movements {
		if strings.HasPrefix(m.ID, "shipment/") {
			if m.Trigger != clarussim.TriggerGoodsOutCompleted {
				t.Fatalf("pick not announced by the completion: %+v", m)
			}
			at = append(at, m.SKU+"@"+m.At.Sub(t1).Round(time.Minute).String()+"="+itoa(m.Quantity))
		}
	}
	if !slices.Equal(at, []string{"A@0s=-4", "A@0s=-1", "B@1h0m0s=-3", "A@1h0m0s=-1"}) {
		t.Fatalf("picks %v", at)
	}
}

// dispatch after a partial shipment ships the rest as one last shipment;
// cancelling after one deallocates only what did not leave.
func TestDispatchAndCancelAfterAShipment(t *testing.T) {
	e, _ := shipEnv(t, clarussim.Config{})
	e.apply(ship(clarussim.Line{SKU: "B", Quantity: 1}))
	res, err := e.sim.Apply(clarussim.Event{Type: "dispatch", Reference: "SO-1", Carrier: "UPS"})
	if err != nil {
		t.Fatal(err)
	}
	sh := e.sim.Shipments()
	if o := order(t, e, "SO-1"); o.Status != "COMPLETED" || len(sh) != 2 || sh[1].ID != res.ShipmentID || sh[1].Carrier != "UPS" || len(sh[1].Lines) != 3 ||
		sh[1].Lines[0].Quantity != 4 || sh[1].Lines[1].Quantity != 2 || sh[1].Lines[2].Quantity != 2 {
		t.Fatalf("order %+v, shipments %+v", o, sh)
	}

	e, _ = shipEnv(t, clarussim.Config{})
	e.apply(ship(clarussim.Line{SKU: "A", Quantity: 3}), clarussim.Event{Type: "cancel", Reference: "SO-1"})
	o := order(t, e, "SO-1")
	if a := stockOf(t, e, "A"); o.Status != "CANCELLED" || a.OnHand != 7 || a.Allocated != 0 || a.Available != 7 || o.Lines[0].Allocated != 3 {
		t.Fatalf("cancelled after a shipment: %+v, A %+v", o, a)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
