package clarussim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
)

// goodsInEnv is an env with products A and B (each with a single unit of
// priority 0), C with a case of priority 0 and a pallet of priority 1, D
// without storage units and KIT, a bill of materials; and a token's
// headers.
func goodsInEnv(t *testing.T, cfg clarussim.Config) (*env, map[string]string, map[string]clarussim.Product) {
	t.Helper()
	e := newEnv(t, cfg)
	ps := map[string]clarussim.Product{}
	for _, p := range []clarussim.Product{
		{Code: "A"}, {Code: "B"},
		{Code: "C", StorageUnits: []clarussim.StorageUnit{{Priority: 1, TypeCode: "PAL", Total: 40}, {Priority: 0, StockConfiguration: "case", TypeCode: "CASE", Total: 6}}},
		{Code: "D", StorageUnits: []clarussim.StorageUnit{}},
		{Code: "KIT", Type: clarussim.ProductBillOfMaterial},
	} {
		got, err := e.sim.DefineProduct(p)
		if err != nil {
			t.Fatal(err)
		}
		ps[p.Code] = got
	}
	return e, map[string]string{"Authorization": "Bearer " + e.token(), "X-Clarus-Subdomain": "acme", "Content-Type": "application/json"}, ps
}

// unit0 is the id of p's storage unit of priority 0.
func unit0(t *testing.T, p clarussim.Product) int64 {
	t.Helper()
	for _, u := range p.StorageUnits {
		if u.Priority == 0 {
			return u.ID
		}
	}
	t.Fatalf("product %s has no storage unit of priority 0", p.Code)
	return 0
}

// addLine is a lines_changes ADD of qty of p with storage unit unit (0:
// none given).
func addLine(p clarussim.Product, unit int64, qty int) map[string]any {
	a := map[string]any{"product_id": p.ID, "expected_quantity": qty}
	if unit != 0 {
		a["product_storage_unit_id"] = fmt.Sprint(unit)
	}
	return map[string]any{"type": "ADD", "attributes": a}
}

// goodsInBody is a pre-receipt create (or update) body with attrs.
func goodsInBody(attrs map[string]any, lines ...map[string]any) string {
	a := map[string]any{}
	for k, v := range attrs {
		if v != nil {
			a[k] = v
		}
	}
	if len(lines) > 0 {
		a["lines_changes"] = lines
	}
	b, _ := json.Marshal(map[string]any{"data": map[string]any{"type": "goods_in_receipts", "attributes": a}})
	return string(b)
}

func preReceipt(ref string) map[string]any {
	return map[string]any{"account_id": 1, "warehouse_id": "1", "reference": ref, "expected_date_of_arrival": "2026-03-09T08:00:00Z",
		"external_system_reference1": ref, "string1": "v1"}
}

// createGoodsIn posts a pre-receipt to path and returns its id.
func (e *env) createGoodsIn(path string, h map[string]string, req string) string {
	t := e.t
	t.Helper()
	status, _, body := e.do(http.MethodPost, path, req, h)
	var ans struct {
		Data struct {
			ID         string         `json:"id"`
			Type       string         `json:"type"`
			Attributes map[string]any `json:"attributes"`
		} `json:"data"`
	}
	if status != 201 || json.Unmarshal([]byte(body), &ans) != nil || ans.Data.ID == "" || ans.Data.Type != "goods_in_receipts" ||
		ans.Data.Attributes["status"] != "pending" {
		t.Fatalf("create: %d %s", status, body)
	}
	return ans.Data.ID
}

// A pre-receipt takes each line's storage unit of priority 0, is pending
// until goods come, and a second one with the same reference is
// accepted: Clarus does not dedupe, the client looks up.
func TestCreatePreReceipt(t *testing.T) {
	e, h, ps := goodsInEnv(t, clarussim.Config{})
	for i, p := range []string{"/api/goods_in_receipts", "/api/v1/goods_in_receipts"} {
		e.createGoodsIn(p, h, goodsInBody(preReceipt("PO-1"), addLine(ps["A"], unit0(t, ps["A"]), 10),
			addLine(ps["C"], unit0(t, ps["C"]), 12)))
		if n := len(e.sim.GoodsIn()); n != i+1 {
			t.Fatalf("%d receipts after %d creates", n, i+1)
		}
	}
	g := e.sim.GoodsIn()[0]
	if g.Reference != "PO-1" || g.Status != "pending" || !g.PreReceipt || g.Warehouse != "WH1" || g.String1 != "v1" ||
		g.ExternalSystemReference1 != "PO-1" || g.ExpectedArrival == nil || len(g.Lines) != 2 ||
		g.Lines[1] != (clarussim.GoodsInLine{ID: g.Lines[1].ID, SKU: "C", StorageUnitID: unit0(t, ps["C"]), Expected: 12}) {
		t.Fatalf("pre-receipt %+v", g)
	}
	if st := e.sim.State(); len(st.GoodsIn) != 2 || len(st.Movements) != 0 {
		t.Fatalf("state: %d receipts, %d movements", len(st.GoodsIn), len(st.Movements))
	}
}

