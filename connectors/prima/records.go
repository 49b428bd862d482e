package prima

import (
	"fmt"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// itemsFrom converts an ItemsModifiedSince answer, refusing the whole page
// when one record cannot be read: a record lockstep cannot read is a
// contract break for a person to fix, and skipping it would leave the item
// master silently wrong (a wrong cost values drift wrongly).
func itemsFrom(resp *wire.Response, since Cursor) ([]Item, error) {
	if resp.Data == nil {
		return nil, nil
	}
	out := make([]Item, 0, len(resp.Data.Items))
	prev := since
	for i, w := range resp.Data.Items {
		sku, err := w.SKU()
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i+1, err)
		}
		mod, keep, err := modified(w.Modified, prev, sku, len(out) == 0)
		if err != nil {
			return nil, fmt.Errorf("item %d (%s): %w", i+1, sku, err)
		}
		if !keep {
			continue
		}
		cost, err := schemas.ParseDecimal(w.UnitCost)
		if err != nil {
			return nil, fmt.Errorf("item %d (%s): UnitCost: %w", i+1, sku, err)
		}
		if !validCurrency(w.Currency) {
			return nil, fmt.Errorf("item %d (%s): Currency %q is not an ISO 4217 code", i+1, sku, w.Currency)
		}
		prev = Cursor{Modified: mod, Key: sku}
		out = append(out, Item{SKU: sku, Description: w.Description, ClarusCode: w.ClarusCode, StockItem: w.StockItem,
			Active: w.Active, UnitCost: cost, Currency: w.Currency, Modified: mod})
	}
	return out, nil
}

// levelsFrom converts a StockLevelsModifiedSince answer, all or nothing.
func levelsFrom(resp *wire.Response, since Cursor) ([]StockLevel, error) {
	if resp.Data == nil {
		return nil, nil
	}
	out := make([]StockLevel, 0, len(resp.Data.StockLevels))
	prev := since
	for i, w := range resp.Data.StockLevels {
		sku, err := w.SKU()
		if err != nil {
			return nil, fmt.Errorf("stock level %d: %w", i+1, err)
		}
		if w.Warehouse == "" {
			return nil, fmt.Errorf("stock level %d (%s): no Warehouse", i+1, sku)
		}
		key := schemas.StockKey(sku, w.Warehouse)
		mod, keep, err := modified(w.Modified, prev, key, len(out) == 0)
		if err != nil {
			return nil, fmt.Errorf("stock level %d (%s): %w", i+1, key, err)
		}
		if !keep {
			continue
		}
		prev = Cursor{Modified: mod, Key: key}
		out = append(out, StockLevel{SKU: sku, Warehouse: w.Warehouse, Available: w.Available, OnHand: w.OnHand, Modified: mod})
	}
	return out, nil
}

// modified parses a record's stamp and checks that it comes after prev,
// the cursor or the record before: a page out of order would make the
// cursor skip records. Records at or before the cursor at the head of a
// page are dropped (keep is false), so a server whose ModifiedSince is
// inclusive repeats nothing downstream.
func modified(s string, prev Cursor, key string, head bool) (t time.Time, keep bool, err error) {
	t, err = wire.ParseTime(s)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("Modified: %w", err)
	}
	t = t.UTC()
	if c := t.Compare(prev.Modified); c > 0 || c == 0 && key > prev.Key {
		return t, true, nil
	}
	if head {
		return t, false, nil
	}
	return time.Time{}, false, fmt.Errorf("out of (Modified, key) order after %s", prev.Key)
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for _, r := range c {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
