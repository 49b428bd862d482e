package primasim

import (
	"cmp"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Item is one item of the simulated item master.
type Item struct {
	SKU         string      `json:"sku"` // product code plus matrix codes, wire.SKUSeparator between
	Matrix      wire.Matrix `json:"-"`
	Description string      `json:"description"`
	ClarusCode  string      `json:"clarus_code,omitempty"` // empty while unmapped
	// IntendedCode is the Clarus code a scenario meant for an item it
	// left unmapped: what map_item sets when it names no code.
	IntendedCode string          `json:"intended_clarus_code,omitempty"`
	StockItem    bool            `json:"stock_item"`
	Active       bool            `json:"active"`
	UnitCost     schemas.Decimal `json:"unit_cost"`
	Currency     string          `json:"currency"`
	Modified     time.Time       `json:"modified"`
}

// StockLevel is what Prima holds for a SKU in a warehouse.
type StockLevel struct {
	SKU       string    `json:"sku"`
	Warehouse string    `json:"warehouse"`
	Available int64     `json:"available"`
	Modified  time.Time `json:"modified"`
	// SetBy is the batch reference that last set the level, or "manual"
	// for a level overwritten by hand (an injected drift).
	SetBy string `json:"set_by"`
}

// Batch is a stock level update Prima applied.
type Batch struct {
	Ref       string    `json:"batch_ref"`
	Warehouse string    `json:"warehouse"`
	Lines     int       `json:"lines"`
	AsOf      time.Time `json:"as_of,omitzero"`
	AppliedAt time.Time `json:"applied_at"`
	// Repeats counts the times the same reference came again, each
	// applied again (Prima documents no de-duplication).
	Repeats int `json:"repeats"`
}

// ManualSetBy marks a level overwritten by hand in StockLevel.SetBy.
const ManualSetBy = "manual"

// store is the ground truth; the Server's mutex guards it.
type store struct {
	items    map[string]*Item
	stock    map[string]*StockLevel // by sku@warehouse
	batches  map[string]*Batch
	orders   map[string]*SalesOrder
	despatch despatchStore
	pos      map[string]*PurchaseOrder // by ref
}

func newStore() *store {
	return &store{items: map[string]*Item{}, stock: map[string]*StockLevel{}, batches: map[string]*Batch{},
		orders: map[string]*SalesOrder{}, despatch: newDespatchStore(), pos: map[string]*PurchaseOrder{}}
}

// after reports whether (t, key) sorts after the cursor (ct, ckey).
func after(t time.Time, key string, ct time.Time, ckey string) bool {
	if c := t.Compare(ct); c != 0 {
		return c > 0
	}
	return key > ckey
}

// modifiedAfter returns up to limit of recs after the cursor (since,
// afterKey), in the (stamp, key) order every modified-since feed pages
// in, and whether more remain.
func modifiedAfter[T any](recs iter.Seq[T], stamp func(T) (time.Time, string), since time.Time, afterKey string, limit int) ([]T, bool) {
	var out []T
	for r := range recs {
		if t, k := stamp(r); after(t, k, since, afterKey) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b T) int {
		ta, ka := stamp(a)
		tb, kb := stamp(b)
		return cmp.Or(ta.Compare(tb), cmp.Compare(ka, kb))
	})
	if len(out) > limit {
		return out[:limit], true
	}
	return out, false
}

func itemStamp(it *Item) (time.Time, string) { return it.Modified, it.SKU }

func levelStamp(l *StockLevel) (time.Time, string) {
	return l.Modified, schemas.StockKey(l.SKU, l.Warehouse)
}

// setLevel sets an absolute level, stamping it modified only when it
// changes: a push of the same figure is not news to a poller.
func (st *store) setLevel(sku, warehouse string, available int64, setBy string, now time.Time) {
	k := schemas.StockKey(sku, warehouse)
	l := st.stock[k]
	if l == nil {
		st.stock[k] = &StockLevel{SKU: sku, Warehouse: warehouse, Available: available, Modified: now, SetBy: setBy}
		return
	}
	l.SetBy = setBy
	if l.Available != available {
		l.Available, l.Modified = available, now
	}
}

// snapshot copies the ground truth in a stable order.
func (st *store) snapshot() State {
	s := State{Items: []Item{}, Stock: []StockLevel{}, Batches: []Batch{}, SalesOrders: []SalesOrder{},
		DespatchNotes: []DespatchNote{}, PurchaseOrders: []PurchaseOrder{}}
	for _, it := range st.items {
		s.Items = append(s.Items, *it)
	}
	for _, l := range st.stock {
		s.Stock = append(s.Stock, *l)
	}
	for _, b := range st.batches {
		s.Batches = append(s.Batches, *b)
	}
	for _, o := range st.orders {
		s.SalesOrders = append(s.SalesOrders, *o)
	}
	for _, n := range st.despatch.notes {
		c := *n
		c.Lines = slices.Clone(n.Lines)
		s.DespatchNotes = append(s.DespatchNotes, c)
	}
	slices.SortFunc(s.DespatchNotes, func(a, b DespatchNote) int { return cmp.Compare(a.ID, b.ID) })
	s.DroppedDespatchPosts = slices.Sorted(maps.Keys(st.despatch.dropped))
	slices.SortFunc(s.SalesOrders, func(a, b SalesOrder) int { return cmp.Compare(a.Ref, b.Ref) })
	for _, o := range st.pos {
		s.PurchaseOrders = append(s.PurchaseOrders, *o)
	}
	slices.SortFunc(s.PurchaseOrders, func(a, b PurchaseOrder) int { return cmp.Compare(a.Ref, b.Ref) })
	slices.SortFunc(s.Items, func(a, b Item) int { return cmp.Compare(a.SKU, b.SKU) })
	slices.SortFunc(s.Stock, func(a, b StockLevel) int {
		return cmp.Compare(schemas.StockKey(a.SKU, a.Warehouse), schemas.StockKey(b.SKU, b.Warehouse))
	})
	slices.SortFunc(s.Batches, func(a, b Batch) int {
		return cmp.Or(a.AppliedAt.Compare(b.AppliedAt), cmp.Compare(a.Ref, b.Ref))
	})
	return s
}

// State is the simulator's ground truth, as GET /_sim/state answers it.
type State struct {
	CompanyID string       `json:"company_id"`
	Items     []Item       `json:"items"`
	Stock     []StockLevel `json:"stock"`
	Batches   []Batch      `json:"batches"`
	// SalesOrders are the orders as they stand, by ref.
	SalesOrders []SalesOrder `json:"sales_orders"`
	// DespatchNotes are every note, by id (the order they were made in);
	// DroppedDespatchPosts the references the drop fault dropped
	// (Server.DroppedDespatchPosts).
	DespatchNotes        []DespatchNote `json:"despatch_notes"`
	DroppedDespatchPosts []string       `json:"dropped_despatch_posts,omitempty"`
	// PurchaseOrders are the POs as they stand, by ref.
	PurchaseOrders []PurchaseOrder `json:"purchase_orders"`
	Faults         Faults          `json:"faults"`
	DespatchFaults DespatchFaults  `json:"despatch_faults"`
	Counters       Counters        `json:"counters"`
}

// Level returns the available level of sku in warehouse.
func (s State) Level(sku, warehouse string) (int64, bool) {
	for _, l := range s.Stock {
		if l.SKU == sku && l.Warehouse == warehouse {
			return l.Available, true
		}
	}
	return 0, false
}
