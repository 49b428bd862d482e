package clarussim

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Shipments: a goods out leaves the warehouse in one or more shipments,
// each a record of its own (GraphQL shipments, documented with a status
// such as "dispatched" and a carrier; the rest of its fields are assumed,
// see clarus.graphql). A shipment takes allocated units of some lines;
// when the last allocated unit has left, the goods out is COMPLETED and
// goods_out.completed is sent, with the cumulative quantities of its lines
// as before: no webhook is sent for a shipment itself (none is documented).

// shipmentDispatched is the status of a shipment that left (the
// documented example value).
const shipmentDispatched = "dispatched"

// shipment is one dispatch of some of a goods out's allocated units.
type shipment struct {
	ID           int64
	GoodsOutID   int64
	Reference    string // the goods out's
	Warehouse    string
	Status       string
	DispatchedAt time.Time
	Carrier      string // code; "" for none
	Tracking     string
	Lines        []shipmentLine
}

type shipmentLine struct {
	ID       int64
	LineID   int64 // the goods-out line it ships
	SKU      string
	Quantity int64
}

// Shipment is a shipment of the ground truth. SKU is the Clarus product
// code.
type Shipment struct {
	ID           int64          `json:"id"`
	GoodsOutID   int64          `json:"goods_out_id"`
	Reference    string         `json:"reference"`
	Warehouse    string         `json:"warehouse"`
	Status       string         `json:"status"`
	Carrier      string         `json:"carrier,omitempty"`
	Tracking     string         `json:"tracking_number,omitempty"`
	DispatchedAt time.Time      `json:"dispatched_at"`
	Lines        []ShipmentLine `json:"lines"`
}

// ShipmentLine is one line of a Shipment.
type ShipmentLine struct {
	ID       int64  `json:"id"`
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// Shipments returns every shipment, oldest first.
func (s *Sim) Shipments() []Shipment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.shipmentViews()
}

// shipmentViews copies the shipments out, by id. Callers hold Sim.mu.
func (st *store) shipmentViews() []Shipment {
	out := make([]Shipment, 0, len(st.shipments))
	for _, sh := range st.sortedShipments() {
		v := Shipment{ID: sh.ID, GoodsOutID: sh.GoodsOutID, Reference: sh.Reference, Warehouse: sh.Warehouse, Status: sh.Status,
			Carrier: sh.Carrier, Tracking: sh.Tracking, DispatchedAt: sh.DispatchedAt}
		for _, l := range sh.Lines {
			v.Lines = append(v.Lines, ShipmentLine{ID: l.ID, SKU: l.SKU, Quantity: l.Quantity})
		}
		out = append(out, v)
	}
	return out
}

