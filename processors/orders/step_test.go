package orders

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/processors/itemmaster"
	"github.com/lockstep-dev/lockstep/schemas"
)

var catalogue = itemmaster.Static{
	"BOOT/BLK/9": {ClarusCode: "SKU-00001", StockItem: true, Active: true},
	"BOOT/BLK/8": {ClarusCode: "SKU-00002", StockItem: true, Active: true},
	"GIFTCARD":   {StockItem: false, Active: true},
	"SHIPPING":   {StockItem: true, Active: true}, // Prima marks it stock
	"NEW/RED/7":  {StockItem: true, Active: true}, // not mapped yet
	"OLD/RED/7":  {ClarusCode: "SKU-00099", StockItem: true, Active: false},
}

func itemsOf(m itemmaster.Static) itemmaster.Items { return m.Items() }

var rules = Rules{NonStockPatterns: []string{"SHIPPING*", "FEE-*"}, MaxLines: 10}

func line(no int, sku string, qty int64) schemas.SalesOrderLine {
	return schemas.SalesOrderLine{LineNo: no, SKU: sku, Quantity: qty, StockItem: true, UnitPrice: schemas.MustParseDecimal("10")}
}

func order(v int64, status schemas.SalesOrderStatus, lines ...schemas.SalesOrderLine) *schemas.SalesOrder {
	return &schemas.SalesOrder{OrderRef: "SO-1", Version: v, Status: status, Warehouse: "WH1", Currency: "GBP",
		Delivery: &schemas.DeliveryAddress{Name: "A", Line1: "1 High St", City: "Leeds", Postcode: "LS1", CountryCode: "GB"}, Lines: lines}
}

func ack(action schemas.ClarusOrderAction, v int64, status schemas.OrderAckStatus, reason string) *schemas.OrderAck {
	a := &schemas.OrderAck{OrderRef: "SO-1", OrderVersion: v, Action: action, Status: status}
	if status == schemas.OrderCreated {
		a.ClarusID = new("GO-1")
	}
	if reason != "" {
		a.Reason = &reason
	}
	return a
}

// describe renders effects compactly: commands as action/version/lines,
// drift as kind:status.
func describe(e Effects) string {
	var parts []string
	for _, c := range e.Commands {
		var ls []string
		for _, l := range c.Lines {
			ls = append(ls, fmt.Sprintf("%d:%s=%d", l.LineNo, l.ClarusCode, l.Quantity))
		}
		r := ""
		if c.Replace {
			r = "(replace)"
		}
		parts = append(parts, fmt.Sprintf("%s%s v%d [%s]", c.Action, r, c.OrderVersion, strings.Join(ls, " ")))
	}
	for _, d := range e.Drift {
		parts = append(parts, fmt.Sprintf("%s:%s", d.ID, d.Status))
	}
	if e.Redrive {
		parts = append(parts, "redrive")
	}
	return strings.Join(parts, "; ")
}

// step is one input of a scenario: an order, an ack, or a re-drive with
// an item master.
type step struct {
	order *schemas.SalesOrder
	ack   *schemas.OrderAck
	items itemmaster.Static // for a re-drive; nil: catalogue
	want  string            // describe(effects)
	phase Phase
}

