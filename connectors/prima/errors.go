package prima

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
)

// ErrBadSKU reports a SKU that cannot be spelt as Prima's product and
// matrix codes: the product code, then up to four matrix codes, joined by
// "/".
var ErrBadSKU = wire.ErrBadSKU

var (
	// ErrBadWarehouse reports a warehouse code that is empty where one is
	// needed or holds a character outside [A-Za-z0-9_-], sent or answered.
	ErrBadWarehouse = errors.New("prima: bad warehouse code")
	// ErrBadQuantity reports a negative available quantity, sent or
	// answered: levels are absolute, and a negative one is a fault.
	ErrBadQuantity = errors.New("prima: negative available quantity")
	// ErrPageTooLong reports a page with more rows than the PageSize asked
	// for: a server that ignores the size could also be ignoring the
	// cursor, and the page cannot be trusted.
	ErrPageTooLong = errors.New("prima: page longer than the PageSize asked for")
)

// APIError is a call that did not succeed: an HTTP error, a SOAP Fault,
// an answer with RequestStatus="ERROR", no answer at all, or one that
// cannot be read.
type APIError struct {
	Op     string // the request type
	Status int    // HTTP status; 0 when no answer came
	// Message is Prima's RequestError or faultstring (control characters
	// dropped, at most maxMessageBytes: it is the server's text, bound for
	// logs and the DLQ), or what went wrong.
	Message    string
	Fault      string        // the SOAP faultcode (Client, Server...) when the answer was a Fault
	RetryAfter time.Duration // from Retry-After; 0 when absent
	// Retryable is true when the same call may succeed later: throttling,
	// 5xx, SOAP Faults, timeouts, lost connections, answers cut short,
	// and ERROR answers that say a record is locked or the server busy.
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
	if e.Fault != "" {
		fmt.Fprintf(&b, ": SOAP fault %s", e.Fault)
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

// statusError classifies a non-2xx answer, with the SOAP Fault it carried
// if any. 429 is never applied; every 5xx is treated as possibly applied,
// since Prima documents nothing about it.
func statusError(op string, resp *http.Response, fault *wire.Fault) *APIError {
	e := &APIError{Op: op, Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header)}
	if fault != nil {
		e.Fault, e.Message = cleanMessage(fault.Code), cleanMessage(fault.String)
	}
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

// faultError classifies a SOAP Fault that came with a 2xx status (SOAP 1.1
// sends faults with 500, which statusError handles): a transport error,
// retryable and possibly applied, as a 5xx is, whatever its faultcode,
// since Prima documents none of them.
func faultError(op string, resp *http.Response, fault *wire.Fault) *APIError {
	return &APIError{Op: op, Status: resp.StatusCode, Fault: cleanMessage(fault.Code), Message: cleanMessage(fault.String),
		RetryAfter: retryAfter(resp.Header), Retryable: true, Ambiguous: true}
}

// unreadable is an answer that came but cannot be read (cut short, too
// large, malformed, mis-encoded): the call was processed and may have been
// applied.
func unreadable(op string, status int, err error) *APIError {
	return &APIError{Op: op, Status: status, Message: "unreadable answer", Retryable: true, Ambiguous: true, Err: err}
}

// refusal is an answer with RequestStatus="ERROR": Prima read the request
// and did not apply it. Refusals are final, except those that say a record
// was locked or the server busy, which the same request can get past
// later.
func refusal(op string, status int, requestError string) *APIError {
	msg := cleanMessage(requestError)
	return &APIError{Op: op, Status: status, Message: msg, Retryable: transient(msg)}
}

// transient reports whether an ERROR message names a passing condition.
func transient(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "locked") || strings.Contains(m, "busy")
}

// maxMessageBytes caps a server's message in an error: RequestError and
// faultstring are Prima's text, headed for logs and DLQ headers.
const maxMessageBytes = 512

// cleanMessage makes server text safe for an error: control characters
// (C0, DEL, C1) dropped, except that tabs and line breaks become spaces,
// and at most maxMessageBytes, cut at a character boundary.
func cleanMessage(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			r = ' '
		case r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f:
			continue
		}
		if b.Len()+utf8.RuneLen(r) > maxMessageBytes {
			const more = "..."
			out := b.String()
			for len(out)+len(more) > maxMessageBytes {
				_, size := utf8.DecodeLastRuneInString(out)
				out = out[:len(out)-size]
			}
			return out + more
		}
		b.WriteRune(r)
	}
	return b.String()
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
