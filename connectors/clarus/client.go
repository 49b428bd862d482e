package clarus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clock"
)

// Client calls the Clarus API. Every call carries a bearer token, fetched
// with the client credentials grant and refreshed shortly before it expires
// (or once after a 401), and the X-Clarus-Subdomain header. 429 answers wait
// out their Retry-After; 5xx and transport errors back off and retry. Writes
// (CreateGoodsOut, CancelGoodsOut) are never retried here: a failure that
// may have been applied comes back as a *TransientError for the caller to
// look up before it writes again.
type Client struct {
	base      string
	clientID  string
	secret    string
	subdomain string
	o         Options
	st        *clientState // shared with the client's one-shot view
	// once makes every call a single attempt: a failure that may pass comes
	// back as a *TransientError instead of being retried (see oneShot).
	once bool
}

// clientState is what a Client and its one-shot view share.
type clientState struct {
	mu        sync.Mutex // serialises token refreshes
	token     string
	refreshAt time.Time

	productsMu sync.Mutex             // guards products and units
	products   map[string]string      // product code -> Clarus id, as found
	units      map[string]StorageUnit // product code -> its storage unit of priority 0, as found
}

// Retry budgets: throttling is the server asking for patience, so it gets a
// larger one than failures.
const (
	maxFailures  = 8
	maxThrottles = 60
	maxWait      = 5 * time.Minute
)

// NewClient returns a client for cfg (resolved: ClientSecret filled).
func NewClient(cfg Config, o Options) *Client {
	o = o.withDefaults(cfg)
	return &Client{base: strings.TrimRight(cfg.BaseURL, "/"), clientID: cfg.ClientID, secret: cfg.ClientSecret, subdomain: cfg.Subdomain, o: o,
		st: &clientState{products: map[string]string{}, units: map[string]StorageUnit{}}}
}

// oneShot returns a view of c whose calls make one attempt each, sharing
// c's token and caches: a caller with its own retry policy (the order
// sink's token bucket and backoff) must see every failure.
func (c *Client) oneShot() *Client {
	if c.once {
		return c
	}
	v := *c
	v.once = true
	return &v
}

// APIError is an answer the client does not retry.
type APIError struct {
	Op     string
	Status int
	Body   string // the start of the body, for the log
	// Message is Clarus's own words, the "error" of its JSON error body
	// (or the first JSON:API error's detail), when the body has them.
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("clarus: %s: HTTP %d: %s", e.Op, e.Status, e.Body)
}

// TransientError is a call that failed in a way that may pass when made
// again: throttled (429), a server error (5xx), no answer, or an answer
// cut short. Only a one-shot call returns it; the others retry.
type TransientError struct {
	Op         string
	Status     int           // 0 when no answer came
	RetryAfter time.Duration // from Retry-After; 0 when absent
	// Ambiguous reports that the request may have been applied: it was
	// sent and no answer says it was not (a 429 says so). A write that
	// failed ambiguously must be looked up before it is sent again.
	Ambiguous bool
	Err       error
}

func (e *TransientError) Error() string {
	s := fmt.Sprintf("clarus: %s: %v", e.Op, e.Err)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

func (e *TransientError) Unwrap() error { return e.Err }

// Throttled reports whether Clarus asked the caller to slow down (429).
func (e *TransientError) Throttled() bool { return e.Status == http.StatusTooManyRequests }

// send performs the request build makes, retrying 429s after their
// Retry-After and 5xx answers and transport errors with backoff, and
// returns any other answer. A one-shot client (oneShot) returns the first
// such failure as a *TransientError instead.
func (c *Client) send(ctx context.Context, op string, build func() (*http.Request, error)) (*http.Response, []byte, error) {
	backoff := 500 * time.Millisecond
	failures, throttles := 0, 0
	for {
		req, err := build()
		if err != nil {
			return nil, nil, err
		}
		resp, err := c.o.HTTPClient.Do(req.WithContext(ctx))
		var wait time.Duration
		var reason string
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			failures, reason, wait = failures+1, "transport", backoff
		} else {
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusTooManyRequests:
				throttles, reason = throttles+1, "429"
				wait = c.retryAfter(resp.Header, time.Second)
			case resp.StatusCode >= 500:
				failures, reason = failures+1, "5xx"
				wait = max(backoff, c.retryAfter(resp.Header, 0))
			case rerr != nil:
				failures, reason, wait = failures+1, "transport", backoff
			default:
				return resp, body, nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if c.once {
			return nil, nil, &TransientError{Op: op, Status: respStatus(resp), RetryAfter: c.retryAfter(respHeader(resp), 0),
				Ambiguous: reason != "429", Err: err}
		}
		if failures >= maxFailures || throttles >= maxThrottles {
			return nil, nil, fmt.Errorf("clarus: %s: giving up after %d failures and %d throttled attempts: %v", op, failures, throttles, err)
		}
		c.o.Metrics.apiRetries.WithLabelValues(reason).Inc()
		if reason != "429" {
			backoff = min(2*backoff, 30*time.Second)
		}
		if err := clock.Sleep(ctx, c.o.Clock, wait); err != nil {
			return nil, nil, err
		}
	}
}

func respStatus(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

func respHeader(resp *http.Response) http.Header {
	if resp == nil {
		return nil
	}
	return resp.Header
}

// retryAfter reads Retry-After (delay-seconds or an HTTP date), capped.
func (c *Client) retryAfter(h http.Header, def time.Duration) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return def
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, maxWait)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(c.o.Clock.Now()), 0), maxWait)
	}
	return def
}

// accessToken returns the current token, fetching a new one when there is
// none or the current one is about to expire.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	st := c.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.token != "" && c.o.Clock.Now().Before(st.refreshAt) {
		return st.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	resp, body, err := c.send(ctx, "token", func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, c.base+"/oauth/token", strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(url.QueryEscape(c.clientID), url.QueryEscape(c.secret)) // RFC 6749 2.3.1 encoding
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("X-Clarus-Subdomain", c.subdomain)
		return req, nil
	})
	if err != nil {
		return "", err
	}
	c.o.Metrics.tokenRefreshs.Inc()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
	}
	jerr := json.Unmarshal(body, &tok)
	if resp.StatusCode != http.StatusOK {
		// The error code only: the description may echo what was sent.
		return "", &APIError{Op: "token", Status: resp.StatusCode, Body: tok.Error}
	}
	if jerr != nil || tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "bearer") {
		return "", errors.New("clarus: token: the answer holds no bearer access token")
	}
	ttl := time.Duration(tok.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = time.Hour // no expiry given: refresh hourly anyway, a 401 covers the rest
	}
	// Refresh a tenth of the lifetime early (at most a minute), so a token
	// never expires between the check and the server reading it.
	st.token, st.refreshAt = tok.AccessToken, c.o.Clock.Now().Add(ttl-min(ttl/10, time.Minute))
	return st.token, nil
}

// invalidate drops tok after the server refused it, unless another call
// has already replaced it.
func (c *Client) invalidate(tok string) {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	if c.st.token == tok {
		c.st.token = ""
	}
}
