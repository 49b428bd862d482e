package prima

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
)

// ErrBadSKU reports a SKU that cannot be spelt as Prima's product and
// matrix codes: the product code, then up to four matrix codes, joined by
// "/".
var ErrBadSKU = wire.ErrBadSKU

// APIError is a call that did not succeed: an HTTP error, an answer with
// RequestStatus="ERROR", no answer at all, or one that cannot be read.
type APIError struct {
	Op         string        // the request type
	Status     int           // HTTP status; 0 when no answer came
	Message    string        // Prima's RequestError, or what went wrong
	RetryAfter time.Duration // from Retry-After; 0 when absent
	// Retryable is true when the same call may succeed later: throttling,
	// 5xx, timeouts, lost connections, answers cut short.
	Retryable bool
	// Ambiguous is true when the call may have been applied though it
	// failed (a timeout or a 5xx after the request was sent): a writer
	// looks before sending again.
	Ambiguous bool
	Err       error // the transport or decoding error underneath, if any
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "prima: %s", e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// Throttled reports whether Prima asked the caller to slow down (429).
func (e *APIError) Throttled() bool { return e.Status == http.StatusTooManyRequests }

// statusError classifies a non-2xx answer. 429 is never applied; every 5xx
// is treated as possibly applied, since Prima documents nothing about it.
func statusError(op string, resp *http.Response, msg string) *APIError {
	e := &APIError{Op: op, Status: resp.StatusCode, Message: msg, RetryAfter: retryAfter(resp.Header)}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Retryable = true
	case resp.StatusCode == http.StatusRequestTimeout:
		e.Retryable, e.Ambiguous = true, true
	case resp.StatusCode >= 500:
		e.Retryable, e.Ambiguous = true, true
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// maxRetryAfter caps a server's Retry-After, so one absurd header cannot
// stall the sink for a day.
const maxRetryAfter = 10 * time.Minute

// retryAfter reads Retry-After as delay-seconds or as an HTTP date, the
// latter measured against the answer's own Date header so that clock skew
// between Prima and lockstep does not matter.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return min(time.Duration(max(n, 0))*time.Second, maxRetryAfter)
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	now := time.Now()
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		now = d
	}
	return min(max(t.Sub(now), 0), maxRetryAfter)
}

// IsRetryable reports whether err is an APIError worth retrying.
func IsRetryable(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Retryable
}
