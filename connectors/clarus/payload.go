package clarus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Trigger is what a Clarus automation fires on: resource_name "." event.
// Only goods_out.completed is a documented machine name; the others are
// documented by description and named here as clarus.openapi.yaml assumes.
type Trigger string

// Triggers lockstep handles.
const (
	TriggerGoodsOutCompleted  Trigger = "goods_out.completed"        // sales order dispatched
	TriggerReceiptCompleted   Trigger = "goods_in_receipt.completed" // received and put away
	TriggerAdjustmentPositive Trigger = "stock_adjustment.positive"
	TriggerAdjustmentNegative Trigger = "stock_adjustment.negative"
	TriggerStockHeld          Trigger = "stock.held"     // stock placed on hold
	TriggerStockReleased      Trigger = "stock.released" // stock taken off hold
)

// Triggers returns every trigger lockstep handles.
func Triggers() []Trigger {
	return []Trigger{TriggerGoodsOutCompleted, TriggerReceiptCompleted, TriggerAdjustmentPositive,
		TriggerAdjustmentNegative, TriggerStockHeld, TriggerStockReleased}
}

// Webhook body errors: ErrMalformed is a body that is not one JSON value
// (answered 400), ErrInvalid a JSON record lockstep cannot turn into
// movements (answered 422).
var (
	ErrMalformed = errors.New("clarus: malformed webhook body")
	ErrInvalid   = errors.New("clarus: invalid webhook record")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

const maxQuantity = 1_000_000_000 // a sanity bound: no warehouse moves a billion units at once

// clarusID is a record id, which Clarus renders as a number in records and
// as a string in JSON:API envelopes; both are accepted.
type clarusID string

func (id *clarusID) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return fmt.Errorf("id %s is not an integer or a string", b)
		}
		s = strconv.FormatInt(n, 10)
	}
	if s == "" || len(s) > 64 || strings.ContainsAny(s, "/ \t\n") {
		return fmt.Errorf("id %q is empty, too long or holds a separator", s)
	}
	*id = clarusID(s)
	return nil
}

type codeRef struct {
	ID   clarusID `json:"id"`
	Code string   `json:"code"`
}

type reasonRef struct {
	Code string `json:"code"`
}

// DecodeWebhook turns a webhook body for trigger into stock movements,
// keyed and identified as clarus.stock-movements expects. receivedAt
// stands in for a record that carries no timestamp. A completed order or
// receipt gives one movement per line with a non-zero quantity, possibly
// none.
func DecodeWebhook(t Trigger, body []byte, receivedAt time.Time) ([]schemas.StockMovement, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return nil, invalid(`no "data" record`)
	}
	d := &decoder{at: receivedAt}
	var err error
	switch t {
	case TriggerAdjustmentPositive, TriggerAdjustmentNegative:
		err = d.adjustment(t, env.Data)
	case TriggerStockHeld, TriggerStockReleased:
		err = d.stock(t, env.Data)
	case TriggerReceiptCompleted:
		err = d.receipt(env.Data)
	case TriggerGoodsOutCompleted:
		err = d.goodsOut(env.Data)
	default:
		return nil, invalid("unknown trigger %q", t)
	}
	if err != nil {
		return nil, err
	}
	return d.out, nil
}

type decoder struct {
	at  time.Time
	out []schemas.StockMovement
}

func (d *decoder) record(data []byte, into any) error {
	if err := json.Unmarshal(data, into); err != nil {
		return invalid("%v", err)
	}
	return nil
}

func (d *decoder) when(t time.Time) time.Time {
	if t.IsZero() {
		return d.at
	}
	return t.UTC()
}

// add appends a movement after checking the fields every movement needs.
func (d *decoder) add(id string, kind schemas.StockMovementKind, product, warehouse codeRef, qty int64, ref, reason string, at time.Time) error {
	if err := checkCode("product.code", product.Code); err != nil {
		return err
	}
	if err := checkCode("warehouse.code", warehouse.Code); err != nil {
		return err
	}
	m := schemas.StockMovement{
		Meta:       schemas.Meta{EventID: "clarus/" + id, Source: schemas.SourceClarus, OccurredAt: d.when(at)},
		MovementID: id, SKU: product.Code, Warehouse: warehouse.Code, Kind: kind, Quantity: qty,
	}
	if ref != "" {
		m.Reference = &ref
	}
	if reason != "" {
		m.Reason = &reason
	}
	d.out = append(d.out, m)
	return nil
}

// checkCode refuses codes that cannot form a sku@warehouse key.
func checkCode(field, code string) error {
	switch {
	case code == "":
		return invalid("%s is missing", field)
	case len(code) > 100:
		return invalid("%s is longer than 100 characters", field)
	case strings.ContainsAny(code, "@\x00\n"):
		return invalid("%s %q holds @, NUL or a newline", field, code)
	}
	return nil
}

func checkQuantity(field string, q int64, allowZero bool) error {
	if q < 0 || q > maxQuantity || (q == 0 && !allowZero) {
		return invalid("%s %d out of range", field, q)
	}
	return nil
}