func TestSteps(t *testing.T) {
	mapped := itemmaster.Static{"NEW/RED/7": {ClarusCode: "SKU-00050", StockItem: true, Active: true}}
	for k, v := range catalogue {
		if _, ok := mapped[k]; !ok {
			mapped[k] = v
		}
	}
	gift := line(2, "GIFTCARD", 1)
	warranty := line(3, "WARRANTY-2Y", 1)
	warranty.StockItem = false // Prima marks the line
	ship := line(4, "SHIPPING", 1)
	moved := order(2, schemas.SalesOrderAmended, line(1, "BOOT/BLK/9", 2))
	moved.Delivery = &schemas.DeliveryAddress{Name: "A", Line1: "2 Low St", City: "York", Postcode: "YO1", CountryCode: "GB"}
	repriced := order(2, schemas.SalesOrderAmended, line(1, "BOOT/BLK/9", 2))
	repriced.Lines[0].UnitPrice = schemas.MustParseDecimal("8")
	for _, tc := range []struct {
		name    string
		forward bool
		steps   []step
	}{
		{name: "non-stock lines stay in Prima", steps: []step{
			{order: order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 2), gift, warranty, ship, line(5, "FEE-WRAP", 1)),
				want: "create v1 [1:SKU-00001=2]", phase: PhaseSent},
		}},
		{name: "an order of non-stock lines only is complete without Clarus", steps: []step{
			{order: order(1, schemas.SalesOrderReleased, gift, ship), want: "", phase: PhaseNoStock},
			{order: order(2, schemas.SalesOrderCancelled), want: "", phase: PhaseCancelled},
		}},
		{name: "an unmapped SKU holds the whole order until its mapping arrives", steps: []step{
			{order: order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 2), line(2, "NEW/RED/7", 1)),
				want: "sku_unmapped/order/SO-1/NEW/RED/7:open; redrive", phase: PhaseHeld},
			{items: catalogue, want: "redrive", phase: PhaseHeld},
			{items: mapped, want: "create v1 [1:SKU-00001=2 2:SKU-00050=1]; sku_unmapped/order/SO-1/NEW/RED/7:resolved", phase: PhaseSent},
			{items: mapped, want: "", phase: PhaseSent},
		}},
		{name: "a SKU unknown to the item master, or discontinued, holds too", steps: []step{
			{order: order(1, schemas.SalesOrderReleased, line(1, "NOPE/1", 1), line(2, "OLD/RED/7", 1)),
				want: "sku_unmapped/order/SO-1/NOPE/1:open; sku_unmapped/order/SO-1/OLD/RED/7:open; redrive", phase: PhaseHeld},
			{order: order(2, schemas.SalesOrderAmended, line(2, "OLD/RED/7", 1)),
				want: "sku_unmapped/order/SO-1/NOPE/1:resolved; redrive", phase: PhaseHeld},
			{order: order(3, schemas.SalesOrderCancelled), want: "sku_unmapped/order/SO-1/OLD/RED/7:resolved", phase: PhaseCancelled},
			{items: mapped, want: "", phase: PhaseCancelled},
		}},
		{name: "a price change after release goes nowhere", steps: []step{
			{order: order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 2)), want: "create v1 [1:SKU-00001=2]", phase: PhaseSent},
			{ack: ack(schemas.ClarusOrderCreate, 1, schemas.OrderCreated, ""), want: "", phase: PhaseSent},
			{order: repriced, want: "", phase: PhaseSent},
		}},
		{name: "a quantity change after release is an exception, resolved when taken back", steps: []step{
			{order: order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 2)), want: "create v1 [1:SKU-00001=2]", phase: PhaseSent},
			{order: order(2, schemas.SalesOrderAmended, line(1, "BOOT/BLK/9", 3)), want: "order_amended_after_release/SO-1:open", phase: PhaseSent},
			{order: order(3, schemas.SalesOrderAmended, line(1, "BOOT/BLK/9", 3), line(2, "BOOT/BLK/8", 1)), want: "order_amended_after_release/SO-1:updated", phase: PhaseSent},
			{order: order(4, schemas.SalesOrderAmended, line(1, "BOOT/BLK/9", 2), gift), want: "order_amended_after_release/SO-1:resolved", phase: PhaseSent},
		}},
		{name: "forwarded: an address change cancels then re-creates", forward: true, steps: []step{
			{order: order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 2)), want: "create v1 [1:SKU-00001=2]", phase: PhaseSent},
			{order: moved, want: "cancel(replace) v2 []", phase: PhaseSent},
			{ack: ack(schemas.ClarusOrderCreate, 1, schemas.OrderCreated, ""), want: "", phase: PhaseSent},
			{ack: ack(schemas.ClarusOrderCancel, 2, schemas.OrderCancelled, ""), want: "create v2 [1:SKU-00001=2]", phase: PhaseSent},
			{ack: ack(schemas.ClarusOrderCreate, 2, schemas.OrderCreated, ""), want: "", phase: PhaseSent},
		}},
		{name: "forwarded: Clarus already picking refuses, an exception", forward: true, steps: []step{
			{order: order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 2)), want: "create v1 [1:SKU-00001=2]", phase: PhaseSent},
			{order: order(2, schemas.SalesOrderAmended, line(1, "BOOT/BLK/9", 5)), want: "cancel(replace) v2 []", phase: PhaseSent},
			{ack: ack(schemas.ClarusOrderCancel, 2, schemas.OrderRejected, "picking started"), want: "order_amended_after_release/SO-1:open", phase: PhaseSent},
		}},
		{name: "forwarded: an amendment with an unmapped SKU is not sent", forward: true, steps: []step{
			{order: order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 2)), want: "create v1 [1:SKU-00001=2]", phase: PhaseSent},
			{order: order(2, schemas.SalesOrderAmended, line(1, "BOOT/BLK/9", 2), line(2, "NEW/RED/7", 1)), want: "order_amended_after_release/SO-1:open", phase: PhaseSent},
		}},
		{name: "a cancellation is forwarded", steps: []step{
			{order: order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 2)), want: "create v1 [1:SKU-00001=2]", phase: PhaseSent},
			{order: order(2, schemas.SalesOrderCancelled), want: "cancel v2 []", phase: PhaseCancelling},
			{ack: ack(schemas.ClarusOrderCancel, 2, schemas.OrderCancelled, ""), want: "", phase: PhaseCancelled},
			{order: order(3, schemas.SalesOrderAmended, line(1, "BOOT/BLK/9", 2)), want: "", phase: PhaseCancelled},
		}},
		{name: "a cancellation after dispatch is an exception", steps: []step{
			{order: order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 2)), want: "create v1 [1:SKU-00001=2]", phase: PhaseSent},
			{order: order(2, schemas.SalesOrderCancelled), want: "cancel v2 []", phase: PhaseCancelling},
			{ack: ack(schemas.ClarusOrderCancel, 2, schemas.OrderRejected, "Cannot cancel - already dispatched"), want: "order_cancelled_after_dispatch/SO-1:open", phase: PhaseSent},
		}},
		{name: "a refused cancel of a replacement is stale once Prima cancels", forward: true, steps: []step{
			{order: order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 2)), want: "create v1 [1:SKU-00001=2]", phase: PhaseSent},
			{order: order(2, schemas.SalesOrderAmended, line(1, "BOOT/BLK/9", 5)), want: "cancel(replace) v2 []", phase: PhaseSent},
			{order: order(3, schemas.SalesOrderCancelled), want: "cancel v3 []", phase: PhaseCancelling},
			{ack: ack(schemas.ClarusOrderCancel, 2, schemas.OrderRejected, "picking started"), want: "", phase: PhaseCancelling},
			{ack: ack(schemas.ClarusOrderCancel, 3, schemas.OrderCancelled, ""), want: "", phase: PhaseCancelled},
		}},
		{name: "a rejected goods-out is drift until a new version is accepted", steps: []step{
			{order: order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 2)), want: "create v1 [1:SKU-00001=2]", phase: PhaseSent},
			{ack: ack(schemas.ClarusOrderCreate, 1, schemas.OrderRejected, "unknown product"), want: "order_rejected/SO-1:open", phase: PhaseRejected},
			{ack: ack(schemas.ClarusOrderCreate, 1, schemas.OrderRejected, "unknown product"), want: "", phase: PhaseRejected},
			{order: order(2, schemas.SalesOrderAmended, line(1, "BOOT/BLK/8", 2)), want: "create v2 [1:SKU-00002=2]", phase: PhaseSent},
			{ack: ack(schemas.ClarusOrderCreate, 1, schemas.OrderCreated, ""), want: "", phase: PhaseSent},
			{ack: ack(schemas.ClarusOrderCreate, 2, schemas.OrderCreated, ""), want: "order_rejected/SO-1:resolved", phase: PhaseSent},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rules
			r.ForwardAmendments = tc.forward
			var st State
			for i, s := range tc.steps {
				var e Effects
				switch {
				case s.order != nil:
					if err := r.Validate(s.order); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					st, e = r.Order(st, s.order, itemsOf(catalogue))
				case s.ack != nil:
					st, e = r.Ack(st, s.ack)
				default:
					st, e = r.Redrive(st, itemsOf(s.items), fmt.Sprint("redrive-", i))
				}
				if got := describe(e); got != s.want {
					t.Errorf("step %d: effects\n got %q\nwant %q", i, got, s.want)
				}
				if st.Phase != s.phase {
					t.Errorf("step %d: phase %q, want %q", i, st.Phase, s.phase)
				}
				for _, d := range e.Drift {
					if d.Owner == "" || d.Detail == "" || d.Cause == "" {
						t.Errorf("step %d: drift %s lacks owner, detail or cause: %+v", i, d.ID, d)
					}
				}
				// The state survives its encoding: a restore folds on.
				v, err := encodeState(st)
				if err != nil {
					t.Fatal(err)
				}
				if st, err = decodeState(v); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	many := make([]schemas.SalesOrderLine, 11)
	for i := range many {
		many[i] = line(i+1, "BOOT/BLK/9", 1)
	}
	for _, tc := range []struct {
		name string
		o    *schemas.SalesOrder
		want string // "" for valid
	}{
		{"valid", order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 1)), ""},
		{"no lines", order(1, schemas.SalesOrderReleased), "no lines"},
		{"negative quantity", order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", -2)), "quantity -2 is not positive"},
		{"zero quantity", order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 0)), "quantity 0 is not positive"},
		{"duplicate line numbers", order(1, schemas.SalesOrderReleased, line(1, "BOOT/BLK/9", 1), line(1, "BOOT/BLK/8", 1)), "line number 1 appears twice"},
		{"oversized", order(1, schemas.SalesOrderReleased, many...), "11 lines, more than the 10 allowed"},
		{"no SKU", order(1, schemas.SalesOrderReleased, line(1, "", 1)), "has no SKU"},
		{"a cancellation needs no lines", order(2, schemas.SalesOrderCancelled), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := rules.Validate(tc.o)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected %v", err)
			case tc.want != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}
}

func TestSplitKeepsLineOrder(t *testing.T) {
	sp := rules.SplitLines([]schemas.SalesOrderLine{line(3, "BOOT/BLK/8", 1), line(1, "SHIPPING", 1), line(2, "BOOT/BLK/9", 4)}, itemsOf(catalogue))
	var got []int
	for _, l := range sp.Stock {
		got = append(got, l.LineNo)
	}
	if !slices.Equal(got, []int{3, 2}) || !slices.Equal(sp.NonStock, []int{1}) {
		t.Fatalf("stock %v non-stock %v", got, sp.NonStock)
	}
}
