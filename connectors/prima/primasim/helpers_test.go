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

// latin1 encodes a test document the way Prima expects it on the wire.
func latin1(t *testing.T, s string) []byte {
	t.Helper()
	b, err := charmap.ISO8859_1.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// call POSTs a raw document and returns the status, headers and body.
func call(t *testing.T, url string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Post(url, wire.ContentType, bytes.NewReader(body))
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

// request calls url with a wire.Request and decodes the answer.
func request(t *testing.T, url string, req wire.Request) (int, http.Header, wire.Response) {
	t.Helper()
	body, err := wire.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	status, h, raw := call(t, url, body)
	var resp wire.Response
	if err := wire.Unmarshal(raw, h.Get("Content-Type"), &resp); err != nil {
		t.Fatalf("answer %q: %v", raw, err)
	}
	return status, h, resp
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
