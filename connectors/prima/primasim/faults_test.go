package primasim_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
)

var itemsReq = wire.Request{RequestType: wire.TypeItemsModifiedSince}

// The rate limit counts calls per clock second and answers the excess 429
// with a Retry-After to the next second, as XML; the next second is open.
func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	sim, srv, clk := newSim(t, primasim.Options{})
	sim.SetFaults(primasim.Faults{RateLimitPerSecond: 2})
	url := srv.URL
	clk.Advance(300 * time.Millisecond)
	for i := range 2 {
		if status, _, _ := request(t, url, itemsReq); status != http.StatusOK {
			t.Fatalf("call %d: %d", i, status)
		}
	}
	a := send(t, url, itemsReq)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "1" || a.fault == nil || a.fault.String != "Too many requests" {
		t.Fatalf("third call: %d Retry-After %q %+v", a.status, a.header.Get("Retry-After"), a.fault)
	}
	clk.Advance(time.Second)
	if status, _, _ := request(t, url, itemsReq); status != http.StatusOK {
		t.Fatalf("next second: %d", status)
	}

	sim.SetFaults(primasim.Faults{ThrottleRate: 1, RetryAfterSeconds: 2})
	if a := send(t, url, itemsReq); a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "2" {
		t.Fatalf("throttled: %d %q", a.status, a.header.Get("Retry-After"))
	}
	if got := sim.State().Counters.Faults["429"]; got != 2 {
		t.Fatalf("429s counted %d", got)
	}
}

// 500 and 503 come before processing, as SOAP Faults; 503 carries
// Retry-After.
func TestServerErrors(t *testing.T) {
	sim, srv, _ := newSim(t, primasim.Options{})
	url := srv.URL
	sim.SetFaults(primasim.Faults{UnavailableRate: 1, RetryAfterSeconds: 3})
	if a := send(t, url, itemsReq); a.status != 503 || a.header.Get("Retry-After") != "3" || a.fault == nil ||
		a.fault.Code != wire.FaultServer || a.fault.String != "Service unavailable" {
		t.Fatalf("503: %d %q %+v", a.status, a.header.Get("Retry-After"), a.fault)
	}
	sim.SetFaults(primasim.Faults{ErrorRate: 1})
	if a := send(t, url, itemsReq); a.status != 500 || a.fault == nil || a.fault.Code != wire.FaultServer {
		t.Fatalf("500: %d %+v", a.status, a.fault)
	}
}

// A timeout after the write: the batch is applied, the answer never comes.
func TestTimeoutAfterWriteApplies(t *testing.T) {
	sim, srv, _ := newSim(t, primasim.Options{})
	mustApply(t, sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"})
	sim.SetFaults(primasim.Faults{TimeoutAfterWriteRate: 1})
	body := envelope(marshal(t, wire.Request{RequestType: wire.TypeStockLevelUpdate, Data: wire.RequestData{BatchRef: "b1", Warehouse: "WH1",
		Lines: []wire.StockLine{{Matrix: wire.Matrix{Product: "ST1", MtrxCode1: "BLK", MtrxCode2: "9"}, Available: 3}}}}))
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", wire.SOAPContentType)
	req.Header.Set("SOAPAction", wire.SOAPAction)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("an answer came: %d", resp.StatusCode)
	}
	st := sim.State()
	if got, _ := st.Level("ST1/BLK/9", "WH1"); got != 3 || st.Counters.Faults["timeout_after_write"] != 1 {
		t.Fatalf("level %d, counters %+v", got, st.Counters)
	}
}

// A malformed answer is cut short after processing.
func TestMalformedAnswer(t *testing.T) {
	sim, srv, _ := newSim(t, primasim.Options{})
	mustApply(t, sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"})
	sim.SetFaults(primasim.Faults{MalformedRate: 1})
	status, h, raw := post(t, srv.URL, envelope(marshal(t, itemsReq)))
	if _, _, err := wire.UnmarshalReturn(raw, h.Get("Content-Type"), wire.OpHandler); status != http.StatusOK || err == nil {
		t.Fatalf("decoded a malformed answer: %d %q", status, raw)
	}
}

// The same seed and calls give the same faults.
func TestFaultsAreSeeded(t *testing.T) {
	run := func() []int {
		sim, srv, _ := newSim(t, primasim.Options{})
		sim.SetFaults(primasim.Faults{Seed: 7, ErrorRate: 0.2, ThrottleRate: 0.2, UnavailableRate: 0.1})
		var out []int
		for range 40 {
			out = append(out, send(t, srv.URL, itemsReq).status)
		}
		return out
	}
	a, b := run(), run()
	faults := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("call %d: %d then %d", i, a[i], b[i])
		}
		if a[i] != 200 {
			faults++
		}
	}
	if faults == 0 || faults == 40 {
		t.Fatalf("%d faults in 40 calls at 50%%", faults)
	}
}

// Basic auth, when configured, is required.
func TestBasicAuth(t *testing.T) {
	_, srv, _ := newSim(t, primasim.Options{BasicAuthUser: "lockstep", BasicAuthPassword: "s3cret"})
	if a := send(t, srv.URL, itemsReq); a.status != 401 || a.header.Get("WWW-Authenticate") == "" || a.fault == nil || a.fault.Code != wire.FaultClient {
		t.Fatalf("no credentials: %d %+v", a.status, a.fault)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(envelope(marshal(t, itemsReq))))
	req.Header.Set("Content-Type", wire.SOAPContentType)
	req.Header.Set("SOAPAction", wire.SOAPAction)
	req.SetBasicAuth("lockstep", "s3cret")
	if status, _, raw := do(t, req); status != 200 {
		t.Fatalf("with credentials: %d %q", status, raw)
	}
}
