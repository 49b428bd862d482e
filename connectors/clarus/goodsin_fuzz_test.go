package clarus

import (
	"testing"
)

// The goods-in decoders of Clarus answers take outside bytes: whatever
// Clarus (or a proxy in front of it) answers, they return an error rather
// than panic, and what they return holds together.
func FuzzGoodsInAnswers(f *testing.F) {
	for _, seed := range []string{
		`{"goods_in_receipts":{"all":{"edges":[{"node":{"id":"1001","reference":"PO-1","status":"completed","expected_date_of_receipt":"2026-03-10",` +
			`"actual_date_of_receipt":"2026-03-02T09:00:00.001Z","warehouse":{"id":"1"},"account":{"id":"1"},` +
			`"lines":[{"id":"1002","expected_quantity":10,"received_quantity":12,"product":{"code":"A"}}]}}],"pageInfo":{"hasNextPage":true,"endCursor":"YQ"}}}}`,
		`{"goods_in_receipts":{"all":{"edges":[{"node":{"id":"1","reference":null,"status":"pending","warehouse":{"id":1},"lines":[]}}],"pageInfo":{"hasNextPage":false}}}}`,
		`{"goods_in_receipts":{"all":{"edges":[{"node":{"id":"1","status":"completed","warehouse":{"id":"1"},"actual_date_of_receipt":"yesterday"}}]}}}`,
		`{"goods_in_receipts":{"all":{"edges":[{"node":{"id":"1","status":"completed","warehouse":{"id":"1"},"lines":[{"id":"2","received_quantity":-1,"expected_quantity":0,"product":{"code":"A"}}]}}]}}}`,
		`{"product_storage_units":{"all":{"edges":[{"node":{"id":"9","priority":0,"product":{"id":"150","code":"A"}}},{"node":{"id":"10","priority":1,"product":{"id":"150","code":"A"}}}],"pageInfo":{"hasNextPage":false}}}}`,
		`{"product_storage_units":{"all":{"edges":[{"node":{"id":"9","priority":"0","product":null}}]}}}`,
		`null`, ``, `[]`, `{"goods_in_receipts":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := decodeGoodsIn(b); err == nil {
			for _, g := range p.Receipts {
				if !validID(g.ID) || g.Status == "" || !validID(g.WarehouseID) {
					t.Fatalf("receipt %+v", g)
				}
				for _, l := range g.Lines {
					if !validID(l.ID) || l.Expected < 0 || l.Received < 0 || l.Expected > maxQuantity || l.Received > maxQuantity {
						t.Fatalf("line %+v", l)
					}
				}
				if ev, skip, err := newReceiptMapper(Config{Warehouses: map[string]string{"1": "WH1"}}).read(g); err == nil && skip == "" {
					for _, l := range ev.Lines {
						if l.Quantity <= 0 {
							t.Fatalf("receipt event line %+v", l)
						}
					}
				}
			}
			if p.HasNextPage && p.EndCursor == "" {
				t.Fatal("a next page without a cursor")
			}
		}
		out := map[string]StorageUnit{}
		if _, err := decodeUnits(b, map[string]bool{"A": true}, out); err == nil {
			for code, u := range out {
				if code != "A" || !validID(u.ID) || !validID(u.ProductID) {
					t.Fatalf("unit of %q: %+v", code, u)
				}
			}
		}
	})
}
