package prima

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

func goodPO(ref string, mod time.Time) wire.PurchaseOrder {
	return wire.PurchaseOrder{PONumber: ref, Version: "1", Status: wire.POPurchase, SupplierRef: "SUP001", Warehouse: "WH1",
		Currency: "GBP", ExpectedDate: "2026-03-20", Modified: wire.FormatTime(mod),
		Lines: []wire.POLine{
			{LineNo: "1", Matrix: wire.Matrix{Product: "ST1", MtrxCode1: "BLK", MtrxCode2: "9"}, Quantity: "24", UnitCost: "12.3400"},
			{LineNo: "2", Matrix: wire.Matrix{Product: "ST1", MtrxCode1: "BLK", MtrxCode2: "10"}, Quantity: "12", UnitCost: "12.34"},
		}}
}

// poResponseOf encodes POs as Prima answers them and decodes the answer as
// the client does, so that each PO has its text.
func poResponseOf(t testing.TB, more bool, pos ...wire.PurchaseOrder) *wire.Response {
	t.Helper()
	return answerOf(t, &wire.ResponseData{More: more, PurchaseOrders: pos})
}

// What the source cannot turn into an event is refused with a reason that
// says which line and value, and the PO is still named by what could be
// read; what only the business would refuse (no lines, a line number
// twice, a quantity that is not positive, no expected date, no supplier)
// passes, for the inbound processor to judge.
func TestPurchaseOrderFromReasons(t *testing.T) {
	mod := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		edit func(*wire.PurchaseOrder)
		err  string // "" passes
	}{
		{"good", func(*wire.PurchaseOrder) {}, ""},
		{"no lines", func(o *wire.PurchaseOrder) { o.Lines = nil }, ""},
		{"zero quantity", func(o *wire.PurchaseOrder) { o.Lines[0].Quantity = "0" }, ""},
		{"negative quantity", func(o *wire.PurchaseOrder) { o.Lines[0].Quantity = "-3" }, ""},
		{"duplicate line numbers", func(o *wire.PurchaseOrder) { o.Lines[1].LineNo = "1" }, ""},
		{"no expected date", func(o *wire.PurchaseOrder) { o.ExpectedDate = "" }, ""},
		{"no supplier", func(o *wire.PurchaseOrder) { o.SupplierRef = "" }, ""},
		{"date in another format", func(o *wire.PurchaseOrder) { o.ExpectedDate = "20/03/2026" },
			`ExpectedDate "20/03/2026" is not a date of the form 2006-01-02`},
		{"date with a time", func(o *wire.PurchaseOrder) { o.ExpectedDate = "2026-03-20T00:00:00Z" }, `ExpectedDate "2026-03-20T00:00:00Z"`},
		{"date that does not exist", func(o *wire.PurchaseOrder) { o.ExpectedDate = "2026-02-30" }, `ExpectedDate "2026-02-30"`},
		{"fractional quantity", func(o *wire.PurchaseOrder) { o.Lines[1].Quantity = "1.5" }, `line 2: ST1/BLK/10: Quantity "1.5" is not an integer`},
		{"no quantity", func(o *wire.PurchaseOrder) { o.Lines[0].Quantity = "" }, `line 1: ST1/BLK/9: Quantity "" is not an integer`},
		{"cost with a comma", func(o *wire.PurchaseOrder) { o.Lines[0].UnitCost = "12,34" },
			`line 1: ST1/BLK/9: UnitCost "12,34" is not a decimal of at most four places`},
		{"cost past four places", func(o *wire.PurchaseOrder) { o.Lines[0].UnitCost = "1.23456" }, `UnitCost "1.23456"`},
		{"no cost", func(o *wire.PurchaseOrder) { o.Lines[0].UnitCost = "" }, `UnitCost ""`},
		{"no PO number", func(o *wire.PurchaseOrder) { o.PONumber = "" }, "no PONumber"},
		{"no version", func(o *wire.PurchaseOrder) { o.Version = "" }, `Version "" is not a positive integer`},
		{"version zero", func(o *wire.PurchaseOrder) { o.Version = "0" }, `Version "0"`},
		{"bad currency", func(o *wire.PurchaseOrder) { o.Currency = "gbp" }, `Currency "gbp" is not an ISO 4217 code`},
		{"no warehouse", func(o *wire.PurchaseOrder) { o.Warehouse = "" }, "bad warehouse code: empty"},
		{"no product code", func(o *wire.PurchaseOrder) { o.Lines[0].Product = "" }, "line 1: prima: bad SKU: empty product code"},
		{"line number not an integer", func(o *wire.PurchaseOrder) { o.Lines[1].LineNo = "2a" }, `line 2: LineNo "2a" is not an integer`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := goodPO("PO1", mod)
			tc.edit(&w)
			o, err := purchaseOrderFrom(&w, mod)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%v, want an error with %q", err, tc.err)
				}
				if o.Ref != w.PONumber || !o.Modified.Equal(mod) {
					t.Fatalf("a refused PO should still be named: %+v", o)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ev, err := purchaseOrderEvent(o, mod.Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if ev.EventID != "prima:purchase-order:PO1:1" || ev.PORef != "PO1" || ev.Status != schemas.PurchaseOrderApproved ||
				!ev.OccurredAt.Equal(mod) || ev.Source != schemas.SourcePrima || ev.SupplierRef != w.SupplierRef ||
				ev.Warehouse != "WH1" || ev.Currency != "GBP" || len(ev.Lines) != len(w.Lines) {
				t.Fatalf("event %+v", ev)
			}
			if want := time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC); w.ExpectedDate != "" && (ev.ExpectedAt == nil || !ev.ExpectedAt.Equal(want)) ||
				w.ExpectedDate == "" && ev.ExpectedAt != nil {
				t.Fatalf("expected at %v for %q", ev.ExpectedAt, w.ExpectedDate)
			}
			for i, l := range w.Lines {
				want := schemas.PurchaseOrderLine{SKU: []string{"ST1/BLK/9", "ST1/BLK/10"}[i], UnitCost: schemas.MustParseDecimal("12.34")}
				want.LineNo, _ = strconv.Atoi(l.LineNo)
				want.Quantity, _ = strconv.ParseInt(l.Quantity, 10, 64)
				if ev.Lines[i] != want {
					t.Fatalf("line %d: %+v, want %+v", i+1, ev.Lines[i], want)
				}
			}
		})
	}
}

