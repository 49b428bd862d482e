package clarus

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Goods-in receipts (pre-receipts): created and updated over REST in the
// JSON:API envelope (api-reference/goods-in:-receipts/
// create-a-goods-in-receipt, update-a-goods-in-receipt), cancelled on a
// path the documentation does not show (assumed), read over GraphQL
// (goodsin_graphql.go). Writes make one attempt each, as goods-out writes
// do: Clarus takes a second receipt with the same reference, so a write
// that failed ambiguously is for the caller to look up
// (GoodsInReceiptsByReference) before it writes again.

// goodsInPath is the documented path; the simulator serves /api/v1 too.
const goodsInPath = "/api/goods_in_receipts"

// NewGoodsInReceipt is a pre-receipt to create.
type NewGoodsInReceipt struct {
	Reference   string // lockstep sends the PO ref
	AccountID   string // the stock owner (required)
	WarehouseID string // required
	// ExpectedArrival is sent as expected_date_of_arrival, the REST name
	// (GraphQL reads it back as expected_date_of_receipt); nil sends none.
	ExpectedArrival *time.Time
	// ExternalRefs are external_system_reference1-3 and Strings string1-5;
	// empty ones are not sent.
	ExternalRefs [3]string
	Strings      [5]string
	Lines        []NewGoodsInLine
}

// NewGoodsInLine is one line of a pre-receipt, added with lines_changes.
type NewGoodsInLine struct {
	ProductID string
	// StorageUnitID is the product's storage unit of priority 0, which the
	// documentation says goes on the receipt line; the field's name,
	// product_storage_unit_id, is assumed.
	StorageUnitID string
	Quantity      int64  // expected_quantity
	LineNumber    string // alt_line_number: the PO line; empty is not sent
}

func (l NewGoodsInLine) attributes() map[string]any {
	a := map[string]any{"product_id": jsonID(l.ProductID), "product_storage_unit_id": jsonID(l.StorageUnitID), "expected_quantity": l.Quantity}
	if l.LineNumber != "" {
		a["alt_line_number"] = l.LineNumber
	}
	return a
}

// GoodsInLineChange is one entry of an update's lines_changes: an ADD of
// Line, an UPDATE of line ID's expected quantity to Line.Quantity, or a
// DESTROY of line ID.
type GoodsInLineChange struct {
	Type string // ADD, UPDATE or DESTROY
	ID   string // the line's, for UPDATE and DESTROY
	Line NewGoodsInLine
}

// Line change types (documented).
const (
	LineAdd     = "ADD"
	LineUpdate  = "UPDATE"
	LineDestroy = "DESTROY"
)

func (c GoodsInLineChange) body() map[string]any {
	switch c.Type {
	case LineUpdate:
		return map[string]any{"type": c.Type, "id": jsonID(c.ID), "attributes": map[string]any{"expected_quantity": c.Line.Quantity}}
	case LineDestroy:
		return map[string]any{"type": c.Type, "id": jsonID(c.ID)}
	}
	return map[string]any{"type": LineAdd, "attributes": c.Line.attributes()}
}

func (g NewGoodsInReceipt) body() map[string]any {
	attrs := map[string]any{"reference": g.Reference, "account_id": jsonID(g.AccountID), "warehouse_id": jsonID(g.WarehouseID)}
	if g.ExpectedArrival != nil {
		attrs["expected_date_of_arrival"] = g.ExpectedArrival.UTC().Format(time.RFC3339)
	}
	setGeneric(attrs, g.ExternalRefs, g.Strings)
	lines := make([]map[string]any, 0, len(g.Lines))
	for _, l := range g.Lines {
		lines = append(lines, GoodsInLineChange{Type: LineAdd, Line: l}.body())
	}
	attrs["lines_changes"] = lines
	return map[string]any{"data": map[string]any{"type": "goods_in_receipts", "attributes": attrs}}
}

// CreateGoodsInReceipt creates the pre-receipt g and returns its Clarus
// id. One attempt: a *TransientError with Ambiguous set may have created
// it. A refusal (422: a line without its storage unit of priority 0, an
// unknown or non-stock product) is an *APIError whose Message is Clarus's
// reason.
func (c *Client) CreateGoodsInReceipt(ctx context.Context, g NewGoodsInReceipt) (string, error) {
	return c.create(ctx, "create goods in receipt", goodsInPath, g.body())
}

// GoodsInUpdate is what an update sends: the header (WarehouseID,
// ExpectedArrival, ExternalRefs and Strings when set) and the line
// changes.
type GoodsInUpdate struct {
	WarehouseID     string
	ExpectedArrival *time.Time
	ExternalRefs    [3]string
	Strings         [5]string
	Changes         []GoodsInLineChange
}

// UpdateGoodsInReceipt updates pre-receipt id with PATCH
// /api/goods_in_receipts/{id} (documented). One attempt; a repeated ADD
// adds another line, so after an ambiguous failure the caller reads the
// receipt again and sends what is still missing. A receipt being received
// refuses it (an *APIError, 422).
func (c *Client) UpdateGoodsInReceipt(ctx context.Context, id string, u GoodsInUpdate) error {
	attrs := map[string]any{}
	if u.WarehouseID != "" {
		attrs["warehouse_id"] = jsonID(u.WarehouseID)
	}
	if u.ExpectedArrival != nil {
		attrs["expected_date_of_arrival"] = u.ExpectedArrival.UTC().Format(time.RFC3339)
	}
	setGeneric(attrs, u.ExternalRefs, u.Strings)
	if len(u.Changes) > 0 {
		changes := make([]map[string]any, 0, len(u.Changes))
		for _, ch := range u.Changes {
			changes = append(changes, ch.body())
		}
		attrs["lines_changes"] = changes
	}
	body := map[string]any{"data": map[string]any{"type": "goods_in_receipts", "id": id, "attributes": attrs}}
	return c.write(ctx, "update goods in receipt", http.MethodPatch, goodsInPath+"/"+url.PathEscape(id), body)
}

// CancelGoodsInReceipt cancels pre-receipt id. Neither the path (POST
// /api/goods_in_receipts/{id}/cancel) nor the behaviour is documented
// (assumed, as for goods outs): the simulator cancels a pending one and
// refuses (422) one being received, received or cancelled. One attempt.
func (c *Client) CancelGoodsInReceipt(ctx context.Context, id string) error {
	return c.write(ctx, "cancel goods in receipt", http.MethodPost, goodsInPath+"/"+url.PathEscape(id)+"/cancel", nil)
}
