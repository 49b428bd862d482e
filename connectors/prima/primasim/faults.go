package primasim

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Faults are the failures the simulator injects into wsomhandler and
// comwsomhandler calls, drawn from a generator seeded by Seed (or
// Options.Seed), so a run with the same calls fails the same way.
type Faults struct {
	Seed uint64 `json:"seed,omitempty"`
	// ErrorRate is the fraction of calls answered 500 before they are
	// processed; UnavailableRate the fraction answered 503 with
	// Retry-After. Both carry an XML ERROR body.
	ErrorRate       float64 `json:"error_rate"`
	UnavailableRate float64 `json:"unavailable_rate"`
	// ThrottleRate is the fraction of calls answered 429 with Retry-After;
	// RateLimitPerSecond caps calls per clock second, 429 beyond it. 0
	// disables either.
	ThrottleRate       float64 `json:"throttle_rate"`
	RateLimitPerSecond int     `json:"rate_limit_per_second"`
	// RetryAfterSeconds is the Retry-After of 429 and 503 answers; 0 sends
	// the seconds to the next rate-limit window (at least 1).
	RetryAfterSeconds int `json:"retry_after_seconds"`
	// LatencyMS delays every answer, in wall-clock time.
	LatencyMS int `json:"latency_ms"`
	// TimeoutAfterWriteRate is the fraction of calls processed (a stock
	// update applied) whose answer never comes: the connection is held
	// HangMS, then dropped. The client cannot tell whether the write
	// happened.
	TimeoutAfterWriteRate float64 `json:"timeout_after_write_rate"`
	HangMS                int     `json:"hang_ms"`
	// MalformedRate is the fraction of processed calls whose answer is cut
	// short (the write, if any, happened).
	MalformedRate float64 `json:"malformed_rate"`
}

// Counters count what the simulator did, for tests and the demo summary.
type Counters struct {
	Requests       map[string]int `json:"requests"` // by RequestType
	Faults         map[string]int `json:"faults"`   // by kind: 429, 500, 503, timeout_after_write, malformed
	BatchesApplied int            `json:"batches_applied"`
	BatchRepeats   int            `json:"batch_repeats"`
}

func newCounters() Counters {
	return Counters{Requests: map[string]int{}, Faults: map[string]int{}}
}

// SetFaults replaces the injected faults; a non-zero Seed restarts the draws.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	if f.Seed != 0 {
		s.rng = rand.New(rand.NewPCG(f.Seed, 0x9a1a))
	}
}

// Faults returns the injected faults.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// withFaults wraps a handler endpoint with the injected faults. The draws
// happen in call order under the lock, so they are reproducible for a
// sequential client.
func (s *Server) withFaults(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		f := s.faults
		now := s.opts.Clock()
		fault := ""
		if f.RateLimitPerSecond > 0 {
			if sec := now.Unix(); sec != s.window {
				s.window, s.inWindow = sec, 0
			}
			s.inWindow++
			if s.inWindow > f.RateLimitPerSecond {
				fault = "429"
			}
		}
		switch {
		case fault != "":
		case s.draw(f.ThrottleRate):
			fault = "429"
		case s.draw(f.UnavailableRate):
			fault = "503"
		case s.draw(f.ErrorRate):
			fault = "500"
		}
		// Post-processing faults are drawn now too, so every call consumes
		// the same draws whatever the outcome.
		timeout, malformed := s.draw(f.TimeoutAfterWriteRate), s.draw(f.MalformedRate)
		if fault != "" {
			s.counts.Faults[fault]++
		}
		s.mu.Unlock()

		if f.LatencyMS > 0 && !wait(r, time.Duration(f.LatencyMS)*time.Millisecond) {
			return
		}
		retryAfter := strconv.Itoa(max(f.RetryAfterSeconds, 1))
		if f.RetryAfterSeconds == 0 && fault == "429" {
			next := time.Unix(now.Unix()+1, 0).Sub(now)
			retryAfter = strconv.Itoa(max(int((next+time.Second-1)/time.Second), 1))
		}
		switch fault {
		case "429":
			w.Header().Set("Retry-After", retryAfter)
			writeResponse(w, http.StatusTooManyRequests, errorResponse("", "Too many requests"))
			return
		case "503":
			w.Header().Set("Retry-After", retryAfter)
			writeResponse(w, http.StatusServiceUnavailable, errorResponse("", "Service unavailable"))
			return
		case "500":
			writeResponse(w, http.StatusInternalServerError, errorResponse("", "Internal error"))
			return
		}
		if !timeout && !malformed {
			h(w, r)
			return
		}
		buf := &bufferedWriter{header: w.Header()}
		h(buf, r)
		s.mu.Lock()
		if timeout {
			s.counts.Faults["timeout_after_write"]++
		} else {
			s.counts.Faults["malformed"]++
		}
		s.mu.Unlock()
		if timeout {
			wait(r, time.Duration(f.HangMS)*time.Millisecond)
			// Drops the connection without an answer (and without a
			// stack trace in the server log).
			panic(http.ErrAbortHandler)
		}
		w.WriteHeader(buf.status())
		_, _ = w.Write(buf.body.Bytes()[:buf.body.Len()/2])
	}
}

// draw reports a fault at rate. Callers hold s.mu.
func (s *Server) draw(rate float64) bool { return rate > 0 && s.rng.Float64() < rate }

// wait waits d or until the client goes away, reporting which.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// bufferedWriter holds an answer back so a fault can cut or drop it.
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
