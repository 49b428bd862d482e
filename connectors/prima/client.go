package prima

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/connectors/secret"
)

// maxResponseBytes bounds an answer: a full page of items is well under a
// megabyte.
const maxResponseBytes = 32 << 20

// Client calls Prima's generic handler, one typed call per request type.
// It makes exactly one attempt per call and classifies failures as
// *APIError; the callers (source, sink) own the retry policy.
type Client struct {
	endpoint string
	user     string
	pass     string
	hc       *http.Client
}

// NewClient returns a client for cfg. A nil hc builds one from cfg (request
// timeout, TLS roots, client certificate); tests pass their own.
func NewClient(cfg Config, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%sBASE_URL: want an instance URL, got %q", EnvPrefix, cfg.BaseURL)
	}
	if cfg.CompanyID != "" {
		u.Path += "/comwsomhandler"
		u.RawQuery = url.Values{"CompanyID": {cfg.CompanyID}}.Encode()
	} else {
		u.Path += "/wsomhandler"
	}
	pass, err := secret.Read(EnvPrefix+"PASSWORD", cfg.Password, cfg.PasswordFile)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		if hc, err = cfg.httpClient(); err != nil {
			return nil, err
		}
	}
	return &Client{endpoint: u.String(), user: cfg.Username, pass: pass, hc: hc}, nil
}

// call sends one request and returns Prima's OK answer.
func (c *Client) call(ctx context.Context, typ string, data wire.RequestData) (*wire.Response, error) {
	body, err := wire.Marshal(wire.Request{RequestType: typ, Data: data})
	if err != nil {
		return nil, fmt.Errorf("prima: %s: encode: %w", typ, err)
	}
	// Whether the whole request went out decides whether a failure is
	// ambiguous: a refused connection cannot have applied anything.
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) { wrote.Store(i.Err == nil) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("prima: %s: %w", typ, err)
	}
	req.Header.Set("Content-Type", wire.ContentType)
	req.Header.Set("Accept", "text/xml")
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("prima: %s: %w", typ, ctx.Err())
		}
		return nil, &APIError{Op: typ, Message: "no answer", Retryable: true, Ambiguous: wrote.Load(), Err: unwrapURL(err)}
	}
	defer resp.Body.Close()
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if rerr != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("prima: %s: %w", typ, ctx.Err())
	}
	out, derr := decodeResponse(raw, resp.Header.Get("Content-Type"))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := ""
		if derr == nil {
			msg = out.RequestError
		}
		return nil, statusError(typ, resp, msg)
	}
	if rerr != nil || derr != nil {
		// The call was processed, but its answer is lost: possibly applied.
		return nil, &APIError{Op: typ, Status: resp.StatusCode, Message: "unreadable answer", Retryable: true,
			Ambiguous: true, Err: errors.Join(rerr, derr)}
	}
	if out.RequestStatus == wire.StatusError {
		return nil, &APIError{Op: typ, Status: resp.StatusCode, Message: out.RequestError}
	}
	return out, nil
}

// decodeResponse reads a <Response> document; anything else is an error.
// This is the decoder of outside bytes the fuzz test drives.
func decodeResponse(raw []byte, contentType string) (*wire.Response, error) {
	var out wire.Response
	if err := wire.Unmarshal(raw, contentType, &out); err != nil {
		return nil, err
	}
	if out.RequestStatus != wire.StatusOK && out.RequestStatus != wire.StatusError {
		return nil, fmt.Errorf("RequestStatus %q is neither OK nor ERROR", out.RequestStatus)
	}
	return &out, nil
}

// unwrapURL drops *url.Error's "Post <url>:" prefix: the URL can carry the
// company id and is in every log line already.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