// A PO's event status comes from the record alone, as an order's does:
// Purchase (placed) at version 1 is the approval, later an amendment;
// a status the feed does not document (Prima's later Part Received, or a
// draft Outstanding) is no event.
func TestPurchaseOrderEventStatus(t *testing.T) {
	for _, tc := range []struct {
		status  string
		version int64
		want    schemas.PurchaseOrderStatus
		err     string
	}{
		{wire.POPurchase, 1, schemas.PurchaseOrderApproved, ""},
		{wire.POPurchase, 2, schemas.PurchaseOrderAmended, ""},
		{wire.POCancelled, 3, schemas.PurchaseOrderCancelled, ""},
		{"Part Received", 2, "", `unknown Status "Part Received": want Purchase or Cancelled`},
		{"Outstanding", 1, "", `unknown Status "Outstanding"`},
		{wire.OrderReleased, 1, "", `unknown Status "Released"`},
		{wire.POPurchase, 0, "", "Version 0 is not positive"},
	} {
		ev, err := purchaseOrderEvent(PurchaseOrder{Ref: "PO1", Status: tc.status, Version: tc.version}, time.Now())
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s v%d: %+v, %v; want an error with %q", tc.status, tc.version, ev, err, tc.err)
			}
			continue
		}
		if err != nil || ev.Status != tc.want {
			t.Errorf("%s v%d: %+v, %v; want %q", tc.status, tc.version, ev, err, tc.want)
		}
	}
}

