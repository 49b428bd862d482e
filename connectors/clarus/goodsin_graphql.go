package clarus

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
)

// The GraphQL reads of goods-in receipts and product storage units. The
// storage units (api-reference/products:-storage-units/
// list-product-storage-units) and the receipts' headers and filters
// (goods-in:-receipts/list-goods-in-receipts) are documented; a receipt's
// lines and the actual_date_of_receipt filter are not (clarus.graphql marks
// them assumed, and goodsin_contract_test.go lists exactly which
// assumptions these reads depend on).

const goodsInReceiptsQuery = `query LockstepGoodsInReceipts($filter: InboundGoodFilterType, $first: Int, $after: String) {
  goods_in_receipts {
    all(filter: $filter, first: $first, after: $after) {
      edges { node { id reference status expected_date_of_receipt actual_date_of_receipt
        warehouse { id } account { id }
        lines { id expected_quantity received_quantity product { code } } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

const storageUnitsQuery = `query LockstepStorageUnits($filter: ProductStorageUnitFilterType, $first: Int, $after: String) {
  product_storage_units {
    all(filter: $filter, first: $first, after: $after) {
      edges { node { id priority product { id code } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

// Goods-in receipt statuses. draft, receiving and completed are the
// documented examples; pending (the REST pages' PENDING, before receiving)
// and cancelled are assumed.
const (
	GoodsInDraft     = "draft"
	GoodsInPending   = "pending"
	GoodsInReceiving = "receiving"
	GoodsInCompleted = "completed"
	GoodsInCancelled = "cancelled"
)

// GoodsInReceipt is a goods-in receipt as lockstep reads it. Codes are as
// Clarus spells them (not yet checked or normalised).
type GoodsInReceipt struct {
	ID          string
	Reference   string // "" when it has none
	Status      string
	WarehouseID string
	AccountID   string
	ExpectedAt  time.Time // expected_date_of_receipt; zero when none
	ReceivedAt  time.Time // actual_date_of_receipt; zero until received
	Lines       []GoodsInLine
}

// GoodsInLine is one line of a GoodsInReceipt.
type GoodsInLine struct {
	ID          string
	ProductCode string
	Expected    int64
	Received    int64
}

// Active reports whether g stands: it is not cancelled.
func (g GoodsInReceipt) Active() bool { return !strings.EqualFold(g.Status, GoodsInCancelled) }

// Unreceived reports whether nothing was received against g yet, nor is
// being: it is draft or pending, so changing or cancelling it loses no
// work.
func (g GoodsInReceipt) Unreceived() bool {
	switch strings.ToLower(g.Status) {
	case GoodsInDraft, GoodsInPending:
		return true
	}
	return false
}

// Expected returns the expected quantities of g's lines by product code
// (NFC), leaving out lines that expect nothing (a product the warehouse
// received without its being expected).
func (g GoodsInReceipt) Expected() map[string]int64 {
	out := map[string]int64{}
	for _, l := range g.Lines {
		if l.Expected > 0 {
			out[norm.NFC.String(l.ProductCode)] += l.Expected
		}
	}
	return out
}

// GoodsInQuery selects a page of completed receipts: received at or after
// From (zero: any time).
type GoodsInQuery struct {
	From  time.Time
	First int
	After string
}

func (q GoodsInQuery) vars() map[string]any {
	f := map[string]any{"status": map[string]any{"eq": GoodsInCompleted}}
	if !q.From.IsZero() {
		// from: Datetime filters take eq, from, to and between only
		// (documented); the field itself is assumed.
		f["actual_date_of_receipt"] = map[string]any{"from": q.From.UTC().Format(time.RFC3339Nano)}
	}
	return pageVars(f, q.First, q.After)
}

// GoodsInPage is one page of a goods-in receipts connection.
type GoodsInPage struct {
	Receipts    []GoodsInReceipt
	HasNextPage bool
	EndCursor   string
	ReadAt      time.Time // the server's clock when it read the page
}

// CompletedGoodsInReceipts reads one page of completed receipts.
func (c *Client) CompletedGoodsInReceipts(ctx context.Context, q GoodsInQuery) (GoodsInPage, error) {
	var page GoodsInPage
	readAt, err := c.query(ctx, "LockstepGoodsInReceipts", goodsInReceiptsQuery, q.vars(), func(data []byte) error {
		var err error
		page, err = decodeGoodsIn(data)
		return err
	})
	if err != nil {
		return GoodsInPage{}, err
	}
	page.ReadAt = readAt
	return page, nil
}

// GoodsInReceiptsByReference returns every goods-in receipt whose
// reference is ref, whatever its status, as Clarus lists them (by id in
// the simulator).
func (c *Client) GoodsInReceiptsByReference(ctx context.Context, ref string) ([]GoodsInReceipt, error) {
	var out []GoodsInReceipt
	err := c.pages(ctx, "LockstepGoodsInReceipts", goodsInReceiptsQuery, map[string]any{"reference": map[string]any{"eq": ref}}, func(data []byte) (pageInfo, error) {
		p, err := decodeGoodsIn(data)
		for _, g := range p.Receipts {
			if g.Reference == ref { // eq, and a server that matched loosely must not make another receipt ours
				out = append(out, g)
			}
		}
		return pageInfo{HasNextPage: p.HasNextPage, EndCursor: &p.EndCursor}, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeGoodsIn reads the data of a goods_in_receipts answer. It takes
// outside bytes: it must never panic, and it refuses a page it cannot
// trust whole.
func decodeGoodsIn(data []byte) (GoodsInPage, error) {
	var r struct {
		Receipts *struct {
			All *struct {
				Edges []struct {
					Node *struct {
						ID         clarusID `json:"id"`
						Reference  *string  `json:"reference"`
						Status     string   `json:"status"`
						Expected   *string  `json:"expected_date_of_receipt"`
						ReceivedAt *string  `json:"actual_date_of_receipt"`
						Warehouse  *ref     `json:"warehouse"`
						Account    *ref     `json:"account"`
						Lines      []struct {
							ID       clarusID `json:"id"`
							Expected quantity `json:"expected_quantity"`
							Received quantity `json:"received_quantity"`
							Product  *ref     `json:"product"`
						} `json:"lines"`
					} `json:"node"`
				} `json:"edges"`
				PageInfo pageInfo `json:"pageInfo"`
			} `json:"all"`
		} `json:"goods_in_receipts"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return GoodsInPage{}, fmt.Errorf("%w: %v", errMalformedResponse, err)
	}
	if r.Receipts == nil || r.Receipts.All == nil {
		return GoodsInPage{}, fmt.Errorf("%w: no data.goods_in_receipts.all", errMalformedResponse)
	}
	all := r.Receipts.All
	var page GoodsInPage
	var err error
	if page.HasNextPage, page.EndCursor, err = all.PageInfo.next(); err != nil {
		return GoodsInPage{}, err
	}
	for i, e := range all.Edges {
		n := e.Node
		switch {
		case n == nil || n.ID == "" || n.Status == "":
			return GoodsInPage{}, fmt.Errorf("clarus: graphql: goods in receipt %d lacks an id or a status", i)
		case n.Warehouse == nil || n.Warehouse.ID == "":
			return GoodsInPage{}, fmt.Errorf("clarus: graphql: goods in receipt %s lacks warehouse { id }", n.ID)
		}
		g := GoodsInReceipt{ID: string(n.ID), Reference: deref(n.Reference), Status: n.Status, WarehouseID: string(n.Warehouse.ID)}
		if n.Account != nil {
			g.AccountID = string(n.Account.ID)
		}
		if g.ExpectedAt, err = optionalTime(n.Expected); err != nil {
			return GoodsInPage{}, fmt.Errorf("clarus: graphql: goods in receipt %s: expected_date_of_receipt: %w", n.ID, err)
		}
		if g.ReceivedAt, err = optionalTime(n.ReceivedAt); err != nil {
			return GoodsInPage{}, fmt.Errorf("clarus: graphql: goods in receipt %s: actual_date_of_receipt: %w", n.ID, err)
		}
		for j, l := range n.Lines {
			if l.ID == "" || !l.Expected.Set || !l.Received.Set || l.Product == nil || l.Product.Code == nil ||
				l.Expected.N < 0 || l.Expected.N > maxQuantity || l.Received.N < 0 || l.Received.N > maxQuantity {
				return GoodsInPage{}, fmt.Errorf("clarus: graphql: goods in receipt %s: line %d lacks an id, quantities in range or product { code }", n.ID, j)
			}
			g.Lines = append(g.Lines, GoodsInLine{ID: string(l.ID), ProductCode: *l.Product.Code, Expected: l.Expected.N, Received: l.Received.N})
		}
		page.Receipts = append(page.Receipts, g)
	}
	return page, nil
}

// optionalTime parses an ISO 8601 time or date (the documented example of
// expected_date_of_receipt is a date); nil and "" are the zero time.
func optionalTime(s *string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, *s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, *s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an ISO 8601 time", *s)
	}
	return t, nil
}

// StorageUnit is a product's storage unit as a receipt line names it.
type StorageUnit struct {
	ID        string
	ProductID string
}

// ReceivingUnits returns, for each of codes that names a product with a
// storage unit of priority 0, that unit and the product's id: what a
// pre-receipt line takes (the documented integration rule). A code with
// none is absent from the map. Units found are cached for the client's
// life; a refused create drops them (forgetProducts), since a unit's
// priority can change.
func (c *Client) ReceivingUnits(ctx context.Context, codes []string) (map[string]StorageUnit, error) {
	return cachedLookup(&c.st.productsMu, c.st.units, codes, func(chunk []string, want map[string]bool, out map[string]StorageUnit) error {
		filter := map[string]any{"product_code": map[string]any{"in": chunk}, "priority": map[string]any{"eq": 0}}
		return c.pages(ctx, "LockstepStorageUnits", storageUnitsQuery, filter, func(data []byte) (pageInfo, error) {
			return decodeUnits(data, want, out)
		})
	})
}

// decodeUnits reads a page of storage units into out, code to unit,
// keeping those of priority 0 of the codes in want (the filter asks for
// them; a server that matched loosely must not give a line another
// product's unit). It takes outside bytes: it must never panic.
func decodeUnits(data []byte, want map[string]bool, out map[string]StorageUnit) (pageInfo, error) {
	var d struct {
		Units connection[struct {
			ID       clarusID `json:"id"`
			Priority *int     `json:"priority"`
			Product  *ref     `json:"product"`
		}] `json:"product_storage_units"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return pageInfo{}, fmt.Errorf("clarus: product storage units: %w", err)
	}
	for _, e := range d.Units.All.Edges {
		n := e.Node
		if n.ID == "" || n.Priority == nil || *n.Priority != 0 || n.Product == nil || n.Product.ID == "" || n.Product.Code == nil {
			continue
		}
		for _, code := range []string{*n.Product.Code, norm.NFC.String(*n.Product.Code)} {
			if want[code] {
				out[code] = StorageUnit{ID: string(n.ID), ProductID: string(n.Product.ID)}
			}
		}
	}
	return d.Units.All.PageInfo, nil
}