// The documented rule is enforced: a line without the product's storage
// unit of priority 0 is refused, as are unknown and non-stock products and
// what the documentation does not show.
func TestPreReceiptRefusals(t *testing.T) {
	e, h, ps := goodsInEnv(t, clarussim.Config{})
	pallet := ps["C"].StorageUnits[1].ID // priority 1
	for name, c := range map[string]struct {
		body, want string
	}{
		"no storage unit":       {goodsInBody(preReceipt("PO-1"), addLine(ps["A"], 0, 1)), "product_storage_unit_id can't be blank: a receipt line takes the product's storage unit of priority 0"},
		"storage unit not 0":    {goodsInBody(preReceipt("PO-1"), addLine(ps["C"], pallet, 1)), "has priority 1"},
		"another product's":     {goodsInBody(preReceipt("PO-1"), addLine(ps["A"], unit0(t, ps["B"]), 1)), "is a storage unit of product"},
		"product without units": {goodsInBody(preReceipt("PO-1"), addLine(ps["D"], 0, 1)), "product_storage_unit_id can't be blank"},
		"unknown unit":          {goodsInBody(preReceipt("PO-1"), addLine(ps["A"], 9999, 1)), "product_storage_unit_id does not exist"},
		"unknown product":       {goodsInBody(preReceipt("PO-1"), addLine(clarussim.Product{ID: 999}, unit0(t, ps["A"]), 1)), "lines_changes[0].attributes.product_id does not exist"},
		"non-stock product":     {goodsInBody(preReceipt("PO-1"), addLine(ps["KIT"], unit0(t, ps["KIT"]), 1)), "is not a stock product (product_type bill_of_materials)"},
		"no quantity":           {goodsInBody(preReceipt("PO-1"), addLine(ps["A"], unit0(t, ps["A"]), 0)), "expected_quantity must be greater than 0"},
		"GraphQL's date name":   {goodsInBody(map[string]any{"account_id": 1, "warehouse_id": 1, "expected_date_of_receipt": "2026-03-09"}), "expected_date_of_receipt is not a known attribute"},
		"no warehouse":          {goodsInBody(map[string]any{"account_id": 1, "reference": "PO-1"}), "warehouse_id can't be blank"},
		"other account":         {goodsInBody(map[string]any{"account_id": 2, "warehouse_id": 1}), "account_id does not exist"},
		"reference too long":    {goodsInBody(map[string]any{"account_id": 1, "warehouse_id": 1, "reference": strings.Repeat("R", 51)}), "reference is too long"},
		"UPDATE on a new one":   {goodsInBody(preReceipt("PO-1"), map[string]any{"type": "UPDATE", "id": 5, "attributes": map[string]any{"expected_quantity": 2}}), "does not belong to this goods in receipt"},
		"wrong type":            {strings.Replace(goodsInBody(preReceipt("PO-1")), "goods_in_receipts", "goods_outs", 1), "type must be goods_in_receipts"},
	} {
		status, _, body := e.do(http.MethodPost, "/api/goods_in_receipts", c.body, h)
		if status != 422 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want 422 with %q", name, status, body, c.want)
		}
	}
	if n := len(e.sim.GoodsIn()); n != 0 {
		t.Fatalf("%d receipts made by refused requests", n)
	}
}

