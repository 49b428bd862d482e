package simkit

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"
)

// call is the fate of one API call, decided when it arrives.
type call struct {
	status     int    // 429, 503 or 500 before processing; 0 to process
	retryAfter string // with a 429 or 503
	timeout    bool   // process, then never answer
	malformed  bool   // process, then cut the answer short
	latency    time.Duration
	hang       time.Duration
}

// draw decides a call at now. Every call takes the same three draws,
// whatever the rates and the outcome, so the same calls under the same seed
// fail the same way, and a sequential client sees a reproducible run.
func (in *Injector) draw(now time.Time) call {
	in.mu.Lock()
	defer in.mu.Unlock()
	f := in.faults
	answer, timeout, malformed := in.draws.Float64(), in.draws.Float64(), in.draws.Float64()
	admitted := in.window.admit(now, f.RateLimitPerSecond)
	c := call{latency: time.Duration(f.LatencyMS) * time.Millisecond, hang: time.Duration(f.HangMS) * time.Millisecond}
	switch {
	case !admitted || answer < f.ThrottleRate:
		c.status, c.retryAfter = http.StatusTooManyRequests, retryAfter(now)
	case answer < f.ThrottleRate+f.UnavailableRate:
		c.status, c.retryAfter = http.StatusServiceUnavailable, "1"
	case answer < f.ThrottleRate+f.UnavailableRate+f.ErrorRate:
		c.status = http.StatusInternalServerError
	default:
		c.timeout = timeout < f.TimeoutAfterWriteRate
		c.malformed = !c.timeout && malformed < f.MalformedRate
	}
	if c.retryAfter != "" && f.RetryAfterSeconds > 0 {
		c.retryAfter = strconv.Itoa(f.RetryAfterSeconds)
	}
	return c
}

// faultMessages are the messages of the answers Wrap refuses calls with.
var faultMessages = map[int]string{
	http.StatusTooManyRequests:     "Too many requests",
	http.StatusServiceUnavailable:  "Service unavailable",
	http.StatusInternalServerError: "Internal error",
}

// Wrap applies the faults in force to an API endpoint. Every answer
// carries a Date from the simulator's clock, which clients read to date
// what they fetched and to resolve a Retry-After given as a date.
// Authentication belongs inside h: a real server's overload answers come
// before it looks at credentials.
func (in *Injector) Wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := in.clock()
		c := in.draw(now)
		if !wait(r.Context(), c.latency) {
			return
		}
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		if c.status != 0 {
			in.count(strconv.Itoa(c.status))
			if c.retryAfter != "" {
				w.Header().Set("Retry-After", c.retryAfter)
			}
			in.body(w, c.status, faultMessages[c.status])
			return
		}
		if !c.timeout && !c.malformed {
			h(w, r)
			return
		}
		held := &heldAnswer{header: w.Header()}
		h(held, r)
		if c.timeout {
			in.count(FaultTimeoutAfterWrite)
			wait(r.Context(), c.hang)
			// Drops the connection without an answer (and without a stack
			// trace in the server log).
			panic(http.ErrAbortHandler)
		}
		in.count(FaultMalformed)
		w.Header().Del("Content-Length")
		w.WriteHeader(held.status())
		_, _ = w.Write(Truncate(held.body.Bytes()))
	}
}

// Truncate cuts a body short, as a connection dropped half way through an
// answer would. A cut JSON object or XML document never parses. The result
// has no spare capacity, so appending to it cannot overwrite the original
// (a duplicated webhook shares its body with the first copy).
func Truncate(b []byte) []byte { return b[: len(b)/2 : len(b)/2] }

// wait waits d or until ctx ends, reporting whether d passed.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// heldAnswer holds an answer back so a fault can cut or drop it.
type heldAnswer struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (a *heldAnswer) Header() http.Header         { return a.header }
func (a *heldAnswer) WriteHeader(code int)        { a.code = code }
func (a *heldAnswer) Write(p []byte) (int, error) { return a.body.Write(p) }

func (a *heldAnswer) status() int {
	if a.code == 0 {
		return http.StatusOK
	}
	return a.code
}
