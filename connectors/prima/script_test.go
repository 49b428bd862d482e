package prima_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"

	"github.com/lockstep-dev/lockstep/connectors/metricstest"
)

// action is what the script does with one call: pass it to the simulator
// (the zero value), answer status with an optional Retry-After, or let the
// simulator apply it and drop the connection (a timeout after the write).
type action struct {
	status         int
	retryAfter     string
	dropAfterWrite bool
}

// script sits in front of the simulator and fails exactly the calls a test
// names, counting calls by request type and in total.
type script struct {
	sim   http.Handler
	rule  func(typ string, n, total int, body []byte) action
	mu    sync.Mutex
	calls map[string]int
	total int
}

var requestType = regexp.MustCompile(`RequestType="([^"]+)"`)

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	typ := ""
	if m := requestType.FindSubmatch(body); m != nil {
		typ = string(m[1])
	}
	s.mu.Lock()
	s.calls[typ]++
	s.total++
	n, total := s.calls[typ], s.total
	s.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	act := action{}
	if s.rule != nil {
		act = s.rule(typ, n, total, body)
	}
	switch {
	case act.dropAfterWrite:
		s.sim.ServeHTTP(httptest.NewRecorder(), r)
		panic(http.ErrAbortHandler)
	case act.status != 0:
		if act.retryAfter != "" {
			w.Header().Set("Retry-After", act.retryAfter)
		}
		w.Header().Set("Content-Type", "text/xml; charset=ISO-8859-1")
		w.WriteHeader(act.status)
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="ISO-8859-1"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">`+
			`<soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>scripted `+strconv.Itoa(act.status)+
			`</faultstring></soap:Fault></soap:Body></soap:Envelope>`)
	default:
		s.sim.ServeHTTP(w, r)
	}
}

func (s *script) Calls(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[typ]
}

// metric reads a counter or gauge by name and label values.
func (e *sinkEnv) metric(name string, labels ...string) float64 {
	e.t.Helper()
	return metricstest.Value(e.t, e.reg, name, labels...)
}
