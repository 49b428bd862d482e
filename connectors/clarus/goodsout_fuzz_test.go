package clarus

import (
	"testing"
)

// The order sink's decoders of Clarus answers take outside bytes: whatever
// Clarus (or a proxy in front of it) answers, they return an error rather
// than panic, and what they return holds together.
func FuzzGoodsOutAnswers(f *testing.F) {
	for _, seed := range []string{
		`{"products":{"all":{"edges":[{"node":{"id":"1","code":"A"}},{"node":{"id":2,"code":"B"}}],"pageInfo":{"hasNextPage":false,"endCursor":null}}}}`,
		`{"goods_outs":{"all":{"edges":[{"node":{"id":"1003","reference":"SO-1","goods_out_status":{"code":"PENDING"}}}],"pageInfo":{"hasNextPage":true,"endCursor":"YQ"}}}}`,
		`{"goods_out_lines":{"all":{"edges":[{"node":{"id":"9","order_quantity":2.0,"product":{"id":"1","code":"A"},"goods_out":{"id":"1003"}}}],"pageInfo":{"hasNextPage":false}}}}`,
		`{"data":{"id":"1003","type":"goods_outs","attributes":{"reference":"SO-1"}}}`,
		`{"error":"reference is too long","errors":[{"detail":"reference is too long"}]}`,
		`{"goods_outs":{"all":{"edges":[{"node":{"id":"a b","goods_out_status":{}}}]}}}`,
		`{"goods_out_lines":{"all":{"edges":[{"node":{"order_quantity":"2"}}]}}}`,
		`null`, ``, `[]`, `{"error":{"nested":1}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out := map[string]string{}
		if _, err := decodeProducts(b, map[string]bool{"A": true, "B": true}, out); err == nil {
			for code, id := range out {
				if (code != "A" && code != "B") || !validID(id) {
					t.Fatalf("product %q id %q", code, id)
				}
			}
		}
		if gos, _, err := decodeGoodsOuts(b, "SO-1"); err == nil {
			for _, g := range gos {
				if g.Reference != "SO-1" || !validID(g.ID) || g.Status == "" {
					t.Fatalf("goods out %+v", g)
				}
			}
		}
		if lines, _, err := decodeGoodsOutLines(b); err == nil {
			for _, l := range lines {
				if !validID(l.GoodsOutID) {
					t.Fatalf("line %+v", l)
				}
			}
		}
		if id, err := decodeCreated(b); err == nil && !validID(id) {
			t.Fatalf("created id %q", id)
		}
		if e := apiError("x", 422, b); len(e.Message) > 210 || len(e.Body) > 210 {
			t.Fatalf("error text not cut: %d %d", len(e.Message), len(e.Body))
		}
	})
}
