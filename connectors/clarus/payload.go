package clarus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

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

// Webhook body errors: ErrMalformed is a body that is not one JSON value in
// UTF-8 (answered 400), ErrInvalid a JSON record lockstep cannot turn into
// movements, or one that does not fit the automation (422), ErrTooLarge a
// record with more lines than configured (413). Nothing of a refused body
// is produced.
var (
	ErrMalformed = errors.New("clarus: malformed webhook body")
	ErrInvalid   = errors.New("clarus: invalid webhook record")
	ErrTooLarge  = errors.New("clarus: webhook record too large")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

const maxQuantity = 1_000_000_000 // a sanity bound: no warehouse moves a billion units at once

// maxFutureSkew is how far after its receipt a record may say it happened:
// the clocks of Clarus and lockstep disagree a little (and the simulator,
// whose timestamps are unique to the millisecond, runs ahead of the clock
// under bursts of more than a thousand movements a second). A later time
// is refused: a movement dated in the future survives the snapshots taken
// before that time (the fold counts it as in flight), so a forged one
// would last until a sweep read its key after its date.
const maxFutureSkew = 5 * time.Minute

// Decoder turns webhook bodies into stock movements under a configuration:
// the warehouses and account lockstep keeps in step and the line cap.
type Decoder struct {
	warehouses map[string]string // Clarus id -> code
	codes      map[string]bool
	account    string
	maxLines   int
}

// NewDecoder returns the decoder of cfg (validated).
func NewDecoder(cfg Config) *Decoder {
	d := &Decoder{warehouses: cfg.warehouseCodes(), codes: map[string]bool{}, account: cfg.AccountID, maxLines: cfg.WebhookMaxLines}
	for _, code := range d.warehouses {
		d.codes[code] = true
	}
	if d.maxLines <= 0 {
		d.maxLines = 1000
	}
	return d
}

// Decode turns a webhook body for trigger into stock movements, keyed and
// identified as clarus.stock-movements expects. receivedAt stands in for a
// record that carries no timestamp. A completed receipt gives one movement
// per line with a non-zero quantity, possibly none. A completed goods out
// is checked and gives none: its units left in its shipments, each at its
// own time, which the Receiver reads from Clarus (a pick stamped at
// completion for units an earlier shipment took would be counted again
// by a stock fold whose snapshot saw them leave).
//
// A movement's id is the record's path (resource/record id[/line id]) and
// a hash of what the movement says (kind, SKU, warehouse, quantity,
// reference): a redelivered webhook gives the same id, which the stock
// fold drops, while a record id reused for other content (a wrong or forged
// webhook) gives a new one, so the fold counts it and the next sweep, which
// re-reads every SKU webhooks touched, corrects it.
func (d *Decoder) Decode(t Trigger, body []byte, receivedAt time.Time) ([]schemas.StockMovement, error) {
	x, err := d.decode(t, body, receivedAt)
	if err != nil {
		return nil, err
	}
	return x.out, nil
}

// decode decodes a body: its movements, and for a completed goods out,
// what the receiver needs to read its shipments.
func (d *Decoder) decode(t Trigger, body []byte, receivedAt time.Time) (*decoding, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: not valid UTF-8 at byte %d", ErrMalformed, invalidUTF8At(body))
	}
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
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(env.Data, &fields); err != nil {
		return nil, invalid(`"data" is not an object`)
	}
	want, ok := triggerKinds[t]
	if !ok {
		return nil, invalid("unknown trigger %q", t)
	}
	got, evidence, err := detectKind(fields)
	if err != nil {
		return nil, err
	}
	if got != "" && got != want {
		return nil, invalid("a %s record (%s) on a %s automation, which sends %s records", got, evidence, t, want)
	}
	x := &decoding{Decoder: d, at: receivedAt.UTC()}
	switch want {
	case kindAdjustment:
		err = x.adjustment(t, env.Data)
	case kindStock:
		err = x.stock(t, env.Data)
	case kindReceipt:
		err = x.receipt(env.Data)
	case kindGoodsOut:
		err = x.goodsOut(env.Data)
	}
	if err != nil {
		return nil, err
	}
	return x, nil
}

