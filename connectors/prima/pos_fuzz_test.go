package prima

import (
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
)

// FuzzDecodePurchaseOrders drives the decoder of
// PurchaseOrdersModifiedSince answers, outside bytes, with the reading
// after it: whatever the bytes, no panic; every PO comes back at most
// once, with its text; what is accepted is what an event can carry, in
// cursor order, and the cursor is not behind the last of them.
func FuzzDecodePurchaseOrders(f *testing.F) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	bad := goodPO("PO3", t0)
	bad.Modified, bad.ExpectedDate, bad.Lines[0].UnitCost = "2026-03-02", "20/03/2026", "1,5"
	seeds := []wire.Response{
		{RequestStatus: wire.StatusOK, Data: &wire.ResponseData{More: true, PurchaseOrders: []wire.PurchaseOrder{
			goodPO("PO1", t0), bad, goodPO("PO2", t0.Add(time.Millisecond)),
		}}},
		{RequestStatus: wire.StatusOK, Data: &wire.ResponseData{PurchaseOrders: []wire.PurchaseOrder{{PONumber: "PO4", Version: "2",
			Status: wire.POCancelled, Warehouse: "WH2", Currency: "EUR", Modified: "2026-03-02T09:00:00.5+01:00", SupplierRef: "Crème – €"}}}},
	}
	for _, r := range seeds {
		doc, err := wire.MarshalString(r)
		if err != nil {
			f.Fatal(err)
		}
		b := wire.MarshalReturn(wire.OpHandler, wire.PartResponse, doc)
		f.Add(b, "", 3)
		f.Add(b[:len(b)/2], "", 3)
	}
	f.Fuzz(func(t *testing.T, raw []byte, deadLettered string, limit int) {
		resp, fault, err := decodeAnswer(raw, wire.ContentType, wire.OpHandler)
		if err != nil || fault != nil {
			return
		}
		p, err := posFrom(resp, Cursor{DeadLettered: deadLettered}, limit)
		if err != nil || resp.Data == nil {
			return
		}
		checkFeedPage(t, len(resp.Data.PurchaseOrders), p.Records, p.Next, func(r PORecord) (string, bool, Cursor) {
			return r.Raw, r.Err == nil, Cursor{Modified: r.PO.Modified, Key: r.PO.Ref}
		})
		for _, r := range p.Records {
			o := r.PO
			if r.Err != nil {
				continue
			}
			if o.Ref == "" || o.Version < 1 || !validCurrency(o.Currency) || checkWarehouse(o.Warehouse) != nil || o.Modified.IsZero() {
				t.Fatalf("accepted PO %+v", o)
			}
			if !o.Expected.IsZero() && (o.Expected.Location() != time.UTC || o.Expected.Truncate(24*time.Hour) != o.Expected) {
				t.Fatalf("expected date %v is not a day", o.Expected)
			}
			for _, l := range o.Lines {
				if _, err := wire.ParseSKU(l.SKU); err != nil || !l.UnitCost.Valid() {
					t.Fatalf("accepted line %+v", l)
				}
			}
			if ev, err := purchaseOrderEvent(o, time.Now()); err == nil && ev.EventID != purchaseOrderEventID(o.Ref, o.Version) {
				t.Fatalf("event %+v", ev)
			}
		}
	})
}
