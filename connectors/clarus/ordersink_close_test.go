package clarus_test

import (
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/schemas"
)

func closeCmd(ref string, version int64) *schemas.ClarusOrderCommand {
	return command(ref, version, schemas.ClarusOrderClose)
}

// A close marks a dispatched goods out (string5 = prima-despatched) and is
// acked closed with its id; a repeat is harmless and acked the same; a
// goods out still being picked, or none at all, is not closed: rejected.
func TestOrderSinkCloses(t *testing.T) {
	e := newOrderEnv(t, "A")
	e.apply(clarussim.Event{Type: "allocate", Warehouse: "WH1", Reference: "D", SKU: "A", Quantity: 2},
		clarussim.Event{Type: "ship", Reference: "D", SKU: "A", Quantity: 1},
		clarussim.Event{Type: "dispatch", Reference: "D"},
		clarussim.Event{Type: "allocate", Warehouse: "WH1", Reference: "P", SKU: "A", Quantity: 2},
		clarussim.Event{Type: "ship", Reference: "P", SKU: "A", Quantity: 1})
	e.send(closeCmd("D", 1), closeCmd("P", 1), closeCmd("NONE", 1), closeCmd("D", 2))
	e.start()
	acks := e.waitAcks(4)

	d := e.orders("D")[0]
	var closed []schemas.OrderAck
	for _, a := range acks {
		if a.Action != schemas.ClarusOrderClose {
			t.Fatalf("ack %+v", a)
		}
		if a.OrderRef == "D" {
			closed = append(closed, a)
		}
	}
	for _, a := range closed {
		if a.Status != schemas.OrderClosed || a.ClarusID == nil || *a.ClarusID != itoa(d.ID) || a.Reason != nil {
			t.Fatalf("close of D: %+v", a)
		}
	}
	if len(closed) != 2 || d.String5 != clarus.ClosedMarker || d.Status != "COMPLETED" || closed[0].EventID == closed[1].EventID {
		t.Fatalf("D: acks %+v, goods out %+v", closed, d)
	}
	patches := e.log.all("/api/goods_outs/" + itoa(d.ID))
	if len(patches) != 2 || !strings.Contains(patches[0].Body, `"string5":"prima-despatched"`) || !strings.Contains(patches[0].Body, `"type":"goods_outs"`) {
		t.Fatalf("updates sent: %+v", patches)
	}

	for ref, reason := range map[string]string{
		"P":    "is PICK, not dispatched (COMPLETED): not closed",
		"NONE": "no goods out with reference NONE in Clarus",
	} {
		a := ackOf(t, acks, ref, schemas.ClarusOrderClose)
		if a.Status != schemas.OrderRejected || a.Reason == nil || !strings.Contains(*a.Reason, reason) || a.ClarusID != nil {
			t.Errorf("%s: %+v, want rejected with %q", ref, a, reason)
		}
	}
	if p := e.orders("P")[0]; p.String5 != "" || e.log.count("/api/goods_outs/"+itoa(p.ID), 0) != 0 {
		t.Fatalf("a goods out being picked was closed: %+v", p)
	}
	if e.metric("lockstep_clarus_order_acks_total", "close", "closed") != 2 || e.metric("lockstep_clarus_order_acks_total", "close", "rejected") != 2 ||
		e.metric("lockstep_clarus_order_requests_total", "close", "ok") != 2 {
		t.Fatal("metrics disagree")
	}
}
