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

// goodsOutBody is a valid create request for products by id, with the
// given attributes replaced (a nil value removes one).
func goodsOutBody(lines string, attrs map[string]any) string {
	a := map[string]any{
		"goods_out_type": "sales_order", "account_id": 1, "warehouse_id": "1", "reference": "SO-1",
		"expected_date_of_dispatch": "2026-03-03T09:00:00Z", "external_system_reference1": "SO-1", "string1": "v3",
	}
	for k, v := range attrs {
		if v == nil {
			delete(a, k)
		} else {
			a[k] = v
		}
	}
	b, _ := json.Marshal(a)
	return fmt.Sprintf(`{"data":{"type":"goods_outs","attributes":%s,"relationships":{"address":{"data":{"type":"addresses",
		"attributes":{"name":"Ada Lovelace","address_1":"1 Analytical St","address_3":"London","postcode":"N1 1AA","country_code":"GB"}}}}}}`,
		strings.Replace(string(b), "}", `,"lines_changes":`+lines+"}", 1))
}

// restEnv is an env with products A (id 1) and B (id 2) in WH1 and a
// token's headers.
func restEnv(t *testing.T) (*env, map[string]string) {
	e := newEnv(t, clarussim.Config{})
	e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", Lines: []clarussim.Line{{SKU: "A", Quantity: 10}, {SKU: "B", Quantity: 10}}})
	return e, map[string]string{"Authorization": "Bearer " + e.token(), "X-Clarus-Subdomain": "acme", "Content-Type": "application/json"}
}

const twoLines = `[{"type":"ADD","attributes":{"product_id":"1","order_quantity":3}},{"type":"ADD","attributes":{"product_id":2,"order_quantity":1}}]`

