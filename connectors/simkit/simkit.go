// Package simkit is the shared plumbing of lockstep's system simulators: /_sim/ control I/O, fault draws, rate windows and Retry-After.
package simkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// shutdownGrace is how long Serve lets answers in flight finish once its
// context ends: long enough for a test's last call, short enough that a
// stuck client cannot hold a stopping process.
const shutdownGrace = 5 * time.Second

// Serve serves h on ln until ctx ends, then shuts down gracefully. It
// returns nil after a shutdown that ctx asked for, and the server's error
// when serving stopped on its own (the listener failed).
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	// WithoutCancel: ctx is already done, and the grace period must not be.
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(shut)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// Stamps hands out the instants a simulator writes into its ground truth
// (updated_at, modified). Each is at least a millisecond after the one
// before, so a record changed after a read always sorts after that read's
// cursor, and events keep their order at the millisecond precision they
// travel with, even under a test's frozen clock. The zero value is ready;
// it is not safe for concurrent use, so callers hold their simulator's lock.
type Stamps struct{ last time.Time }

// Next returns now, in UTC and truncated to the millisecond, or a
// millisecond after the last instant handed out if now is not later.
func (s *Stamps) Next(now time.Time) time.Time {
	t := now.UTC().Truncate(time.Millisecond)
	if !t.After(s.last) {
		t = s.last.Add(time.Millisecond)
	}
	s.last = t
	return t
}

// The /_sim/ control API speaks JSON in both simulators, whatever the
// simulated system speaks: tests and the demo drive both the same way.

// MaxControlBody bounds a /_sim/ request body. A batch of some ten thousand
// events fits; a runaway client does not exhaust the simulator's memory.
const MaxControlBody = 4 << 20

// Decode reads r's body as exactly one JSON value into v. It refuses a
// body over MaxControlBody (413), an empty or malformed one, unknown fields
// and anything after the value (400): a misspelt fault or event field must
// fail loudly rather than silently inject nothing. On false it has answered
// the refusal, and the caller returns.
func Decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := readBody(w, r)
	if !ok {
		return false
	}
	if err := strict(body, v); err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

// DecodeBatch reads a /_sim/events body: one event object, or
// {"events": [...]} to apply in order. Both forms are decoded as strictly
// as Decode does, and a batch must not be empty.
func DecodeBatch[T any](w http.ResponseWriter, r *http.Request) ([]T, bool) {
	body, ok := readBody(w, r)
	if !ok {
		return nil, false
	}
	// Which form it is decides the error message: an unknown field inside
	// a batch is reported as such, not as "unknown field events". The probe
	// reads the first value only, so trailing data is strict's to report.
	var probe struct {
		Events json.RawMessage `json:"events"`
	}
	if json.NewDecoder(bytes.NewReader(body)).Decode(&probe) == nil && probe.Events != nil {
		var batch struct {
			Events []T `json:"events"`
		}
		if err := strict(body, &batch); err != nil {
			WriteError(w, http.StatusBadRequest, "events: "+err.Error())
			return nil, false
		}
		if len(batch.Events) == 0 {
			WriteError(w, http.StatusBadRequest, "events: the batch is empty")
			return nil, false
		}
		return batch.Events, true
	}
	var one T
	if err := strict(body, &one); err != nil {
		WriteError(w, http.StatusBadRequest, `want an event object or {"events": [...]}: `+err.Error())
		return nil, false
	}
	return []T{one}, true
}

// Command is a POST /_sim/ endpoint: it decodes the body into In as Decode
// does, applies it, and answers 200 with apply's Out, or 400 with its error.
func Command[In, Out any](apply func(In) (Out, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in In
		if !Decode(w, r, &in) {
			return
		}
		out, err := apply(in)
		if err != nil {
			WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		WriteJSON(w, http.StatusOK, out)
	}
}

// Query is a GET /_sim/ endpoint answering 200 with what read returns.
func Query[Out any](read func() Out) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, http.StatusOK, read()) }
}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers status with {"error": msg}, the error body of the
// control API (and of Clarus's REST API, which has the same shape).
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxControlBody))
	if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
		WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d MiB", MaxControlBody>>20))
		return nil, false
	}
	if err != nil {
		WriteError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return nil, false
	}
	return body, true
}

// strict decodes exactly one JSON value from b into v, refusing unknown
// fields and trailing data: a second document pasted after the first would
// otherwise be dropped without a word.
func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); errors.Is(err, io.EOF) {
		return errors.New("empty body: want a JSON object")
	} else if err != nil {
		return err
	}
	// Token, not More: More reports false before a stray '}' or ']'.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
