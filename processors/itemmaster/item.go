// Package itemmaster is Prima's item master as the processors see it: a
// global table of prima.items, looked up by Prima SKU and by Clarus code.
package itemmaster

import (
	"maps"
	"slices"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Item is what the processors need of a Prima item.
type Item struct {
	SKU        string // Prima SKU
	ClarusCode string // empty while unmapped
	StockItem  bool
	Active     bool // false once discontinued
	UnitCost   schemas.Decimal
	Currency   string // of UnitCost
}

// FromEvent is the Item of a prima.items event.
func FromEvent(ev *schemas.Item) Item {
	it := Item{SKU: ev.SKU, StockItem: ev.StockItem, Active: ev.Active, UnitCost: ev.UnitCost, Currency: ev.Currency}
	if ev.ClarusCode != nil {
		it.ClarusCode = *ev.ClarusCode
	}
	return it
}

// Items looks an item up by Prima SKU.
type Items func(sku string) (Item, bool)

// Mapping is the Clarus code of sku, or, with code empty, why the item
// master gives none that a command to Clarus may carry: the reason reads
// after "SKU X is", as in "SKU X is discontinued in Prima". Whether a
// non-stock item may go to Clarus is the caller's rule, not this one's.
func (f Items) Mapping(sku string) (it Item, code, reason string) {
	it, ok := f(sku)
	switch {
	case !ok:
		return it, "", "unknown to Prima's item master"
	case !it.Active:
		return it, "", "discontinued in Prima"
	case it.ClarusCode == "":
		return it, "", "without a Clarus product code in Prima's item master"
	}
	return it, it.ClarusCode, ""
}

// Codes looks an item up by the Clarus code it maps to: for what Clarus
// reports, as receipts, in Prima's terms.
type Codes func(code string) (Item, bool)

// Static is an item master held in a map by Prima SKU: for tests and
// tools that know their items.
type Static map[string]Item

// Items looks items up in s by SKU; a missing SKU field is the key.
func (s Static) Items() Items {
	return func(sku string) (Item, bool) {
		it, ok := s[sku]
		if ok && it.SKU == "" {
			it.SKU = sku
		}
		return it, ok
	}
}

// Codes looks items up in s by Clarus code; of several SKUs naming one
// code, the first in SKU order answers, so the answer is stable.
func (s Static) Codes() Codes {
	return func(code string) (Item, bool) {
		for _, sku := range slices.Sorted(maps.Keys(s)) {
			if s[sku].ClarusCode == code && code != "" {
				return s.Items()(sku)
			}
		}
		return Item{}, false
	}
}
