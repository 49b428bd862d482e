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
	url := srv.URL + "/wsomhandler"
	clk.Advance(300 * time.Millisecond)
	for i := range 2 {
		if status, _, _ := request(t, url, itemsReq); status != http.StatusOK {
			t.Fatalf("call %d: %d", i, status)
		}
	}
	status, h, resp := request(t, url, itemsReq)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "1" || resp.RequestStatus != wire.StatusError {
		t.Fatalf("third call: %d Retry-After %q %+v", status, h.Get("Retry-After"), resp)
	}
	clk.Advance(time.Second)
	if status, _, _ := request(t, url, itemsReq); status != http.StatusOK {
		t.Fatalf("next second: %d", status)
	}

	sim.SetFaults(primasim.Faults{ThrottleRate: 1, RetryAfterSeconds: 2})
	if status, h, _ := request(t, url, itemsReq); status != http.StatusTooManyRequests || h.Get("Retry-After") != "2" {
		t.Fatalf("throttled: %d %q", status, h.Get("Retry-After"))
	}
	if got := sim.State().Counters.Faults["429"]; got != 2 {
		t.Fatalf("429s counted %d", got)
	}
}

// 500 and 503 come before processing; 503 carries Retry-After.
func TestServerErrors(t *testing.T) {
	sim, srv, _ := newSim(t, primasim.Options{})
	url := srv.URL + "/wsomhandler"
	sim.SetFaults(primasim.Faults{UnavailableRate: 1, RetryAfterSeconds: 3})
	if status, h, resp := request(t, url, itemsReq); status != 503 || h.Get("Retry-After") != "3" || resp.RequestError != "Service unavailable" {
		t.Fatalf("503: %d %q %+v", status, h.Get("Retry-After"), resp)
	}
	sim.SetFaults(primasim.Faults{ErrorRate: 1})
	if status, _, resp := request(t, url, itemsReq); status != 500 || resp.RequestStatus != wire.StatusError {
		t.Fatalf("500: %d %+v", status, resp)
	}
}

// A timeout after the write: the batch is applied, the answer never comes.
func TestTimeoutAfterWriteApplies(t *testing.T) {
	sim, srv, _ := newSim(t, primasim.Options{})
	mustApply(t, sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"})
	sim.SetFaults(primasim.Faults{TimeoutAfterWriteRate: 1})
	body, _ := wire.Marshal(wire.Request{RequestType: wire.TypeStockLevelUpdate, Data: wire.RequestData{BatchRef: "b1", Warehouse: "WH1",
		Lines: []wire.StockLine{{Matrix: wire.Matrix{Product: "ST1", MtrxCode1: "BLK", MtrxCode2: "9"}, Available: 3}}}})
	resp, err := http.Post(srv.URL+"/wsomhandler", wire.ContentType, bytes.NewReader(body))
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
	body, _ := wire.Marshal(itemsReq)
	status, h, raw := call(t, srv.URL+"/wsomhandler", body)
	var resp wire.Response
	if status != http.StatusOK || wire.Unmarshal(raw, h.Get("Content-Type"), &resp) == nil {
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
			status, _, _ := request(t, srv.URL+"/wsomhandler", itemsReq)
			out = append(out, status)
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
	if status, h, resp := request(t, srv.URL+"/wsomhandler", itemsReq); status != 401 || h.Get("WWW-Authenticate") == "" || resp.RequestStatus != wire.StatusError {
		t.Fatalf("no credentials: %d %+v", status, resp)
	}
	body, _ := wire.Marshal(itemsReq)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/wsomhandler", bytes.NewReader(body))
	req.SetBasicAuth("lockstep", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("with credentials: %d", resp.StatusCode)
	}
}
