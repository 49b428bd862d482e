package clarus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Goods outs (sales orders): created and cancelled over REST in the
// JSON:API envelope (api-reference/goods-out:-orders/create-a-goods-out-order,
// cancel-a-goods-out-order), read over GraphQL (goods-outs.go documents).
// Writes make one attempt each: Clarus documents no idempotency key, and a
// goods out created twice is two orders picked, so a write that failed
// ambiguously is for the caller to look up (GoodsOutsByReference) before it
// writes again.

// Address is a goods out's delivery address, sent as its related
// addresses record.
type Address struct {
	Name  string // name
	Line1 string // address_1
	Line2 string // address_2, omitted when empty
	Town  string // address_3 (documented as the town)
	// Region goes in address_4, omitted when empty: warehouse addresses
	// show address_4 as the county; for a goods out it is assumed.
	Region      string
	Postcode    string
	CountryCode string // ISO 3166-1 alpha-2
}

// NewGoodsOut is a sales order to create.
type NewGoodsOut struct {
	Reference        string    // at most 50 characters (documented)
	AccountID        string    // the stock owner (required)
	WarehouseID      string    // required
	ExpectedDispatch time.Time // expected_date_of_dispatch (required)
	// ExternalRefs are external_system_reference1-3 and Strings string1-5;
	// empty ones are not sent.
	ExternalRefs [3]string
	Strings      [5]string
	Address      *Address // nil: no address is sent
	Lines        []NewGoodsOutLine
}

// NewGoodsOutLine is one line of a NewGoodsOut, added with lines_changes.
type NewGoodsOutLine struct {
	ProductID string
	Quantity  int64 // order_quantity
}

// maxReferenceLen is the documented maximum length of a goods out's
// reference.
const maxReferenceLen = 50

// goodsOutsPath is the documented page header's path; the cURL samples
// use /api/v1/goods_outs, which the simulator serves too.
const goodsOutsPath = "/api/goods_outs"

// body renders g in the JSON:API envelope.
func (g NewGoodsOut) body() map[string]any {
	attrs := map[string]any{
		"goods_out_type":            "sales_order",
		"reference":                 g.Reference,
		"account_id":                jsonID(g.AccountID),
		"warehouse_id":              jsonID(g.WarehouseID),
		"expected_date_of_dispatch": g.ExpectedDispatch.UTC().Format(time.RFC3339),
	}
	setGeneric(attrs, g.ExternalRefs, g.Strings)
	lines := make([]map[string]any, 0, len(g.Lines))
	for _, l := range g.Lines {
		lines = append(lines, map[string]any{"type": "ADD", "attributes": map[string]any{"product_id": jsonID(l.ProductID), "order_quantity": l.Quantity}})
	}
	attrs["lines_changes"] = lines
	data := map[string]any{"type": "goods_outs", "attributes": attrs}
	if a := g.Address; a != nil {
		addr := map[string]any{"name": a.Name, "address_1": a.Line1, "address_3": a.Town, "postcode": a.Postcode, "country_code": a.CountryCode}
		if a.Line2 != "" {
			addr["address_2"] = a.Line2
		}
		if a.Region != "" {
			addr["address_4"] = a.Region
		}
		data["relationships"] = map[string]any{"address": map[string]any{"data": map[string]any{"type": "addresses", "attributes": addr}}}
	}
	return map[string]any{"data": data}
}

// setGeneric sets the non-empty external_system_reference1-3 and
// string1-5 in attrs.
func setGeneric(attrs map[string]any, refs [3]string, strs [5]string) {
	for i, v := range refs {
		if v != "" {
			attrs["external_system_reference"+strconv.Itoa(i+1)] = v
		}
	}
	for i, v := range strs {
		if v != "" {
			attrs["string"+strconv.Itoa(i+1)] = v
		}
	}
}

// jsonID sends an id as the documentation shows ids in bodies, a number,
// unless it is not one.
func jsonID(id string) any {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return n
	}
	return id
}

// CreateGoodsOut creates g and returns its Clarus id. It makes one
// attempt: a *TransientError with Ambiguous set may have created it. A
// refusal (422 for a field Clarus will not take) is an *APIError whose
// Message is Clarus's reason.
func (c *Client) CreateGoodsOut(ctx context.Context, g NewGoodsOut) (string, error) {
	return c.create(ctx, "create goods out", goodsOutsPath, g.body())
}

// create POSTs a new record to path in one attempt and returns its id.
func (c *Client) create(ctx context.Context, op, path string, payload any) (string, error) {
	status, body, err := c.oneShot().rest(ctx, op, http.MethodPost, path, payload)
	if err != nil {
		return "", err
	}
	if status != http.StatusCreated && status != http.StatusOK {
		return "", apiError(op, status, body)
	}
	id, err := decodeCreated(body)
	if err != nil {
		// Created, by the status, but with no id to store: looking it up
		// by reference finds it.
		return "", &TransientError{Op: op, Status: status, Ambiguous: true, Err: err}
	}
	return id, nil
}

