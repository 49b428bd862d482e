package clarussim

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Products and their storage units. Clarus documents that a product can
// have several storage units (single units, cases, pallets), each with a
// priority unique per product, and that a receipt line takes the one of
// priority 0 (knowledgebase/integrations/api-creating-records,
// products:-storage-units/*). The simulator gives every product it creates
// on the fly one storage unit, a single unit of priority 0, as Clarus gives
// the first storage unit of a product priority 0 (the documented create
// answer); DefineProduct (POST /_sim/products) sets other ones, or none.

// Product types: product_type is documented as single or
// bill_of_materials. A bill of materials is a kit whose stock is its
// components': the simulator treats it as a non-stock product that cannot
// be received (assumed: the documentation does not say what Clarus does).
const (
	ProductSingle         = "single"
	ProductBillOfMaterial = "bill_of_materials"
)

// storageUnit is a product storage unit (product_storage_units).
type storageUnit struct {
	ID                 int64
	ProductID          int64
	Priority           int
	StockConfiguration string // unit, case, inner or outer (documented)
	Total              int64  // units per full storage unit
	TypeCode           string // the storage unit type's code
}

// storageUnitTypes are the simulator's storage unit types, code to id.
var storageUnitTypes = map[string]int64{"EACH": 1, "CASE": 2, "PAL": 3}

// Product is a product as DefineProduct takes it and reports it.
type Product struct {
	ID   int64  `json:"id,omitempty"` // reported; ignored when given
	Code string `json:"code"`
	// Type is single (the default) or bill_of_materials, which the
	// simulator refuses on a receipt line as a non-stock product.
	Type string `json:"product_type,omitempty"`
	// StorageUnits are the product's storage units. Absent (nil) keeps the
	// ones it has (a new product gets a single unit of priority 0); empty
	// removes them all, so a receipt line for it is refused.
	StorageUnits []StorageUnit `json:"storage_units,omitempty"`
}

// StorageUnit is a product storage unit.
type StorageUnit struct {
	ID       int64 `json:"id,omitempty"` // reported; ignored when given
	Priority int   `json:"priority"`
	// StockConfiguration is unit (the default), case, inner or outer.
	StockConfiguration string `json:"stock_configuration,omitempty"`
	// Total is the units of a full storage unit (default 1).
	Total int64 `json:"total,omitempty"`
	// TypeCode is the storage unit type: EACH (the default), CASE or PAL.
	TypeCode string `json:"storage_unit_type,omitempty"`
}

var stockConfigurations = map[string]bool{"unit": true, "case": true, "inner": true, "outer": true}

// DefineProduct creates or redefines a product: its type and, when given,
// its storage units. It is how a test sets up a product without a
// storage unit of priority 0, or a non-stock one.
func (s *Sim) DefineProduct(p Product) (Product, error) {
	if p.Code == "" {
		return Product{}, errors.New("product: code is required")
	}
	switch p.Type {
	case "":
		p.Type = ProductSingle
	case ProductSingle, ProductBillOfMaterial:
	default:
		return Product{}, fmt.Errorf("product %s: product_type %q (want single or bill_of_materials)", p.Code, p.Type)
	}
	seen := map[int]bool{}
	for i, u := range p.StorageUnits {
		u.StockConfiguration = cmp.Or(u.StockConfiguration, "unit")
		u.TypeCode = cmp.Or(u.TypeCode, "EACH")
		u.Total = cmp.Or(u.Total, 1)
		switch {
		case seen[u.Priority]:
			return Product{}, fmt.Errorf("product %s: priority %d twice: it is unique per product (documented)", p.Code, u.Priority)
		case u.Priority < 0:
			return Product{}, fmt.Errorf("product %s: priority %d is negative", p.Code, u.Priority)
		case !stockConfigurations[u.StockConfiguration]:
			return Product{}, fmt.Errorf("product %s: stock_configuration %q (want unit, case, inner or outer)", p.Code, u.StockConfiguration)
		case storageUnitTypes[u.TypeCode] == 0:
			return Product{}, fmt.Errorf("product %s: storage unit type %q (want EACH, CASE or PAL)", p.Code, u.TypeCode)
		case u.Total <= 0:
			return Product{}, fmt.Errorf("product %s: total %d is not positive", p.Code, u.Total)
		}
		seen[u.Priority] = true
		p.StorageUnits[i] = u
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.st.productID(p.Code)
	s.st.productTypes[id] = p.Type
	if p.StorageUnits != nil {
		for uid, u := range s.st.units {
			if u.ProductID == id {
				delete(s.st.units, uid)
			}
		}
		for _, u := range p.StorageUnits {
			s.st.addUnit(storageUnit{ProductID: id, Priority: u.Priority, StockConfiguration: u.StockConfiguration, Total: u.Total, TypeCode: u.TypeCode})
		}
	}
	return s.st.productView(id), nil
}

// Products returns every product with its storage units, by id.
func (s *Sim) Products() []Product {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, 0, len(s.st.codes))
	for id := range s.st.codes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]Product, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.st.productView(id))
	}
	return out
}

// productView copies product id out. Callers hold Sim.mu.
func (st *store) productView(id int64) Product {
	p := Product{ID: id, Code: st.codes[id], Type: cmp.Or(st.productTypes[id], ProductSingle), StorageUnits: []StorageUnit{}}
	for _, u := range st.unitsOf(id) {
		p.StorageUnits = append(p.StorageUnits, StorageUnit{ID: u.ID, Priority: u.Priority, StockConfiguration: u.StockConfiguration,
			Total: u.Total, TypeCode: u.TypeCode})
	}
	return p
}

// addUnit stores u under the next storage unit id. Storage units have ids
// of their own (a table of their own in Clarus), so making them does not
// move the ids of the records the simulator made before.
func (st *store) addUnit(u storageUnit) *storageUnit {
	st.nextUnitID++
	u.ID = st.nextUnitID
	st.units[u.ID] = &u
	return &u
}

// unitsOf returns the storage units of product id, by priority.
func (st *store) unitsOf(id int64) []*storageUnit {
	var out []*storageUnit
	for _, u := range st.units {
		if u.ProductID == id {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *storageUnit) int { return cmp.Compare(a.Priority, b.Priority) })
	return out
}

// firstUnit returns the storage unit of priority 0 of product id, if any.
func (st *store) firstUnit(id int64) (*storageUnit, bool) {
	for _, u := range st.unitsOf(id) {
		if u.Priority == 0 {
			return u, true
		}
	}
	return nil, false
}

// stocked reports whether product id is a stock product: one a receipt can
// bring in.
func (st *store) stocked(id int64) bool { return st.productTypes[id] != ProductBillOfMaterial }
