package simkit_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clock"
	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// plainError stands in for a simulator's error format, so tests see which
// status and message the injector asked for.
func plainError(w http.ResponseWriter, status int, msg string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, "error %d: %s", status, msg)
}

// fixture is an injector over an endpoint that records that it ran (the
// "write") and answers a fixed body.
type fixture struct {
	in    *simkit.Injector
	clock *clock.Fake // stepped by hand; the injector reads it for windows and Date
	h     http.HandlerFunc
	ran   int
}

const answer = `{"data":{"id":"1","type":"stock"}}`

func newFixture(seed uint64, f simkit.Faults) *fixture {
	x := &fixture{clock: clock.NewFake(epoch)}
	x.in = simkit.NewInjector(seed, x.clock.Now, plainError)
	x.in.Set(f)
	x.h = x.in.Wrap(func(w http.ResponseWriter, _ *http.Request) {
		x.ran++
		w.Header().Set("Content-Length", fmt.Sprint(len(answer)))
		_, _ = w.Write([]byte(answer))
	})
	return x
}

// call makes one call; dropped reports a connection dropped without answer.
func (x *fixture) call(ctx context.Context) (rec *httptest.ResponseRecorder, dropped bool) {
	rec = httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			dropped = true
		}
	}()
	x.h(rec, httptest.NewRequest(http.MethodPost, "/api", nil).WithContext(ctx))
	return rec, false
}

func TestWrapAnswers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		faults     simkit.Faults
		status     int
		retryAfter string
		body       string // the whole answer
		ran        bool   // the endpoint ran: a write would have happened
		dropped    bool
		kind       string // counted fault
	}{
		{name: "no faults", status: 200, body: answer, ran: true},
		{name: "throttled", faults: simkit.Faults{ThrottleRate: 1}, status: 429, retryAfter: "1", body: "error 429: Too many requests", kind: "429"},
		{name: "throttled, Retry-After set", faults: simkit.Faults{ThrottleRate: 1, RetryAfterSeconds: 3}, status: 429, retryAfter: "3", body: "error 429: Too many requests", kind: "429"},
		{name: "unavailable", faults: simkit.Faults{UnavailableRate: 1}, status: 503, retryAfter: "1", body: "error 503: Service unavailable", kind: "503"},
		{name: "unavailable, Retry-After set", faults: simkit.Faults{UnavailableRate: 1, RetryAfterSeconds: 2}, status: 503, retryAfter: "2", body: "error 503: Service unavailable", kind: "503"},
		{name: "internal error, no Retry-After", faults: simkit.Faults{ErrorRate: 1, RetryAfterSeconds: 2}, status: 500, body: "error 500: Internal error", kind: "500"},
		{name: "malformed: processed, answer cut", faults: simkit.Faults{MalformedRate: 1}, status: 200, body: answer[:len(answer)/2], ran: true, kind: "malformed"},
		{name: "timeout after write: processed, never answered", faults: simkit.Faults{TimeoutAfterWriteRate: 1, MalformedRate: 1}, ran: true, dropped: true, kind: "timeout_after_write"},
		{name: "answer faults come first", faults: simkit.Faults{ErrorRate: 1, TimeoutAfterWriteRate: 1}, status: 500, body: "error 500: Internal error", kind: "500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newFixture(1, tc.faults)
			rec, dropped := x.call(context.Background())
			if dropped != tc.dropped || (x.ran == 1) != tc.ran {
				t.Fatalf("dropped %v, endpoint ran %d times", dropped, x.ran)
			}
			want := map[string]int{}
			if tc.kind != "" {
				want[tc.kind] = 1
			}
			if got := x.in.Counts(); !maps.Equal(got, want) {
				t.Fatalf("counts %v, want %v", got, want)
			}
			if dropped {
				return
			}
			if rec.Code != tc.status || rec.Body.String() != tc.body || rec.Header().Get("Retry-After") != tc.retryAfter {
				t.Fatalf("%d Retry-After %q %q", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
			}
			if d := rec.Header().Get("Date"); d != epoch.Format(http.TimeFormat) {
				t.Fatalf("Date %q is not the simulator's clock", d)
			}
		})
	}
}