func (st *store) sortedShipments() []*shipment {
	out := make([]*shipment, 0, len(st.shipments))
	for _, sh := range st.shipments {
		out = append(out, sh)
	}
	slices.SortFunc(out, func(a, b *shipment) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// carrierID returns the id of carrier code, creating it.
func (st *store) carrierID(code string) int64 {
	if id, ok := st.carriers[code]; ok {
		return id
	}
	id := int64(len(st.carriers) + 1)
	st.carriers[code] = id
	return id
}

// shipPart is what a shipment takes from one goods-out line.
type shipPart struct {
	line *orderLine
	qty  int64
}

// planShipment checks that o can ship want (Clarus codes and quantities),
// taking each code from o's lines in order, and returns the parts. nil
// want ships every unit still allocated (dispatch).
func planShipment(o *goodsOut, want []Line) ([]shipPart, *EventError) {
	switch o.StatusID {
	case statusAllocated, statusPartAllocated, statusPick:
	default:
		return nil, &EventError{Reason: fmt.Sprintf("order %d is %s, not allocated or picking", o.ID, statusCodes[o.StatusID])}
	}
	var parts []shipPart
	if want == nil {
		for i := range o.Lines {
			if l := &o.Lines[i]; l.Allocated > l.Dispatched {
				parts = append(parts, shipPart{l, l.Allocated - l.Dispatched})
			}
		}
		return parts, nil
	}
	if len(want) == 0 {
		return nil, &EventError{Reason: "ship needs lines (sku and quantity)"}
	}
	taken := map[int64]int64{} // goods-out line id -> units this shipment takes
	for _, w := range want {
		if w.SKU == "" || w.Quantity <= 0 {
			return nil, &EventError{Reason: "each line needs a sku and a positive quantity"}
		}
		left, onOrder := w.Quantity, false
		for i := range o.Lines {
			l := &o.Lines[i]
			if l.SKU != w.SKU {
				continue
			}
			onOrder = true
			q := min(left, l.Allocated-l.Dispatched-taken[l.ID])
			if q > 0 {
				taken[l.ID] += q
				left -= q
			}
		}
		switch {
		case !onOrder:
			return nil, &EventError{Reason: fmt.Sprintf("%s is not on order %d", w.SKU, o.ID)}
		case left > 0:
			return nil, &EventError{Reason: fmt.Sprintf("%d of %s asked: more than order %d has allocated and not yet dispatched", w.Quantity, w.SKU, o.ID)}
		}
	}
	for i := range o.Lines {
		if q := taken[o.Lines[i].ID]; q > 0 {
			parts = append(parts, shipPart{&o.Lines[i], q})
		}
	}
	return parts, nil
}

// ship dispatches parts of o as one shipment (none when parts is empty):
// stock leaves, a pick is logged per shipment line, and the goods out is
// picking, or COMPLETED once nothing allocated is left.
func (s *Sim) ship(o *goodsOut, parts []shipPart, carrier, tracking string, now time.Time) (int64, []string) {
	if o.StatusID != statusPick {
		o.setStatus(statusPick)
	}
	var id int64
	var moves []string
	if len(parts) > 0 {
		sh := &shipment{ID: s.st.id(), GoodsOutID: o.ID, Reference: o.Reference, Warehouse: o.Warehouse, Status: shipmentDispatched,
			DispatchedAt: now, Carrier: carrier, Tracking: tracking}
		if carrier != "" {
			s.st.carrierID(carrier)
		}
		for _, p := range parts {
			sl := shipmentLine{ID: s.st.id(), LineID: p.line.ID, SKU: p.line.SKU, Quantity: p.qty}
			sh.Lines = append(sh.Lines, sl)
			p.line.Dispatched += p.qty
			b := s.st.bal(skuKey{p.line.SKU, o.Warehouse})
			b.Allocated -= p.qty
			b.OnHand -= p.qty
			b.Picked += p.qty
			b.UpdatedAt = now
			mid := fmt.Sprintf("shipment/%d/%d", sh.ID, sl.ID)
			o.shipMoves = append(o.shipMoves, len(s.st.movements))
			s.st.record(Movement{ID: mid, Kind: "pick", SKU: p.line.SKU, Warehouse: o.Warehouse, Quantity: -p.qty, Reference: o.Reference, At: now})
			moves = append(moves, mid)
		}
		s.st.shipments[sh.ID] = sh
		id = sh.ID
	}
	for _, l := range o.Lines {
		if l.Dispatched < l.Allocated {
			return id, moves
		}
	}
	s.complete(o, now)
	return id, moves
}

// complete makes o COMPLETED and sends goods_out.completed with each
// line's cumulative quantities (what is not allocated is shorted). The
// picks of its shipments are announced by that webhook: lockstep reads
// them from the shipments when it arrives.
func (s *Sim) complete(o *goodsOut, now time.Time) {
	rec := goodsOutRecord{ID: o.ID, Type: "goods_outs", GoodsOutType: "sales_order", Reference: o.Reference, GoodsOutStatusID: statusCompleted,
		GoodsOutStatus: goodsOutStatus{ID: statusCompleted, Code: statusCodes[statusCompleted], Name: statusNames[statusCompleted]},
		Warehouse:      s.warehouse(o.Warehouse), Account: s.account(), ActualDateOfDispatch: now,
		ExternalSystemReference1: optional(o.ExternalRefs[0]), String1: optional(o.Strings[0])}
	for _, l := range o.Lines {
		short := "none"
		if l.Allocated < l.Quantity {
			short = "short"
		}
		rec.Lines = append(rec.Lines, goodsOutLine{ID: l.ID, Product: s.product(l.SKU), OrderQuantity: l.Quantity, AllocatedQuantity: l.Allocated,
			PickQuantity: l.Allocated, DispatchQuantity: l.Dispatched, ShortStatus: short})
	}
	for _, i := range o.shipMoves {
		s.st.movements[i].Trigger = TriggerGoodsOutCompleted
	}
	o.setStatus(statusCompleted)
	s.notify(TriggerGoodsOutCompleted, rec)
}
