package clarussim

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Faults are the failures the simulator injects, drawn from a generator
// seeded by Seed (or Config.Seed), so a run with the same calls fails the
// same way.
type Faults struct {
	Seed uint64 `json:"seed,omitempty"`
	// ErrorRate is the fraction of API requests answered 500 or 503.
	ErrorRate float64 `json:"error_rate"`
	// RateLimitPerSecond caps API requests per clock second; beyond it the
	// answer is 429 with Retry-After. 0 means no limit.
	RateLimitPerSecond int `json:"rate_limit_per_second"`
	// LatencyMS delays every API answer (wall-clock time).
	LatencyMS int `json:"latency_ms"`
	// Webhook faults: dropped (never sent), duplicated (sent twice),
	// reordered (sent after the next one).
	WebhookDropRate      float64 `json:"webhook_drop_rate"`
	WebhookDuplicateRate float64 `json:"webhook_duplicate_rate"`
	WebhookReorderRate   float64 `json:"webhook_reorder_rate"`
	// MalformedRate is the fraction of webhook attempts and GraphQL answers
	// whose body is cut short.
	MalformedRate float64 `json:"malformed_payload_rate"`
}

// SetFaults replaces the injected faults.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	if f.Seed != 0 {
		s.rng = rand.New(rand.NewPCG(f.Seed, 0xc1a7))
	}
	s.mu.Unlock()
	s.hooks.setFaults(f)
}

// Faults returns the injected faults.
func (s *Sim) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// api wraps an API endpoint with the injected faults and, when auth is
// set, the bearer token and subdomain checks every Clarus API call needs.
func (s *Sim) api(h http.HandlerFunc, auth bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		f := s.faults
		now := s.clock()
		limited := false
		if f.RateLimitPerSecond > 0 {
			if sec := now.Unix(); sec != s.window {
				s.window, s.windowCount = sec, 0
			}
			s.windowCount++
			limited = s.windowCount > f.RateLimitPerSecond
		}
		fail := !limited && f.ErrorRate > 0 && s.rng.Float64() < f.ErrorRate
		unavailable := fail && s.rng.IntN(2) == 0
		malformed := !limited && !fail && f.MalformedRate > 0 && s.rng.Float64() < f.MalformedRate
		s.mu.Unlock()

		if f.LatencyMS > 0 {
			t := time.NewTimer(time.Duration(f.LatencyMS) * time.Millisecond)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		if limited {
			// Whole seconds to the next window, as Retry-After allows.
			wait := time.Unix(now.Unix()+1, 0).Sub(now)
			w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
			writeError(w, http.StatusTooManyRequests, "Rate limit exceeded")
			return
		}
		if auth && !s.authorized(w, r) {
			return
		}
		switch {
		case unavailable:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "Service Unavailable")
			return
		case fail:
			writeError(w, http.StatusInternalServerError, "Internal Server Error")
			return
		case malformed:
			var buf bufferedWriter
			buf.header = w.Header()
			h(&buf, r)
			w.WriteHeader(buf.status())
			_, _ = w.Write(corrupt(buf.body.Bytes()))
			return
		}
		h(w, r)
	}
}

// writeError answers with Clarus's documented error body, {"error": "..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// bufferedWriter holds an answer back so a fault can corrupt it.
type bufferedWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) WriteHeader(code int)        { b.code = code }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }

func (b *bufferedWriter) status() int {
	if b.code == 0 {
		return http.StatusOK
	}
	return b.code
}
