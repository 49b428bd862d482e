package clarussim

import (
	"fmt"
	"time"
)

// The connections of goods-in receipts and product storage units
// (api-reference/goods-in:-receipts/list-goods-in-receipts and
// products:-storage-units/list-product-storage-units: the documented
// fields and filters). A receipt's lines and the actual_date_of_receipt
// filter are not documented (assumed, so strict mode refuses them before
// the executor runs). Receipts are listed by id, whatever their status.

var (
	goodsInFilters = filterSpec{"reference": "String", "status": "String", "account_id": "Id", "warehouse_id": "Id",
		"expected_date_of_receipt": "Datetime", "actual_date_of_receipt": "Datetime"}
	unitFilters = filterSpec{"product_id": "Id", "product_code": "String", "storage_unit_type_id": "Id",
		"storage_unit_type_code": "String", "priority": "Integer", "total": "Decimal"}
)

// accountObject is the tenant's account as a related record. The name is
// documented on goods-in receipts; the simulator's is its code.
func (s *Sim) accountObject() gqlResolver {
	return refObject("Account", map[string]any{"id": "1", "code": s.cfg.Account, "name": s.cfg.Account})
}

// goodsInRow is one goods-in receipt.
type goodsInRow struct {
	x *executor
	g *goodsIn
}

func (r goodsInRow) sortKey() string { return fmt.Sprintf("%020d", r.g.ID) }

func (r goodsInRow) value(field string) any {
	g := r.g
	switch field {
	case "reference":
		return g.Reference
	case "status":
		return g.Status
	case "account_id":
		return int64(1)
	case "warehouse_id":
		return r.x.s.st.warehouses[g.Warehouse]
	case "expected_date_of_receipt":
		if g.ExpectedArrival != nil {
			return *g.ExpectedArrival
		}
	case "actual_date_of_receipt":
		if !g.ReceivedAt.IsZero() {
			return g.ReceivedAt
		}
	}
	return nil
}

func (r goodsInRow) node(f *gqlField) (obj, error) {
	g, s := r.g, r.x.s
	var expected, received any
	if g.ExpectedArrival != nil {
		// The REST create's expected_date_of_arrival, read back as the
		// GraphQL expected_date_of_receipt: that the two names are one date
		// is assumed (the documentation shows each on its own page).
		expected = g.ExpectedArrival.Format(time.RFC3339)
	}
	if !g.ReceivedAt.IsZero() {
		received = g.ReceivedAt.Format(time.RFC3339Nano)
	}
	wid := s.st.warehouses[g.Warehouse]
	return selectObject("GoodsInReceipt", f.Sel, map[string]gqlResolver{
		"id":                       scalar(fmt.Sprint(g.ID)),
		"reference":                scalar(optional(g.Reference)),
		"status":                   scalar(g.Status),
		"receipt_type":             scalar(receiptType(g)),
		"expected_date_of_receipt": scalar(expected),
		"actual_date_of_receipt":   scalar(received),
		"notes":                    scalar(optional(g.Notes)),
		"account":                  s.accountObject(),
		"warehouse":                refObject("Warehouse", map[string]any{"id": fmt.Sprint(wid), "code": g.Warehouse, "name": "Warehouse " + g.Warehouse}),
		"lines": {object: true, resolve: func(lf *gqlField) (any, error) {
			out := make([]obj, 0, len(g.Lines))
			for _, l := range g.Lines {
				n, err := selectObject("GoodsInReceiptLine", lf.Sel, map[string]gqlResolver{
					"id":                scalar(fmt.Sprint(l.ID)),
					"expected_quantity": scalar(l.Expected),
					"received_quantity": scalar(l.Received),
					"product":           refObject("Product", map[string]any{"id": fmt.Sprint(s.st.products[l.SKU]), "code": l.SKU}),
				})
				if err != nil {
					return nil, err
				}
				out = append(out, n)
			}
			return out, nil
		}},
	})
}

func (x *executor) goodsInRows() []gqlRow {
	var rows []gqlRow
	for _, g := range x.s.st.sortedReceipts() {
		rows = append(rows, goodsInRow{x, g})
	}
	return rows
}

// unitRow is one product storage unit.
type unitRow struct {
	x *executor
	u *storageUnit
}

func (r unitRow) sortKey() string { return fmt.Sprintf("%020d", r.u.ID) }

func (r unitRow) value(field string) any {
	u := r.u
	switch field {
	case "product_id":
		return u.ProductID
	case "product_code":
		return r.x.s.st.codes[u.ProductID]
	case "storage_unit_type_id":
		return storageUnitTypes[u.TypeCode]
	case "storage_unit_type_code":
		return u.TypeCode
	case "priority":
		return int64(u.Priority)
	case "total":
		return u.Total
	}
	return nil
}

func (r unitRow) node(f *gqlField) (obj, error) {
	u := r.u
	return selectObject("ProductStorageUnit", f.Sel, map[string]gqlResolver{
		"id":                  scalar(fmt.Sprint(u.ID)),
		"priority":            scalar(u.Priority),
		"stock_configuration": scalar(u.StockConfiguration),
		"unit_of_measure":     scalar("centimetre"),
		"per_layer":           scalar(1),
		"number_of_layers":    scalar(1),
		"total":               scalar(u.Total),
		"product":             refObject("Product", map[string]any{"id": fmt.Sprint(u.ProductID), "code": r.x.s.st.codes[u.ProductID]}),
		"storage_unit_type":   refObject("StorageUnitType", map[string]any{"id": fmt.Sprint(storageUnitTypes[u.TypeCode]), "code": u.TypeCode}),
	})
}

func (x *executor) unitRows() []gqlRow {
	var rows []gqlRow
	for _, u := range x.s.st.units {
		rows = append(rows, unitRow{x, u})
	}
	sortRows(rows)
	return rows
}