// write sends one write in one attempt: any 2xx is success, any other
// answer an *APIError.
func (c *Client) write(ctx context.Context, op, method, path string, payload any) error {
	status, body, err := c.oneShot().rest(ctx, op, method, path, payload)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return apiError(op, status, body)
	}
	return nil
}

// decodeCreated reads the id of a created record from its JSON:API
// answer. It takes outside bytes: it must never panic.
func decodeCreated(body []byte) (string, error) {
	var ans struct {
		Data struct {
			ID clarusID `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return "", fmt.Errorf("%w: %v", errMalformedResponse, err)
	}
	if ans.Data.ID == "" {
		return "", fmt.Errorf("%w: no id in the answer", errMalformedResponse)
	}
	return string(ans.Data.ID), nil
}

// CancelGoodsOut cancels goods out id, with Clarus's documented effect: a
// DRAFT or PENDING one is deleted, an allocated or picking one
// deallocated and cancelled, a COMPLETED one refused (422, "Cannot
// cancel - already dispatched"). One attempt, like CreateGoodsOut; an
// unknown id is an *APIError with Status 404. The path is assumed (the
// documentation does not show it).
func (c *Client) CancelGoodsOut(ctx context.Context, id string) error {
	return c.write(ctx, "cancel goods out", http.MethodPost, goodsOutsPath+"/"+url.PathEscape(id)+"/cancel", nil)
}

// ClosedMarker is what the order sink writes in a dispatched goods out's
// ClosedField (string5) once Prima holds its despatch notes: a person
// looking at the goods out in Clarus sees the fulfilment closed on both
// sides (string1-5 are the integration's to define: documented).
const (
	ClosedMarker = "prima-despatched"
	ClosedField  = 5
)

// SetGoodsOutString sets string<n> (1-5) of goods out id with PATCH
// /api/goods_outs/{id} (documented: update a goods out, the create's
// fields, in the JSON:API envelope). Setting the same value again is
// harmless, so a caller may repeat it after any failure. One attempt; an
// unknown id is an *APIError with Status 404, a refusal one with 4xx.
func (c *Client) SetGoodsOutString(ctx context.Context, id string, n int, value string) error {
	if n < 1 || n > 5 {
		return fmt.Errorf("clarus: goods out string%d: want string1 to string5", n)
	}
	body := map[string]any{"data": map[string]any{"type": "goods_outs", "id": id,
		"attributes": map[string]any{"string" + strconv.Itoa(n): value}}}
	return c.write(ctx, "update goods out", http.MethodPatch, goodsOutsPath+"/"+url.PathEscape(id), body)
}

// rest sends one REST request with the bearer token and subdomain header
// (one fresh token after a 401) and returns the answer's status and body.
func (c *Client) rest(ctx context.Context, op, method, path string, payload any) (int, []byte, error) {
	var raw []byte
	if payload != nil {
		var err error
		if raw, err = json.Marshal(payload); err != nil {
			return 0, nil, err
		}
	}
	refreshed := false
	for {
		tok, err := c.accessToken(ctx)
		if err != nil {
			var te *TransientError
			if errors.As(err, &te) {
				// The write itself was never sent.
				cp := *te
				cp.Ambiguous = false
				return 0, nil, &cp
			}
			return 0, nil, err
		}
		resp, body, err := c.send(ctx, op, func() (*http.Request, error) {
			req, err := http.NewRequest(method, c.base+path, bytes.NewReader(raw))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("X-Clarus-Subdomain", c.subdomain)
			req.Header.Set("Accept", "application/json")
			if raw != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			return req, nil
		})
		if err != nil {
			return 0, nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized && !refreshed {
			// A 401 is answered before anything is written.
			c.invalidate(tok)
			refreshed = true
			continue
		}
		return resp.StatusCode, body, nil
	}
}

// apiError is a refused REST call, with Clarus's reason when its body
// gives one: {"error": "..."} (documented for the processing endpoints),
// else the first JSON:API error's detail.
func apiError(op string, status int, body []byte) *APIError {
	var e struct {
		Error  any `json:"error"`
		Errors []struct {
			Detail string `json:"detail"`
		} `json:"errors"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil {
		if s, ok := e.Error.(string); ok {
			msg = s
		} else if len(e.Errors) > 0 {
			msg = e.Errors[0].Detail
		}
	}
	return &APIError{Op: op, Status: status, Body: snippet(body), Message: snippet([]byte(msg))}
}
