package prima

import (
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The event's status comes from the record alone: a restarted source, or
// one that never saw version 1, maps a record as any other source would.
func TestEventStatus(t *testing.T) {
	for _, tc := range []struct {
		status  string
		version int64
		want    schemas.SalesOrderStatus
		err     string
	}{
		{wire.OrderReleased, 1, schemas.SalesOrderReleased, ""},
		{wire.OrderReleased, 2, schemas.SalesOrderAmended, ""},
		{wire.OrderReleased, 9, schemas.SalesOrderAmended, ""},
		{wire.OrderCancelled, 2, schemas.SalesOrderCancelled, ""},
		{wire.OrderCancelled, 1, schemas.SalesOrderCancelled, ""},
		{"Outstanding", 1, "", `unknown Status "Outstanding"`},
		{"released", 1, "", `unknown Status "released"`},
		{"", 3, "", `unknown Status ""`},
		{wire.OrderReleased, 0, "", "Version 0 is not positive"},
	} {
		got, err := eventStatus(tc.status, tc.version)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s v%d: %q, %v; want an error with %q", tc.status, tc.version, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s v%d: %q, %v; want %q", tc.status, tc.version, got, err, tc.want)
		}
	}
}

func goodOrder(ref string, mod time.Time) wire.SalesOrder {
	return wire.SalesOrder{OrderNumber: ref, Version: "1", Status: wire.OrderReleased, Warehouse: "WH1", Currency: "GBP",
		Modified: wire.FormatTime(mod), DelName: "Zoë", AddrLine1: "1 High St", Town: "Leeds", PostCode: "LS1", Country: "GB",
		Lines: []wire.OrderLine{
			{OrderLine: "1", Matrix: wire.Matrix{Product: "ST1", MtrxCode1: "BLK", MtrxCode2: "9"}, Quantity: "2", Price: "59.9900", StockType: wire.StockTypeStock, Description: "Derby"},
			{OrderLine: "2", Matrix: wire.Matrix{Product: "GIFTCARD-25"}, Quantity: "1", Price: "25", StockType: wire.StockTypeNonStock},
		}}
}

// What the source cannot turn into an event is refused with a reason
// that says which line and value; what the business would refuse (no
// lines, a negative quantity, a line number twice) is the orders
// processor's to judge, and passes.
func TestSalesOrderFromReasons(t *testing.T) {
	mod := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		edit func(*wire.SalesOrder)
		err  string // "" passes
	}{
		{"good", func(*wire.SalesOrder) {}, ""},
		{"no lines", func(o *wire.SalesOrder) { o.Lines = nil }, ""},
		{"negative quantity", func(o *wire.SalesOrder) { o.Lines[0].Quantity = "-3" }, ""},
		{"duplicate line numbers", func(o *wire.SalesOrder) { o.Lines[1].OrderLine = "1" }, ""},
		{"no address", func(o *wire.SalesOrder) { o.DelName, o.AddrLine1, o.Town, o.PostCode, o.Country = "", "", "", "", "" }, ""},
		{"unknown stock type", func(o *wire.SalesOrder) { o.Lines[1].StockType = "service" },
			`line 2: GIFTCARD-25: StockType "service" is neither stock nor non_stock`},
		{"no stock type", func(o *wire.SalesOrder) { o.Lines[0].StockType = "" }, `line 1: ST1/BLK/9: StockType ""`},
		{"fractional quantity", func(o *wire.SalesOrder) { o.Lines[0].Quantity = "1.5" }, `line 1: ST1/BLK/9: Quantity "1.5" is not an integer`},
		{"no quantity", func(o *wire.SalesOrder) { o.Lines[0].Quantity = "" }, `Quantity "" is not an integer`},
		{"price with a comma", func(o *wire.SalesOrder) { o.Lines[0].Price = "59,99" }, `line 1: ST1/BLK/9: Price "59,99" is not a decimal`},
		{"price past four places", func(o *wire.SalesOrder) { o.Lines[0].Price = "1.23456" }, `Price "1.23456"`},
		{"no product code", func(o *wire.SalesOrder) { o.Lines[0].Product = "" }, "line 1: prima: bad SKU: empty product code"},
		{"separator in a code", func(o *wire.SalesOrder) { o.Lines[0].MtrxCode1 = "BL/K" }, "line 1: prima: bad SKU"},
		{"line number not an integer", func(o *wire.SalesOrder) { o.Lines[1].OrderLine = "2a" }, `line 2: OrderLine "2a" is not an integer`},
		{"line number past int32", func(o *wire.SalesOrder) { o.Lines[1].OrderLine = "4294967296" }, `OrderLine "4294967296"`},
		{"no version", func(o *wire.SalesOrder) { o.Version = "" }, `Version "" is not a positive integer`},
		{"version zero", func(o *wire.SalesOrder) { o.Version = "0" }, `Version "0"`},
		{"no order number", func(o *wire.SalesOrder) { o.OrderNumber = "" }, "no OrderNumber"},
		{"bad currency", func(o *wire.SalesOrder) { o.Currency = "£" }, `Currency "£" is not an ISO 4217 code`},
		{"no warehouse", func(o *wire.SalesOrder) { o.Warehouse = "" }, "bad warehouse code: empty"},
		{"warehouse with a space", func(o *wire.SalesOrder) { o.Warehouse = "WH 1" }, "bad warehouse code"},
		{"control characters are not echoed", func(o *wire.SalesOrder) { o.Lines[0].Quantity = "1\x00\x1b" }, `Quantity "1" is not`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := goodOrder("SO1", mod)
			tc.edit(&w)
			o, err := salesOrderFrom(&w, mod)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%v, want an error with %q", err, tc.err)
				}
				if o.Ref != w.OrderNumber || !o.Modified.Equal(mod) {
					t.Fatalf("a refused order should still be named: %+v", o)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ev, err := salesOrderEvent(o, mod.Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if ev.EventID != "prima:sales-order:SO1:1" || ev.Status != schemas.SalesOrderReleased || !ev.OccurredAt.Equal(mod) ||
				len(ev.Lines) != len(w.Lines) || ev.CustomerRef != nil || (ev.Delivery == nil) != (w.Town == "") {
				t.Fatalf("event %+v", ev)
			}
			if len(ev.Lines) == 2 && (!ev.Lines[0].StockItem || ev.Lines[1].StockItem || *ev.Lines[0].Description != "Derby" ||
				ev.Lines[1].Description != nil || ev.Lines[0].UnitPrice != schemas.MustParseDecimal("59.99")) {
				t.Fatalf("lines %+v", ev.Lines)
			}
		})
	}
}

