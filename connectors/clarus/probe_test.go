package clarus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/broker/brokertest"
	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The probe suite: every bad input the receiver must refuse, sent to the
// real HTTP handler with Kafka behind it. Each must be answered with its
// status and a reason that says what is wrong, and leave nothing on Kafka.

// probeEnv is a running receiver on a kfake cluster.
type probeEnv struct {
	srv   *httptest.Server
	opts  []kgo.Opt
	serde *schemas.Serde
	adm   *kadm.Client
}

func newProbeEnv(t *testing.T, mutate func(*clarus.Config)) *probeEnv {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(brokertest.Kfake(t)...)}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(context.Background(), 1, 1, nil, schemas.TopicStockMovements); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig("http://127.0.0.1:1")
	cfg.WebhookMaxLines = 3
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	env := &probeEnv{opts: opts, serde: schemas.NewSerde(schemas.NewMemRegistry()), adm: adm}
	setReady, ready := readiness()
	o := clarus.Options{Clock: newClock(), SetReady: setReady}
	rcv, err := clarus.NewReceiver(cfg, clarus.NewClient(cfg, o), env.serde, o, opts...)
	if err != nil {
		t.Fatal(err)
	}
	runReceiver(t, rcv, ready)
	mux := http.NewServeMux()
	rcv.Register(mux)
	env.srv = httptest.NewServer(mux)
	t.Cleanup(env.srv.Close)
	return env
}

