package clarussim

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// executor answers one query against the ground truth; it runs under
// Sim.mu.
type executor struct {
	s    *Sim
	vars map[string]any
}

func (x *executor) stockBalances(f *gqlField) (any, error) {
	return selectObject("StockBalancesQuery", f.Sel, map[string]gqlResolver{
		"all": {object: true, args: []string{"filter", "first", "after"}, resolve: x.all},
	})
}

// all is the Relay connection over the balances, in (sku, warehouse) order.
func (x *executor) all(f *gqlField) (any, error) {
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
	match, err := balanceFilter(args["filter"])
	if err != nil {
		return nil, errAt(f, "Argument 'filter' on Field 'all' has an invalid value: %v", err)
	}
	var keys []skuKey
	for _, k := range x.s.st.sortedKeys() {
		if match(x.s.st, k, x.s.st.balances[k]) {
			keys = append(keys, k)
		}
	}
	start := 0
	if v, ok := args["after"]; ok && v != nil {
		c, isStr := v.(string)
		after, valid := decodeCursor(c)
		if !isStr || !valid {
			return nil, errAt(f, "Invalid cursor: %v", v)
		}
		for start < len(keys) && !less(after, keys[start]) {
			start++
		}
	}
	end := min(start+int(first), len(keys))
	page := keys[start:end]
	return selectObject("StockBalanceConnection", f.Sel, map[string]gqlResolver{
		"edges": {object: true, resolve: func(ef *gqlField) (any, error) {
			edges := make([]obj, 0, len(page))
			for _, k := range page {
				e, err := selectObject("StockBalanceEdge", ef.Sel, map[string]gqlResolver{
					"cursor": {resolve: func(*gqlField) (any, error) { return encodeCursor(k), nil }},
					"node":   {object: true, resolve: func(nf *gqlField) (any, error) { return x.node(nf, k) }},
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
			for _, k := range page {
				n, err := x.node(nf, k)
				if err != nil {
					return nil, err
				}
				nodes = append(nodes, n)
			}
			return nodes, nil
		}},
		"totalCount": {resolve: func(*gqlField) (any, error) { return len(keys), nil }},
		"pageInfo": {object: true, resolve: func(pf *gqlField) (any, error) {
			var startC, endC any
			if len(page) > 0 {
				startC, endC = encodeCursor(page[0]), encodeCursor(page[len(page)-1])
			}
			return selectObject("PageInfo", pf.Sel, map[string]gqlResolver{
				"hasNextPage":     {resolve: func(*gqlField) (any, error) { return end < len(keys), nil }},
				"hasPreviousPage": {resolve: func(*gqlField) (any, error) { return start > 0, nil }},
				"startCursor":     {resolve: func(*gqlField) (any, error) { return startC, nil }},
				"endCursor":       {resolve: func(*gqlField) (any, error) { return endC, nil }},
			})
		}},
	})
}

func less(a, b skuKey) bool { return a.SKU < b.SKU || a.SKU == b.SKU && a.Warehouse < b.Warehouse }

func (x *executor) node(f *gqlField, k skuKey) (obj, error) {
	st := x.s.st
	b := st.balances[k]
	scalar := func(v any) gqlResolver { return gqlResolver{resolve: func(*gqlField) (any, error) { return v, nil }} }
	ref := func(typ string, id int64, code string) gqlResolver {
		return gqlResolver{object: true, resolve: func(rf *gqlField) (any, error) {
			return selectObject(typ, rf.Sel, map[string]gqlResolver{"id": scalar(fmt.Sprint(id)), "code": scalar(code)})
		}}
	}
	return selectObject("StockBalance", f.Sel, map[string]gqlResolver{
		"id":         scalar(fmt.Sprintf("%d-%d", st.products[k.SKU], st.warehouses[k.Warehouse])),
		"available":  scalar(b.OnHand - b.Held - b.Allocated),
		"allocated":  scalar(b.Allocated),
		"ordered":    scalar(b.Allocated),
		"received":   scalar(b.Received),
		"picked":     scalar(b.Picked),
		"on_hand":    scalar(b.OnHand),
		"held":       scalar(b.Held),
		"updated_at": scalar(b.UpdatedAt.Format(time.RFC3339Nano)),
		"product":    ref("Product", st.products[k.SKU], k.SKU),
		"warehouse":  ref("Warehouse", st.warehouses[k.Warehouse], k.Warehouse),
		"account":    ref("Account", 1, x.s.cfg.Account),
	})
}

type balancePred func(st *store, k skuKey, b *balance) bool

// balanceFilter compiles a StockBalancesFilterType value.
func balanceFilter(v any) (balancePred, error) {
	if v == nil {
		return func(*store, skuKey, *balance) bool { return true }, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected an input object")
	}
	var preds []balancePred
	for field, ops := range m {
		if ops == nil {
			continue
		}
		om, ok := ops.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: expected an input object of operators", field)
		}
		var p balancePred
		var err error
		switch field {
		case "product_code":
			p, err = stringFilter(om, func(_ *store, k skuKey, _ *balance) string { return k.SKU })
		case "warehouse_code":
			p, err = stringFilter(om, func(_ *store, k skuKey, _ *balance) string { return k.Warehouse })
		case "product_id":
			p, err = idFilter(om, func(st *store, k skuKey, _ *balance) int64 { return st.products[k.SKU] })
		case "warehouse_id":
			p, err = idFilter(om, func(st *store, k skuKey, _ *balance) int64 { return st.warehouses[k.Warehouse] })
		case "updated_at":
			p, err = timeFilter(om)
		default:
			return nil, fmt.Errorf("unknown field %q of StockBalancesFilterType", field)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		preds = append(preds, p)
	}
	return func(st *store, k skuKey, b *balance) bool {
		for _, p := range preds {
			if !p(st, k, b) {
				return false
			}
		}
		return true
	}, nil
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