func TestCreateGoodsOut(t *testing.T) {
	e, h := restEnv(t)
	for i, path := range []string{"/api/goods_outs", "/api/v1/goods_outs"} {
		status, _, body := e.do(http.MethodPost, path, goodsOutBody(twoLines, nil), h)
		var ans struct {
			Data struct {
				ID, Type   string
				Attributes map[string]any
			}
		}
		if status != 201 || json.Unmarshal([]byte(body), &ans) != nil || ans.Data.ID == "" || ans.Data.Type != "goods_outs" ||
			ans.Data.Attributes["reference"] != "SO-1" || ans.Data.Attributes["goods_out_status_id"] != 2.0 || ans.Data.Attributes["string1"] != "v3" {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		// The same reference again is accepted: a second order.
		if n := len(e.sim.State().Orders); n != i+1 {
			t.Fatalf("%d orders after %d creates", n, i+1)
		}
	}
	o := e.sim.State().Orders[0]
	want := []clarussim.OrderLine{{SKU: "A", Quantity: 3}, {SKU: "B", Quantity: 1}}
	if o.Status != "PENDING" || !slices.Equal(o.History, []string{"DRAFT", "PENDING"}) || !slices.Equal(o.Lines, want) ||
		o.Warehouse != "WH1" || o.ExternalSystemReference1 != "SO-1" || o.String1 != "v3" || o.Address == nil || o.Address.CountryCode != "GB" {
		t.Fatalf("order %+v", o)
	}
	// Nothing is allocated until the warehouse allocates.
	if st := e.sim.State(); st.Stock[0].Allocated != 0 {
		t.Fatalf("allocated at creation: %+v", st.Stock)
	}
	for name, hdr := range map[string]map[string]string{
		"no token":     {"X-Clarus-Subdomain": "acme"},
		"no subdomain": {"Authorization": h["Authorization"]},
	} {
		if status, _, _ := e.do(http.MethodPost, "/api/goods_outs", goodsOutBody(twoLines, nil), hdr); status != 401 {
			t.Errorf("%s: %d", name, status)
		}
	}
}

// Every refusal names its field, and creates nothing.
func TestCreateGoodsOutRefusals(t *testing.T) {
	e, h := restEnv(t)
	line := func(attrs string) string { return `[{"type":"ADD","attributes":` + attrs + `}]` }
	for name, tc := range map[string]struct {
		body    string
		status  int
		field   string // in the error message
		pointer string
	}{
		"no goods_out_type":   {goodsOutBody(twoLines, map[string]any{"goods_out_type": nil}), 422, "goods_out_type can't be blank", "/data/attributes/goods_out_type"},
		"bad goods_out_type":  {goodsOutBody(twoLines, map[string]any{"goods_out_type": "return"}), 422, "goods_out_type is not included", ""},
		"unknown product":     {goodsOutBody(line(`{"product_id":"99","order_quantity":1}`), nil), 422, "lines_changes[0].attributes.product_id does not exist", "/data/attributes/lines_changes/0/attributes/product_id"},
		"no product":          {goodsOutBody(line(`{"order_quantity":1}`), nil), 422, "product_id can't be blank", ""},
		"zero quantity":       {goodsOutBody(line(`{"product_id":"1","order_quantity":0}`), nil), 422, "order_quantity must be greater than 0", ""},
		"fractional quantity": {goodsOutBody(line(`{"product_id":"1","order_quantity":1.5}`), nil), 422, "order_quantity must be a whole number", ""},
		"long reference":      {goodsOutBody(twoLines, map[string]any{"reference": strings.Repeat("R", 51)}), 422, "reference is too long (maximum is 50 characters)", ""},
		"unknown warehouse":   {goodsOutBody(twoLines, map[string]any{"warehouse_id": 42}), 422, "warehouse_id does not exist", ""},
		"unknown account":     {goodsOutBody(twoLines, map[string]any{"account_id": 7}), 422, "account_id does not exist", ""},
		"no account":          {goodsOutBody(twoLines, map[string]any{"account_id": nil}), 422, "account_id can't be blank", ""},
		"no dispatch date":    {goodsOutBody(twoLines, map[string]any{"expected_date_of_dispatch": nil}), 422, "expected_date_of_dispatch can't be blank", ""},
		"misspelt attribute":  {goodsOutBody(twoLines, map[string]any{"external_system_referense1": "x"}), 422, "external_system_referense1 is not a known attribute", ""},
		"update on create":    {goodsOutBody(`[{"type":"UPDATE","id":"5","attributes":{"order_quantity":1}}]`, nil), 422, "lines_changes[0].id does not belong", ""},
		"no lines":            {goodsOutBody(`[]`, nil), 422, "lines_changes must add at least one line", ""},
		"bad country":         {strings.Replace(goodsOutBody(twoLines, nil), `"GB"`, `"GBR"`, 1), 422, "address.country_code must be an ISO 3166-1 alpha-2 code", "/data/relationships/address/data/attributes/country_code"},
		"not JSON:API":        {`{"goods_out_type":"sales_order"}`, 400, `no \"data\" object`, ""},
		"not JSON":            {`{"data":`, 400, "Invalid JSON:API body", ""},
	} {
		status, _, body := e.do(http.MethodPost, "/api/goods_outs", tc.body, h)
		var ans struct {
			Error  string
			Errors []struct{ Source struct{ Pointer string } }
		}
		if status != tc.status || json.Unmarshal([]byte(body), &ans) != nil || !strings.Contains(body, tc.field) {
			t.Errorf("%s: %d %s", name, status, body)
			continue
		}
		if tc.pointer != "" && (len(ans.Errors) == 0 || ans.Errors[0].Source.Pointer != tc.pointer) {
			t.Errorf("%s: pointer %+v", name, ans.Errors)
		}
	}
	if n := len(e.sim.State().Orders); n != 0 {
		t.Fatalf("%d orders created by refused requests", n)
	}
}

// Cancel follows the documented table: DRAFT/PENDING deleted, allocated
// and picking cancelled with their stock released, COMPLETED refused.
func TestCancelGoodsOut(t *testing.T) {
	e, h := restEnv(t)
	create := func(ref string) string {
		t.Helper()
		status, _, body := e.do(http.MethodPost, "/api/goods_outs", goodsOutBody(twoLines, map[string]any{"reference": ref}), h)
		var ans struct{ Data struct{ ID string } }
		if status != 201 || json.Unmarshal([]byte(body), &ans) != nil {
			t.Fatalf("create %s: %d %s", ref, status, body)
		}
		return ans.Data.ID
	}
	pending, allocated, picking, dispatched := create("P"), create("A"), create("K"), create("D")
	e.apply(clarussim.Event{Type: "allocate", Reference: "A"},
		clarussim.Event{Type: "allocate", Reference: "K"}, clarussim.Event{Type: "pick", Reference: "K"},
		clarussim.Event{Type: "allocate", Reference: "D"}, clarussim.Event{Type: "dispatch", Reference: "D"})
	for _, tc := range []struct {
		id, path string
		status   int
		want     string
	}{
		{pending, "/api/goods_outs/%s/cancel", 200, `"deleted":true`},
		{allocated, "/api/v1/goods_outs/%s/cancel", 200, `"code":"CANCELLED"`},
		{picking, "/api/goods_outs/%s/cancel", 200, `"deleted":false`},
		{dispatched, "/api/goods_outs/%s/cancel", 422, `"error":"Cannot cancel - already dispatched"`},
		{allocated, "/api/goods_outs/%s/cancel", 422, "already cancelled"},
		{pending, "/api/goods_outs/%s/cancel", 404, "not found"},
		{"x", "/api/goods_outs/%s/cancel", 404, "not found"},
	} {
		if status, _, body := e.do(http.MethodPost, fmt.Sprintf(tc.path, tc.id), "", h); status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("cancel %s: %d %s", tc.id, status, body)
		}
	}
	st := e.sim.State()
	var statuses []string
	for _, o := range st.Orders {
		statuses = append(statuses, o.Reference+":"+o.Status)
	}
	if !slices.Equal(statuses, []string{"A:CANCELLED", "K:CANCELLED", "D:COMPLETED"}) {
		t.Fatalf("orders %v", statuses)
	}
	for _, b := range st.Stock {
		if b.Allocated != 0 {
			t.Fatalf("stock still allocated after cancelling: %+v", st.Stock)
		}
	}
}