// stored is how many records the movements topic holds.
func (e *probeEnv) stored(t *testing.T) int64 {
	t.Helper()
	ends, err := e.adm.ListEndOffsets(context.Background(), schemas.TopicStockMovements)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

func (e *probeEnv) send(t *testing.T, h hook) (int, string) {
	t.Helper()
	env := &receiverEnv{srv: e.srv}
	return env.send(t, h)
}

// record builds a webhook body {"data": rec}.
func record(rec map[string]any) string {
	b, err := json.Marshal(map[string]any{"data": rec})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func adjustment(mod func(map[string]any)) string {
	r := map[string]any{"id": 4711, "type": "stock_adjustments", "quantity": 5, "direction": "positive",
		"product": map[string]any{"id": 3, "code": "SKU-1"}, "warehouse": map[string]any{"id": 1, "code": "WH1"},
		"account": map[string]any{"id": 1, "code": "MAIN"}, "reason_code": map[string]any{"code": "FOUND"}, "created_at": "2026-03-02T08:59:00Z"}
	if mod != nil {
		mod(r)
	}
	return record(r)
}

func stockRecord(status string, mod func(map[string]any)) string {
	r := map[string]any{"id": 88, "type": "stocks", "quantity": 2, "status": status,
		"product": map[string]any{"id": 3, "code": "SKU-1"}, "warehouse": map[string]any{"id": 1, "code": "WH1"}, "updated_at": "2026-03-02T08:59:00Z"}
	if mod != nil {
		mod(r)
	}
	return record(r)
}

func lines(n int, qtyField string) []any {
	var out []any
	for i := 1; i <= n; i++ {
		out = append(out, map[string]any{"id": i, "product": map[string]any{"code": fmt.Sprintf("SKU-%d", i)}, qtyField: 1})
	}
	return out
}

func receipt(mod func(map[string]any)) string {
	r := map[string]any{"id": 55, "type": "goods_in_receipts", "reference": "PO-1", "status": "completed",
		"warehouse": map[string]any{"id": 2, "code": "WH2"}, "actual_date_of_receipt": "2026-03-02T08:00:00Z", "lines": lines(2, "received_quantity")}
	if mod != nil {
		mod(r)
	}
	return record(r)
}

func goodsOut(mod func(map[string]any)) string {
	r := map[string]any{"id": 77, "type": "goods_outs", "reference": "SO-1", "goods_out_status_id": 6,
		"goods_out_status": map[string]any{"id": 6, "code": "COMPLETED"}, "warehouse": map[string]any{"id": 2},
		"actual_date_of_dispatch": "2026-03-02T08:30:00Z", "lines": lines(2, "dispatch_quantity")}
	if mod != nil {
		mod(r)
	}
	return record(r)
}

// withCode is an adjustment of the product code.
func withCode(code string) string {
	return adjustment(func(r map[string]any) { r["product"] = map[string]any{"id": 3, "code": code} })
}

func del(keys ...string) func(map[string]any) {
	return func(r map[string]any) {
		for _, k := range keys {
			delete(r, k)
		}
	}
}

type probe struct {
	name   string
	env    string // "" the default receiver, "strict" one with an integration id and an account configured
	hook   hook
	status int
	reason string
}

func probes() []probe {
	h := func(body, automation string, mods ...func(*hook)) hook {
		x := validHook(body, automation)
		for _, m := range mods {
			m(&x)
		}
		return x
	}
	header := func(name, value string) func(*hook) { return func(x *hook) { x.headers[name] = value } }
	adj := adjustment(nil)
	return []probe{
		// The endpoint: token, method, size.
		{name: "bad token", hook: h(adj, "103", func(x *hook) { x.path = "/webhooks/clarus/not-the-token" }), status: 401, reason: "invalid webhook token"},
		{name: "token prefix", hook: h(adj, "103", func(x *hook) { x.path = "/webhooks/clarus/" + testToken[:10] }), status: 401, reason: "invalid webhook token"},
		{name: "wrong method", hook: h(adj, "103", func(x *hook) { x.method = http.MethodGet }), status: 405, reason: "use POST"},
		{name: "oversize body", hook: h(`{"data":{"pad":"`+strings.Repeat("x", 5000)+`"}}`, "103"), status: 413, reason: "exceeds 4096 bytes"},
		{name: "oversize chunked body", hook: h(`{"data":{"pad":"`+strings.Repeat("x", 5000)+`"}}`, "103", func(x *hook) { x.chunked = true }), status: 413, reason: "exceeds 4096 bytes"},

		// The five X-ClarusWMS headers.
		{name: "missing domain", hook: h(adj, "103", header(clarus.HeaderDomain, "")), status: 400, reason: "missing header X-ClarusWMS-Domain"},
		{name: "wrong domain", hook: h(adj, "103", header(clarus.HeaderDomain, "evil.claruswms.co.uk")), status: 403, reason: `X-ClarusWMS-Domain "evil.claruswms.co.uk" does not match the configured "acme.claruswms.co.uk"`},
		{name: "missing API domain", hook: h(adj, "103", header(clarus.HeaderAPIDomain, "")), status: 400, reason: "missing header X-ClarusWMS-API-Domain"},
		{name: "wrong API domain", hook: h(adj, "103", header(clarus.HeaderAPIDomain, "api.example.com")), status: 403, reason: "X-ClarusWMS-API-Domain"},
		{name: "missing subdomain", hook: h(adj, "103", header(clarus.HeaderSubdomain, "")), status: 400, reason: "missing header X-ClarusWMS-Subdomain"},
		{name: "wrong subdomain", hook: h(adj, "103", header(clarus.HeaderSubdomain, "other")), status: 403, reason: "does not match"},
		{name: "missing automation", hook: h(adj, "103", header(clarus.HeaderAutomationID, "")), status: 400, reason: "missing header X-ClarusWMS-Automation-ID"},
		{name: "unknown automation", hook: h(adj, "999"), status: 403, reason: `automation "999" is not configured`},
		{name: "unexpected integration id", hook: h(adj, "103", header(clarus.HeaderIntegrationID, "int-1")), status: 403, reason: "no integration is configured"},
		{name: "repeated subdomain", hook: h(adj, "103", func(x *hook) { x.repeat = clarus.HeaderSubdomain }), status: 400, reason: "sent 2 times"},
		{name: "missing integration id", env: "strict", hook: h(adj, "103"), status: 400, reason: "missing header X-ClarusWMS-Integration-ID"},
		{name: "wrong integration id", env: "strict", hook: h(adj, "103", header(clarus.HeaderIntegrationID, "int-2")), status: 403, reason: `X-ClarusWMS-Integration-ID "int-2" does not match`},

		// The content type.
		{name: "text body", hook: h(adj, "103", header("Content-Type", "text/plain")), status: 415, reason: "want application/json"},
		{name: "form body", hook: h(adj, "103", header("Content-Type", "application/x-www-form-urlencoded")), status: 415, reason: "want application/json"},
		{name: "no content type", hook: h(adj, "103", header("Content-Type", "")), status: 415, reason: "Content-Type"},
		{name: "latin-1 charset", hook: h(adj, "103", header("Content-Type", "application/json; charset=iso-8859-1")), status: 415, reason: "want utf-8"},

		// Bodies that are no JSON record.
		{name: "malformed json", hook: h(`{"data":{"id":1,`, "103"), status: 400, reason: "malformed webhook body"},
		{name: "trailing data", hook: h(adj+`{}`, "103"), status: 400, reason: "data after the JSON object"},
		{name: "not an object", hook: h(`[1,2]`, "103"), status: 400, reason: "malformed webhook body"},
		{name: "no data", hook: h(`{"record":{}}`, "103"), status: 422, reason: `no "data" record`},
		{name: "data not an object", hook: h(`{"data":[1]}`, "103"), status: 422, reason: `"data" is not an object`},

		// Records that do not fit the automation.
		{name: "adjustment on hold", hook: h(adj, "105"), status: 422, reason: "a stock_adjustment record (type \"stock_adjustments\") on a stock.held automation"},
		{name: "adjustment on release", hook: h(adj, "106"), status: 422, reason: "a stock_adjustment record"},
		{name: "stock record on adjustment+", hook: h(stockRecord("held", nil), "103"), status: 422, reason: "a stock record (type \"stocks\") on a stock_adjustment.positive automation"},
		{name: "receipt on goods-out", hook: h(receipt(nil), "101"), status: 422, reason: "a goods_in_receipt record"},
		{name: "goods-out on receipt", hook: h(goodsOut(nil), "102"), status: 422, reason: "a goods_out record"},
		{name: "untyped adjustment on hold", hook: h(adjustment(del("type")), "105"), status: 422, reason: "a stock_adjustment record (direction)"},
		{name: "untyped receipt on goods-out", hook: h(receipt(del("type")), "101"), status: 422, reason: "a goods_in_receipt record"},
		{name: "untyped stock on adjustment+", hook: h(stockRecord("held", del("type")), "103"), status: 422, reason: `a stock record (status "held")`},
		{name: "stock without status", hook: h(stockRecord("held", del("type", "status")), "105"), status: 422, reason: "status is missing"},
		{name: "released record on hold", hook: h(stockRecord("available", nil), "105"), status: 422, reason: `status "available" on a stock.held automation`},
		{name: "goods-out without status", hook: h(goodsOut(del("type", "goods_out_status_id", "goods_out_status")), "101"), status: 422, reason: "goods_out_status_id is missing"},
		{name: "goods-out not completed", hook: h(goodsOut(func(r map[string]any) { r["goods_out_status_id"] = 5; delete(r, "goods_out_status") }), "101"), status: 422, reason: "not COMPLETED"},
		{name: "line without dispatch quantity", hook: h(goodsOut(func(r map[string]any) { r["lines"] = lines(2, "pick_quantity") }), "101"), status: 422, reason: "lines[0].dispatch_quantity is missing"},
		{name: "mixed record", hook: h(goodsOut(func(r map[string]any) { delete(r, "type"); r["receipt_type"] = "po" }), "101"), status: 422, reason: "mixes the fields"},
		{name: "unknown type", hook: h(adjustment(func(r map[string]any) { r["type"] = "invoices" }), "103"), status: 422, reason: `unknown record type "invoices"`},

		// Identifiers.
		{name: "latin-1 byte", hook: h(strings.Replace(withCode("SKU-Xx"), "Xx", "\xe9", 1), "103"), status: 400, reason: "not valid UTF-8 at byte"},
		{name: "lone surrogate", hook: h(strings.Replace(withCode("SKU-Xx"), "Xx", `\ud800`, 1), "103"), status: 422, reason: "U+FFFD"},
		{name: "control character", hook: h(withCode("SKU-\a1"), "103"), status: 422, reason: "a control character (U+0007)"},
		{name: "bidi control", hook: h(withCode("SKU-\u202e1"), "103"), status: 422, reason: "a bidirectional control (U+202E)"},
		{name: "zero-width space", hook: h(withCode("SKU\u200b-1"), "103"), status: 422, reason: "a zero-width character (U+200B)"},
		{name: "soft hyphen", hook: h(withCode("SKU\u00ad1"), "103"), status: 422, reason: "an invisible format character (U+00AD)"},
		{name: "no-break space", hook: h(withCode("SKU\u00a01"), "103"), status: 422, reason: "a no-break space"},
		{name: "leading space", hook: h(withCode(" SKU-1"), "103"), status: 422, reason: "starts or ends with a space"},
		{name: "trailing space", hook: h(withCode("SKU-1 "), "103"), status: 422, reason: "starts or ends with a space"},
		{name: "not latin-1", hook: h(withCode("SKU-€"), "103"), status: 422, reason: "which a Prima code cannot hold (ISO-8859-1 only)"},
		{name: "key separator", hook: h(withCode("SKU@1"), "103"), status: 422, reason: "sku@warehouse separator"},
		{name: "too long", hook: h(withCode(strings.Repeat("A", 51)), "103"), status: 422, reason: "51 characters long, more than 50"},
		{name: "empty code", hook: h(withCode(""), "103"), status: 422, reason: "product.code is missing"},
		{name: "reference with a newline", hook: h(goodsOut(func(r map[string]any) { r["reference"] = "SO-1\nX" }), "101"), status: 422, reason: "reference"},
		{name: "line product with a tab", hook: h(receipt(func(r map[string]any) {
			r["lines"] = []any{map[string]any{"id": 1, "product": map[string]any{"code": "A\tB"}, "received_quantity": 1}}
		}), "102"), status: 422, reason: "lines[0].product.code"},
		{name: "record id with a slash", hook: h(adjustment(func(r map[string]any) { r["id"] = "47/11" }), "103"), status: 422, reason: "id"},

		// Warehouse and account.
		{name: "unconfigured warehouse", hook: h(adjustment(func(r map[string]any) { r["warehouse"] = map[string]any{"id": 9} }), "103"), status: 422, reason: "warehouse 9 is not one lockstep keeps in step (LOCKSTEP_CLARUS_WAREHOUSES)"},
		{name: "warehouse id and code disagree", hook: h(adjustment(func(r map[string]any) { r["warehouse"] = map[string]any{"id": 1, "code": "WH2"} }), "103"), status: 422, reason: "warehouse 1 is WH1 in LOCKSTEP_CLARUS_WAREHOUSES, but the record calls it WH2"},
		{name: "unconfigured warehouse code", hook: h(adjustment(func(r map[string]any) { r["warehouse"] = map[string]any{"code": "WH9"} }), "103"), status: 422, reason: "warehouse WH9 is not one"},
		{name: "no warehouse", hook: h(adjustment(del("warehouse")), "103"), status: 422, reason: "warehouse is missing"},
		{name: "another account", env: "strict", hook: h(adjustment(func(r map[string]any) { r["account"] = map[string]any{"id": 2} }), "103", header(clarus.HeaderIntegrationID, "int-1")), status: 422, reason: "account 2 is not the one"},

		// Quantities, lines, times.
		{name: "fractional quantity", hook: h(adjustment(func(r map[string]any) { r["quantity"] = 2.5 }), "103"), status: 422, reason: "not a whole number"},
		{name: "quantity as string", hook: h(adjustment(func(r map[string]any) { r["quantity"] = "5" }), "103"), status: 422, reason: "is a string"},
		{name: "missing quantity", hook: h(adjustment(del("quantity")), "103"), status: 422, reason: "quantity is missing"},
		{name: "zero quantity", hook: h(adjustment(func(r map[string]any) { r["quantity"] = 0 }), "103"), status: 422, reason: "out of range"},
		{name: "absurd quantity", hook: h(adjustment(func(r map[string]any) { r["quantity"] = 5_000_000_000 }), "103"), status: 422, reason: "out of range"},
		{name: "too many lines", hook: h(receipt(func(r map[string]any) { r["lines"] = lines(4, "received_quantity") }), "102"), status: 413, reason: "4 lines, more than 3 (LOCKSTEP_CLARUS_WEBHOOK_MAX_LINES)"},
		{name: "no lines", hook: h(receipt(func(r map[string]any) { r["lines"] = []any{} }), "102"), status: 422, reason: "no lines"},
		{name: "repeated line id", hook: h(receipt(func(r map[string]any) {
			r["lines"] = []any{map[string]any{"id": 1, "product": map[string]any{"code": "A"}, "received_quantity": 1},
				map[string]any{"id": 1, "product": map[string]any{"code": "B"}, "received_quantity": 1}}
		}), "102"), status: 422, reason: "repeated line id"},
		{name: "wrong direction", hook: h(adj, "104"), status: 422, reason: "direction"},
		{name: "dated in the future", hook: h(adjustment(func(r map[string]any) { r["created_at"] = "2026-03-02T09:06:00Z" }), "103"), status: 422, reason: "cannot have happened yet"},
	}
}

func TestWebhookProbes(t *testing.T) {
	envs := map[string]*probeEnv{
		"": newProbeEnv(t, nil),
		"strict": newProbeEnv(t, func(c *clarus.Config) {
			c.IntegrationID, c.AccountID = "int-1", "1"
		}),
	}
	for _, p := range probes() {
		t.Run(p.name, func(t *testing.T) {
			env := envs[p.env]
			before := env.stored(t)
			status, body := env.send(t, p.hook)
			if status != p.status || !strings.Contains(body, p.reason) {
				t.Fatalf("got %d %q, want %d with %q", status, body, p.status, p.reason)
			}
			if strings.Contains(body, testToken) {
				t.Fatal("the answer echoes the token")
			}
			if after := env.stored(t); after != before {
				t.Fatalf("a refused webhook left %d records on Kafka", after-before)
			}
		})
	}
	// And the well-formed webhooks of the same shapes are accepted, so the
	// refusals above are for what each changes. (A well-formed goods out
	// is read back from Clarus, which this receiver cannot reach: it is
	// answered 503, nothing stored; receiver_shipments_test.go has it
	// accepted.)
	if status, body := envs[""].send(t, validHook(goodsOut(nil), "101")); status != 503 || !strings.Contains(body, "shipments of goods out 77") {
		t.Errorf("goods out without Clarus: got %d %q", status, body)
	}
	for name, c := range map[string]struct {
		env, body, automation string
		movements             int
	}{
		"adjustment":           {"", adjustment(nil), "103", 1},
		"untyped adjustment":   {"", adjustment(del("type", "direction")), "103", 1},
		"hold":                 {"", stockRecord("held", nil), "105", 1},
		"release":              {"", stockRecord("available", del("type")), "106", 1},
		"receipt":              {"", receipt(nil), "102", 2},
		"whole decimal":        {"", adjustment(func(r map[string]any) { r["quantity"] = 5.0 }), "103", 1},
		"configured account":   {"strict", adjustment(nil), "103", 1},
		"integration and code": {"strict", withCode("Café-1"), "103", 1},
	} {
		env := envs[c.env]
		h := validHook(c.body, c.automation)
		if c.env == "strict" {
			h.headers[clarus.HeaderIntegrationID] = "int-1"
		}
		if status, body := env.send(t, h); status != 200 || body != fmt.Sprintf("{\"movements\":%d}\n", c.movements) {
			t.Errorf("%s: got %d %q", name, status, body)
		}
	}
}

// Identifiers are normalised to NFC: the two spellings of one code are one
// key; and a movement id covers the movement's content, so a record id
// reused for other content is a new movement, while a redelivery is not.
func TestWebhookNormalisesAndHashes(t *testing.T) {
	env := newProbeEnv(t, nil)
	send := func(body string) {
		t.Helper()
		if status, b := env.send(t, validHook(body, "103")); status != 200 {
			t.Fatalf("got %d %q", status, b)
		}
	}
	send(withCode("Cafe\u0301"))                                                     // decomposed
	send(withCode("Caf\u00e9"))                                                      // composed: the same movement
	send(adjustment(func(r map[string]any) { r["quantity"] = 500 }))                 // the id of a real one, with other content
	send(adjustment(func(r map[string]any) { r["reason_code"] = map[string]any{} })) // only the reason differs: the same movement
	send(adjustment(nil))
	var ids []string
	for _, r := range committed(t, env.opts, schemas.TopicStockMovements) {
		m := decodeMovement(t, env.serde, r)
		if string(r.Key) != schemas.StockKey(m.SKU, m.Warehouse) || clarus.RecordPath(m.MovementID) != "stock_adjustment/4711" {
			t.Fatalf("record %q: %+v", r.Key, m)
		}
		ids = append(ids, string(r.Key)+" "+m.MovementID)
	}
	if len(ids) != 5 || ids[0] != ids[1] || !strings.HasPrefix(ids[0], "Café@WH1 ") || ids[2] == ids[3] || ids[3] != ids[4] {
		t.Fatalf("movements:\n%s", strings.Join(ids, "\n"))
	}
}
