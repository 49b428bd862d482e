package itemmaster

import (
	"context"
	"testing"

	"github.com/lockstep-dev/lockstep/schemas"
)

func TestMapping(t *testing.T) {
	items := Static{
		"A": {ClarusCode: "C-A", StockItem: true, Active: true},
		"B": {StockItem: true, Active: true},
		"C": {ClarusCode: "C-C", StockItem: true, Active: false},
		"D": {ClarusCode: "C-D", StockItem: false, Active: true}, // non-stock: the caller's rule
	}.Items()
	for sku, want := range map[string][2]string{
		"A": {"C-A", ""}, "B": {"", "without a Clarus product code in Prima's item master"},
		"C": {"", "discontinued in Prima"}, "D": {"C-D", ""}, "Z": {"", "unknown to Prima's item master"},
	} {
		if _, code, reason := items.Mapping(sku); code != want[0] || reason != want[1] {
			t.Errorf("Mapping(%s) = %q, %q; want %q, %q", sku, code, reason, want[0], want[1])
		}
	}
}

func TestStaticCodes(t *testing.T) {
	codes := Static{"B": {ClarusCode: "C-1"}, "A": {ClarusCode: "C-1"}, "U": {}}.Codes()
	if it, ok := codes("C-1"); !ok || it.SKU != "A" {
		t.Errorf("codes(C-1) = %+v, %v; want A, the first SKU", it, ok)
	}
	if _, ok := codes(""); ok {
		t.Error("an unmapped item answers for the empty code")
	}
}

// TestTableCodes: the index follows the records decoded, and answers only
// for the code an item names in the table now.
func TestTableCodes(t *testing.T) {
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	tb := NewTable("prima.items", serde)
	rows := map[string]Item{}
	put := func(sku, code string, cost string) {
		ev := &schemas.Item{Meta: schemas.Meta{EventID: sku + code, Source: schemas.SourcePrima}, SKU: sku, StockItem: true, Active: true,
			UnitCost: schemas.MustParseDecimal(cost), Currency: "GBP"}
		if code != "" {
			ev.ClarusCode = &code
		}
		v, err := serde.Encode(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		it, err := tb.Global().Decode(context.Background(), v)
		if err != nil {
			t.Fatal(err)
		}
		rows[sku] = it.(Item) // as the runtime keeps it, by key
	}
	codes := tb.codes(Static(rows).Items())
	put("BOOT/9", "SKU-1", "5")
	if it, ok := codes("SKU-1"); !ok || it.SKU != "BOOT/9" || it.UnitCost != schemas.MustParseDecimal("5") || it.Currency != "GBP" {
		t.Fatalf("codes(SKU-1) = %+v, %v", it, ok)
	}
	put("BOOT/9", "SKU-2", "5") // remapped: SKU-1 is no one's now
	if it, ok := codes("SKU-1"); ok {
		t.Errorf("codes(SKU-1) after the remap = %+v", it)
	}
	if it, ok := codes("SKU-2"); !ok || it.SKU != "BOOT/9" {
		t.Errorf("codes(SKU-2) = %+v, %v", it, ok)
	}
	delete(rows, "BOOT/9") // a tombstone
	if _, ok := codes("SKU-2"); ok {
		t.Error("a deleted item still answers")
	}
}
