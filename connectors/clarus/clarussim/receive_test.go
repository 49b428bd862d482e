package clarussim_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
)

// What the warehouse receives against a pre-receipt, short, over and with
// a product it did not expect, and without one: no reference, or a
// mistyped one. Every receipt completes, books the stock and sends
// goods_in_receipt.completed with the reference as recorded and each
// line's expected and received quantities.
func TestReceiveVariants(t *testing.T) {
	ep, url := newEndpoint(t, 0)
	e, h, ps := goodsInEnv(t, clarussim.Config{ClientID: "lockstep", ClientSecret: "secret", Subdomain: "acme", WebhookURL: url})
	for _, ref := range []string{"PO-1", "PO-2"} {
		e.createGoodsIn("/api/goods_in_receipts", h, goodsInBody(preReceipt(ref), addLine(ps["A"], unit0(t, ps["A"]), 10),
			addLine(ps["B"], unit0(t, ps["B"]), 5)))
	}
	res := []clarussim.Result{}
	for _, ev := range []clarussim.Event{
		{Type: "receive", Reference: "PO-1", Lines: []clarussim.Line{{SKU: "A", Quantity: 12}, {SKU: "C", Quantity: 2}}}, // over on A, B short, C not expected
		{Type: "receive", Reference: "PO-2"},                                           // in full
		{Type: "receive", Warehouse: "WH2", SKU: "A", Quantity: 3},                     // no reference
		{Type: "receive", Warehouse: "WH1", SKU: "B", Quantity: 4, Reference: "PO-1O"}, // mistyped
		{Type: "receive", Warehouse: "WH1", SKU: "B", Quantity: 1, Reference: "PO-1"},  // PO-1 is received: a receipt of its own
	} {
		r, err := e.sim.Apply(ev)
		if err != nil {
			t.Fatalf("%+v: %v", ev, err)
		}
		res = append(res, r)
	}
	for _, ev := range []clarussim.Event{
		{Type: "receive", Reference: "PO-9"},                                          // no pre-receipt and no goods said
		{Type: "receive", Reference: "PO-1"},                                          // received already: nothing open
		{Type: "receive", Warehouse: "WH2", Reference: "PO-X", SKU: "A", Quantity: 0}, // nothing
	} {
		if _, err := e.sim.Apply(ev); err == nil {
			t.Fatalf("%+v was applied", ev)
		}
	}
	gs := e.sim.GoodsIn()
	type line struct {
		sku                string
		expected, received int64
		unplanned          bool
	}
	want := []struct {
		ref, wh, status string
		pre             bool
		lines           []line
	}{
		{"PO-1", "WH1", "completed", true, []line{{"A", 10, 12, false}, {"B", 5, 0, false}, {"C", 0, 2, true}}},
		{"PO-2", "WH1", "completed", true, []line{{"A", 10, 10, false}, {"B", 5, 5, false}}},
		{"", "WH2", "completed", false, []line{{"A", 0, 3, true}}},
		{"PO-1O", "WH1", "completed", false, []line{{"B", 0, 4, true}}},
		{"PO-1", "WH1", "completed", false, []line{{"B", 0, 1, true}}},
	}
	if len(gs) != len(want) {
		t.Fatalf("%d receipts: %+v", len(gs), gs)
	}
	for i, w := range want {
		g := gs[i]
		var got []line
		for _, l := range g.Lines {
			got = append(got, line{l.SKU, l.Expected, l.Received, l.Unplanned})
		}
		if g.ID != res[i].RecordID || g.Reference != w.ref || g.Warehouse != w.wh || g.Status != w.status || g.PreReceipt != w.pre ||
			g.ReceivedAt == nil || !slices.Equal(got, w.lines) {
			t.Errorf("receipt %d: %+v, lines %+v", i, g, got)
		}
	}
	var onHand = map[string]int64{}
	for _, b := range e.sim.State().Stock {
		onHand[b.SKU+"@"+b.Warehouse] = b.OnHand
	}
	if onHand["A@WH1"] != 22 || onHand["B@WH1"] != 10 || onHand["C@WH1"] != 2 || onHand["A@WH2"] != 3 {
		t.Fatalf("stock %v", onHand)
	}
	if n := len(res[0].Movements); n != 2 { // B received nothing: no movement
		t.Fatalf("movements of the first receipt %v", res[0].Movements)
	}

	if st := e.sim.DeliverWebhooks(context.Background()); st.Delivered != 5 {
		t.Fatalf("webhooks %+v", st)
	}
	var bodies []receiptHook
	for _, d := range ep.got {
		if d.header.Get("X-ClarusWMS-Automation-ID") != "102" {
			t.Fatalf("a webhook of automation %s", d.header.Get("X-ClarusWMS-Automation-ID"))
		}
		var b receiptHook
		if err := json.Unmarshal(d.body, &b); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	first := bodies[0].Data
	if first.ID != gs[0].ID || first.Reference != "PO-1" || first.Status != "completed" || first.Warehouse.Code != "WH1" || len(first.Lines) != 3 ||
		first.Lines[0].Received != 12 || first.Lines[0].Expected != 10 || first.Lines[1].Received != 0 || first.Lines[2].Product.Code != "C" {
		t.Fatalf("first webhook %+v", first)
	}
	if bodies[2].Data.Reference != "" || bodies[3].Data.Reference != "PO-1O" {
		t.Fatalf("references as recorded: %q, %q", bodies[2].Data.Reference, bodies[3].Data.Reference)
	}
}

// receiptHook is the part of a goods_in_receipt.completed body the tests
// read.
type receiptHook struct {
	Data struct {
		ID        int64  `json:"id"`
		Reference string `json:"reference"`
		Status    string `json:"status"`
		Warehouse struct {
			Code string `json:"code"`
		} `json:"warehouse"`
		Lines []struct {
			Product struct {
				Code string `json:"code"`
			} `json:"product"`
			Expected int64 `json:"expected_quantity"`
			Received int64 `json:"received_quantity"`
		} `json:"lines"`
	} `json:"data"`
}

// A delivery booked in at a warehouse other than its pre-receipt's is a
// receipt of its own there (that warehouse has no such pre-receipt); the
// pre-receipt stays open for the goods it still expects.
func TestReceiveAtAnotherWarehouse(t *testing.T) {
	_, url := newEndpoint(t, 0)
	e, h, ps := goodsInEnv(t, clarussim.Config{ClientID: "lockstep", ClientSecret: "secret", Subdomain: "acme", WebhookURL: url})
	e.createGoodsIn("/api/goods_in_receipts", h, goodsInBody(preReceipt("PO-1"), addLine(ps["A"], unit0(t, ps["A"]), 10)))
	if _, err := e.sim.Apply(clarussim.Event{Type: "receive", Warehouse: "WH2", Reference: "PO-1", SKU: "A", Quantity: 4}); err != nil {
		t.Fatal(err)
	}
	gs := e.sim.GoodsIn()
	if len(gs) != 2 {
		t.Fatalf("%d receipts: %+v", len(gs), gs)
	}
	pre, own := gs[0], gs[1]
	if !pre.PreReceipt || pre.Warehouse != "WH1" || pre.Status != "pending" {
		t.Errorf("the pre-receipt: %+v, want pending at WH1", pre)
	}
	if own.PreReceipt || own.Reference != "PO-1" || own.Warehouse != "WH2" || own.Status != "completed" || len(own.Lines) != 1 || own.Lines[0].Received != 4 {
		t.Errorf("the delivery: %+v, want a completed receipt of its own at WH2 under PO-1", own)
	}
}
