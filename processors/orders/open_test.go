package orders

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/schemas"
)

func shipment(id, goodsOut string, complete bool, lines ...schemas.ShipmentLine) *schemas.Shipment {
	return &schemas.Shipment{ShipmentID: id, OrderRef: "SO-1", Status: schemas.ShipmentConfirmed, Warehouse: "WH1",
		GoodsOutID: goodsOut, OrderComplete: complete, Lines: lines}
}

func shipped(code string, q int64) schemas.ShipmentLine {
	return schemas.ShipmentLine{SKU: code, Quantity: q, Picked: q}
}

func created(v int64, clarusID string) *schemas.OrderAck {
	a := ack(schemas.ClarusOrderCreate, v, schemas.OrderCreated, "")
	a.ClarusID = &clarusID
	return a
}

// openStep is one input of an open-quantity scenario and the changes it
// must publish.
type openStep struct {
	order    *schemas.SalesOrder
	ack      *schemas.OrderAck
	shipment *schemas.Shipment
	want     string // the OpenChanges, "key=open" joined by spaces
}

func changes(cs []OpenChange) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s=%d", c.Key, c.Open))
	}
	return strings.Join(parts, " ")
}

// TestOpenGoodsOut walks orders through their life and checks the open
// quantities published for the stock flow after every input.
func TestOpenGoodsOut(t *testing.T) {
	two := []schemas.SalesOrderLine{line(1, "BOOT/BLK/9", 3), line(2, "BOOT/BLK/8", 2), line(3, "GIFTCARD", 1)}
	fwd := rules
	fwd.ForwardAmendments = true
	for _, tc := range []struct {
		name  string
		rules Rules
		steps []openStep
	}{
		{"sent, shipped in parts, repeat ignored", rules, []openStep{
			{order: order(1, schemas.SalesOrderReleased, two...), want: "SKU-00001@WH1=3 SKU-00002@WH1=2"},
			{ack: ack(schemas.ClarusOrderCreate, 1, schemas.OrderCreated, ""), want: ""},
			{shipment: shipment("S1", "GO-1", false, shipped("SKU-00001", 2)), want: "SKU-00001@WH1=1"},
			{shipment: shipment("S1", "GO-1", false, shipped("SKU-00001", 2)), want: ""}, // the sweep's copy
			{shipment: shipment("S2", "GO-1", true, shipped("SKU-00001", 1), shipped("SKU-00002", 2)), want: "SKU-00001@WH1=0 SKU-00002@WH1=0"},
		}},
		{"complete with less than ordered (short) leaves nothing open", rules, []openStep{
			{order: order(1, schemas.SalesOrderReleased, two...), want: "SKU-00001@WH1=3 SKU-00002@WH1=2"},
			{shipment: shipment("S1", "GO-1", true, shipped("SKU-00001", 1)), want: "SKU-00001@WH1=0 SKU-00002@WH1=0"},
		}},
		{"closed by the fulfilment flow", rules, []openStep{
			{order: order(1, schemas.SalesOrderReleased, two...), want: "SKU-00001@WH1=3 SKU-00002@WH1=2"},
			{ack: ack(schemas.ClarusOrderClose, 1, schemas.OrderClosed, ""), want: "SKU-00001@WH1=0 SKU-00002@WH1=0"},
		}},
		{"rejected by Clarus", rules, []openStep{
			{order: order(1, schemas.SalesOrderReleased, two...), want: "SKU-00001@WH1=3 SKU-00002@WH1=2"},
			{ack: ack(schemas.ClarusOrderCreate, 1, schemas.OrderRejected, "unknown product"), want: "SKU-00001@WH1=0 SKU-00002@WH1=0"},
		}},
		{"cancelled: open until Clarus confirms", rules, []openStep{
			{order: order(1, schemas.SalesOrderReleased, two...), want: "SKU-00001@WH1=3 SKU-00002@WH1=2"},
			{order: order(2, schemas.SalesOrderCancelled), want: ""},
			{ack: ack(schemas.ClarusOrderCancel, 2, schemas.OrderCancelled, ""), want: "SKU-00001@WH1=0 SKU-00002@WH1=0"},
		}},
		{"cancel refused after dispatch stays as shipped", rules, []openStep{
			{order: order(1, schemas.SalesOrderReleased, two...), want: "SKU-00001@WH1=3 SKU-00002@WH1=2"},
			{order: order(2, schemas.SalesOrderCancelled), want: ""},
			{ack: ack(schemas.ClarusOrderCancel, 2, schemas.OrderRejected, "already dispatched"), want: ""},
			{shipment: shipment("S1", "GO-1", true, shipped("SKU-00001", 3), shipped("SKU-00002", 2)), want: "SKU-00001@WH1=0 SKU-00002@WH1=0"},
		}},
		{"held and non-stock orders promise nothing", rules, []openStep{
			{order: order(1, schemas.SalesOrderReleased, line(1, "NEW/RED/7", 4)), want: ""},
			{order: order(2, schemas.SalesOrderReleased, line(1, "GIFTCARD", 4)), want: ""},
		}},
		{"a price change is not a new goods-out", rules, []openStep{
			{order: order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 3)), want: "SKU-00001@WH1=3"},
			{order: order(2, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 5)), want: ""}, // an exception: the warehouse still works to v1
		}},
		{"forwarded amendment: the old goods-out until Clarus cancels it, then the new one", fwd, []openStep{
			{order: order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 3)), want: "SKU-00001@WH1=3"},
			{ack: ack(schemas.ClarusOrderCreate, 1, schemas.OrderCreated, ""), want: ""},
			{order: order(2, schemas.SalesOrderReleased, line(1, "BOOT/BLK/8", 5)), want: ""},
			{ack: ack(schemas.ClarusOrderCancel, 2, schemas.OrderCancelled, ""), want: "SKU-00002@WH1=5 SKU-00001@WH1=0"},
			{ack: created(2, "GO-2"), want: ""},
			{shipment: shipment("S0", "GO-1", false, shipped("SKU-00001", 3)), want: ""}, // of the cancelled goods-out
			{shipment: shipment("S1", "GO-2", false, shipped("SKU-00002", 2)), want: "SKU-00002@WH1=3"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st State
			for i, s := range tc.steps {
				switch {
				case s.order != nil:
					st, _ = tc.rules.Order(st, s.order, itemsOf(catalogue))
				case s.ack != nil:
					st, _ = tc.rules.Ack(st, s.ack)
				case s.shipment != nil:
					st = tc.rules.Shipment(st, s.shipment)
				}
				if got := changes(OpenChanges(&st)); got != s.want {
					t.Fatalf("step %d: published %q, want %q (state %+v)", i, got, s.want, st.Sent)
				}
			}
		})
	}
}

// TestOpenChangesSurviveEncoding checks that what was published is in the
// state, so a restart does not publish it again.
func TestOpenChangesSurviveEncoding(t *testing.T) {
	st, _ := rules.Order(State{}, order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 3)), itemsOf(catalogue))
	if got := changes(OpenChanges(&st)); got != "SKU-00001@WH1=3" {
		t.Fatalf("published %q", got)
	}
	b, err := encodeState(st)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := changes(OpenChanges(&back)); got != "" {
		t.Fatalf("after a restart it publishes %q again", got)
	}
	back = rules.Shipment(back, shipment("S1", "GO-1", false, shipped("SKU-00001", 1)))
	if got := changes(OpenChanges(&back)); got != "SKU-00001@WH1=2" || back.OpenSeq != 2 {
		t.Fatalf("published %q, seq %d", got, back.OpenSeq)
	}
}