// DecodeWebhook decodes with the default configuration's decoder: the
// warehouses 1=WH1, 2=WH2 and 3=WH3, any account, 1000 lines at most.
func DecodeWebhook(t Trigger, body []byte, receivedAt time.Time) ([]schemas.StockMovement, error) {
	return defaultDecoder.Decode(t, body, receivedAt)
}

var defaultDecoder = NewDecoder(Config{Warehouses: map[string]string{"1": "WH1", "2": "WH2", "3": "WH3"}, WebhookMaxLines: 1000})

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// decoding is one body's decoding: its movements so far, the goods out it
// says completed, or the receipt it says was received.
type decoding struct {
	*Decoder
	at        time.Time
	out       []schemas.StockMovement
	completed *completedGoodsOut
	received  *completedReceipt
}

func (x *decoding) record(data []byte, into any) error {
	if err := json.Unmarshal(data, into); err != nil {
		return invalid("%v", err)
	}
	return nil
}

// when is the time a movement occurred: the record's, or the time the
// webhook came when it has none. A time further ahead than the clocks can
// disagree is refused.
func (x *decoding) when(field string, t time.Time) (time.Time, error) {
	if t.IsZero() {
		return x.at, nil
	}
	if t.After(x.at.Add(maxFutureSkew)) {
		return time.Time{}, invalid("%s %s is %s after the webhook came: it cannot have happened yet",
			field, t.UTC().Format(time.RFC3339), t.Sub(x.at).Round(time.Second))
	}
	return t.UTC(), nil
}

// warehouse returns the configured code of a record's warehouse, given by
// id (preferred) or by code.
func (x *decoding) warehouse(w codeRef) (string, error) {
	if w.ID != "" {
		code, ok := x.warehouses[string(w.ID)]
		if !ok {
			return "", invalid("warehouse %s is not one lockstep keeps in step (%sWAREHOUSES)", w.ID, EnvPrefix)
		}
		if w.Code != "" {
			n, err := Identifier("warehouse.code", w.Code)
			if err != nil {
				return "", invalid("%v", err)
			}
			if n != code {
				return "", invalid("warehouse %s is %s in %sWAREHOUSES, but the record calls it %s", w.ID, code, EnvPrefix, n)
			}
		}
		return code, nil
	}
	if w.Code == "" {
		return "", invalid("warehouse is missing")
	}
	n, err := Identifier("warehouse.code", w.Code)
	if err != nil {
		return "", invalid("%v", err)
	}
	if !x.codes[n] {
		return "", invalid("warehouse %s is not one lockstep keeps in step (%sWAREHOUSES)", n, EnvPrefix)
	}
	return n, nil
}

// checkAccount refuses a record of another account than the configured one.
func (x *decoding) checkAccount(a *codeRef) error {
	if x.account != "" && a != nil && a.ID != "" && string(a.ID) != x.account {
		return invalid("account %s is not the one lockstep keeps in step (%sACCOUNT_ID %s)", a.ID, EnvPrefix, x.account)
	}
	return nil
}

func (x *decoding) checkLines(n int) error {
	if n > x.maxLines {
		return fmt.Errorf("%w: %d lines, more than %d (%sWEBHOOK_MAX_LINES)", ErrTooLarge, n, x.maxLines, EnvPrefix)
	}
	return nil
}

// add appends a movement; sku and warehouse are normalised already.
func (x *decoding) add(path string, kind schemas.StockMovementKind, sku, warehouse string, qty int64, ref, reason string, at time.Time) {
	x.out = append(x.out, movement(path, kind, sku, warehouse, qty, ref, reason, at))
}

func checkQuantity(field string, q quantity, allowZero bool) (int64, error) {
	if !q.Set {
		return 0, invalid("%s is missing", field)
	}
	if q.N < 0 || q.N > maxQuantity || (q.N == 0 && !allowZero) {
		return 0, invalid("%s %d out of range", field, q.N)
	}
	return q.N, nil
}
