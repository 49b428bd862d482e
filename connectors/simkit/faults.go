package simkit

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Faults are the HTTP failures a simulator injects into its API calls,
// drawn from a generator seeded by Seed (or the simulator's seed), so a
// run with the same calls fails the same way. The JSON names are those of
// POST /_sim/faults.
type Faults struct {
	// Seed, when not 0, restarts the draws.
	Seed uint64 `json:"seed,omitempty"`
	// ErrorRate, UnavailableRate and ThrottleRate are the fractions of
	// calls answered 500, 503 (with Retry-After) and 429 (with
	// Retry-After) before they are processed. They share one draw, so each
	// is exactly its fraction of calls, and together they are at most 1.
	ErrorRate       float64 `json:"error_rate"`
	UnavailableRate float64 `json:"unavailable_rate"`
	ThrottleRate    float64 `json:"throttle_rate"`
	// RateLimitPerSecond caps calls per clock second, answering the excess
	// 429 with Retry-After; 0 means no limit.
	RateLimitPerSecond int `json:"rate_limit_per_second"`
	// RetryAfterSeconds is the Retry-After of 429 and 503 answers; 0 sends
	// the seconds to the next rate window for a 429, and 1 for a 503.
	RetryAfterSeconds int `json:"retry_after_seconds"`
	// LatencyMS delays every answer, in wall-clock time.
	LatencyMS int `json:"latency_ms"`
	// TimeoutAfterWriteRate is the fraction of calls that are processed (a
	// write applied) and never answered: the connection is held HangMS,
	// then dropped, so the client cannot tell whether the write happened.
	TimeoutAfterWriteRate float64 `json:"timeout_after_write_rate"`
	HangMS                int     `json:"hang_ms"`
	// MalformedRate is the fraction of processed calls whose answer is cut
	// short (a write, if any, happened).
	MalformedRate float64 `json:"malformed_rate"`
}

// Validate refuses what no server could do: rates outside [0, 1], answer
// rates adding up to more than every call, negative counts and durations.
func (f Faults) Validate() error {
	if err := Fractions(f.ErrorRate, f.UnavailableRate, f.ThrottleRate, f.TimeoutAfterWriteRate, f.MalformedRate); err != nil {
		return err
	}
	// The tolerance lets 0.1+0.2+0.7 through despite float rounding.
	if f.ErrorRate+f.UnavailableRate+f.ThrottleRate > 1+1e-9 {
		return errors.New("error_rate, unavailable_rate and throttle_rate share one draw: together at most 1")
	}
	if f.RateLimitPerSecond < 0 || f.RetryAfterSeconds < 0 || f.LatencyMS < 0 || f.HangMS < 0 {
		return errors.New("rate_limit_per_second, retry_after_seconds, latency_ms and hang_ms must not be negative")
	}
	return nil
}

// Fractions refuses any rate outside [0, 1] (or NaN), for a simulator's
// own rates beside the ones Validate checks.
func Fractions(rates ...float64) error {
	for _, r := range rates {
		if !(r >= 0 && r <= 1) {
			return errors.New("rates are fractions between 0 and 1")
		}
	}
	return nil
}

// ErrorBody writes a refusal in the simulated system's own error format
// (JSON for Clarus, an XML <Response> for Prima).
type ErrorBody func(w http.ResponseWriter, status int, msg string)

// Fault kinds, the keys of Injector.Counts.
const (
	FaultThrottled         = "429"
	FaultInternal          = "500"
	FaultUnavailable       = "503"
	FaultTimeoutAfterWrite = "timeout_after_write"
	FaultMalformed         = "malformed"
)

// faultStream keeps the fault draws apart from a simulator's other seeded
// generators (scenarios, webhooks) that start from the same seed.
const faultStream = 0xfa17

// Injector applies Faults to a simulator's API endpoints (Wrap). It keeps
// its own lock, so a simulator's ground-truth lock is never held while an
// answer is delayed or held back.
type Injector struct {
	clock func() time.Time
	body  ErrorBody

	mu     sync.Mutex
	faults Faults
	draws  *rand.Rand
	window window
	counts map[string]int
}

// NewInjector returns an injector with no faults, drawing from seed.
// clock is the simulator's clock: it decides rate windows and the Date
// header, so tests that step it step those too.
func NewInjector(seed uint64, clock func() time.Time, body ErrorBody) *Injector {
	return &Injector{clock: clock, body: body, draws: rand.New(rand.NewPCG(seed, faultStream)), counts: map[string]int{}}
}

// Set replaces the faults; a non-zero Seed restarts the draws. The rate
// window and the counts carry on.
func (in *Injector) Set(f Faults) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.faults = f
	if f.Seed != 0 {
		in.draws = rand.New(rand.NewPCG(f.Seed, faultStream))
	}
}

// Faults returns the faults in force.
func (in *Injector) Faults() Faults {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.faults
}

// Counts returns how many faults of each kind (the Fault constants) were
// applied since the injector was made.
func (in *Injector) Counts() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[string]int, len(in.counts))
	for k, v := range in.counts {
		out[k] = v
	}
	return out
}

func (in *Injector) count(kind string) {
	in.mu.Lock()
	in.counts[kind]++
	in.mu.Unlock()
}

// window counts calls in windows of one clock second, as a per-second
// quota does; calls are counted only while a limit is set.
type window struct {
	start time.Time
	n     int
}

// admit counts a call at now and reports whether it is within limit.
func (w *window) admit(now time.Time, limit int) bool {
	if limit <= 0 {
		return true
	}
	if start := now.Truncate(time.Second); !start.Equal(w.start) {
		w.start, w.n = start, 0
	}
	w.n++
	return w.n <= limit
}

// retryAfter is the Retry-After of a 429 at now: whole seconds, rounded
// up, until the next window opens, and never 0, which would invite an
// immediate retry into the same window.
func retryAfter(now time.Time) string {
	wait := now.Truncate(time.Second).Add(time.Second).Sub(now)
	return strconv.Itoa(max(int((wait+time.Second-1)/time.Second), 1))
}
