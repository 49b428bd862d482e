package clarus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/text/unicode/norm"
)

// The GraphQL reads of the order sink, documented fields and filters only
// (api-reference/products/list-products, goods-out:-orders/
// list-goods-out-orders and list-goods-out-lines; goodsout_contract_test.go
// checks them against clarus.graphql without its assumed lines).

const productsQuery = `query LockstepProducts($filter: ProductsFilterType, $first: Int, $after: String) {
  products {
    all(filter: $filter, first: $first, after: $after) {
      edges { node { id code } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

const goodsOutsQuery = `query LockstepGoodsOuts($filter: GoodsOutsFilterType, $first: Int, $after: String) {
  goods_outs {
    all(filter: $filter, first: $first, after: $after) {
      edges { node { id reference goods_out_status { code } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

const goodsOutLinesQuery = `query LockstepGoodsOutLines($filter: GoodsOutLineFilterType, $first: Int, $after: String) {
  goods_out_lines {
    all(filter: $filter, first: $first, after: $after) {
      edges { node { id order_quantity pick_quantity product { id code } goods_out { id } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

// lookupPageSize is the page size of the order sink's reads: the largest
// the simulator serves (the real maximum is not documented).
const lookupPageSize = 100

// Goods-out status codes (goods_out_status_id 1-8, documented).
const (
	GoodsOutDraft         = "DRAFT"
	GoodsOutPending       = "PENDING"
	GoodsOutPick          = "PICK"
	GoodsOutAllocated     = "ALLOCATED"
	GoodsOutCompleted     = "COMPLETED"
	GoodsOutPartAllocated = "PART_ALLOCATED"
	GoodsOutCancelled     = "CANCELLED"
)

// GoodsOut is a goods out as the order sink reads it.
type GoodsOut struct {
	ID        string
	Reference string
	Status    string // goods_out_status.code
}

// Active reports whether g stands: it is not CANCELLED (a cancelled DRAFT
// or PENDING goods out is deleted and not listed at all).
func (g GoodsOut) Active() bool { return g.Status != GoodsOutCancelled }

// Unpicked reports whether picking has not started on g: it is DRAFT,
// PENDING, ALLOCATED or PART_ALLOCATED, so cancelling it loses no work.
func (g GoodsOut) Unpicked() bool {
	switch g.Status {
	case GoodsOutDraft, GoodsOutPending, GoodsOutAllocated, GoodsOutPartAllocated:
		return true
	}
	return false
}

// GoodsOutLine is one line of a goods out.
type GoodsOutLine struct {
	ID            string
	GoodsOutID    string
	ProductCode   string
	OrderQuantity int64
	PickQuantity  int64 // picked so far (0 when Clarus gives none)
}

// pages runs doc over every page of filter, handing each page's data to
// decode, which returns the page's pageInfo.
func (c *Client) pages(ctx context.Context, op, doc string, filter map[string]any, decode func([]byte) (pageInfo, error)) error {
	after := ""
	for {
		var info pageInfo
		_, err := c.query(ctx, op, doc, pageVars(filter, lookupPageSize, after), func(data []byte) error {
			var err error
			info, err = decode(data)
			return err
		})
		if err != nil {
			return err
		}
		more, end, err := info.next()
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		if end == after {
			return fmt.Errorf("clarus: graphql %s: the next page has the same cursor %q", op, end)
		}
		after = end
	}
}

// connection is the shape of one page of a connection of T.
type connection[T any] struct {
	All struct {
		Edges []struct {
			Node T `json:"node"`
		} `json:"edges"`
		PageInfo pageInfo `json:"pageInfo"`
	} `json:"all"`
}

// ProductIDs returns the Clarus id of each of codes that names a product;
// a code with none is absent from the map. Ids found are cached for the
// client's life (a product keeps its id); codes not found are asked again
// next time, since the product may be created meanwhile.
func (c *Client) ProductIDs(ctx context.Context, codes []string) (map[string]string, error) {
	return cachedLookup(&c.st.productsMu, c.st.products, codes, func(chunk []string, want map[string]bool, out map[string]string) error {
		return c.pages(ctx, "LockstepProducts", productsQuery, map[string]any{"code": map[string]any{"in": chunk}}, func(data []byte) (pageInfo, error) {
			return decodeProducts(data, want, out)
		})
	})
}

// cachedLookup returns what cache holds of codes and asks find for the
// rest, a page's worth of codes at a time (want holds the chunk's), then
// caches what it found. A code not found is asked again next time: the
// record may be created meanwhile.
func cachedLookup[V any](mu *sync.Mutex, cache map[string]V, codes []string, find func(chunk []string, want map[string]bool, out map[string]V) error) (map[string]V, error) {
	out := map[string]V{}
	var ask []string
	mu.Lock()
	for _, code := range codes {
		if v, ok := cache[code]; ok {
			out[code] = v
		} else if !slices.Contains(ask, code) {
			ask = append(ask, code)
		}
	}
	mu.Unlock()
	for chunk := range slices.Chunk(ask, lookupPageSize) {
		want := map[string]bool{}
		for _, code := range chunk {
			want[code] = true
		}
		if err := find(chunk, want, out); err != nil {
			return nil, err
		}
	}
	mu.Lock()
	for _, code := range ask {
		if v, ok := out[code]; ok {
			cache[code] = v
		}
	}
	mu.Unlock()
	return out, nil
}

// decodeProducts reads a page of products into out, code to id, keeping
// the codes in want. It takes outside bytes: it must never panic.
func decodeProducts(data []byte, want map[string]bool, out map[string]string) (pageInfo, error) {
	var d struct {
		Products connection[struct {
			ID   clarusID `json:"id"`
			Code string   `json:"code"`
		}] `json:"products"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return pageInfo{}, fmt.Errorf("clarus: products: %w", err)
	}
	for _, e := range d.Products.All.Edges {
		// Clarus may spell a code in another Unicode form than lockstep,
		// which keys on NFC.
		for _, code := range []string{e.Node.Code, norm.NFC.String(e.Node.Code)} {
			if want[code] && e.Node.ID != "" {
				out[code] = string(e.Node.ID)
			}
		}
	}
	return d.Products.All.PageInfo, nil
}

// forgetProducts drops codes from the product and storage unit caches:
// Clarus refused an id found for one of them, and the next look-up must
// ask again.
func (c *Client) forgetProducts(codes ...string) {
	c.st.productsMu.Lock()
	defer c.st.productsMu.Unlock()
	for _, code := range codes {
		delete(c.st.products, code)
		delete(c.st.units, code)
	}
}

// GoodsOutsByReference returns every goods out whose reference is ref,
// whatever its status, oldest (lowest id) first as Clarus lists them.
func (c *Client) GoodsOutsByReference(ctx context.Context, ref string) ([]GoodsOut, error) {
	var out []GoodsOut
	err := c.pages(ctx, "LockstepGoodsOuts", goodsOutsQuery, map[string]any{"reference": map[string]any{"eq": ref}}, func(data []byte) (pageInfo, error) {
		page, info, err := decodeGoodsOuts(data, ref)
		out = append(out, page...)
		return info, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeGoodsOuts reads a page of goods outs, keeping those whose
// reference is ref: the filter is eq, and a server that matched loosely
// must not make another order ours. It takes outside bytes: it must never
// panic.
func decodeGoodsOuts(data []byte, ref string) ([]GoodsOut, pageInfo, error) {
	var d struct {
		GoodsOuts connection[struct {
			ID        clarusID `json:"id"`
			Reference string   `json:"reference"`
			Status    struct {
				Code string `json:"code"`
			} `json:"goods_out_status"`
		}] `json:"goods_outs"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, pageInfo{}, fmt.Errorf("clarus: goods outs: %w", err)
	}
	var out []GoodsOut
	for _, e := range d.GoodsOuts.All.Edges {
		n := e.Node
		if n.ID == "" || n.Status.Code == "" {
			return nil, pageInfo{}, errors.New("clarus: goods outs: a goods out without an id or a status")
		}
		if n.Reference == ref {
			out = append(out, GoodsOut{ID: string(n.ID), Reference: n.Reference, Status: n.Status.Code})
		}
	}
	return out, d.GoodsOuts.All.PageInfo, nil
}

// GoodsOutLines returns the lines of the goods outs ids.
func (c *Client) GoodsOutLines(ctx context.Context, ids []string) ([]GoodsOutLine, error) {
	var out []GoodsOutLine
	for chunk := range slices.Chunk(ids, lookupPageSize) {
		err := c.pages(ctx, "LockstepGoodsOutLines", goodsOutLinesQuery, map[string]any{"goods_out_id": map[string]any{"in": chunk}}, func(data []byte) (pageInfo, error) {
			page, info, err := decodeGoodsOutLines(data)
			out = append(out, page...)
			return info, err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeGoodsOutLines reads a page of goods-out lines. It takes outside
// bytes: it must never panic.
func decodeGoodsOutLines(data []byte) ([]GoodsOutLine, pageInfo, error) {
	var d struct {
		Lines connection[struct {
			ID       clarusID `json:"id"`
			Quantity quantity `json:"order_quantity"`
			Picked   quantity `json:"pick_quantity"`
			Product  struct {
				Code string `json:"code"`
			} `json:"product"`
			GoodsOut struct {
				ID clarusID `json:"id"`
			} `json:"goods_out"`
		}] `json:"goods_out_lines"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, pageInfo{}, fmt.Errorf("clarus: goods out lines: %w", err)
	}
	var out []GoodsOutLine
	for _, e := range d.Lines.All.Edges {
		n := e.Node
		if !n.Quantity.Set || n.GoodsOut.ID == "" {
			return nil, pageInfo{}, errors.New("clarus: goods out lines: a line without an order quantity or a goods out")
		}
		out = append(out, GoodsOutLine{ID: string(n.ID), GoodsOutID: string(n.GoodsOut.ID),
			ProductCode: norm.NFC.String(n.Product.Code), OrderQuantity: n.Quantity.N, PickQuantity: max(n.Picked.N, 0)})
	}
	return out, d.Lines.All.PageInfo, nil
}
