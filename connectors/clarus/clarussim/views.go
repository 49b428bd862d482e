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
	Subdomain   string       `json:"subdomain"`
	Stock       []Balance    `json:"stock"`
	Held        []HeldStock  `json:"held"`
	Orders      []Order      `json:"orders"`
	Shipments   []Shipment   `json:"shipments"`
	Movements   []Movement   `json:"movements"`
	Automations []Automation `json:"automations"`
	Webhooks    WebhookStats `json:"webhooks"`
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
