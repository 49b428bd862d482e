package clarussim

import (
	"cmp"
	"slices"
	"time"
)

// The ground truth as the control API shows it: copies of the store,
// safe to hand out.

// Balance is one stock balance of the ground truth.
type Balance struct {
	SKU       string    `json:"sku"`
	Warehouse string    `json:"warehouse"`
	OnHand    int64     `json:"on_hand"`
	Held      int64     `json:"held"`
	Allocated int64     `json:"allocated"`
	Available int64     `json:"available"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Order is a goods-out order of the ground truth. A DRAFT or PENDING
// order that is cancelled is deleted (documented), so it is not here.
type Order struct {
	ID        int64  `json:"id"`
	Reference string `json:"reference"`
	Warehouse string `json:"warehouse"`
	Status    string `json:"status"`
	// History is every status the order passed through, oldest first.
	History []string    `json:"history"`
	Lines   []OrderLine `json:"lines"`
	// ExternalSystemReference1 and String1 are as created (lockstep puts
	// its order ref and "v<version>" there).
	ExternalSystemReference1 string `json:"external_system_reference1,omitempty"`
	String1                  string `json:"string1,omitempty"`
	// String5 is as created or last updated (PATCH /api/goods_outs/{id}):
	// lockstep closes a dispatched goods out by setting it to
	// "prima-despatched" (clarus.ClosedMarker).
	String5 string   `json:"string5,omitempty"`
	Address *Address `json:"address,omitempty"`
}

// OrderLine is a line of a goods-out order; SKU is the Clarus product code.
type OrderLine struct {
	SKU        string `json:"sku"`
	Quantity   int64  `json:"quantity"`
	Allocated  int64  `json:"allocated"`
	Dispatched int64  `json:"dispatched"` // by its shipments so far
}

// Address is a goods-out's delivery address, the attributes of its
// related addresses record.
type Address struct {
	Name        string `json:"name"`
	Address1    string `json:"address_1"`
	Address2    string `json:"address_2,omitempty"`
	Address3    string `json:"address_3,omitempty"` // town
	Address4    string `json:"address_4,omitempty"`
	Postcode    string `json:"postcode,omitempty"`
	CountryCode string `json:"country_code"`
}

// HeldStock is a stock record on hold.
type HeldStock struct {
	ID        int64  `json:"id"`
	SKU       string `json:"sku"`
	Warehouse string `json:"warehouse"`
	Quantity  int64  `json:"quantity"`
	Reason    string `json:"reason,omitempty"`
}

// State is the simulator's ground truth, as GET /_sim/state answers it.
type State struct {
	Subdomain string      `json:"subdomain"`
	Stock     []Balance   `json:"stock"`
	Held      []HeldStock `json:"held"`
	Orders    []Order     `json:"orders"`
	Shipments []Shipment  `json:"shipments"`
	// GoodsIn are the goods-in receipts: pre-receipts, and what was
	// received with or without one.
	GoodsIn     []GoodsInReceipt `json:"goods_in"`
	Movements   []Movement       `json:"movements"`
	Automations []Automation     `json:"automations"`
	Webhooks    WebhookStats     `json:"webhooks"`
}

// snapshot copies the ground truth out. Callers hold Sim.mu.
func (st *store) snapshot() State {
	var out State
	for _, k := range st.sortedKeys() {
		b := st.balances[k]
		out.Stock = append(out.Stock, Balance{SKU: k.SKU, Warehouse: k.Warehouse, OnHand: b.OnHand, Held: b.Held,
			Allocated: b.Allocated, Available: b.OnHand - b.Held - b.Allocated, UpdatedAt: b.UpdatedAt})
	}
	for _, h := range st.held {
		out.Held = append(out.Held, HeldStock{ID: h.ID, SKU: h.Key.SKU, Warehouse: h.Key.Warehouse, Quantity: h.Quantity, Reason: h.Reason})
	}
	slices.SortFunc(out.Held, func(a, b HeldStock) int { return cmp.Compare(a.ID, b.ID) })
	out.Orders = st.orderViews()
	out.Shipments = st.shipmentViews()
	out.GoodsIn = st.goodsInViews()
	out.Movements = slices.Clone(st.movements)
	return out
}

// orderViews copies the goods-out orders out, by id. Callers hold Sim.mu.
func (st *store) orderViews() []Order {
	out := make([]Order, 0, len(st.orders))
	for _, o := range st.orders {
		ord := Order{ID: o.ID, Reference: o.Reference, Warehouse: o.Warehouse, Status: statusCodes[o.StatusID],
			ExternalSystemReference1: o.ExternalRefs[0], String1: o.Strings[0], String5: o.Strings[4]}
		if o.Address != nil {
			a := *o.Address
			ord.Address = &a
		}
		for _, h := range o.History {
			ord.History = append(ord.History, statusCodes[h])
		}
		for _, l := range o.Lines {
			ord.Lines = append(ord.Lines, OrderLine{SKU: l.SKU, Quantity: l.Quantity, Allocated: l.Allocated, Dispatched: l.Dispatched})
		}
		out = append(out, ord)
	}
	slices.SortFunc(out, func(a, b Order) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// GoodsInReceipt is a goods-in receipt of the ground truth: a pre-receipt
// (PreReceipt, made through POST /api/goods_in_receipts) pending,
// receiving, completed or cancelled, or a receipt the warehouse made for
// goods that came without one (PreReceipt false, completed). What a
// delivery did against its pre-receipt is in the lines: received below
// expected is short, above it over-delivered, and an Unplanned line is a
// product the pre-receipt did not expect.
type GoodsInReceipt struct {
	ID         int64  `json:"id"`
	Reference  string `json:"reference"` // as created or typed: "" when the delivery had none
	Warehouse  string `json:"warehouse"`
	Status     string `json:"status"` // pending, receiving, completed or cancelled
	PreReceipt bool   `json:"pre_receipt"`
	// History is every status it passed through, oldest first.
	History         []string   `json:"history"`
	ExpectedArrival *time.Time `json:"expected_date_of_arrival,omitempty"`
	ReceivedAt      *time.Time `json:"actual_date_of_receipt,omitempty"`
	// As created or last updated (lockstep: the PO ref, the supplier ref
	// and "v<PO version>").
	ExternalSystemReference1 string        `json:"external_system_reference1,omitempty"`
	ExternalSystemReference2 string        `json:"external_system_reference2,omitempty"`
	String1                  string        `json:"string1,omitempty"`
	Notes                    string        `json:"notes,omitempty"`
	Lines                    []GoodsInLine `json:"lines"`
}

// GoodsInLine is a line of a goods-in receipt; SKU is the Clarus product
// code.
type GoodsInLine struct {
	ID            int64  `json:"id"`
	SKU           string `json:"sku"`
	StorageUnitID int64  `json:"product_storage_unit_id,omitempty"`
	AltLineNumber string `json:"alt_line_number,omitempty"`
	Expected      int64  `json:"expected"`
	Received      int64  `json:"received"`
	Unplanned     bool   `json:"unplanned,omitempty"`
}

// GoodsIn is the goods-in receipts of State alone, oldest first.
func (s *Sim) GoodsIn() []GoodsInReceipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.goodsInViews()
}

// goodsInViews copies the goods-in receipts out, by id. Callers hold
// Sim.mu.
func (st *store) goodsInViews() []GoodsInReceipt {
	out := make([]GoodsInReceipt, 0, len(st.receipts))
	for _, g := range st.sortedReceipts() {
		v := GoodsInReceipt{ID: g.ID, Reference: g.Reference, Warehouse: g.Warehouse, Status: g.Status, PreReceipt: g.PreReceipt,
			History: slices.Clone(g.History), ExternalSystemReference1: g.ExternalRefs[0], ExternalSystemReference2: g.ExternalRefs[1],
			String1: g.Strings[0], Notes: g.Notes, Lines: []GoodsInLine{}}
		if g.ExpectedArrival != nil {
			t := *g.ExpectedArrival
			v.ExpectedArrival = &t
		}
		if !g.ReceivedAt.IsZero() {
			t := g.ReceivedAt
			v.ReceivedAt = &t
		}
		for _, l := range g.Lines {
			v.Lines = append(v.Lines, GoodsInLine{ID: l.ID, SKU: l.SKU, StorageUnitID: l.StorageUnitID, AltLineNumber: l.AltLineNumber,
				Expected: l.Expected, Received: l.Received, Unplanned: l.Unplanned})
		}
		out = append(out, v)
	}
	return out
}
