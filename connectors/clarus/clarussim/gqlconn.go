package clarussim

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// The connections: stock_balances, stocks and warehouses, each
// `all(filter, first, after)` over rows of the ground truth in a fixed
// order. A cursor is the hex of a row's sort key, so a page after it
// starts at the next row even when that row has gone since.

// executor answers one query against the ground truth; it runs under
// Sim.mu.
type executor struct {
	s    *Sim
	vars map[string]any
}

// gqlRow is one record a connection lists.
type gqlRow interface {
	sortKey() string
	// value is the record's value of a filter field: a string, an int64
	// (ids and quantities), a time.Time, or nil when it has none.
	value(field string) any
	node(f *gqlField) (obj, error)
}

// filterSpec gives each field of a filter input type its input type.
type filterSpec map[string]string

// The filter input types, as clarus.graphql declares them (the assumed
// ones included: strict mode refuses them before the executor runs).
var (
	balanceFilters = filterSpec{"product_id": "Id", "product_code": "String", "account_id": "Id", "warehouse_id": "Id",
		"available": "Decimal", "allocated": "Decimal", "picked": "Decimal", "warehouse_code": "String", "updated_at": "Datetime"}
	stockFilters = filterSpec{"product_id": "Id", "product_code": "String", "account_id": "Id", "warehouse_id": "Id",
		"location_id": "Id", "location_code": "String", "storage_unit_id": "Id", "status": "String", "quantity": "Decimal", "fifo_date": "Datetime"}
	warehouseFilters = filterSpec{"code": "String", "id": "Id"}
)

func (x *executor) root(name string, filterType string, spec filterSpec, rows func() []gqlRow) gqlResolver {
	return gqlResolver{object: true, resolve: func(f *gqlField) (any, error) {
		return selectObject(name, f.Sel, map[string]gqlResolver{
			"all": {object: true, args: []string{"filter", "first", "after"}, resolve: func(af *gqlField) (any, error) {
				return x.connection(af, filterType, spec, rows())
			}},
		})
	}}
}

// connection is the Relay connection over rows (sorted by sort key).
func (x *executor) connection(f *gqlField, filterType string, spec filterSpec, rows []gqlRow) (any, error) {
	args := map[string]any{}
	for _, a := range f.Args {
		v, err := x.resolveValue(f, a.Value)
		if err != nil {
			return nil, err
		}
		args[a.Name] = v
	}
	first := int64(defaultPageSize)
	if v, ok := args["first"]; ok && v != nil {
		n, ok := toInt(v)
		if !ok || n < 0 {
			return nil, errAt(f, "Argument 'first' on Field 'all' has an invalid value (%v). Expected type 'Int'.", v)
		}
		first = min(n, maxPageSize)
	}
	match, err := compileFilter(filterType, spec, args["filter"])
	if err != nil {
		return nil, errAt(f, "Argument 'filter' on Field 'all' has an invalid value: %v", err)
	}
	var kept []gqlRow
	for _, r := range rows {
		if match(r) {
			kept = append(kept, r)
		}
	}
	start := 0
	if v, ok := args["after"]; ok && v != nil {
		c, isStr := v.(string)
		after, err := hex.DecodeString(c)
		if !isStr || err != nil || c == "" {
			return nil, errAt(f, "Invalid cursor: %v", v)
		}
		for start < len(kept) && kept[start].sortKey() <= string(after) {
			start++
		}
	}
	end := min(start+int(first), len(kept))
	page := kept[start:end]
	cursor := func(r gqlRow) string { return hex.EncodeToString([]byte(r.sortKey())) }
	conn := filterType[:len(filterType)-len("FilterType")]
	return selectObject(conn+"Connection", f.Sel, map[string]gqlResolver{
		"edges": {object: true, resolve: func(ef *gqlField) (any, error) {
			edges := make([]obj, 0, len(page))
			for _, r := range page {
				e, err := selectObject(conn+"Edge", ef.Sel, map[string]gqlResolver{
					"cursor": {resolve: func(*gqlField) (any, error) { return cursor(r), nil }},
					"node":   {object: true, resolve: func(nf *gqlField) (any, error) { return r.node(nf) }},
				})
				if err != nil {
					return nil, err
				}
				edges = append(edges, e)
			}
			return edges, nil
		}},
		"nodes": {object: true, resolve: func(nf *gqlField) (any, error) {
			nodes := make([]obj, 0, len(page))
			for _, r := range page {
				n, err := r.node(nf)
				if err != nil {
					return nil, err
				}
				nodes = append(nodes, n)
			}
			return nodes, nil
		}},
		"totalCount": {resolve: func(*gqlField) (any, error) { return len(kept), nil }},
		"pageInfo": {object: true, resolve: func(pf *gqlField) (any, error) {
			var startC, endC any
			if len(page) > 0 {
				startC, endC = cursor(page[0]), cursor(page[len(page)-1])
			}
			return selectObject("PageInfo", pf.Sel, map[string]gqlResolver{
				"hasNextPage":     {resolve: func(*gqlField) (any, error) { return end < len(kept), nil }},
				"hasPreviousPage": {resolve: func(*gqlField) (any, error) { return start > 0, nil }},
				"startCursor":     {resolve: func(*gqlField) (any, error) { return startC, nil }},
				"endCursor":       {resolve: func(*gqlField) (any, error) { return endC, nil }},
			})
		}},
	})
}

