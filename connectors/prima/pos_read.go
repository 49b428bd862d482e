package prima

import (
	"fmt"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
)

// Reading a PurchaseOrdersModifiedSince answer, page by page as sales
// orders are read (pageFrom). The source checks here only what keeps a PO
// from being an event at all, the checks it makes of a sales order:
// an element too large, no PONumber, a Version, Currency or Warehouse it
// cannot read, a date, line number, quantity, SKU or cost that is not in
// its form. What is wrong only for the business (no lines, a line number
// twice, a quantity that is not positive) reaches prima.purchase-orders
// for the inbound processor to judge, with the PO in hand.

// poFeed reads purchase order elements for pageFrom.
var poFeed = elemFeed[wire.PurchaseOrder, PORecord]{
	kind: "purchase order", keyAttr: "PONumber",
	elems: func(d *wire.ResponseData) []wire.PurchaseOrder { return d.PurchaseOrders },
	stamp: func(w *wire.PurchaseOrder) (string, string, string) { return w.Modified, w.PONumber, w.Raw() },
	read: func(w *wire.PurchaseOrder, mod time.Time, err error) PORecord {
		o, rerr := purchaseOrderFrom(w, mod)
		if err == nil {
			err = rerr
		}
		return PORecord{PO: o, Raw: w.Raw(), Err: err}
	},
}

// posFrom reads the purchase orders of resp after since (see pageFrom).
func posFrom(resp *wire.Response, since Cursor, limit int) (POPage, error) {
	if resp.Data == nil {
		return POPage{Next: since}, nil
	}
	recs, next, more, err := pageFrom(poFeed, poFeed.elems(resp.Data), resp.Data.More, since, limit)
	return POPage{Records: recs, Next: next, More: more}, err
}

// purchaseOrderFrom reads one PO element modified at mod. On error the PO
// holds what was read before it (Ref, Version, Modified), so the dead
// letter can name it.
func purchaseOrderFrom(w *wire.PurchaseOrder, mod time.Time) (PurchaseOrder, error) {
	o := PurchaseOrder{Ref: w.PONumber, Modified: mod, Status: w.Status, SupplierRef: w.SupplierRef,
		Warehouse: w.Warehouse, Currency: w.Currency}
	var err error
	o.Version, err = readHead(w.Oversize(), wire.MaxPurchaseOrderBytes, "PONumber", w.PONumber, w.Version, w.Currency, w.Warehouse)
	if err != nil {
		return o, err
	}
	if w.ExpectedDate != "" {
		d, err := time.Parse(wire.DateLayout, w.ExpectedDate)
		if err != nil {
			return o, fmt.Errorf("ExpectedDate %q is not a date of the form %s", cleanMessage(w.ExpectedDate), wire.DateLayout)
		}
		o.Expected = d
	}
	o.Lines, err = readLines(w.Lines, poLineFrom)
	return o, err
}

// poLineFrom reads one POLine. A quantity that is zero or negative, or a
// line number used twice, is read as it is: the business's to refuse.
func poLineFrom(w *wire.POLine) (PurchaseOrderLine, error) {
	var l PurchaseOrderLine
	var err error
	l.LineNo, l.SKU, l.Quantity, l.UnitCost, err = readLine("LineNo", w.LineNo, w.Matrix, w.Quantity, "UnitCost", w.UnitCost)
	return l, err
}
