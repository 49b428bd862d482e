package clarussim_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
)

// endpoint records webhook deliveries and fails the first failFirst
// attempts of each body.
type endpoint struct {
	mu        sync.Mutex
	failFirst int
	attempts  map[string]int
	got       []delivery
}

type delivery struct {
	header http.Header
	body   []byte
}

func newEndpoint(t *testing.T, failFirst int) (*endpoint, string) {
	ep := &endpoint{failFirst: failFirst, attempts: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ep.mu.Lock()
		defer ep.mu.Unlock()
		ep.attempts[string(b)]++
		if !json.Valid(b) {
			http.Error(w, "malformed", http.StatusBadRequest)
			return
		}
		if ep.attempts[string(b)] <= ep.failFirst {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		ep.got = append(ep.got, delivery{header: r.Header.Clone(), body: b})
	}))
	t.Cleanup(srv.Close)
	return ep, srv.URL
}

func TestWebhookHeadersAndBodies(t *testing.T) {
	ep, url := newEndpoint(t, 0)
	e := newEnv(t, clarussim.Config{ClientID: "c", ClientSecret: "s", Subdomain: "acme", WebhookURL: url, IntegrationID: "int-9"})
	e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: "A", Quantity: 5, Reference: "PO-7"},
		clarussim.Event{Type: "allocate", Warehouse: "WH1", SKU: "A", Quantity: 2, Reference: "SO-1"},
		clarussim.Event{Type: "dispatch", Reference: "SO-1"})
	st := e.sim.DeliverWebhooks(context.Background())
	if st.Delivered != 2 || st.Queued != 2 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
	h := ep.got[0].header
	for k, want := range map[string]string{
		"X-ClarusWMS-Subdomain": "acme", "X-ClarusWMS-Automation-ID": "102", "X-ClarusWMS-Integration-ID": "int-9",
		"X-ClarusWMS-Domain": "acme.claruswms.co.uk", "X-ClarusWMS-API-Domain": "clarus-api.com", "Content-Type": "application/json",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	for k := range h {
		if k == "X-Clarus-Signature" || k == "X-Hub-Signature" {
			t.Errorf("Clarus sends no signature, but %s is set", k)
		}
	}
	var order struct {
		Data struct {
			Reference string `json:"reference"`
			StatusID  int    `json:"goods_out_status_id"`
			Lines     []struct {
				Dispatch int64 `json:"dispatch_quantity"`
				Product  struct {
					Code string `json:"code"`
				} `json:"product"`
			} `json:"lines"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ep.got[1].body, &order); err != nil || order.Data.Reference != "SO-1" || order.Data.StatusID != 6 ||
		len(order.Data.Lines) != 1 || order.Data.Lines[0].Dispatch != 2 || order.Data.Lines[0].Product.Code != "A" {
		t.Fatalf("goods out body %s (%v)", ep.got[1].body, err)
	}
}

func TestWebhookRetriesUntilAccepted(t *testing.T) {
	ep, url := newEndpoint(t, 2)
	e := newEnv(t, clarussim.Config{ClientID: "c", ClientSecret: "s", Subdomain: "acme", WebhookURL: url})
	e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: "A", Quantity: 5})
	if st := e.sim.DeliverWebhooks(context.Background()); st.Delivered != 1 || st.Retried != 2 || st.GaveUp != 0 {
		t.Fatalf("stats %+v", st)
	}
	if len(ep.got) != 1 {
		t.Fatalf("%d deliveries", len(ep.got))
	}

	_, down := newEndpoint(t, 1000)
	e2 := newEnv(t, clarussim.Config{ClientID: "c", ClientSecret: "s", Subdomain: "acme", WebhookURL: down})
	e2.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: "A", Quantity: 5})
	if st := e2.sim.DeliverWebhooks(context.Background()); st.GaveUp != 1 || st.Retried != 5 || st.Pending != 0 {
		t.Fatalf("always failing endpoint: %+v", st)
	}
}

func TestWebhookFaultsAreSeeded(t *testing.T) {
	run := func() (clarussim.WebhookStats, []string) {
		ep, url := newEndpoint(t, 0)
		e := newEnv(t, clarussim.Config{ClientID: "c", ClientSecret: "s", Subdomain: "acme", WebhookURL: url, Seed: 3})
		e.sim.SetFaults(clarussim.Faults{Seed: 8, WebhookDropRate: 0.1, WebhookDuplicateRate: 0.1, WebhookReorderRate: 0.1, MalformedRate: 0.1})
		e.sim.Generate(500)
		st := e.sim.DeliverWebhooks(context.Background())
		var bodies []string
		for _, d := range ep.got {
			bodies = append(bodies, string(d.body))
		}
		return st, bodies
	}
	st1, b1 := run()
	st2, b2 := run()
	if st1.Dropped == 0 || st1.Duplicated == 0 || st1.Reordered == 0 || st1.Malformed == 0 || st1.GaveUp != 0 {
		t.Fatalf("faults did not show: %+v", st1)
	}
	if st1.Delivered != st1.Queued-st1.Dropped+st1.Duplicated {
		t.Fatalf("delivered %d of %d queued, %d dropped, %d duplicated", st1.Delivered, st1.Queued, st1.Dropped, st1.Duplicated)
	}
	if st1 != st2 || !reflect.DeepEqual(b1, b2) {
		t.Fatalf("two runs with the same seeds differ: %+v / %+v", st1, st2)
	}
}