// responseOf encodes orders as Prima answers them and decodes the answer
// as the client does, so that each order has its text.
func responseOf(t testing.TB, more bool, orders ...wire.SalesOrder) *wire.Response {
	t.Helper()
	return answerOf(t, &wire.ResponseData{More: more, SalesOrders: orders})
}

// An order whose Modified is unreadable is dead-lettered once: when a
// readable order moves the cursor past it, or at the end of the feed,
// where the cursor remembers it so that the next poll does not send it
// again. A full page holds it back for the next. Ordering and repeats
// follow the other feeds.
func TestOrdersFromCursor(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(ref string, s int) wire.SalesOrder { return goodOrder(ref, t0.Add(time.Duration(s)*time.Second)) }
	bad := goodOrder("SO-BAD", t0)
	bad.Modified = "yesterday"
	refs := func(p OrderPage) string {
		var out []string
		for _, r := range p.Records {
			s := r.Order.Ref
			if r.Err != nil {
				s += "!"
			}
			out = append(out, s)
		}
		return strings.Join(out, " ")
	}
	cur := func(ref string, s int) Cursor {
		return Cursor{Modified: t0.Add(time.Duration(s) * time.Second), Key: ref}
	}
	badDigest := digest(responseOf(t, false, bad).Data.SalesOrders[0].Raw())

	for _, tc := range []struct {
		name  string
		since Cursor
		limit int
		resp  *wire.Response
		want  string // refs, "!" marking errors
		next  Cursor
		more  bool
		err   string
	}{
		{name: "between readable orders", limit: 5, resp: responseOf(t, false, at("SO1", 1), bad, at("SO2", 2)),
			want: "SO1 SO-BAD! SO2", next: cur("SO2", 2)},
		{name: "at the end of the feed", limit: 5, resp: responseOf(t, false, at("SO1", 1), bad),
			want: "SO1 SO-BAD!", next: Cursor{Modified: t0.Add(time.Second), Key: "SO1", DeadLettered: badDigest}},
		{name: "met again at the end", limit: 5, since: Cursor{Modified: t0.Add(time.Second), Key: "SO1", DeadLettered: badDigest},
			resp: responseOf(t, false, bad), want: "", next: Cursor{Modified: t0.Add(time.Second), Key: "SO1", DeadLettered: badDigest}},
		{name: "met again before a readable one", limit: 5, since: Cursor{Modified: t0.Add(time.Second), Key: "SO1", DeadLettered: badDigest},
			resp: responseOf(t, false, bad, at("SO3", 3)), want: "SO3", next: cur("SO3", 3)},
		{name: "held back by a full page", limit: 2, resp: responseOf(t, true, at("SO1", 1), bad),
			want: "SO1", next: cur("SO1", 1), more: true},
		{name: "a full page of unreadable stamps", limit: 2, resp: responseOf(t, true, bad, bad), err: "raise the page size"},
		{name: "a full page of repeats", since: cur("SO2", 2), limit: 2, resp: responseOf(t, true, at("SO1", 1), at("SO2", 2)), err: "raise the page size"},
		{name: "repeats at the head dropped", since: cur("SO1", 1), limit: 5, resp: responseOf(t, false, at("SO1", 1), at("SO2", 2)),
			want: "SO2", next: cur("SO2", 2)},
		{name: "ties broken by order number", since: cur("SO1", 1), limit: 5, resp: responseOf(t, false, at("SO2", 1), at("SO0", 2)),
			want: "SO2 SO0", next: cur("SO0", 2)},
		{name: "out of order", limit: 5, resp: responseOf(t, false, at("SO2", 2), at("SO1", 1)), err: "out of (Modified, OrderNumber) order"},
		{name: "an unreadable order still moves the cursor", limit: 5, resp: responseOf(t, false, func() wire.SalesOrder {
			o := at("SO1", 1)
			o.Lines[0].Price = "free"
			return o
		}()), want: "SO1!", next: cur("SO1", 1)},
		{name: "a page is full at its limit even without More", limit: 1, resp: responseOf(t, false, at("SO1", 1)),
			want: "SO1", next: cur("SO1", 1), more: true},
		{name: "empty", limit: 5, resp: responseOf(t, false), want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ordersFrom(tc.resp, tc.since, tc.limit)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := refs(p); got != tc.want || p.Next != tc.next || p.More != tc.more {
				t.Fatalf("records %q next %+v more %v\nwant    %q next %+v more %v", got, p.Next, p.More, tc.want, tc.next, tc.more)
			}
			for _, r := range p.Records {
				if !strings.HasPrefix(r.Raw, `<SalesOrder OrderNumber="`+r.Order.Ref+`"`) {
					t.Fatalf("raw %q", r.Raw)
				}
				if r.Order.Ref == "SO-BAD" && !strings.Contains(r.Err.Error(), `Modified "yesterday"`) {
					t.Fatalf("reason %v", r.Err)
				}
			}
		})
	}
}
