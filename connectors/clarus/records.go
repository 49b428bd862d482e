package clarus

import (
	"strconv"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// The webhook records lockstep reads, one per kind: only the fields it
// needs, every other field of the full record ignored. A field lockstep
// needs is required: a record that lacks it is refused, never read as 0.

// product returns a line's or record's normalised product code.
func product(field string, p codeRef) (string, error) {
	code, err := Identifier(field, p.Code)
	if err != nil {
		return "", invalid("%v", err)
	}
	return code, nil
}

func text(field, s string) (string, error) {
	n, err := optionalIdentifier(field, s)
	if err != nil {
		return "", invalid("%v", err)
	}
	return n, nil
}

func (x *decoding) adjustment(t Trigger, data []byte) error {
	var r struct {
		ID        clarusID   `json:"id"`
		Quantity  quantity   `json:"quantity"`
		Direction string     `json:"direction"`
		Product   codeRef    `json:"product"`
		Warehouse codeRef    `json:"warehouse"`
		Account   *codeRef   `json:"account"`
		Reason    *reasonRef `json:"reason_code"`
		CreatedAt time.Time  `json:"created_at"`
	}
	if err := x.record(data, &r); err != nil {
		return err
	}
	if r.ID == "" {
		return invalid("id is missing")
	}
	want := strings.TrimPrefix(string(t), "stock_adjustment.")
	if r.Direction != "" && r.Direction != want {
		return invalid("direction %q on a %s automation", r.Direction, t)
	}
	q := r.Quantity
	if t == TriggerAdjustmentNegative && q.N < 0 {
		q.N = -q.N // tolerate a signed quantity: the automation already says which way
	}
	qty, err := checkQuantity("quantity", q, false)
	if err != nil {
		return err
	}
	if t == TriggerAdjustmentNegative {
		qty = -qty
	}
	var reason string
	if r.Reason != nil {
		if reason, err = text("reason_code.code", r.Reason.Code); err != nil {
			return err
		}
	}
	sku, wh, err := x.where(r.Product, r.Warehouse, r.Account)
	if err != nil {
		return err
	}
	at, err := x.when("created_at", r.CreatedAt)
	if err != nil {
		return err
	}
	x.add("stock_adjustment/"+string(r.ID), schemas.MovementAdjustment, sku, wh, qty, "", reason, at)
	return nil
}

// where checks a record's product, warehouse and account.
func (x *decoding) where(p, w codeRef, a *codeRef) (sku, wh string, err error) {
	if sku, err = product("product.code", p); err != nil {
		return "", "", err
	}
	if wh, err = x.warehouse(w); err != nil {
		return "", "", err
	}
	return sku, wh, x.checkAccount(a)
}

// stock reads a stock record placed on or taken off hold. Hold quantities
// are deltas of held stock: +n placed on hold, -n taken off. Its status is
// required: it is what tells a stock record on hold from one released.
func (x *decoding) stock(t Trigger, data []byte) error {
	var r struct {
		ID        clarusID   `json:"id"`
		Quantity  quantity   `json:"quantity"`
		Status    *string    `json:"status"`
		Product   codeRef    `json:"product"`
		Warehouse codeRef    `json:"warehouse"`
		Account   *codeRef   `json:"account"`
		Reason    *reasonRef `json:"reason_code"`
		UpdatedAt time.Time  `json:"updated_at"`
	}
	if err := x.record(data, &r); err != nil {
		return err
	}
	if r.ID == "" {
		return invalid("id is missing")
	}
	qty, err := checkQuantity("quantity", r.Quantity, false)
	if err != nil {
		return err
	}
	kind, what, want := schemas.MovementHold, "held", "held"
	if t == TriggerStockReleased {
		kind, what, want, qty = schemas.MovementRelease, "released", "available", -qty
	}
	switch {
	case r.Status == nil:
		return invalid("status is missing: a stock record on a %s automation is %s", t, want)
	case stockStatus(*r.Status) != want:
		return invalid("status %q on a %s automation, which sends stock records that are %s", *r.Status, t, want)
	}
	var reason string
	if r.Reason != nil {
		if reason, err = text("reason_code.code", r.Reason.Code); err != nil {
			return err
		}
	}
	sku, wh, err := x.where(r.Product, r.Warehouse, r.Account)
	if err != nil {
		return err
	}
	at, err := x.when("updated_at", r.UpdatedAt)
	if err != nil {
		return err
	}
	x.add("stock/"+string(r.ID)+"/"+what, kind, sku, wh, qty, "", reason, at)
	return nil
}

type line struct {
	ID         clarusID `json:"id"`
	Product    codeRef  `json:"product"`
	Received   quantity `json:"received_quantity"`
	Dispatched quantity `json:"dispatch_quantity"`
	Picked     quantity `json:"pick_quantity"` // optional: 0 when absent
}

// lines checks what every line of an order or receipt needs and calls add
// for each with its quantity (get), skipping lines with nothing moved.
func (x *decoding) lines(ls []line, qtyField string, get func(line) quantity, add func(l line, sku string, qty int64)) error {
	if len(ls) == 0 {
		return invalid("the record has no lines")
	}
	if err := x.checkLines(len(ls)); err != nil {
		return err
	}
	seen := map[clarusID]bool{}
	type pending struct {
		l   line
		sku string
		qty int64
	}
	var ok []pending
	for i, l := range ls {
		if l.ID == "" || seen[l.ID] {
			return invalid("line %d: missing or repeated line id", i)
		}
		seen[l.ID] = true
		qty, err := checkQuantity("lines["+strconv.Itoa(i)+"]."+qtyField, get(l), true)
		if err != nil {
			return err
		}
		sku, err := product("lines["+strconv.Itoa(i)+"].product.code", l.Product)
		if err != nil {
			return err
		}
		if qty != 0 {
			ok = append(ok, pending{l, sku, qty})
		}
	}
	for _, p := range ok {
		add(p.l, p.sku, p.qty)
	}
	return nil
}

func (x *decoding) receipt(data []byte) error {
	var r struct {
		ID         clarusID  `json:"id"`
		Reference  string    `json:"reference"`
		Status     string    `json:"status"`
		Warehouse  codeRef   `json:"warehouse"`
		Account    *codeRef  `json:"account"`
		ReceivedAt time.Time `json:"actual_date_of_receipt"`
		Lines      []line    `json:"lines"`
	}
	if err := x.record(data, &r); err != nil {
		return err
	}
	if r.ID == "" {
		return invalid("id is missing")
	}
	if st := strings.ToLower(r.Status); st != "" && st != "completed" && st != "received" {
		return invalid("receipt status %q is not completed", r.Status)
	}
	ref, err := text("reference", r.Reference)
	if err != nil {
		return err
	}
	wh, err := x.warehouse(r.Warehouse)
	if err != nil {
		return err
	}
	if err := x.checkAccount(r.Account); err != nil {
		return err
	}
	at, err := x.when("actual_date_of_receipt", r.ReceivedAt)
	if err != nil {
		return err
	}
	c := &completedReceipt{ID: string(r.ID), Reference: ref, Warehouse: wh, Units: map[string]int64{}}
	if !r.ReceivedAt.IsZero() {
		c.ReceivedAt = at
	}
	err = x.lines(r.Lines, "received_quantity", func(l line) quantity { return l.Received }, func(l line, sku string, qty int64) {
		x.add("goods_in_receipt/"+string(r.ID)+"/"+string(l.ID), schemas.MovementReceipt, sku, wh, qty, ref, "", at)
		c.Units[sku] += qty
	})
	if err != nil {
		return err
	}
	x.received = c
	return nil
}

// completedGoodsOut is a goods out a goods_out.completed webhook says
// was dispatched: what the receiver needs to read its shipments and check
// them against the webhook's cumulative quantities.
type completedGoodsOut struct {
	ID, Reference, Warehouse string
	// Dispatched and Picked are the cumulative dispatch and pick
	// quantities by product code (NFC) of the lines that dispatched any.
	Dispatched, Picked map[string]int64
}

// goodsOut reads a completed (dispatched) sales order. Its lines'
// dispatch quantities are cumulative over its shipments, so it gives no
// movement itself: the receiver reads the shipments, each pick at its
// shipment's time. Its allocations end with it, but allocations reach
// lockstep through the sweep only: Clarus has no webhook for them. The
// status is required: only a COMPLETED order has left.
func (x *decoding) goodsOut(data []byte) error {
	var r struct {
		ID        clarusID `json:"id"`
		Reference string   `json:"reference"`
		StatusID  *int     `json:"goods_out_status_id"`
		Status    *struct {
			Code string `json:"code"`
		} `json:"goods_out_status"`
		Warehouse    codeRef   `json:"warehouse"`
		Account      *codeRef  `json:"account"`
		DispatchedAt time.Time `json:"actual_date_of_dispatch"`
		Lines        []line    `json:"lines"`
	}
	if err := x.record(data, &r); err != nil {
		return err
	}
	if r.ID == "" {
		return invalid("id is missing")
	}
	switch {
	case r.StatusID == nil && r.Status == nil:
		return invalid("goods_out_status_id is missing: cannot tell the order is COMPLETED")
	case (r.StatusID != nil && *r.StatusID != 6) || (r.Status != nil && !strings.EqualFold(r.Status.Code, "COMPLETED")):
		return invalid("goods out is not COMPLETED (status 6)")
	}
	ref, err := text("reference", r.Reference)
	if err != nil {
		return err
	}
	wh, err := x.warehouse(r.Warehouse)
	if err != nil {
		return err
	}
	if err := x.checkAccount(r.Account); err != nil {
		return err
	}
	if _, err := x.when("actual_date_of_dispatch", r.DispatchedAt); err != nil {
		return err
	}
	g := &completedGoodsOut{ID: string(r.ID), Reference: ref, Warehouse: wh, Dispatched: map[string]int64{}, Picked: map[string]int64{}}
	err = x.lines(r.Lines, "dispatch_quantity", func(l line) quantity { return l.Dispatched }, func(l line, sku string, qty int64) {
		g.Dispatched[sku] += qty
		if l.Picked.Set && l.Picked.N > 0 {
			g.Picked[sku] += l.Picked.N
		}
	})
	if err != nil {
		return err
	}
	x.completed = g
	return nil
}
