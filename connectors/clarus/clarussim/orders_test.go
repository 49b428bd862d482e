package clarussim_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
)

func order(t *testing.T, e *env, ref string) clarussim.Order {
	t.Helper()
	for _, o := range e.sim.State().Orders {
		if o.Reference == ref {
			return o
		}
	}
	t.Fatalf("no order %s", ref)
	return clarussim.Order{}
}

// Goods-out orders pass through the documented statuses in their
// documented order, never created as ALLOCATED.
func TestOrderStatuses(t *testing.T) {
	ep, url := newEndpoint(t, 0)
	e := newEnv(t, clarussim.Config{ClientID: "c", ClientSecret: "s", Subdomain: "acme", WebhookURL: url})
	e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", Lines: []clarussim.Line{{SKU: "A", Quantity: 5}, {SKU: "B", Quantity: 2}}})

	// Created: DRAFT, then PENDING, nothing allocated.
	e.apply(clarussim.Event{Type: "order", Warehouse: "WH1", Reference: "SO-1", Lines: []clarussim.Line{{SKU: "A", Quantity: 3}, {SKU: "B", Quantity: 4}}})
	if o := order(t, e, "SO-1"); o.Status != "PENDING" || !slices.Equal(o.History, []string{"DRAFT", "PENDING"}) || o.Lines[0].Allocated != 0 {
		t.Fatalf("created: %+v", o)
	}
	// Stock short for B: PART_ALLOCATED, what there is allocated.
	e.apply(clarussim.Event{Type: "allocate", Reference: "SO-1"})
	if o := order(t, e, "SO-1"); o.Status != "PART_ALLOCATED" || o.Lines[0].Allocated != 3 || o.Lines[1].Allocated != 2 {
		t.Fatalf("allocated short: %+v", o)
	}
	if _, err := e.sim.Apply(clarussim.Event{Type: "allocate", Reference: "SO-1"}); err == nil || !strings.Contains(err.Error(), "no stock") {
		t.Fatalf("allocating again with no stock: %v", err)
	}
	e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: "B", Quantity: 5},
		clarussim.Event{Type: "allocate", Reference: "SO-1"})
	if o := order(t, e, "SO-1"); o.Status != "ALLOCATED" || o.Lines[1].Allocated != 4 {
		t.Fatalf("allocated in full: %+v", o)
	}
	e.apply(clarussim.Event{Type: "pick", Reference: "SO-1"}, clarussim.Event{Type: "dispatch", Reference: "SO-1"})
	o := order(t, e, "SO-1")
	if want := []string{"DRAFT", "PENDING", "PART_ALLOCATED", "ALLOCATED", "PICK", "COMPLETED"}; o.Status != "COMPLETED" || !slices.Equal(o.History, want) {
		t.Fatalf("dispatched: %+v, want history %v", o, want)
	}
	if _, err := e.sim.Apply(clarussim.Event{Type: "cancel", OrderID: o.ID}); err == nil || !strings.Contains(err.Error(), "already dispatched") {
		t.Fatalf("cancelling a dispatched order: %v", err)
	}

	// The compound allocate (as the scenario generator uses it) passes
	// through DRAFT and PENDING too, and dispatch through PICK.
	e.apply(clarussim.Event{Type: "allocate", Warehouse: "WH1", Reference: "SO-2", SKU: "A", Quantity: 1},
		clarussim.Event{Type: "dispatch", Reference: "SO-2"})
	if o := order(t, e, "SO-2"); !slices.Equal(o.History, []string{"DRAFT", "PENDING", "ALLOCATED", "PICK", "COMPLETED"}) {
		t.Fatalf("compound: %+v", o)
	}

	// Cancelling: a pending order is deleted, an allocated one cancelled
	// with its stock deallocated.
	e.apply(clarussim.Event{Type: "order", Warehouse: "WH1", Reference: "SO-3", SKU: "A", Quantity: 1},
		clarussim.Event{Type: "cancel", Reference: "SO-3"},
		clarussim.Event{Type: "allocate", Warehouse: "WH1", Reference: "SO-4", SKU: "A", Quantity: 1},
		clarussim.Event{Type: "cancel", Reference: "SO-4"})
	for _, o := range e.sim.State().Orders {
		if o.Reference == "SO-3" {
			t.Fatalf("a cancelled pending order is kept: %+v", o)
		}
	}
	if o := order(t, e, "SO-4"); o.Status != "CANCELLED" || o.Lines[0].Allocated != 0 {
		t.Fatalf("cancelled: %+v", o)
	}
	for _, b := range e.sim.State().Stock {
		if b.Allocated != 0 {
			t.Fatalf("stock still allocated after dispatch and cancel: %+v", b)
		}
	}

	// Only completion sends a webhook: SO-1 and SO-2.
	e.sim.DeliverWebhooks(context.Background())
	n := 0
	for _, d := range ep.got {
		if d.header.Get("X-ClarusWMS-Automation-ID") == "101" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d goods_out.completed webhooks, want 2", n)
	}
}
