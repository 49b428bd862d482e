package schemas

import "testing"

func TestSplitStockKey(t *testing.T) {
	for key, want := range map[string][2]string{
		"TSHIRT@LON1":   {"TSHIRT", "LON1"},
		"odd@sku@LON1":  {"odd@sku", "LON1"},
		"@LON1":         {},
		"TSHIRT@":       {},
		"no-warehouse":  {},
		"A@B":           {"A", "B"},
		"A-1@LON1@MAN2": {"A-1@LON1", "MAN2"},
	} {
		sku, wh, ok := SplitStockKey(key)
		if ok != (want != [2]string{}) || sku != want[0] || wh != want[1] {
			t.Errorf("SplitStockKey(%q) = %q, %q, %v", key, sku, wh, ok)
		}
	}
}
