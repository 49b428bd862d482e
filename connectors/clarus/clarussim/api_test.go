package clarussim_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
)

func TestOAuthAndHeaders(t *testing.T) {
	e := newEnv(t, clarussim.Config{ClientID: "lockstep", ClientSecret: "secret", Subdomain: "acme", TokenTTL: time.Minute})
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for name, tc := range map[string]struct {
		body    string
		headers map[string]string
		status  int
		want    string
	}{
		"wrong secret": {"grant_type=client_credentials&client_id=lockstep&client_secret=nope", form, 401, "invalid_client"},
		"wrong grant":  {"grant_type=password&client_id=lockstep&client_secret=secret", form, 400, "unsupported_grant_type"},
		"basic auth":   {"grant_type=client_credentials", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic bG9ja3N0ZXA6c2VjcmV0"}, 200, `"token_type":"Bearer"`},
		"json body":    {`{"grant_type":"client_credentials","client_id":"lockstep","client_secret":"secret"}`, map[string]string{"Content-Type": "application/json"}, 200, `"expires_in":60`},
	} {
		status, _, body := e.do(http.MethodPost, "/oauth/token", tc.body, tc.headers)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	tok := e.token()
	q := `{"query":"{ stock_balances { all { edges { cursor } } } }"}`
	for name, tc := range map[string]struct {
		headers map[string]string
		status  int
		want    string
	}{
		"no token":        {map[string]string{"X-Clarus-Subdomain": "acme"}, 401, "Missing bearer token"},
		"no subdomain":    {map[string]string{"Authorization": "Bearer " + tok}, 401, "X-Clarus-Subdomain"},
		"unknown token":   {map[string]string{"Authorization": "Bearer nope", "X-Clarus-Subdomain": "acme"}, 401, "invalid"},
		"other subdomain": {map[string]string{"Authorization": "Bearer " + tok, "X-Clarus-Subdomain": "other"}, 403, "Unknown subdomain"},
		"valid":           {map[string]string{"Authorization": "Bearer " + tok, "X-Clarus-Subdomain": "acme"}, 200, `"edges":[]`},
	} {
		status, _, body := e.do(http.MethodPost, "/graphql", q, tc.headers)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	e.clock.Advance(time.Minute)
	status, h, body := e.do(http.MethodPost, "/graphql", q, map[string]string{"Authorization": "Bearer " + tok, "X-Clarus-Subdomain": "acme"})
	if status != 401 || !strings.Contains(body, "expired") || !strings.Contains(h.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("expired token: %d %s %v", status, body, h)
	}
}

func TestRateLimitAndErrors(t *testing.T) {
	e := newEnv(t, clarussim.Config{})
	e.sim.SetFaults(clarussim.Faults{RateLimitPerSecond: 2})
	tok := e.token() // request 1 of this second
	h := map[string]string{"Authorization": "Bearer " + tok, "X-Clarus-Subdomain": "acme"}
	q := `{"query":"{ stock_balances { all { edges { cursor } } } }"}`
	if status, _, _ := e.do(http.MethodPost, "/graphql", q, h); status != 200 {
		t.Fatalf("second request: %d", status)
	}
	e.clock.Advance(250 * time.Millisecond)
	status, hdr, body := e.do(http.MethodPost, "/graphql", q, h)
	if status != 429 || hdr.Get("Retry-After") != "1" || !strings.Contains(body, `"error"`) {
		t.Fatalf("third request: %d %v %s", status, hdr, body)
	}
	e.clock.Advance(750 * time.Millisecond)
	if status, _, _ := e.do(http.MethodPost, "/graphql", q, h); status != 200 {
		t.Fatalf("next second: %d", status)
	}

	e.sim.SetFaults(clarussim.Faults{Seed: 9, ErrorRate: 1})
	status, _, body = e.do(http.MethodPost, "/graphql", q, h)
	if status != 500 && status != 503 || !strings.Contains(body, `"error"`) {
		t.Fatalf("error rate 1: %d %s", status, body)
	}
	e.sim.SetFaults(clarussim.Faults{Seed: 9, MalformedRate: 1})
	status, _, body = e.do(http.MethodPost, "/graphql", q, h)
	if status != 200 || json.Valid([]byte(body)) {
		t.Fatalf("malformed rate 1: %d %s", status, body)
	}
}

func TestControlAPI(t *testing.T) {
	e := newEnv(t, clarussim.Config{})
	status, _, body := e.do(http.MethodPost, "/_sim/events", `{"events":[
		{"type":"receive","warehouse":"WH1","lines":[{"sku":"A","quantity":10}],"reference":"PO-1"},
		{"type":"allocate","warehouse":"WH1","sku":"A","quantity":4,"reference":"SO-1"},
		{"type":"hold","warehouse":"WH1","sku":"A","quantity":2,"reason":"QC"},
		{"type":"adjust","warehouse":"WH1","sku":"A","quantity":-1}]}`, nil)
	if status != 200 || strings.Count(body, `"record_id"`) != 4 {
		t.Fatalf("events: %d %s", status, body)
	}
	status, _, body = e.do(http.MethodPost, "/_sim/events", `{"type":"hold","warehouse":"WH1","sku":"A","quantity":4}`, nil)
	if status != 422 || !strings.Contains(body, "only 3 available") {
		t.Fatalf("hold beyond available: %d %s", status, body)
	}
	if status, _, body = e.do(http.MethodPost, "/_sim/events", `{"type":"teleport"}`, nil); status != 422 {
		t.Fatalf("unknown event: %d %s", status, body)
	}
	_, _, body = e.do(http.MethodGet, "/_sim/state", "", nil)
	var st clarussim.State
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Stock) != 1 || st.Stock[0].OnHand != 9 || st.Stock[0].Held != 2 || st.Stock[0].Allocated != 4 ||
		st.Stock[0].Available != 3 || len(st.Movements) != 4 || len(st.Orders) != 1 || len(st.Held) != 1 {
		t.Fatalf("state %s", body)
	}
	for _, bad := range []string{`{"error_rate":2}`, `{"eror_rate":0.1}`, `{"latency_ms":-1}`} {
		if status, _, _ := e.do(http.MethodPost, "/_sim/faults", bad, nil); status != 400 {
			t.Errorf("faults %s: %d", bad, status)
		}
	}
	if status, _, body := e.do(http.MethodPost, "/_sim/faults", `{"seed":3,"webhook_drop_rate":0.1,"rate_limit_per_second":50}`, nil); status != 200 {
		t.Fatalf("faults: %d %s", status, body)
	}
	if _, _, body := e.do(http.MethodGet, "/_sim/faults", "", nil); !strings.Contains(body, `"webhook_drop_rate":0.1`) {
		t.Fatalf("faults read back: %s", body)
	}
	status, _, body = e.do(http.MethodPost, "/_sim/scenario", `{"seed":4,"skus":10,"warehouses":2,"generate":100}`, nil)
	if status != 200 || !strings.Contains(body, `"generated":`) {
		t.Fatalf("scenario: %d %s", status, body)
	}
	if n := len(e.sim.State().Movements); n < 104 {
		t.Fatalf("%d movements after generating 100", n)
	}
	h := map[string]string{"Authorization": "Bearer " + e.token(), "X-Clarus-Subdomain": "acme"}
	status, _, body = e.do(http.MethodPost, "/api/automations", `{"data":{"type":"automations","attributes":{"resource_name":"goods_out",
		"event":"completed","enabled":true,"actions_changes":[{"type":"ADD","attributes":{"destination_type":"webhook","url":"http://x"}}]}}}`, h)
	if status != 201 || !strings.Contains(body, `"id":"101"`) || !strings.Contains(body, `"url":"http://x"`) {
		t.Fatalf("automation: %d %s", status, body)
	}
}
