package clarus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// stockBalancesQuery reads one page of balances, documented fields only
// (api-reference/stock-balances/list-stock-balances): no on-hand, held or
// updated-at field exists, and a warehouse comes as its id.
const stockBalancesQuery = `query LockstepStockBalances($filter: StockBalancesFilterType, $first: Int, $after: String) {
  stock_balances {
    all(filter: $filter, first: $first, after: $after) {
      edges {
        node {
          available
          allocated
          product { id code }
          account { id }
          warehouse { id }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

// BalanceFilter narrows a balance read with documented filters; a zero
// field does not filter.
type BalanceFilter struct {
	ProductCodes []string // product_code in
	WarehouseIDs []string // warehouse_id in
	AccountID    string   // account_id eq
}

func (f BalanceFilter) vars() map[string]any {
	m := map[string]any{}
	if len(f.ProductCodes) > 0 {
		m["product_code"] = map[string]any{"in": f.ProductCodes}
	}
	if len(f.WarehouseIDs) > 0 {
		m["warehouse_id"] = map[string]any{"in": f.WarehouseIDs}
	}
	if f.AccountID != "" {
		m["account_id"] = map[string]any{"eq": f.AccountID}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// BalanceQuery selects one page of stock balances.
type BalanceQuery struct {
	Filter BalanceFilter
	First  int
	After  string // the previous page's end cursor
}

// Balance is one Clarus stock balance as the documented fields give it:
// the product code as Clarus spells it (not yet checked or normalised) and
// the warehouse as an id.
type Balance struct {
	ProductID, ProductCode string
	WarehouseID, AccountID string
	Available, Allocated   int64
}

// BalancePage is one page of a stock_balances connection.
type BalancePage struct {
	Balances    []Balance
	HasNextPage bool
	EndCursor   string
	// ReadAt is the server's clock when it read the page.
	ReadAt time.Time
}

func pageVars(filter map[string]any, first int, after string) map[string]any {
	vars := map[string]any{"first": first, "after": nil, "filter": nil}
	if after != "" {
		vars["after"] = after
	}
	if filter != nil {
		vars["filter"] = filter
	}
	return vars
}

// StockBalances reads one page of stock balances.
func (c *Client) StockBalances(ctx context.Context, q BalanceQuery) (BalancePage, error) {
	var page BalancePage
	readAt, err := c.query(ctx, "LockstepStockBalances", stockBalancesQuery, pageVars(q.Filter.vars(), q.First, q.After), func(data []byte) error {
		var err error
		page, err = decodeBalances(data)
		return err
	})
	if err != nil {
		return BalancePage{}, err
	}
	page.ReadAt = readAt
	return page, nil
}

// decodeBalances reads the data of a stock_balances answer. It takes
// outside bytes: it must never panic, and it refuses a page it cannot trust
// whole (a missing quantity is not 0).
func decodeBalances(data []byte) (BalancePage, error) {
	var r struct {
		StockBalances *struct {
			All *struct {
				Edges []struct {
					Node *struct {
						Available quantity `json:"available"`
						Allocated quantity `json:"allocated"`
						Product   *ref     `json:"product"`
						Account   *ref     `json:"account"`
						Warehouse *ref     `json:"warehouse"`
					} `json:"node"`
				} `json:"edges"`
				PageInfo pageInfo `json:"pageInfo"`
			} `json:"all"`
		} `json:"stock_balances"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return BalancePage{}, fmt.Errorf("%w: %v", errMalformedResponse, err)
	}
	if r.StockBalances == nil || r.StockBalances.All == nil {
		return BalancePage{}, fmt.Errorf("%w: no data.stock_balances.all", errMalformedResponse)
	}
	all := r.StockBalances.All
	var page BalancePage
	var err error
	if page.HasNextPage, page.EndCursor, err = all.PageInfo.next(); err != nil {
		return BalancePage{}, err
	}
	for i, e := range all.Edges {
		n := e.Node
		switch {
		case n == nil || !n.Available.Set || !n.Allocated.Set:
			return BalancePage{}, fmt.Errorf("clarus: graphql: balance %d lacks available or allocated", i)
		case n.Product == nil || n.Product.ID == "" || n.Product.Code == nil:
			return BalancePage{}, fmt.Errorf("clarus: graphql: balance %d lacks product { id code }", i)
		case n.Warehouse == nil || n.Warehouse.ID == "":
			return BalancePage{}, fmt.Errorf("clarus: graphql: balance %d lacks warehouse { id }", i)
		case n.Allocated.N < 0 || max(n.Allocated.N, n.Available.N) > maxQuantity || n.Available.N < -maxQuantity:
			return BalancePage{}, fmt.Errorf("clarus: graphql: balance %d: quantities out of range", i)
		}
		b := Balance{ProductID: string(n.Product.ID), ProductCode: *n.Product.Code, WarehouseID: string(n.Warehouse.ID),
			Available: n.Available.N, Allocated: n.Allocated.N}
		if n.Account != nil {
			b.AccountID = string(n.Account.ID)
		}
		page.Balances = append(page.Balances, b)
	}
	return page, nil
}
