package clarussim

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// skuKey identifies a stock balance: one product in one warehouse.
type skuKey struct{ SKU, Warehouse string }

func (k skuKey) String() string { return k.SKU + "@" + k.Warehouse }

// balance is the ground truth for one skuKey.
type balance struct {
	OnHand, Held, Allocated int64
	Received, Picked        int64 // cumulative, as Clarus's stock_balances reports them
	UpdatedAt               time.Time
}

// heldStock is a stock record split off with status held; releasing it
// releases it whole.
type heldStock struct {
	ID       int64
	Key      skuKey
	Quantity int64
	Reason   string
	LocID    int64
}

// goodsOut is a sales order (goods out) and where it is in Clarus's status
// machine.
type goodsOut struct {
	ID        int64
	Reference string
	Warehouse string
	StatusID  int   // Clarus goods_out_status_id
	History   []int // every status it passed through, in order
	Lines     []orderLine
	CreatedAt time.Time
	// shipMoves are the indexes in the movement log of the picks of its
	// shipments, announced when the goods out completes.
	shipMoves []int
	// What POST /api/goods_outs sets besides the above; orders made
	// through /_sim/events carry their reference in
	// external_system_reference1 and nothing else.
	GoodsOutType     string
	ExternalRefs     [3]string // external_system_reference1-3
	Strings          [5]string // string1-5
	ExpectedDispatch *time.Time
	Address          *Address
}

type orderLine struct {
	ID        int64
	SKU       string
	Quantity  int64 // ordered
	Allocated int64
	// Dispatched is what its shipments took; Allocated - Dispatched is
	// still allocated.
	Dispatched int64
	allocs     int // allocations made, for unique movement ids
}

// Goods-out status ids, from the Clarus documentation (core-resources/
// goods-out). 4 PART is legacy and never used here. The documented order
// of the statuses is DRAFT, PENDING (awaiting allocation), ALLOCATED or
// PART_ALLOCATED, PICK, COMPLETED (dispatched); CANCELLED from any but
// COMPLETED, DRAFT and PENDING orders being deleted rather than cancelled.
const (
	statusDraft         = 1
	statusPending       = 2
	statusPick          = 3
	statusAllocated     = 5
	statusCompleted     = 6
	statusPartAllocated = 7
	statusCancelled     = 8
)

var statusCodes = map[int]string{1: "DRAFT", 2: "PENDING", 3: "PICK", 4: "PART", 5: "ALLOCATED", 6: "COMPLETED", 7: "PART_ALLOCATED", 8: "CANCELLED"}

var statusNames = map[int]string{1: "Draft", 2: "Pending", 3: "Picking", 4: "Part", 5: "Allocated", 6: "Completed", 7: "Part allocated", 8: "Cancelled"}

// setStatus moves o to status, recording it.
func (o *goodsOut) setStatus(status int) {
	o.StatusID = status
	o.History = append(o.History, status)
}

// Movement is one change to the ground truth, as lockstep should see it.
type Movement struct {
	Seq int64 `json:"seq"`
	// ID is the record path lockstep's movement id starts with:
	// resource/record id[/line id] (stock holds: stock/<id>/held|released);
	// lockstep appends a hash of the movement (clarus.RecordPath strips it).
	ID        string    `json:"id"`
	Kind      string    `json:"kind"` // the schemas.StockMovementKind
	SKU       string    `json:"sku"`
	Warehouse string    `json:"warehouse"`
	Quantity  int64     `json:"quantity"` // signed, as in schemas.StockMovement
	Reference string    `json:"reference,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at"`
	// Trigger is the automation trigger that announced it; empty when Clarus
	// sends no webhook for it (allocations, cancellations).
	Trigger string `json:"trigger,omitempty"`
}

// store is the simulator's ground truth. Every method runs under Sim.mu.
type store struct {
	balances   map[skuKey]*balance
	products   map[string]int64
	codes      map[int64]string // product id -> code
	warehouses map[string]int64
	held       map[int64]*heldStock
	orders     map[int64]*goodsOut
	shipments  map[int64]*shipment
	carriers   map[string]int64 // carrier code -> id
	movements  []Movement
	nextID     int64

	productTypes map[int64]string // product id -> product_type; absent is single
	units        map[int64]*storageUnit
	nextUnitID   int64
	receipts     map[int64]*goodsIn // goods-in receipts: pre-receipts and receipts
}

func newStore(warehouses map[string]string) (*store, error) {
	st := &store{
		balances:   map[skuKey]*balance{},
		products:   map[string]int64{},
		codes:      map[int64]string{},
		warehouses: map[string]int64{},
		held:       map[int64]*heldStock{},
		orders:     map[int64]*goodsOut{},
		shipments:  map[int64]*shipment{},
		carriers:   map[string]int64{},
		nextID:     1000,

		productTypes: map[int64]string{},
		units:        map[int64]*storageUnit{},
		receipts:     map[int64]*goodsIn{},
	}
	for id, code := range warehouses {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 0 || code == "" {
			return nil, fmt.Errorf("clarussim: warehouse %q=%q: want a positive integer id and a code", id, code)
		}
		if _, dup := st.warehouses[code]; dup {
			return nil, fmt.Errorf("clarussim: warehouse code %q configured twice", code)
		}
		st.warehouses[code] = n
	}
	return st, nil
}

func (st *store) id() int64 { st.nextID++; return st.nextID }

func (st *store) productID(code string) int64 {
	if id, ok := st.products[code]; ok {
		return id
	}
	id := int64(len(st.products) + 1)
	st.products[code] = id
	st.codes[id] = code
	// A product is made with one storage unit, of priority 0, as Clarus
	// gives a product's first storage unit priority 0.
	st.addUnit(storageUnit{ProductID: id, Priority: 0, StockConfiguration: "unit", Total: 1, TypeCode: "EACH"})
	return id
}

// warehouseID returns the id of the warehouse code, creating it with the
// next free id.
func (st *store) warehouseID(code string) int64 {
	if id, ok := st.warehouses[code]; ok {
		return id
	}
	var id int64
	for _, v := range st.warehouses {
		id = max(id, v)
	}
	st.warehouses[code] = id + 1
	return id + 1
}

// warehouseCode returns the code of warehouse id.
func (st *store) warehouseCode(id int64) (string, bool) {
	for code, v := range st.warehouses {
		if v == id {
			return code, true
		}
	}
	return "", false
}

// bal returns the balance of k, creating an empty one.
func (st *store) bal(k skuKey) *balance {
	b, ok := st.balances[k]
	if !ok {
		st.productID(k.SKU)
		st.warehouseID(k.Warehouse)
		b = &balance{}
		st.balances[k] = b
	}
	return b
}

func (st *store) available(k skuKey) int64 {
	b, ok := st.balances[k]
	if !ok {
		return 0
	}
	return b.OnHand - b.Held - b.Allocated
}

func (st *store) record(m Movement) {
	m.Seq = int64(len(st.movements) + 1)
	st.movements = append(st.movements, m)
}

// sortedKeys returns the balance keys in cursor order.
func (st *store) sortedKeys() []skuKey {
	keys := make([]skuKey, 0, len(st.balances))
	for k := range st.balances {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b skuKey) int {
		return cmp.Or(cmp.Compare(a.SKU, b.SKU), cmp.Compare(a.Warehouse, b.Warehouse))
	})
	return keys
}