func scalar(v any) gqlResolver {
	return gqlResolver{resolve: func(*gqlField) (any, error) { return v, nil }}
}

// refObject resolves a related record with the given fields.
func refObject(typ string, fields map[string]any) gqlResolver {
	return gqlResolver{object: true, resolve: func(rf *gqlField) (any, error) {
		rs := map[string]gqlResolver{}
		for k, v := range fields {
			rs[k] = scalar(v)
		}
		return selectObject(typ, rf.Sel, rs)
	}}
}

func nullObject() gqlResolver {
	return gqlResolver{object: true, resolve: func(*gqlField) (any, error) { return nil, nil }}
}

// balanceRow is one stock balance.
type balanceRow struct {
	x *executor
	k skuKey
	b *balance
}

func (r balanceRow) sortKey() string { return r.k.SKU + "\x00" + r.k.Warehouse }

func (r balanceRow) value(field string) any {
	st := r.x.s.st
	switch field {
	case "product_id":
		return st.products[r.k.SKU]
	case "product_code":
		return r.k.SKU
	case "account_id":
		return int64(1)
	case "warehouse_id":
		return st.warehouses[r.k.Warehouse]
	case "warehouse_code":
		return r.k.Warehouse
	case "available":
		return r.b.OnHand - r.b.Held - r.b.Allocated
	case "allocated":
		return r.b.Allocated
	case "picked":
		return r.b.Picked
	case "updated_at":
		return r.b.UpdatedAt
	}
	return nil
}

func (r balanceRow) node(f *gqlField) (obj, error) {
	st, b := r.x.s.st, r.b
	pid, wid := st.products[r.k.SKU], st.warehouses[r.k.Warehouse]
	return selectObject("StockBalance", f.Sel, map[string]gqlResolver{
		"id":         scalar(fmt.Sprintf("%d-%d", pid, wid)),
		"available":  scalar(b.OnHand - b.Held - b.Allocated),
		"allocated":  scalar(b.Allocated),
		"ordered":    scalar(b.Allocated),
		"received":   scalar(b.Received),
		"picked":     scalar(b.Picked),
		"on_hand":    scalar(b.OnHand),
		"held":       scalar(b.Held),
		"updated_at": scalar(b.UpdatedAt.Format(time.RFC3339Nano)),
		"product":    refObject("Product", map[string]any{"id": fmt.Sprint(pid), "code": r.k.SKU}),
		"warehouse":  refObject("BalanceWarehouse", map[string]any{"id": fmt.Sprint(wid), "code": r.k.Warehouse}),
		"account":    r.x.s.accountObject(),
	})
}

