package primasim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/lockstep-dev/lockstep/connectors/clock"
	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newSim(t *testing.T, opts primasim.Options) (*primasim.Server, *httptest.Server, *clock.Fake) {
	t.Helper()
	c := clock.NewFake(epoch) // hand-stepped, shared with the simulator
	opts.Clock = c.Now
	sim := primasim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv, c
}

// latin1 encodes a test document in ISO-8859-1.
func latin1(t *testing.T, s string) []byte {
	t.Helper()
	b, err := charmap.ISO8859_1.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post POSTs a raw envelope to the instance URL as a SOAP 1.1 client
// does, and returns the status, headers and body.
func post(t *testing.T, url string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", wire.SOAPContentType)
	req.Header.Set("SOAPAction", wire.SOAPAction)
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// envelope is a wsomhandler call of doc.
func envelope(doc string) []byte {
	return wire.MarshalCall(wire.OpHandler, wire.Part{Name: wire.PartRequest, Value: doc})
}

func marshal(t *testing.T, req wire.Request) string {
	t.Helper()
	doc, err := wire.MarshalString(req)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// answer is a decoded answer: the Response, or the Fault that came
// instead.
type answer struct {
	status int
	header http.Header
	resp   wire.Response
	fault  *wire.Fault
	raw    []byte
}

// decode reads the answer to op, failing the test when it is neither a
// Response nor a Fault.
func decode(t *testing.T, op string, status int, h http.Header, raw []byte) answer {
	t.Helper()
	a := answer{status: status, header: h, raw: raw}
	ret, fault, err := wire.UnmarshalReturn(raw, h.Get("Content-Type"), op)
	if err != nil {
		t.Fatalf("answer %d %q: %v", status, raw, err)
	}
	if a.fault = fault; fault == nil {
		if err := wire.UnmarshalString(ret, &a.resp); err != nil {
			t.Fatalf("returned %q: %v", ret, err)
		}
	}
	return a
}

// send calls wsomhandler with req.
func send(t *testing.T, url string, req wire.Request) answer {
	t.Helper()
	status, h, raw := post(t, url, envelope(marshal(t, req)))
	return decode(t, wire.OpHandler, status, h, raw)
}

// request calls wsomhandler with req and returns the Response, failing the
// test on a Fault.
func request(t *testing.T, url string, req wire.Request) (int, http.Header, wire.Response) {
	t.Helper()
	a := send(t, url, req)
	if a.fault != nil {
		t.Fatalf("%s: fault %v", req.RequestType, a.fault)
	}
	return a.status, a.header, a.resp
}

func control(t *testing.T, method, url string, v any) (int, []byte) {
	t.Helper()
	var body io.Reader
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func mustApply(t *testing.T, sim *primasim.Server, evs ...primasim.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := sim.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func cost(s string) *schemas.Decimal { return ptr(schemas.MustParseDecimal(s)) }