// A pending pre-receipt takes updates (header and lines) and a cancel;
// once released for receiving it takes neither.
func TestPreReceiptUpdateAndCancel(t *testing.T) {
	e, h, ps := goodsInEnv(t, clarussim.Config{})
	id := e.createGoodsIn("/api/goods_in_receipts", h, goodsInBody(preReceipt("PO-1"), addLine(ps["A"], unit0(t, ps["A"]), 10),
		addLine(ps["B"], unit0(t, ps["B"]), 5)))
	g := e.sim.GoodsIn()[0]
	update := goodsInBody(map[string]any{"expected_date_of_arrival": "2026-03-10T08:00:00Z", "string1": "v2"},
		map[string]any{"type": "UPDATE", "id": g.Lines[0].ID, "attributes": map[string]any{"expected_quantity": 7}},
		map[string]any{"type": "DESTROY", "id": fmt.Sprint(g.Lines[1].ID)},
		addLine(ps["C"], unit0(t, ps["C"]), 3))
	if status, _, body := e.do(http.MethodPatch, "/api/goods_in_receipts/"+id, update, h); status != 200 {
		t.Fatalf("update: %d %s", status, body)
	}
	g = e.sim.GoodsIn()[0]
	if g.String1 != "v2" || g.ExpectedArrival.Day() != 10 || len(g.Lines) != 2 || g.Lines[0].Expected != 7 || g.Lines[1].SKU != "C" || g.Lines[1].Expected != 3 {
		t.Fatalf("after the update %+v", g)
	}
	for name, c := range map[string]struct {
		body, want string
	}{
		"UPDATE of another's line":  {goodsInBody(nil, map[string]any{"type": "UPDATE", "id": 1, "attributes": map[string]any{"expected_quantity": 1}}), "does not belong"},
		"change a line's product":   {goodsInBody(nil, map[string]any{"type": "UPDATE", "id": g.Lines[0].ID, "attributes": map[string]any{"product_id": ps["B"].ID}}), "cannot be changed"},
		"ADD without storage unit":  {goodsInBody(nil, addLine(ps["B"], 0, 1)), "product_storage_unit_id can't be blank"},
		"DESTROY without a line id": {goodsInBody(nil, map[string]any{"type": "DESTROY"}), "can't be blank for DESTROY"},
	} {
		if status, _, body := e.do(http.MethodPatch, "/api/goods_in_receipts/"+id, c.body, h); status != 422 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want 422 with %q", name, status, body, c.want)
		}
	}
	if status, _, _ := e.do(http.MethodPatch, "/api/goods_in_receipts/999", update, h); status != 404 {
		t.Fatalf("update of an unknown receipt: %d", status)
	}
	if status, _, body := e.do(http.MethodPost, "/api/goods_in_receipts/"+id+"/receive", "", h); status != 200 || !strings.Contains(body, `"status":"receiving"`) {
		t.Fatalf("release for receiving: %d %s", status, body)
	}
	for _, c := range []struct{ method, path string }{{http.MethodPatch, "/api/goods_in_receipts/" + id}, {http.MethodPost, "/api/goods_in_receipts/" + id + "/cancel"}} {
		if status, _, body := e.do(c.method, c.path, update, h); status != 422 || !strings.Contains(body, "receiving started") {
			t.Fatalf("%s %s while receiving: %d %s", c.method, c.path, status, body)
		}
	}
	other := e.createGoodsIn("/api/goods_in_receipts", h, goodsInBody(preReceipt("PO-2"), addLine(ps["A"], unit0(t, ps["A"]), 1)))
	if status, _, body := e.do(http.MethodPost, "/api/goods_in_receipts/"+other+"/cancel", "", h); status != 200 || !strings.Contains(body, `"status":"cancelled"`) {
		t.Fatalf("cancel: %d %s", status, body)
	}
	if status, _, body := e.do(http.MethodPost, "/api/goods_in_receipts/"+other+"/cancel", "", h); status != 422 || !strings.Contains(body, "already cancelled") {
		t.Fatalf("second cancel: %d %s", status, body)
	}
	if st := e.sim.GoodsIn(); st[0].Status != "receiving" || st[1].Status != "cancelled" || !slices.Equal(st[1].History, []string{"pending", "cancelled"}) {
		t.Fatalf("receipts %+v", st)
	}
}

// Injected faults reach the pre-receipt writes as they reach goods outs':
// a 503 before the write, and a timeout after it, which leaves the
// pre-receipt made and the client without an answer.
func TestPreReceiptFaults(t *testing.T) {
	e, h, ps := goodsInEnv(t, clarussim.Config{})
	body := goodsInBody(preReceipt("PO-1"), addLine(ps["A"], unit0(t, ps["A"]), 10))
	e.sim.SetFaults(clarussim.Faults{UnavailableRate: 1})
	if status, hdr, _ := e.do(http.MethodPost, "/api/goods_in_receipts", body, h); status != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("unavailable: %d", status)
	}
	e.sim.SetFaults(clarussim.Faults{TimeoutAfterWriteRate: 1})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/goods_in_receipts", strings.NewReader(body))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("timeout after write answered %d", resp.StatusCode)
	}
	if n := len(e.sim.GoodsIn()); n != 1 {
		t.Fatalf("%d receipts: want the one written before the answer was lost", n)
	}
	e.sim.SetFaults(clarussim.Faults{ErrorRate: 1})
	id := fmt.Sprint(e.sim.GoodsIn()[0].ID)
	if status, _, _ := e.do(http.MethodPost, "/api/goods_in_receipts/"+id+"/cancel", "", h); status != 500 {
		t.Fatalf("cancel with errors injected: %d", status)
	}
}