// stockRow is one stock record: a held one, or the available stock of a
// balance (on hand less held) as one record at the warehouse's bulk
// location.
type stockRow struct {
	x      *executor
	id     int64
	k      skuKey
	qty    int64
	status string
}

func (r stockRow) sortKey() string { return fmt.Sprintf("%020d", r.id) }

func (r stockRow) value(field string) any {
	st := r.x.s.st
	switch field {
	case "product_id":
		return st.products[r.k.SKU]
	case "product_code":
		return r.k.SKU
	case "account_id":
		return int64(1)
	case "warehouse_id":
		return st.warehouses[r.k.Warehouse]
	case "location_id":
		return r.x.s.location(r.k.Warehouse).ID
	case "location_code":
		return r.x.s.location(r.k.Warehouse).Code
	case "status":
		return r.status
	case "quantity":
		return r.qty
	}
	return nil // storage_unit_id, fifo_date: the simulator keeps none
}

func (r stockRow) node(f *gqlField) (obj, error) {
	st := r.x.s.st
	loc := r.x.s.location(r.k.Warehouse)
	return selectObject("Stock", f.Sel, map[string]gqlResolver{
		"id":           scalar(fmt.Sprint(r.id)),
		"quantity":     scalar(r.qty),
		"status":       scalar(r.status),
		"fifo_date":    scalar(nil),
		"product":      refObject("Product", map[string]any{"id": fmt.Sprint(st.products[r.k.SKU]), "code": r.k.SKU}),
		"location":     refObject("Location", map[string]any{"id": fmt.Sprint(loc.ID), "code": loc.Code}),
		"account":      r.x.s.accountObject(),
		"storage_unit": nullObject(),
		"warehouse":    refObject("BalanceWarehouse", map[string]any{"id": fmt.Sprint(st.warehouses[r.k.Warehouse]), "code": r.k.Warehouse}),
	})
}

// warehouseRow is one warehouse.
type warehouseRow struct {
	id   int64
	code string
}

func (r warehouseRow) sortKey() string { return fmt.Sprintf("%020d", r.id) }

func (r warehouseRow) value(field string) any {
	switch field {
	case "id":
		return r.id
	case "code":
		return r.code
	}
	return nil
}

func (r warehouseRow) node(f *gqlField) (obj, error) {
	return selectObject("Warehouse", f.Sel, map[string]gqlResolver{
		"id": scalar(fmt.Sprint(r.id)), "code": scalar(r.code), "name": scalar("Warehouse " + r.code),
	})
}

func (x *executor) balanceRows() []gqlRow {
	var rows []gqlRow
	for _, k := range x.s.st.sortedKeys() {
		rows = append(rows, balanceRow{x, k, x.s.st.balances[k]})
	}
	return rows
}

// availableStockID is the id of a balance's available stock record: far
// above the ids of held records, and stable.
func availableStockID(productID, warehouseID int64) int64 {
	return 1_000_000_000 + productID*10_000 + warehouseID
}

func (x *executor) stockRows() []gqlRow {
	st := x.s.st
	var rows []gqlRow
	for _, h := range sortedHeld(st) {
		rows = append(rows, stockRow{x, h.ID, h.Key, h.Quantity, "held"})
	}
	for _, k := range st.sortedKeys() {
		b := st.balances[k]
		if q := b.OnHand - b.Held; q > 0 {
			rows = append(rows, stockRow{x, availableStockID(st.products[k.SKU], st.warehouses[k.Warehouse]), k, q, "available"})
		}
	}
	sortRows(rows)
	return rows
}

func (x *executor) warehouseRows() []gqlRow {
	var rows []gqlRow
	for code, id := range x.s.st.warehouses {
		rows = append(rows, warehouseRow{id, code})
	}
	sortRows(rows)
	return rows
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), true
		}
	}
	return 0, false
}
