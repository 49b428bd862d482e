package clarus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// heldStockQuery reads stock records (api-reference/stocks/list-stocks),
// documented fields only. Held stock has no field on a balance: it is the
// quantity of the stock records whose status is "held" (the documented
// example statuses are available and held).
const heldStockQuery = `query LockstepHeldStock($filter: StockFilterType, $first: Int, $after: String) {
  stocks {
    all(filter: $filter, first: $first, after: $after) {
      edges {
        node {
          id
          quantity
          status
          product { id code }
          account { id }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

// StatusHeld is the status of a stock record on hold.
const StatusHeld = "held"

// StockQuery selects one page of the stock records of one warehouse in one
// status, optionally of some products and one account.
type StockQuery struct {
	Status       string
	WarehouseID  string
	ProductCodes []string
	AccountID    string
	First        int
	After        string
}

// StockRecord is one Clarus stock record: a quantity of a product at a
// location, with a status.
type StockRecord struct {
	ID          string
	ProductCode string // as Clarus spells it
	AccountID   string
	Status      string
	Quantity    int64
}

// StockPage is one page of a stocks connection.
type StockPage struct {
	Records     []StockRecord
	HasNextPage bool
	EndCursor   string
	ReadAt      time.Time
}

// Stocks reads one page of stock records.
func (c *Client) Stocks(ctx context.Context, q StockQuery) (StockPage, error) {
	filter := map[string]any{"status": map[string]any{"eq": q.Status}, "warehouse_id": map[string]any{"eq": q.WarehouseID}}
	if len(q.ProductCodes) > 0 {
		filter["product_code"] = map[string]any{"in": q.ProductCodes}
	}
	if q.AccountID != "" {
		filter["account_id"] = map[string]any{"eq": q.AccountID}
	}
	var page StockPage
	readAt, err := c.query(ctx, "LockstepHeldStock", heldStockQuery, pageVars(filter, q.First, q.After), func(data []byte) error {
		var err error
		page, err = decodeStocks(data)
		return err
	})
	if err != nil {
		return StockPage{}, err
	}
	page.ReadAt = readAt
	return page, nil
}

func decodeStocks(data []byte) (StockPage, error) {
	var r struct {
		Stocks *struct {
			All *struct {
				Edges []struct {
					Node *struct {
						ID       clarusID `json:"id"`
						Quantity quantity `json:"quantity"`
						Status   *string  `json:"status"`
						Product  *ref     `json:"product"`
						Account  *ref     `json:"account"`
					} `json:"node"`
				} `json:"edges"`
				PageInfo pageInfo `json:"pageInfo"`
			} `json:"all"`
		} `json:"stocks"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return StockPage{}, fmt.Errorf("%w: %v", errMalformedResponse, err)
	}
	if r.Stocks == nil || r.Stocks.All == nil {
		return StockPage{}, fmt.Errorf("%w: no data.stocks.all", errMalformedResponse)
	}
	var page StockPage
	var err error
	if page.HasNextPage, page.EndCursor, err = r.Stocks.All.PageInfo.next(); err != nil {
		return StockPage{}, err
	}
	for i, e := range r.Stocks.All.Edges {
		n := e.Node
		switch {
		case n == nil || !n.Quantity.Set || n.Status == nil:
			return StockPage{}, fmt.Errorf("clarus: graphql: stock %d lacks quantity or status", i)
		case n.Product == nil || n.Product.Code == nil:
			return StockPage{}, fmt.Errorf("clarus: graphql: stock %d lacks product { code }", i)
		case n.Quantity.N < 0 || n.Quantity.N > maxQuantity:
			return StockPage{}, fmt.Errorf("clarus: graphql: stock %d: quantity %d out of range", i, n.Quantity.N)
		}
		rec := StockRecord{ID: string(n.ID), ProductCode: *n.Product.Code, Status: *n.Status, Quantity: n.Quantity.N}
		if n.Account != nil {
			rec.AccountID = string(n.Account.ID)
		}
		page.Records = append(page.Records, rec)
	}
	return page, nil
}

// warehousesQuery reads warehouses (api-reference/warehouses/list-warehouses).
const warehousesQuery = `query LockstepWarehouses($filter: WarehouseFilterType, $first: Int, $after: String) {
  warehouses {
    all(filter: $filter, first: $first, after: $after) {
      edges { node { id code } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

// Warehouses returns the id of each Clarus warehouse whose code is one of
// codes, by code, reading every page.
func (c *Client) Warehouses(ctx context.Context, codes []string, pageSize int) (map[string][]string, error) {
	out := map[string][]string{}
	after := ""
	for {
		var next bool
		var end string
		_, err := c.query(ctx, "LockstepWarehouses", warehousesQuery,
			pageVars(map[string]any{"code": map[string]any{"in": codes}}, pageSize, after), func(data []byte) error {
				var r struct {
					Warehouses *struct {
						All *struct {
							Edges []struct {
								Node *ref `json:"node"`
							} `json:"edges"`
							PageInfo pageInfo `json:"pageInfo"`
						} `json:"all"`
					} `json:"warehouses"`
				}
				if err := json.Unmarshal(data, &r); err != nil {
					return fmt.Errorf("%w: %v", errMalformedResponse, err)
				}
				if r.Warehouses == nil || r.Warehouses.All == nil {
					return fmt.Errorf("%w: no data.warehouses.all", errMalformedResponse)
				}
				for i, e := range r.Warehouses.All.Edges {
					if e.Node == nil || e.Node.ID == "" || e.Node.Code == nil {
						return fmt.Errorf("clarus: graphql: warehouse %d lacks id or code", i)
					}
					out[*e.Node.Code] = append(out[*e.Node.Code], string(e.Node.ID))
				}
				var err error
				next, end, err = r.Warehouses.All.PageInfo.next()
				return err
			})
		if err != nil {
			return nil, err
		}
		if !next {
			return out, nil
		}
		if end == after {
			return nil, fmt.Errorf("clarus: graphql: warehouses page after %q ends where it started", after)
		}
		after = end
	}
}
