package clarussim

import (
	"fmt"
	"time"
)

// The connections of products, goods outs and goods-out lines, with the
// documented fields and filters (api-reference/products/list-products,
// goods-out:-orders/list-goods-out-orders and list-goods-out-lines).
// Goods outs are listed whatever their status, CANCELLED included; a
// cancelled DRAFT or PENDING one was deleted and is gone.

var (
	productFilters = filterSpec{"code": "String", "barcode": "String", "all_codes": "String", "description": "String",
		"account_id": "Id", "product_type": "String"}
	goodsOutFilters = filterSpec{"reference": "String", "goods_out_status_code": "String", "account_id": "Id",
		"warehouse_id": "Id", "carrier_id": "Id", "expected_date_of_dispatch": "Datetime"}
	goodsOutLineFilters = filterSpec{"goods_out_id": "Id"}
)

// productRow is one product: the simulator knows a product by its code.
type productRow struct {
	id   int64
	code string
}

func (r productRow) sortKey() string { return fmt.Sprintf("%020d", r.id) }

func (r productRow) value(field string) any {
	switch field {
	case "code", "all_codes": // all_codes matches code and barcodes; the simulator has no barcodes
		return r.code
	case "account_id":
		return int64(1)
	}
	return nil
}

func (r productRow) node(f *gqlField) (obj, error) {
	return selectObject("Product", f.Sel, map[string]gqlResolver{"id": scalar(fmt.Sprint(r.id)), "code": scalar(r.code)})
}

func (x *executor) productRows() []gqlRow {
	var rows []gqlRow
	for id, code := range x.s.st.codes {
		rows = append(rows, productRow{id, code})
	}
	sortRows(rows)
	return rows
}

// goodsOutRow is one goods out.
type goodsOutRow struct {
	x *executor
	o *goodsOut
}

func (r goodsOutRow) sortKey() string { return fmt.Sprintf("%020d", r.o.ID) }

func (r goodsOutRow) value(field string) any {
	switch field {
	case "reference":
		return r.o.Reference
	case "goods_out_status_code":
		return statusCodes[r.o.StatusID]
	case "account_id":
		return int64(1)
	case "warehouse_id":
		return r.x.s.st.warehouses[r.o.Warehouse]
	case "expected_date_of_dispatch":
		if r.o.ExpectedDispatch != nil {
			return *r.o.ExpectedDispatch
		}
	}
	return nil // carrier_id: the simulator has no carriers
}

func (r goodsOutRow) node(f *gqlField) (obj, error) {
	o, s := r.o, r.x.s
	var expected any
	if o.ExpectedDispatch != nil {
		expected = o.ExpectedDispatch.Format(time.RFC3339)
	}
	wid := s.st.warehouses[o.Warehouse]
	return selectObject("GoodsOut", f.Sel, map[string]gqlResolver{
		"id":                        scalar(fmt.Sprint(o.ID)),
		"reference":                 scalar(o.Reference),
		"priority":                  scalar(nil),
		"expected_date_of_dispatch": scalar(expected),
		"goods_out_status":          refObject("GoodsOutStatus", map[string]any{"code": statusCodes[o.StatusID], "name": statusNames[o.StatusID]}),
		"account":                   s.accountObject(),
		"warehouse":                 refObject("Warehouse", map[string]any{"id": fmt.Sprint(wid), "code": o.Warehouse, "name": "Warehouse " + o.Warehouse}),
		"carrier":                   nullObject(),
	})
}

func (x *executor) goodsOutRows() []gqlRow {
	var rows []gqlRow
	for _, o := range x.s.sortedOrders() {
		rows = append(rows, goodsOutRow{x, o})
	}
	return rows
}

// goodsOutLineRow is one line of a goods out. Pick quantities follow the
// order's status: what was allocated is picked once picking starts (what
// a cancelled order's shipments took stays picked); dispatch quantities
// are what its shipments took.
type goodsOutLineRow struct {
	x *executor
	o *goodsOut
	l *orderLine
}

func (r goodsOutLineRow) sortKey() string { return fmt.Sprintf("%020d", r.l.ID) }

func (r goodsOutLineRow) value(field string) any {
	if field == "goods_out_id" {
		return r.o.ID
	}
	return nil
}

func (r goodsOutLineRow) node(f *gqlField) (obj, error) {
	var picked int64
	switch r.o.StatusID {
	case statusPick, statusCompleted:
		picked = r.l.Allocated
	case statusCancelled:
		picked = r.l.Dispatched
	}
	short := ""
	if r.o.StatusID == statusCompleted && r.l.Allocated < r.l.Quantity {
		short = "short"
	}
	return selectObject("GoodsOutLine", f.Sel, map[string]gqlResolver{
		"id":                 scalar(fmt.Sprint(r.l.ID)),
		"order_quantity":     scalar(r.l.Quantity),
		"allocated_quantity": scalar(r.l.Allocated),
		"pick_quantity":      scalar(picked),
		"dispatch_quantity":  scalar(r.l.Dispatched),
		"short_status":       scalar(short),
		"product":            refObject("Product", map[string]any{"id": fmt.Sprint(r.x.s.st.products[r.l.SKU]), "code": r.l.SKU}),
		"goods_out":          {object: true, resolve: func(gf *gqlField) (any, error) { return goodsOutRow{r.x, r.o}.node(gf) }},
		"carrier":            nullObject(),
	})
}

func (x *executor) goodsOutLineRows() []gqlRow {
	var rows []gqlRow
	for _, o := range x.s.sortedOrders() {
		for i := range o.Lines {
			rows = append(rows, goodsOutLineRow{x, o, &o.Lines[i]})
		}
	}
	sortRows(rows)
	return rows
}