// The reads: receipts by reference and storage units of priority 0 by
// product code are documented and served in strict mode; a receipt's
// lines are assumed, refused in strict mode and served when assumptions
// are allowed.
func TestGoodsInQueries(t *testing.T) {
	for _, assumed := range []bool{false, true} {
		e, h, ps := goodsInEnv(t, clarussim.Config{AllowAssumed: assumed})
		e.createGoodsIn("/api/goods_in_receipts", h, goodsInBody(preReceipt("PO-1"), addLine(ps["A"], unit0(t, ps["A"]), 4)))
		_, ans := e.gql(`query($f: InboundGoodFilterType) { goods_in_receipts { all(filter: $f) { edges { node { id reference status receipt_type expected_date_of_receipt actual_date_of_receipt notes account { id code name } warehouse { id code } } } pageInfo { hasNextPage endCursor } } } }`,
			map[string]any{"f": map[string]any{"reference": map[string]any{"eq": "PO-1"}}})
		edges, _ := path(ans, "data", "goods_in_receipts", "all", "edges").([]any)
		if len(edges) != 1 || path(edges[0], "node", "status") != "pending" || path(edges[0], "node", "expected_date_of_receipt") != "2026-03-09T08:00:00Z" ||
			path(edges[0], "node", "warehouse", "code") != "WH1" || path(edges[0], "node", "actual_date_of_receipt") != nil {
			t.Fatalf("assumed %t: receipts %v", assumed, ans)
		}
		_, ans = e.gql(`query($f: ProductStorageUnitFilterType) { product_storage_units { all(filter: $f) { edges { node { id priority stock_configuration total product { id code } storage_unit_type { code } } } } } }`,
			map[string]any{"f": map[string]any{"product_code": map[string]any{"in": []string{"A", "C", "D"}}, "priority": map[string]any{"eq": 0}}})
		units, _ := path(ans, "data", "product_storage_units", "all", "edges").([]any)
		if len(units) != 2 || path(units[0], "node", "product", "code") != "A" || path(units[1], "node", "id") != fmt.Sprint(unit0(t, ps["C"])) ||
			path(units[1], "node", "stock_configuration") != "case" || path(units[1], "node", "product", "id") != fmt.Sprint(ps["C"].ID) {
			t.Fatalf("assumed %t: storage units %v", assumed, ans)
		}
		_, ans = e.gql(`{ goods_in_receipts { all(filter: {actual_date_of_receipt: {from: "2026-03-01T00:00:00Z"}}) { edges { node { id lines { id expected_quantity received_quantity product { code } } } } } } }`, nil)
		switch msg := firstError(ans); {
		case !assumed && msg == "":
			t.Fatalf("strict mode served a receipt's lines: %v", ans)
		case assumed && msg != "":
			t.Fatalf("assumed lines refused: %v", ans)
		}
	}
}

// The control API defines products: POST /_sim/products, strictly decoded.
func TestDefineProductControl(t *testing.T) {
	e := newEnv(t, clarussim.Config{})
	status, _, body := e.do(http.MethodPost, "/_sim/products", `{"code":"P","storage_units":[{"priority":1,"storage_unit_type":"PAL"}]}`, nil)
	if status != 200 || !strings.Contains(body, `"priority":1`) {
		t.Fatalf("define: %d %s", status, body)
	}
	for _, bad := range []string{`{"code":"P","storage_units":[{"priority":0},{"priority":0}]}`, `{"code":"P","product_type":"service"}`, `{"code":"P","colour":"red"}`} {
		if status, _, body := e.do(http.MethodPost, "/_sim/products", bad, nil); status != 400 {
			t.Errorf("%s: %d %s", bad, status, body)
		}
	}
	if status, _, body := e.do(http.MethodGet, "/_sim/products", "", nil); status != 200 || !strings.Contains(body, `"code":"P"`) {
		t.Fatalf("list: %d %s", status, body)
	}
}
