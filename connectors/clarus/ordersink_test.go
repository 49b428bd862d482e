package clarus_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/schemas"
)

const (
	create_ = schemas.ClarusOrderCreate
	cancel_ = schemas.ClarusOrderCancel
)

// A create becomes one PENDING goods out carrying lockstep's order ref and
// version, acked created with its Clarus id, once: a second sink started
// on the same group acks only what is new.
func TestOrderSinkCreates(t *testing.T) {
	e := newOrderEnv(t, "A", "B")
	e.send(create("SO-1", 3, line("A", 2), line("B", 1)), create("SO-2", 1, line("B", 4)))
	stop := e.start()
	acks := e.waitAcks(2)

	for _, ref := range []string{"SO-1", "SO-2"} {
		a := ackOf(t, acks, ref, create_)
		os := e.orders(ref)
		if a.Status != schemas.OrderCreated || a.ClarusID == nil || a.Reason != nil || len(os) != 1 || *a.ClarusID != itoa(os[0].ID) {
			t.Fatalf("%s: ack %+v, orders %+v", ref, a, os)
		}
	}
	o := e.orders("SO-1")[0]
	if o.Status != "PENDING" || o.ExternalSystemReference1 != "SO-1" || o.String1 != "v3" || o.Warehouse != "WH1" ||
		!slices.Equal(o.Lines, []clarussim.OrderLine{{SKU: "A", Quantity: 2}, {SKU: "B", Quantity: 1}}) ||
		o.Address == nil || *o.Address != (clarussim.Address{Name: "Ada Lovelace", Address1: "1 Analytical St", Address2: "Flat 2", Address3: "London", Postcode: "N1 1AA", CountryCode: "GB"}) {
		t.Fatalf("goods out %+v", o)
	}
	if a := ackOf(t, acks, "SO-1", create_); a.OrderVersion != 3 || a.EventID != "ack:orders:SO-1:v3:create" || a.Source != schemas.SourceClarus {
		t.Fatalf("ack %+v", a)
	}
	if h := e.ready.history(); len(h) == 0 || !h[0] {
		t.Fatalf("readiness %v", h)
	}
	if e.metric("lockstep_clarus_order_acks_total", "create", "created") != 2 || e.metric("lockstep_clarus_order_requests_total", "create", "ok") != 2 {
		t.Fatal("metrics disagree")
	}
	stop()

	e.send(create("SO-3", 1, line("A", 1)))
	e.start()
	e.waitAcks(3)
	stop()
	if acks := e.acks(); len(acks) != 3 || len(e.sim.State().Orders) != 3 {
		t.Fatalf("after a restart: %d acks, %d orders", len(acks), len(e.sim.State().Orders))
	}
}

// A code Clarus has no product for, and a field Clarus refuses (422):
// rejected acks with the reason, nothing created, nothing retried, and the
// commands after them go on.
func TestOrderSinkRejects(t *testing.T) {
	e := newOrderEnv(t, "A")
	bad := create("SO-2", 1, line("A", 1))
	bad.Delivery.CountryCode = "GBR"
	long := create(strings.Repeat("R", 51), 1, line("A", 1))
	other := create("SO-4", 1, line("A", 1))
	other.Warehouse = "WH9"
	e.send(create("SO-1", 1, line("A", 1), line("NOPE", 2)), bad, long, other, create("SO-5", 1, line("A", 1)))
	e.start()
	acks := e.waitAcks(5)

	for ref, want := range map[string]string{
		"SO-1":                  "no Clarus product has the code NOPE",
		"SO-2":                  "Clarus refused the goods out: HTTP 422: address.country_code must be an ISO 3166-1 alpha-2 code",
		strings.Repeat("R", 51): "takes at most 50",
		"SO-4":                  `warehouse "WH9" is not one of LOCKSTEP_CLARUS_WAREHOUSES`,
	} {
		a := ackOf(t, acks, ref, create_)
		if a.Status != schemas.OrderRejected || a.ClarusID != nil || a.Reason == nil || !strings.Contains(*a.Reason, want) {
			t.Errorf("%s: %+v, want rejected with %q", ref, a, want)
		}
	}
	if a := ackOf(t, acks, "SO-5", create_); a.Status != schemas.OrderCreated {
		t.Fatalf("the command after the rejections: %+v", a)
	}
	if n := len(e.sim.State().Orders); n != 1 {
		t.Fatalf("%d orders", n)
	}
	if n := e.log.count("/api/goods_outs", 422); n != 1 {
		t.Fatalf("%d refused creations sent; want the one only Clarus could refuse", n)
	}
}

