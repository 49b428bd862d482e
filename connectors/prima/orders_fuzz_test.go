package prima

import (
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
)

// FuzzDecodeSalesOrders drives the decoder of SalesOrdersModifiedSince
// answers, outside bytes, with the reading after it: whatever the bytes,
// no panic; every order element comes back once, as an order or with why
// it is none, and with its text; what is accepted is what an event can
// carry, in cursor order, and the cursor stops at the last of them.
func FuzzDecodeSalesOrders(f *testing.F) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	bad := goodOrder("SO3", t0)
	bad.Modified, bad.Lines[0].Quantity, bad.Lines[1].StockType = "2026-03-02", "1.5", "service"
	seeds := []wire.Response{
		{RequestStatus: wire.StatusOK, Data: &wire.ResponseData{More: true, SalesOrders: []wire.SalesOrder{
			goodOrder("SO1", t0), bad, goodOrder("SO2", t0.Add(time.Millisecond)),
		}}},
		{RequestStatus: wire.StatusOK, Data: &wire.ResponseData{SalesOrders: []wire.SalesOrder{{OrderNumber: "SO4", Version: "2",
			Status: wire.OrderCancelled, Warehouse: "WH2", Currency: "EUR", Modified: "2026-03-02T09:00:00.5+01:00", Town: "Café – €"}}}},
		{RequestStatus: wire.StatusError, RequestError: "Record locked"},
	}
	for _, r := range seeds {
		doc, err := wire.MarshalString(r)
		if err != nil {
			f.Fatal(err)
		}
		b := wire.MarshalReturn(wire.OpHandler, wire.PartResponse, doc)
		f.Add(b, wire.ContentType, "", 3)
		f.Add(b[:len(b)/2], wire.ContentType, "", 3)
	}
	f.Add([]byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><o:wsomhandlerResponse xmlns:o="urn:omlink">`+
		`<r>&lt;Response RequestStatus="OK"&gt;&lt;Data&gt;&lt;SalesOrder OrderNumber="A" Modified="x"&gt;&lt;OrderLine/&gt;&lt;x:SalesOrder/&gt;&lt;/SalesOrder&gt;&lt;/Data&gt;&lt;/Response&gt;</r>`+
		`</o:wsomhandlerResponse></s:Body></s:Envelope>`), "text/xml; charset=utf-8", "0", 0)

	f.Fuzz(func(t *testing.T, raw []byte, contentType, deadLettered string, limit int) {
		resp, fault, err := decodeAnswer(raw, contentType, wire.OpHandler)
		if err != nil || fault != nil {
			return
		}
		since := Cursor{DeadLettered: deadLettered}
		p, err := ordersFrom(resp, since, limit)
		if err != nil {
			return
		}
		if resp.Data == nil {
			if len(p.Records) != 0 || p.Next != since {
				t.Fatalf("no Data, yet %+v", p)
			}
			return
		}
		checkFeedPage(t, len(resp.Data.SalesOrders), p.Records, p.Next, func(r OrderRecord) (string, bool, Cursor) {
			return r.Raw, r.Err == nil, Cursor{Modified: r.Order.Modified, Key: r.Order.Ref}
		})
		for _, r := range p.Records {
			o := r.Order
			if r.Err != nil {
				continue
			}
			if o.Ref == "" || o.Version < 1 || !validCurrency(o.Currency) || checkWarehouse(o.Warehouse) != nil || o.Modified.IsZero() {
				t.Fatalf("accepted order %+v", o)
			}
			for _, l := range o.Lines {
				if _, err := wire.ParseSKU(l.SKU); err != nil || !l.UnitPrice.Valid() {
					t.Fatalf("accepted line %+v", l)
				}
			}
			if ev, err := salesOrderEvent(o, time.Now()); err == nil && ev.EventID != salesOrderEventID(o.Ref, o.Version) {
				t.Fatalf("event %+v", ev)
			}
		}
	})
}