// PurchaseOrdersModifiedSince pages as SalesOrdersModifiedSince does: a
// PO whose Modified is unreadable is dead-lettered once, when a readable
// PO moves the cursor past it or at the end of the feed, where the cursor
// remembers it; repeats at the head are dropped and a page out of order
// fails.
func TestPOsFromCursor(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(ref string, s int) wire.PurchaseOrder { return goodPO(ref, t0.Add(time.Duration(s)*time.Second)) }
	cur := func(ref string, s int) Cursor {
		return Cursor{Modified: t0.Add(time.Duration(s) * time.Second), Key: ref}
	}
	bad := goodPO("PO-BAD", t0)
	bad.Modified = "2026-03-02 09:00"
	badDigest := digest(poResponseOf(t, false, bad).Data.PurchaseOrders[0].Raw())
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
		{name: "between readable POs", limit: 5, resp: poResponseOf(t, false, at("PO1", 1), bad, at("PO2", 2)),
			want: "PO1 PO-BAD! PO2", next: cur("PO2", 2)},
		{name: "at the end of the feed", limit: 5, resp: poResponseOf(t, false, at("PO1", 1), bad),
			want: "PO1 PO-BAD!", next: Cursor{Modified: t0.Add(time.Second), Key: "PO1", DeadLettered: badDigest}},
		{name: "met again at the end", limit: 5, since: Cursor{Modified: t0.Add(time.Second), Key: "PO1", DeadLettered: badDigest},
			resp: poResponseOf(t, false, bad), want: "", next: Cursor{Modified: t0.Add(time.Second), Key: "PO1", DeadLettered: badDigest}},
		{name: "held back by a full page", limit: 2, resp: poResponseOf(t, true, at("PO1", 1), bad), want: "PO1", next: cur("PO1", 1), more: true},
		{name: "repeats at the head dropped", since: cur("PO1", 1), limit: 5, resp: poResponseOf(t, false, at("PO1", 1), at("PO2", 2)),
			want: "PO2", next: cur("PO2", 2)},
		{name: "out of order", limit: 5, resp: poResponseOf(t, false, at("PO2", 2), at("PO1", 1)), err: "purchase order 2 (\"PO1\"): out of (Modified, PONumber) order"},
		{name: "a full page of repeats", since: cur("PO2", 2), limit: 2, resp: poResponseOf(t, true, at("PO1", 1), at("PO2", 2)), err: "raise the page size"},
		{name: "an unreadable PO still moves the cursor", limit: 5, resp: poResponseOf(t, false, func() wire.PurchaseOrder {
			o := at("PO1", 1)
			o.ExpectedDate = "soon"
			return o
		}()), want: "PO1!", next: cur("PO1", 1)},
		{name: "empty", limit: 5, resp: poResponseOf(t, false), want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := posFrom(tc.resp, tc.since, tc.limit)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range p.Records {
				s := r.PO.Ref
				if r.Err != nil {
					s += "!"
				}
				got = append(got, s)
				if !strings.HasPrefix(r.Raw, `<PurchaseOrder PONumber="`+r.PO.Ref+`"`) {
					t.Fatalf("raw %q", r.Raw)
				}
				if r.PO.Ref == "PO-BAD" && (r.PO.Version != 1 || !strings.Contains(r.Err.Error(), `Modified "2026-03-02 09:00"`)) {
					t.Fatalf("unreadable stamp: %+v %v", r.PO, r.Err)
				}
			}
			if g := strings.Join(got, " "); g != tc.want || p.Next != tc.next || p.More != tc.more {
				t.Fatalf("records %q next %+v more %v\nwant    %q next %+v more %v", g, p.Next, p.More, tc.want, tc.next, tc.more)
			}
		})
	}
}

// A PO element keeps its text for a dead letter whatever its values; one
// past MaxPurchaseOrderBytes keeps its attributes and the start of its
// text, is refused as too large, and the page around it still reads.
func TestPurchaseOrderOversize(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	big := goodPO("PO2", t0.Add(time.Second))
	line := big.Lines[0]
	for len(big.Lines)*100 < wire.MaxPurchaseOrderBytes+100 {
		big.Lines = append(big.Lines, line)
	}
	p, err := posFrom(poResponseOf(t, false, goodPO("PO1", t0), big, goodPO("PO3", t0.Add(2*time.Second))), Cursor{}, 10)
	if err != nil || len(p.Records) != 3 {
		t.Fatalf("%+v %v", p, err)
	}
	r := p.Records[1]
	if r.Err == nil || !strings.Contains(r.Err.Error(), "larger than") || r.PO.Ref != "PO2" || r.PO.Version != 1 ||
		len(r.Raw) > wire.MaxPurchaseOrderBytes || !strings.HasPrefix(r.Raw, `<PurchaseOrder PONumber="PO2"`) {
		t.Fatalf("oversize PO: %v, %d bytes of text", r.Err, len(r.Raw))
	}
	if p.Records[0].Err != nil || p.Records[2].Err != nil || p.Next.Key != "PO3" {
		t.Fatalf("the POs around it: %+v", p)
	}
}
