package itemmaster

import (
	"context"
	"slices"
	"sync"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Table is prima.items as a global table of one processor: the runtime
// reads it and answers by SKU (its key); Table adds the answer by Clarus
// code, which the runtime cannot give, from an index it keeps as it
// decodes the records.
type Table struct {
	topic string
	serde *schemas.Serde

	mu     sync.Mutex // Decode runs in the runtime's table reader, lookups in the processing loop
	byCode map[string][]string
}

// NewTable is the item master read from topic (prefix applied).
func NewTable(topic string, serde *schemas.Serde) *Table {
	return &Table{topic: topic, serde: serde, byCode: map[string][]string{}}
}

// Global declares the table to the runtime, for Topology.Globals.
func (t *Table) Global() stream.GlobalTable {
	return stream.GlobalTable{Topic: t.topic, Decode: t.decode}
}

func (t *Table) decode(ctx context.Context, v []byte) (any, error) {
	var ev schemas.Item
	if err := t.serde.Decode(ctx, v, &ev); err != nil {
		return nil, err
	}
	it := FromEvent(&ev)
	if it.ClarusCode != "" {
		t.mu.Lock()
		if skus := t.byCode[it.ClarusCode]; !slices.Contains(skus, it.SKU) {
			i, _ := slices.BinarySearch(skus, it.SKU)
			t.byCode[it.ClarusCode] = slices.Insert(skus, i, it.SKU)
		}
		t.mu.Unlock()
	}
	return it, nil
}

// Items looks items up by SKU in the table as ctx's processor has read it.
func (t *Table) Items(ctx *stream.Context) Items {
	return func(sku string) (Item, bool) {
		v, ok := ctx.Global(t.topic, sku)
		if !ok {
			return Item{}, false
		}
		it, ok := v.(Item)
		return it, ok
	}
}

// Codes looks items up by Clarus code. The index only grows (a tombstone
// is never decoded, and a remapped SKU keeps its old entry), so every SKU
// it names is checked against the table by SKU: an item answers only for
// the code it names now. Of several, the first in SKU order answers.
func (t *Table) Codes(ctx *stream.Context) Codes { return t.codes(t.Items(ctx)) }

func (t *Table) codes(items Items) Codes {
	return func(code string) (Item, bool) {
		t.mu.Lock()
		skus := slices.Clone(t.byCode[code])
		t.mu.Unlock()
		for _, sku := range skus {
			if it, ok := items(sku); ok && it.ClarusCode == code {
				return it, true
			}
		}
		return Item{}, false
	}
}