// Injected faults reach the REST writes: a 503 before anything is
// written, and a timeout after the write, which leaves the order created
// and the client without an answer.
func TestGoodsOutFaults(t *testing.T) {
	e, h := restEnv(t)
	e.sim.SetFaults(clarussim.Faults{UnavailableRate: 1})
	if status, hdr, _ := e.do(http.MethodPost, "/api/goods_outs", goodsOutBody(twoLines, nil), h); status != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("unavailable: %d", status)
	}
	e.sim.SetFaults(clarussim.Faults{TimeoutAfterWriteRate: 1})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/goods_outs", strings.NewReader(goodsOutBody(twoLines, nil)))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("timeout after write answered %d", resp.StatusCode)
	}
	if n := len(e.sim.State().Orders); n != 1 {
		t.Fatalf("%d orders: want the one written before the answer was lost", n)
	}
}

// The documented reads: goods outs by reference, their lines, products by
// code, all in strict mode.
func TestGoodsOutQueries(t *testing.T) {
	e, h := restEnv(t)
	for range 2 {
		if status, _, body := e.do(http.MethodPost, "/api/goods_outs", goodsOutBody(twoLines, nil), h); status != 201 {
			t.Fatalf("create: %d %s", status, body)
		}
	}
	e.apply(clarussim.Event{Type: "allocate", Reference: "SO-1"}, clarussim.Event{Type: "cancel", Reference: "SO-1"})
	_, ans := e.gql(`query($f: GoodsOutsFilterType) { goods_outs { all(filter: $f) { edges { node { id reference goods_out_status { code name } warehouse { id code } } } pageInfo { hasNextPage } } } }`,
		map[string]any{"f": map[string]any{"reference": map[string]any{"eq": "SO-1"}}})
	edges, _ := path(ans, "data", "goods_outs", "all", "edges").([]any)
	if len(edges) != 2 || path(edges[0], "node", "goods_out_status", "code") != "CANCELLED" || path(edges[1], "node", "goods_out_status", "code") != "PENDING" ||
		path(edges[1], "node", "warehouse", "code") != "WH1" {
		t.Fatalf("goods outs: %v", ans)
	}
	id := path(edges[1], "node", "id")
	_, ans = e.gql(`query($f: GoodsOutLineFilterType) { goods_out_lines { all(filter: $f) { edges { node { order_quantity product { id code } goods_out { id reference } } } } } }`,
		map[string]any{"f": map[string]any{"goods_out_id": map[string]any{"in": []any{id}}}})
	lines, _ := path(ans, "data", "goods_out_lines", "all", "edges").([]any)
	if len(lines) != 2 || path(lines[0], "node", "product", "code") != "A" || path(lines[0], "node", "order_quantity") != 3.0 ||
		path(lines[1], "node", "goods_out", "id") != id {
		t.Fatalf("lines: %v", ans)
	}
	_, ans = e.gql(`{ products { all(filter: {code: {in: ["B", "Z"]}}) { edges { node { id code } } } } }`, nil)
	if p, _ := path(ans, "data", "products", "all", "edges").([]any); len(p) != 1 || path(p[0], "node", "id") != "2" {
		t.Fatalf("products: %v", ans)
	}
	// What the documentation does not show is refused in strict mode.
	if _, ans = e.gql(`{ goods_outs { all { edges { node { string1 } } } } }`, nil); firstError(ans) == "" {
		t.Fatalf("an undocumented field was served: %v", ans)
	}
}
