package clarussim

import (
	"fmt"
	"time"
)

// Event is a business event injected through POST /_sim/events or Apply.
type Event struct {
	// Type is receive, adjust, hold, release, order, allocate, pick, ship,
	// dispatch or cancel. receive brings goods in (see Sim.receive): against
	// the open pre-receipt with Reference, or without one, under Reference
	// as the warehouse typed it (empty, or mistyped); Lines may be fewer,
	// more, or other products than the pre-receipt expects, as deliveries
	// are. Goods-out orders follow Clarus's statuses: order
	// creates one (DRAFT, then PENDING: awaiting allocation); allocate
	// allocates a PENDING or PART_ALLOCATED order (ALLOCATED, or
	// PART_ALLOCATED when stock runs short), or, given a warehouse and
	// lines, creates and allocates one in full; pick starts picking
	// (PICK); ship dispatches some allocated units (Lines, by Clarus
	// code) as one shipment (PICK, or COMPLETED when none is left
	// allocated); dispatch ships all that is left as one last shipment
	// (COMPLETED, through PICK); cancel deletes a DRAFT or PENDING order
	// and cancels an allocated or picking one (CANCELLED), and is refused
	// for a COMPLETED one.
	Type      string `json:"type"`
	SKU       string `json:"sku,omitempty"`
	Warehouse string `json:"warehouse,omitempty"`
	// Quantity is units; for adjust it is signed (negative takes stock out).
	Quantity  int64  `json:"quantity,omitempty"`
	Lines     []Line `json:"lines,omitempty"` // receive and allocate: several SKUs in one warehouse
	Reference string `json:"reference,omitempty"`
	Reason    string `json:"reason,omitempty"`
	StockID   int64  `json:"stock_id,omitempty"` // release: the held stock record; 0 releases the oldest of sku@warehouse
	OrderID   int64  `json:"order_id,omitempty"` // allocate, pick, ship, dispatch, cancel (or Reference)
	// Carrier (a carrier code) and Tracking (a tracking number) go on the
	// shipment of a ship or dispatch event; empty is none.
	Carrier  string `json:"carrier,omitempty"`
	Tracking string `json:"tracking,omitempty"`
}

// Line is a quantity of one SKU.
type Line struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// Result is what an applied event created.
type Result struct {
	Type     string `json:"type"`
	RecordID int64  `json:"record_id"` // the Clarus record: receipt, adjustment, stock or goods-out id
	// ShipmentID is the shipment a ship or dispatch event made (0: none).
	ShipmentID int64    `json:"shipment_id,omitempty"`
	Movements  []string `json:"movements"`
}

// EventError is an event the warehouse would refuse (not enough stock, an
// unknown order); the control API answers it with 422.
type EventError struct{ Reason string }

func (e *EventError) Error() string { return "clarussim: " + e.Reason }

func refused(format string, args ...any) error {
	return &EventError{Reason: fmt.Sprintf(format, args...)}
}

// Apply applies one event to the ground truth and queues its webhooks.
func (s *Sim) Apply(ev Event) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apply(ev)
}

// eventLines returns ev's lines: Lines, or SKU and Quantity as one.
func eventLines(ev Event) []Line {
	if len(ev.Lines) == 0 && ev.SKU != "" {
		return []Line{{SKU: ev.SKU, Quantity: ev.Quantity}}
	}
	return ev.Lines
}

func (s *Sim) apply(ev Event) (Result, error) {
	lines := eventLines(ev)
	switch ev.Type {
	case "receive":
		return s.receive(ev, lines, s.tick())
	case "allocate", "pick", "ship", "dispatch", "cancel":
		if ev.Type != "allocate" || len(lines) == 0 {
			return s.orderEvent(ev, s.tick())
		}
		fallthrough
	case "order":
		if ev.Warehouse == "" || len(lines) == 0 {
			return Result{}, refused("%s needs a warehouse and lines (or sku and quantity)", ev.Type)
		}
		for _, l := range lines {
			if l.SKU == "" || l.Quantity <= 0 {
				return Result{}, refused("%s: each line needs a sku and a positive quantity", ev.Type)
			}
		}
		if ev.Type == "order" {
			return s.createOrder(ev, lines, s.tick()), nil
		}
		return s.orderAndAllocate(ev, lines, s.tick())
	case "adjust":
		return s.adjust(ev, s.tick())
	case "hold":
		return s.hold(ev, s.tick())
	case "release":
		return s.release(ev, s.tick())
	}
	return Result{}, refused("unknown event type %q (want receive, adjust, hold, release, order, allocate, pick, ship, dispatch or cancel)", ev.Type)
}