// The rate window counts calls per clock second (not per second since the
// first call) and tells a refused call to come back when the next opens.
func TestRateWindow(t *testing.T) {
	x := newFixture(1, simkit.Faults{RateLimitPerSecond: 2})
	for i, tc := range []struct {
		at         time.Duration // since epoch, a whole second
		status     int
		retryAfter string
	}{
		{300 * time.Millisecond, 200, ""},
		{300 * time.Millisecond, 200, ""},
		{300 * time.Millisecond, 429, "1"},
		{999 * time.Millisecond, 429, "1"}, // a millisecond to go: still a whole second, never 0
		{1000 * time.Millisecond, 200, ""}, // the next window
		{1900 * time.Millisecond, 200, ""},
		{1999 * time.Millisecond, 429, "1"},
		{5 * time.Second, 200, ""}, // an idle gap resets the count
	} {
		x.clock.Advance(epoch.Add(tc.at).Sub(x.clock.Now()))
		rec, _ := x.call(context.Background())
		if rec.Code != tc.status || rec.Header().Get("Retry-After") != tc.retryAfter {
			t.Fatalf("call %d at +%v: %d Retry-After %q", i, tc.at, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
	if got := x.in.Counts()["429"]; got != 3 {
		t.Fatalf("429s counted %d", got)
	}
	x.in.Set(simkit.Faults{RateLimitPerSecond: 2, RetryAfterSeconds: 7})
	x.call(context.Background())
	if rec, _ := x.call(context.Background()); rec.Code != 429 || rec.Header().Get("Retry-After") != "7" {
		t.Fatalf("with retry_after_seconds: %d %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// outcomes makes n calls and names what each suffered.
func (x *fixture) outcomes(n int) []string {
	var out []string
	for range n {
		rec, dropped := x.call(context.Background())
		switch {
		case dropped:
			out = append(out, "timeout")
		case rec.Code == 200 && rec.Body.String() != answer:
			out = append(out, "malformed")
		default:
			out = append(out, fmt.Sprint(rec.Code))
		}
	}
	return out
}

func TestDrawsReproducibleBySeed(t *testing.T) {
	mixed := simkit.Faults{ErrorRate: 0.1, UnavailableRate: 0.1, ThrottleRate: 0.1, TimeoutAfterWriteRate: 0.1, MalformedRate: 0.1}
	run := func(seed uint64) []string { return newFixture(seed, mixed).outcomes(400) }
	a, b, c := run(7), run(7), run(8)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed and calls gave different faults")
	}
	if slices.Equal(a, c) {
		t.Fatal("another seed gave the same faults")
	}
	// Each answer rate is its fraction of calls; the post-processing rates
	// apply to the calls left.
	n := map[string]int{}
	for _, o := range a {
		n[o]++
	}
	for kind, want := range map[string][2]int{"500": {25, 55}, "503": {25, 55}, "429": {25, 55}, "timeout": {15, 45}, "malformed": {15, 45}} {
		if n[kind] < want[0] || n[kind] > want[1] {
			t.Errorf("%s: %d of 400 calls, want %d-%d (%v)", kind, n[kind], want[0], want[1], n)
		}
	}

	// A seed given with the faults restarts the draws; without one they
	// carry on.
	x := newFixture(99, mixed)
	x.outcomes(13)
	x.in.Set(simkit.Faults{Seed: 7, ErrorRate: 0.1, UnavailableRate: 0.1, ThrottleRate: 0.1, TimeoutAfterWriteRate: 0.1, MalformedRate: 0.1})
	if got := x.outcomes(400); !slices.Equal(got, a) {
		t.Fatal("Set with a seed did not restart the draws")
	}
	// Changing a rate does not change how many draws a call takes: the
	// same seed with no faults, then faults, lines up with a fresh run.
	y := newFixture(7, simkit.Faults{})
	y.outcomes(10)
	y.in.Set(mixed)
	if got := y.outcomes(390); !slices.Equal(got, a[10:]) {
		t.Fatal("calls without faults took a different number of draws")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		f    simkit.Faults
		want string // "" for valid
	}{
		{simkit.Faults{}, ""},
		{simkit.Faults{ErrorRate: 0.1, UnavailableRate: 0.2, ThrottleRate: 0.7, TimeoutAfterWriteRate: 1, MalformedRate: 1}, ""},
		{simkit.Faults{ErrorRate: 1.5}, "fractions between 0 and 1"},
		{simkit.Faults{MalformedRate: -0.1}, "fractions between 0 and 1"},
		{simkit.Faults{ErrorRate: 0.6, ThrottleRate: 0.6}, "together at most 1"},
		{simkit.Faults{LatencyMS: -1}, "must not be negative"},
		{simkit.Faults{RateLimitPerSecond: -1}, "must not be negative"},
		{simkit.Faults{HangMS: -1}, "must not be negative"},
	} {
		err := tc.f.Validate()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.f, err, tc.want)
		}
	}
	if simkit.Fractions(0, 0.5, 1) != nil || simkit.Fractions(0.5, 2) == nil {
		t.Error("Fractions")
	}
}

// A client that gives up during the injected latency gets nothing, and
// nothing is processed or counted.
func TestLatencyAbandoned(t *testing.T) {
	x := newFixture(1, simkit.Faults{LatencyMS: 60_000, ErrorRate: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec, dropped := x.call(ctx)
	if dropped || x.ran != 0 || rec.Body.Len() != 0 || len(x.in.Counts()) != 0 {
		t.Fatalf("answered %d %q after the client left", rec.Code, rec.Body)
	}
}

func TestTruncate(t *testing.T) {
	orig := []byte(answer)
	cut := simkit.Truncate(orig)
	if string(cut) != answer[:len(answer)/2] || cap(cut) != len(cut) {
		t.Fatalf("cut %q (cap %d)", cut, cap(cut))
	}
	_ = append(cut, 'X')
	if string(orig) != answer {
		t.Fatal("appending to the cut body changed the original")
	}
}