// Cancels: an unpicked goods out is cancelled (a PENDING one deleted, an
// allocated one CANCELLED); one being picked or dispatched is refused; a
// reference with no goods out has nothing to cancel.
func TestOrderSinkCancels(t *testing.T) {
	e := newOrderEnv(t, "A")
	e.send(create("P", 1, line("A", 1)), create("AL", 1, line("A", 1)), create("K", 1, line("A", 1)), create("D", 1, line("A", 1)))
	e.start()
	acks := e.waitAcks(4)
	e.apply(clarussim.Event{Type: "allocate", Reference: "AL"},
		clarussim.Event{Type: "allocate", Reference: "K"}, clarussim.Event{Type: "pick", Reference: "K"},
		clarussim.Event{Type: "allocate", Reference: "D"}, clarussim.Event{Type: "dispatch", Reference: "D"})
	e.send(cancel("P", 1), cancel("AL", 1), cancel("K", 1), cancel("D", 1), cancel("NONE", 1))
	acks = e.waitAcks(9)

	for ref, want := range map[string]struct {
		status schemas.OrderAckStatus
		reason string
		order  string // the goods out's status after; "" when deleted
	}{
		"P":    {schemas.OrderCancelled, "", ""},
		"AL":   {schemas.OrderCancelled, "", "CANCELLED"},
		"K":    {schemas.OrderRejected, "picking started: goods out", "PICK"},
		"D":    {schemas.OrderRejected, "is COMPLETED", "COMPLETED"},
		"NONE": {schemas.OrderCancelled, "nothing to cancel", ""},
	} {
		a := ackOf(t, acks, ref, cancel_)
		if a.Status != want.status || (want.reason == "") != (a.Reason == nil) || a.Reason != nil && !strings.Contains(*a.Reason, want.reason) {
			t.Errorf("%s: %+v, want %s %q", ref, a, want.status, want.reason)
		}
		var got string
		if os := e.orders(ref); len(os) == 1 {
			got = os[0].Status
		}
		if got != want.order {
			t.Errorf("%s: goods out %q, want %q", ref, got, want.order)
		}
		if ref != "NONE" && a.Status == schemas.OrderCancelled && (a.ClarusID == nil || *a.ClarusID != *ackOf(t, acks, ref, create_).ClarusID) {
			t.Errorf("%s: cancelled ack names %v", ref, a.ClarusID)
		}
	}
	if n := e.log.count("/api/goods_outs/"+*ackOf(t, acks, "K", create_).ClarusID+"/cancel", 0); n != 0 {
		t.Fatal("a cancel was sent for a goods out being picked")
	}
}

// An amendment is a cancel and a create of the new version. Unpicked, the
// old goods out goes and the new one takes its place; once picking has
// started, both are refused and the old one stays.
func TestOrderSinkCancelAndRecreate(t *testing.T) {
	e := newOrderEnv(t, "A", "B")
	e.send(create("SO-1", 1, line("A", 2)), create("SO-2", 1, line("A", 1)))
	e.start()
	first := e.waitAcks(2)
	e.apply(clarussim.Event{Type: "allocate", Reference: "SO-2"}, clarussim.Event{Type: "pick", Reference: "SO-2"})
	e.send(cancel("SO-1", 2), create("SO-1", 2, line("A", 5), line("B", 1)),
		cancel("SO-2", 2), create("SO-2", 2, line("A", 3)))
	acks := e.waitAcks(6)[2:]

	if c, n := ackOf(t, acks, "SO-1", cancel_), ackOf(t, acks, "SO-1", create_); c.Status != schemas.OrderCancelled || n.Status != schemas.OrderCreated ||
		*n.ClarusID == *ackOf(t, first, "SO-1", create_).ClarusID {
		t.Fatalf("SO-1: %+v then %+v", c, n)
	}
	if os := e.orders("SO-1"); len(os) != 1 || os[0].String1 != "v2" || !slices.Equal(os[0].Lines, []clarussim.OrderLine{{SKU: "A", Quantity: 5}, {SKU: "B", Quantity: 1}}) {
		t.Fatalf("SO-1 in Clarus: %+v", os)
	}
	c, n := ackOf(t, acks, "SO-2", cancel_), ackOf(t, acks, "SO-2", create_)
	if c.Status != schemas.OrderRejected || !strings.Contains(*c.Reason, "picking started") ||
		n.Status != schemas.OrderRejected || !strings.Contains(*n.Reason, "not re-created") || n.OrderVersion != 2 {
		t.Fatalf("SO-2: %+v then %+v", c, n)
	}
	if os := e.orders("SO-2"); len(os) != 1 || os[0].String1 != "v1" || os[0].Status != "PICK" {
		t.Fatalf("SO-2 in Clarus: %+v", os)
	}
}