func (s *Sim) adjust(ev Event, now time.Time) (Result, error) {
	k := skuKey{ev.SKU, ev.Warehouse}
	if k.SKU == "" || k.Warehouse == "" || ev.Quantity == 0 {
		return Result{}, refused("adjust needs sku, warehouse and a non-zero quantity")
	}
	if ev.Quantity < 0 && -ev.Quantity > s.st.available(k) {
		return Result{}, refused("adjust %s by %d: only %d available", k, ev.Quantity, s.st.available(k))
	}
	trigger, dir, qty := TriggerAdjustmentPositive, "positive", ev.Quantity
	if qty < 0 {
		trigger, dir, qty = TriggerAdjustmentNegative, "negative", -qty
	}
	rec := adjustmentRecord{ID: s.st.id(), Type: "stock_adjustments", Quantity: qty, Direction: dir, Product: s.product(k.SKU),
		Warehouse: s.warehouse(k.Warehouse), Account: s.account(), Location: s.location(k.Warehouse), Reason: reason(ev.Reason), CreatedAt: now}
	b := s.st.bal(k)
	b.OnHand += ev.Quantity
	b.UpdatedAt = now
	id := fmt.Sprintf("stock_adjustment/%d", rec.ID)
	s.st.record(Movement{ID: id, Kind: "adjustment", SKU: k.SKU, Warehouse: k.Warehouse, Quantity: ev.Quantity,
		Reason: ev.Reason, At: now, Trigger: trigger})
	s.notify(trigger, rec)
	return Result{Type: ev.Type, RecordID: rec.ID, Movements: []string{id}}, nil
}

func (s *Sim) hold(ev Event, now time.Time) (Result, error) {
	k := skuKey{ev.SKU, ev.Warehouse}
	if k.SKU == "" || k.Warehouse == "" || ev.Quantity <= 0 {
		return Result{}, refused("hold needs sku, warehouse and a positive quantity")
	}
	if ev.Quantity > s.st.available(k) {
		return Result{}, refused("hold %d of %s: only %d available", ev.Quantity, k, s.st.available(k))
	}
	h := &heldStock{ID: s.st.id(), Key: k, Quantity: ev.Quantity, Reason: ev.Reason}
	s.st.held[h.ID] = h
	b := s.st.bal(k)
	b.Held += h.Quantity
	b.UpdatedAt = now
	return s.stockEvent(ev.Type, h, "held", TriggerStockHeld, h.Quantity, now), nil
}

func (s *Sim) release(ev Event, now time.Time) (Result, error) {
	h, ok := s.st.held[ev.StockID]
	if ev.StockID == 0 {
		h, ok = s.oldestHeld(skuKey{ev.SKU, ev.Warehouse})
	}
	if !ok {
		return Result{}, refused("release: no held stock %d (sku %q, warehouse %q)", ev.StockID, ev.SKU, ev.Warehouse)
	}
	delete(s.st.held, h.ID)
	b := s.st.bal(h.Key)
	b.Held -= h.Quantity
	b.UpdatedAt = now
	return s.stockEvent(ev.Type, h, "released", TriggerStockReleased, -h.Quantity, now), nil
}

// stockEvent records a hold or release of h and sends the stock record with
// its new status.
func (s *Sim) stockEvent(typ string, h *heldStock, what, trigger string, delta int64, now time.Time) Result {
	status, kind := "held", "hold"
	if what == "released" {
		status, kind = "available", "release"
	}
	rec := stockRecord{ID: h.ID, Type: "stocks", Quantity: h.Quantity, Status: status, Product: s.product(h.Key.SKU),
		Warehouse: s.warehouse(h.Key.Warehouse), Account: s.account(), Location: s.location(h.Key.Warehouse), Reason: reason(h.Reason), UpdatedAt: now}
	id := fmt.Sprintf("stock/%d/%s", h.ID, what)
	s.st.record(Movement{ID: id, Kind: kind, SKU: h.Key.SKU, Warehouse: h.Key.Warehouse, Quantity: delta, Reason: h.Reason, At: now, Trigger: trigger})
	s.notify(trigger, rec)
	return Result{Type: typ, RecordID: h.ID, Movements: []string{id}}
}

func (s *Sim) oldestHeld(k skuKey) (*heldStock, bool) {
	var best *heldStock
	for _, h := range s.st.held {
		if h.Key == k && (best == nil || h.ID < best.ID) {
			best = h
		}
	}
	return best, best != nil
}
