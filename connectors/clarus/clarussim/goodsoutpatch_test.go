package clarussim_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
)

// PATCH /api/goods_outs/{id}: string fields of any goods out, a dispatched
// one included, in the JSON:API envelope; a repeat is harmless; what the
// simulator does not change is refused, and nothing of a refused update is
// kept.
func TestUpdateGoodsOut(t *testing.T) {
	e, h := restEnv(t)
	e.apply(clarussim.Event{Type: "allocate", Warehouse: "WH1", Reference: "SO-1", SKU: "A", Quantity: 2},
		clarussim.Event{Type: "dispatch", Reference: "SO-1"})
	o := order(t, e, "SO-1")
	body := func(attrs string) string {
		return fmt.Sprintf(`{"data":{"type":"goods_outs","id":"%d","attributes":%s}}`, o.ID, attrs)
	}
	for i, p := range []string{"/api/goods_outs/", "/api/v1/goods_outs/"} {
		status, _, ans := e.do(http.MethodPatch, p+fmt.Sprint(o.ID), body(`{"string5":"prima-despatched"}`), h)
		if status != http.StatusOK || !strings.Contains(ans, `"string5":"prima-despatched"`) || !strings.Contains(ans, `"goods_out_status_id":6`) {
			t.Fatalf("update %d: %d %s", i, status, ans)
		}
	}
	if o := order(t, e, "SO-1"); o.String5 != "prima-despatched" || o.Status != "COMPLETED" || o.String1 != "" {
		t.Fatalf("after the update: %+v", o)
	}

	for name, c := range map[string]struct {
		path, body string
		status     int
		want       string
	}{
		"unknown goods out": {"/api/goods_outs/999999", body(`{"string5":"x"}`), 404, "Goods out not found"},
		"not an id":         {"/api/goods_outs/abc", body(`{"string5":"x"}`), 404, "Goods out not found"},
		"wrong type":        {"", strings.Replace(body(`{"string5":"x"}`), "goods_outs", "goods_in_receipts", 1), 422, "type must be goods_outs"},
		"other id in body":  {"", `{"data":{"type":"goods_outs","id":"1","attributes":{"string5":"x"}}}`, 422, "id does not match"},
		"unknown attribute": {"", body(`{"string5":"x","string6":"y"}`), 422, "string6 is not a known attribute"},
		"lines":             {"", body(`{"string5":"x","lines_changes":[]}`), 422, "lines_changes is not supported"},
		"other warehouse":   {"", body(`{"string5":"x","warehouse_id":2}`), 422, "warehouse_id cannot be changed"},
		"not a string":      {"", body(`{"string5":5}`), 422, "string5 must be a string"},
		"blank reference":   {"", body(`{"string5":"x","reference":""}`), 422, "reference can't be blank"},
		"not JSON:API":      {"", `{"string5":"x"}`, 400, "Invalid JSON:API body"},
		"no token":          {"", body(`{"string5":"x"}`), 401, ""},
	} {
		hdr := h
		if name == "no token" {
			hdr = map[string]string{"X-Clarus-Subdomain": "acme", "Content-Type": "application/json"}
		}
		p := c.path
		if p == "" {
			p = "/api/goods_outs/" + fmt.Sprint(o.ID)
		}
		if status, _, ans := e.do(http.MethodPatch, p, c.body, hdr); status != c.status || !strings.Contains(ans, c.want) {
			t.Errorf("%s: %d %s, want %d with %q", name, status, ans, c.status, c.want)
		}
	}
	if o := order(t, e, "SO-1"); o.String5 != "prima-despatched" || o.Reference != "SO-1" {
		t.Fatalf("a refused update was kept: %+v", o)
	}
}