// A run that created the goods out and died before its transaction
// committed left the command to be handled again: the first look-up finds
// the goods out, and the ack names it without a second creation.
func TestOrderSinkFindsWhatACrashedRunCreated(t *testing.T) {
	e := newOrderEnv(t, "A", "B")
	api := clarus.NewClient(e.cfg, clarus.Options{Clock: e.clock})
	ids, err := api.ProductIDs(context.Background(), []string{"A", "B"})
	if err != nil || len(ids) != 2 {
		t.Fatalf("%v %v", ids, err)
	}
	id, err := api.CreateGoodsOut(context.Background(), clarus.NewGoodsOut{Reference: "SO-1", AccountID: "1", WarehouseID: "1", ExpectedDispatch: epoch,
		Lines: []clarus.NewGoodsOutLine{{ProductID: ids["B"], Quantity: 1}, {ProductID: ids["A"], Quantity: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	e.send(create("SO-1", 1, line("A", 2), line("B", 1)))
	e.start()
	a := ackOf(t, e.waitAcks(1), "SO-1", create_)
	if a.Status != schemas.OrderCreated || *a.ClarusID != id || len(e.orders("SO-1")) != 1 || e.log.count("/api/goods_outs", 0) != 1 {
		t.Fatalf("%+v; %d creations", a, e.log.count("/api/goods_outs", 0))
	}
}

// A create whose reference already stands in Clarus with other lines (the
// cancel before it refused, in a run that did not see that) is refused
// rather than made a second order.
func TestOrderSinkRefusesASecondOrder(t *testing.T) {
	e := newOrderEnv(t, "A")
	e.apply(clarussim.Event{Type: "order", Warehouse: "WH1", Reference: "SO-1", SKU: "A", Quantity: 1})
	e.send(create("SO-1", 2, line("A", 7)))
	e.start()
	a := ackOf(t, e.waitAcks(1), "SO-1", create_)
	if a.Status != schemas.OrderRejected || !strings.Contains(*a.Reason, "with other lines") || len(e.orders("SO-1")) != 1 {
		t.Fatalf("%+v", a)
	}
}

// While Clarus is down the sink waits on the command in hand, says it is
// not ready, and honours Retry-After; when Clarus is back every command
// is applied once and acked.
func TestOrderSinkRidesOutAnOutage(t *testing.T) {
	e := newOrderEnv(t, "A")
	e.sim.SetFaults(clarussim.Faults{UnavailableRate: 1, RetryAfterSeconds: 7})
	e.send(create("SO-1", 1, line("A", 1)), create("SO-2", 1, line("A", 1)), cancel("SO-0", 1))
	e.start()
	// Each failed call waits on the fake clock, which passes at once.
	for e.log.count("/oauth/token", 503) < 20 {
		e.nextCall()
	}
	if h := e.ready.history(); len(h) < 2 || h[len(h)-1] || len(e.acks()) != 0 {
		t.Fatalf("during the outage: readiness %v", h)
	}
	if e.metric("lockstep_clarus_order_sink_paused") != 1 {
		t.Fatal("not paused")
	}
	if !slices.ContainsFunc(e.clock.Slept(), func(d time.Duration) bool { return d >= 7*time.Second }) {
		t.Fatalf("Retry-After 7 not honoured: %v", e.clock.Slept())
	}
	e.sim.SetFaults(clarussim.Faults{})
	acks := e.waitAcks(3)
	for _, ref := range []string{"SO-1", "SO-2"} {
		if a := ackOf(t, acks, ref, create_); a.Status != schemas.OrderCreated || len(e.orders(ref)) != 1 {
			t.Fatalf("%s: %+v", ref, a)
		}
	}
	if h := e.ready.history(); !h[len(h)-1] || e.metric("lockstep_clarus_order_sink_paused") != 0 {
		t.Fatalf("after the outage: readiness %v", h)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
