package clarus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clock"
)

// stockBalancesQuery is the one GraphQL document the sweep sends; the
// fields past the documented ones (on_hand, held, updated_at, warehouse
// code) are marked assumed in clarus.graphql.
const stockBalancesQuery = `query LockstepStockBalances($filter: StockBalancesFilterType, $first: Int!, $after: String) {
  stock_balances {
    all(filter: $filter, first: $first, after: $after) {
      edges {
        cursor
        node {
          product { code }
          warehouse { code }
          available
          allocated
          on_hand
          held
          updated_at
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

// BalanceQuery selects one page of stock balances.
type BalanceQuery struct {
	// UpdatedAfter, when set, reads only balances updated after it.
	UpdatedAfter time.Time
	First        int
	After        string // the previous page's end cursor
}

// Balance is one Clarus stock balance.
type Balance struct {
	SKU, Warehouse          string
	OnHand, Held, Allocated int64
	Available               int64
	UpdatedAt               time.Time
}

// BalancePage is one page of a stock_balances connection.
type BalancePage struct {
	Balances    []Balance
	HasNextPage bool
	EndCursor   string
	// ReadAt is the server's clock when it read the page: its
	// extensions.read_at, else its Date header.
	ReadAt time.Time
}

// GraphQLError is a query the server answered with errors: not retried.
type GraphQLError struct{ Messages []string }

func (e *GraphQLError) Error() string {
	return "clarus: graphql: " + strings.Join(e.Messages, "; ")
}

// errMalformedResponse marks an answer that could not be read, which the
// client retries: a proxy cutting a body short is transient.
var errMalformedResponse = errors.New("clarus: malformed GraphQL response")

// StockBalances reads one page of stock balances.
func (c *Client) StockBalances(ctx context.Context, q BalanceQuery) (BalancePage, error) {
	vars := map[string]any{"first": q.First, "after": nil, "filter": nil}
	if q.After != "" {
		vars["after"] = q.After
	}
	if !q.UpdatedAfter.IsZero() {
		vars["filter"] = map[string]any{"updated_at": map[string]any{"gt": q.UpdatedAfter.UTC().Format(time.RFC3339Nano)}}
	}
	payload, err := json.Marshal(map[string]any{"query": stockBalancesQuery, "variables": vars, "operationName": "LockstepStockBalances"})
	if err != nil {
		return BalancePage{}, err
	}
	refreshed := false
	for malformed := 0; ; {
		tok, err := c.accessToken(ctx)
		if err != nil {
			return BalancePage{}, err
		}
		resp, body, err := c.send(ctx, "graphql", func() (*http.Request, error) {
			req, err := http.NewRequest(http.MethodPost, c.base+"/graphql", bytes.NewReader(payload))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("X-Clarus-Subdomain", c.subdomain)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
			return req, nil
		})
		if err != nil {
			return BalancePage{}, err
		}
		if resp.StatusCode == http.StatusUnauthorized && !refreshed {
			// The token was revoked or expired early (clock skew): one
			// fresh token, then a 401 is an answer.
			c.invalidate(tok)
			refreshed = true
			c.o.Metrics.apiRetries.WithLabelValues("401").Inc()
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return BalancePage{}, &APIError{Op: "graphql", Status: resp.StatusCode, Body: snippet(body)}
		}
		page, err := decodeBalancePage(body, resp.Header.Get("Date"))
		if errors.Is(err, errMalformedResponse) && malformed < 3 {
			malformed++
			c.o.Metrics.apiRetries.WithLabelValues("malformed").Inc()
			if err := clock.Sleep(ctx, c.o.Clock, time.Second); err != nil {
				return BalancePage{}, err
			}
			continue
		}
		if err != nil {
			return BalancePage{}, err
		}
		if page.ReadAt.IsZero() {
			page.ReadAt = c.o.Clock.Now().UTC()
		}
		return page, nil
	}
}

// decodeBalancePage reads a stock_balances answer. It takes outside bytes:
// it must never panic, and it refuses a page it cannot trust whole.
func decodeBalancePage(body []byte, date string) (BalancePage, error) {
	type code struct {
		Code string `json:"code"`
	}
	var r struct {
		Data *struct {
			StockBalances *struct {
				All *struct {
					Edges []struct {
						Cursor string `json:"cursor"`
						Node   *struct {
							Product   code      `json:"product"`
							Warehouse code      `json:"warehouse"`
							Available *int64    `json:"available"`
							Allocated *int64    `json:"allocated"`
							OnHand    *int64    `json:"on_hand"`
							Held      *int64    `json:"held"`
							UpdatedAt time.Time `json:"updated_at"`
						} `json:"node"`
					} `json:"edges"`
					PageInfo struct {
						HasNextPage bool    `json:"hasNextPage"`
						EndCursor   *string `json:"endCursor"`
					} `json:"pageInfo"`
				} `json:"all"`
			} `json:"stock_balances"`
		} `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
		Extensions struct {
			ReadAt string `json:"read_at"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return BalancePage{}, fmt.Errorf("%w: %v", errMalformedResponse, err)
	}
	if len(r.Errors) > 0 {
		ge := &GraphQLError{}
		for _, e := range r.Errors {
			ge.Messages = append(ge.Messages, e.Message)
		}
		return BalancePage{}, ge
	}
	if r.Data == nil || r.Data.StockBalances == nil || r.Data.StockBalances.All == nil {
		return BalancePage{}, fmt.Errorf("%w: no data.stock_balances.all", errMalformedResponse)
	}
	all := r.Data.StockBalances.All
	page := BalancePage{HasNextPage: all.PageInfo.HasNextPage}
	if all.PageInfo.EndCursor != nil {
		page.EndCursor = *all.PageInfo.EndCursor
	}
	if page.HasNextPage && page.EndCursor == "" {
		return BalancePage{}, fmt.Errorf("clarus: graphql: hasNextPage without an endCursor")
	}
	if t, err := time.Parse(time.RFC3339Nano, r.Extensions.ReadAt); err == nil {
		page.ReadAt = t.UTC()
	} else if t, err := http.ParseTime(date); err == nil {
		page.ReadAt = t.UTC()
	}
	for i, e := range all.Edges {
		n := e.Node
		if n == nil || n.OnHand == nil || n.Held == nil || n.Allocated == nil {
			return BalancePage{}, fmt.Errorf("clarus: graphql: balance %d lacks on_hand, held or allocated", i)
		}
		if err := errors.Join(checkCode("product.code", n.Product.Code), checkCode("warehouse.code", n.Warehouse.Code)); err != nil {
			return BalancePage{}, fmt.Errorf("clarus: graphql: balance %d: %w", i, err)
		}
		b := Balance{SKU: n.Product.Code, Warehouse: n.Warehouse.Code, OnHand: *n.OnHand, Held: *n.Held, Allocated: *n.Allocated, UpdatedAt: n.UpdatedAt}
		b.Available = b.OnHand - b.Held - b.Allocated
		if n.Available != nil {
			b.Available = *n.Available
		}
		page.Balances = append(page.Balances, b)
	}
	return page, nil
}

func snippet(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.TrimSpace(s)
}
