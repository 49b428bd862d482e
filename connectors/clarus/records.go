package clarus

import (
	"slices"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// The webhook records lockstep reads, one per trigger: only the fields it
// needs, every other field of the full record ignored. Movement ids derive
// from the record id (and line id), so a redelivered webhook gives the same
// movement and the stock fold drops it.

func (d *decoder) adjustment(t Trigger, data []byte) error {
	var r struct {
		ID        clarusID   `json:"id"`
		Quantity  int64      `json:"quantity"`
		Direction string     `json:"direction"`
		Product   codeRef    `json:"product"`
		Warehouse codeRef    `json:"warehouse"`
		Reason    *reasonRef `json:"reason_code"`
		CreatedAt time.Time  `json:"created_at"`
	}
	if err := d.record(data, &r); err != nil {
		return err
	}
	if r.ID == "" {
		return invalid("id is missing")
	}
	want := strings.TrimPrefix(string(t), "stock_adjustment.")
	if r.Direction != "" && r.Direction != want {
		return invalid("direction %q on a %s automation", r.Direction, t)
	}
	qty := r.Quantity
	if t == TriggerAdjustmentNegative && qty < 0 {
		qty = -qty // tolerate a signed quantity: the automation already says which way
	}
	if err := checkQuantity("quantity", qty, false); err != nil {
		return err
	}
	if t == TriggerAdjustmentNegative {
		qty = -qty
	}
	var reason string
	if r.Reason != nil {
		reason = r.Reason.Code
	}
	return d.add("stock_adjustment/"+string(r.ID), schemas.MovementAdjustment, r.Product, r.Warehouse, qty, "", reason, r.CreatedAt)
}

// stock reads a stock record placed on or taken off hold. Hold quantities
// are deltas of held stock: +n placed on hold, -n taken off.
func (d *decoder) stock(t Trigger, data []byte) error {
	var r struct {
		ID        clarusID   `json:"id"`
		Quantity  int64      `json:"quantity"`
		Status    string     `json:"status"`
		Product   codeRef    `json:"product"`
		Warehouse codeRef    `json:"warehouse"`
		Reason    *reasonRef `json:"reason_code"`
		UpdatedAt time.Time  `json:"updated_at"`
	}
	if err := d.record(data, &r); err != nil {
		return err
	}
	if r.ID == "" {
		return invalid("id is missing")
	}
	if err := checkQuantity("quantity", r.Quantity, false); err != nil {
		return err
	}
	kind, what, qty, want := schemas.MovementHold, "held", r.Quantity, []string{"held", "hold", "on_hold"}
	if t == TriggerStockReleased {
		kind, what, qty, want = schemas.MovementRelease, "released", -r.Quantity, []string{"available"}
	}
	if st := strings.ToLower(r.Status); st != "" && !slices.Contains(want, st) {
		return invalid("status %q on a %s automation", r.Status, t)
	}
	var reason string
	if r.Reason != nil {
		reason = r.Reason.Code
	}
	return d.add("stock/"+string(r.ID)+"/"+what, kind, r.Product, r.Warehouse, qty, "", reason, r.UpdatedAt)
}

func (d *decoder) receipt(data []byte) error {
	var r struct {
		ID         clarusID  `json:"id"`
		Reference  string    `json:"reference"`
		Status     string    `json:"status"`
		Warehouse  codeRef   `json:"warehouse"`
		ReceivedAt time.Time `json:"actual_date_of_receipt"`
		Lines      []struct {
			ID       clarusID `json:"id"`
			Product  codeRef  `json:"product"`
			Received int64    `json:"received_quantity"`
		} `json:"lines"`
	}
	if err := d.record(data, &r); err != nil {
		return err
	}
	if r.ID == "" {
		return invalid("id is missing")
	}
	if st := strings.ToLower(r.Status); st != "" && st != "completed" && st != "received" {
		return invalid("receipt status %q is not completed", r.Status)
	}
	if len(r.Lines) == 0 {
		return invalid("receipt has no lines")
	}
	seen := map[clarusID]bool{}
	for i, l := range r.Lines {
		if l.ID == "" || seen[l.ID] {
			return invalid("line %d: missing or repeated line id", i)
		}
		seen[l.ID] = true
		if err := checkQuantity("received_quantity", l.Received, true); err != nil {
			return err
		}
		if l.Received == 0 {
			continue
		}
		id := "goods_in_receipt/" + string(r.ID) + "/" + string(l.ID)
		if err := d.add(id, schemas.MovementReceipt, l.Product, r.Warehouse, l.Received, r.Reference, "", r.ReceivedAt); err != nil {
			return err
		}
	}
	return nil
}

// goodsOut reads a completed (dispatched) sales order: each line's
// dispatch quantity leaves stock on hand. Its allocations end with it, but
// allocations reach lockstep through the sweep only: Clarus has no webhook
// for them.
func (d *decoder) goodsOut(data []byte) error {
	var r struct {
		ID        clarusID `json:"id"`
		Reference string   `json:"reference"`
		StatusID  *int     `json:"goods_out_status_id"`
		Status    *struct {
			Code string `json:"code"`
		} `json:"goods_out_status"`
		Warehouse    codeRef   `json:"warehouse"`
		DispatchedAt time.Time `json:"actual_date_of_dispatch"`
		Lines        []struct {
			ID         clarusID `json:"id"`
			Product    codeRef  `json:"product"`
			Dispatched int64    `json:"dispatch_quantity"`
		} `json:"lines"`
	}
	if err := d.record(data, &r); err != nil {
		return err
	}
	if r.ID == "" {
		return invalid("id is missing")
	}
	if (r.StatusID != nil && *r.StatusID != 6) || (r.Status != nil && !strings.EqualFold(r.Status.Code, "COMPLETED")) {
		return invalid("goods out is not COMPLETED (status 6)")
	}
	if len(r.Lines) == 0 {
		return invalid("goods out has no lines")
	}
	seen := map[clarusID]bool{}
	for i, l := range r.Lines {
		if l.ID == "" || seen[l.ID] {
			return invalid("line %d: missing or repeated line id", i)
		}
		seen[l.ID] = true
		if err := checkQuantity("dispatch_quantity", l.Dispatched, true); err != nil {
			return err
		}
		if l.Dispatched == 0 {
			continue
		}
		id := "goods_out/" + string(r.ID) + "/" + string(l.ID)
		if err := d.add(id, schemas.MovementPick, l.Product, r.Warehouse, -l.Dispatched, r.Reference, "", r.DispatchedAt); err != nil {
			return err
		}
	}
	return nil
}
