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
// out their Retry-After; 5xx and transport errors back off and retry.
type Client struct {
	base      string
	clientID  string
	secret    string
	subdomain string
	o         Options

	mu        sync.Mutex // serialises token refreshes
	token     string
	refreshAt time.Time
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
	return &Client{base: strings.TrimRight(cfg.BaseURL, "/"), clientID: cfg.ClientID, secret: cfg.ClientSecret, subdomain: cfg.Subdomain, o: o}
}

// APIError is an answer the client does not retry.
type APIError struct {
	Op     string
	Status int
	Body   string // the start of the body, for the log
}

func (e *APIError) Error() string {
	return fmt.Sprintf("clarus: %s: HTTP %d: %s", e.Op, e.Status, e.Body)
}

// send performs the request build makes, retrying 429s after their
// Retry-After and 5xx answers and transport errors with backoff, and
// returns any other answer.
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.o.Clock.Now().Before(c.refreshAt) {
		return c.token, nil
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
	c.token, c.refreshAt = tok.AccessToken, c.o.Clock.Now().Add(ttl-min(ttl/10, time.Minute))
	return c.token, nil
}

// invalidate drops tok after the server refused it, unless another call
// has already replaced it.
func (c *Client) invalidate(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.token = ""
	}
}
