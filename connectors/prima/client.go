package prima

import (
	"bytes"
	"context"
	_ "embed" // prima.wsdl
	"encoding/xml"
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

//go:embed prima.wsdl
var wsdl []byte

// wsdlLocation is the soap:address in prima.wsdl that WSDL replaces.
const wsdlLocation = `location="http://127.0.0.1:8082/"`

// WSDL returns prima.wsdl, the contract the client and the simulator
// share, with its endpoint address set to location (an instance URL).
func WSDL(location string) []byte {
	var esc bytes.Buffer
	_ = xml.EscapeText(&esc, []byte(location))
	return bytes.Replace(wsdl, []byte(wsdlLocation), []byte(`location="`+esc.String()+`"`), 1)
}

// Client calls Prima's generic handler over SOAP, one typed call per
// request type. It makes exactly one attempt per call and classifies
// failures as *APIError; the callers (source, sink) own the retry policy.
type Client struct {
	endpoint  string
	companyID string
	user      string
	pass      string
	hc        *http.Client
	maxAnswer int64 // maxResponseBytes; tests lower it
}

// NewClient returns a client for cfg. A nil hc builds one from cfg (request
// timeout, TLS roots, client certificate); tests pass their own.
func NewClient(cfg Config, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%sBASE_URL: want an instance URL, got %q", EnvPrefix, cfg.BaseURL)
	}
	if strings.HasSuffix(u.Path, "/wsdl") {
		return nil, fmt.Errorf("%sBASE_URL: want the instance URL, not its WSDL (%q without /wsdl)", EnvPrefix, cfg.BaseURL)
	}
	if u.Path == "" {
		u.Path = "/"
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
	return &Client{endpoint: u.String(), companyID: cfg.CompanyID, user: cfg.Username, pass: pass, hc: hc,
		maxAnswer: maxResponseBytes}, nil
}

// envelope is the SOAP call for one Request document: wsomhandler, or
// comwsomhandler with the company id when one is configured.
func (c *Client) envelope(doc string) (op string, body []byte) {
	if c.companyID != "" {
		return wire.OpCompanyHandler, wire.MarshalCall(wire.OpCompanyHandler,
			wire.Part{Name: wire.PartCompanyID, Value: c.companyID}, wire.Part{Name: wire.PartRequest, Value: doc})
	}
	return wire.OpHandler, wire.MarshalCall(wire.OpHandler, wire.Part{Name: wire.PartRequest, Value: doc})
}

// call sends one request and returns Prima's OK answer.
func (c *Client) call(ctx context.Context, typ string, data wire.RequestData) (*wire.Response, error) {
	doc, err := wire.MarshalString(wire.Request{RequestType: typ, Data: data})
	if err != nil {
		return nil, fmt.Errorf("prima: %s: encode: %w", typ, err)
	}
	op, body := c.envelope(doc)
	// Whether the whole request went out decides whether a failure is
	// ambiguous: a refused connection cannot have applied anything.
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) { wrote.Store(i.Err == nil) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("prima: %s: %w", typ, err)
	}
	req.Header.Set("Content-Type", wire.SOAPContentType)
	req.Header.Set("SOAPAction", wire.SOAPAction)
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
	raw, rerr := readCapped(resp.Body, resp.ContentLength, c.maxAnswer)
	if rerr != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("prima: %s: %w", typ, ctx.Err())
	}
	var (
		out   *wire.Response
		fault *wire.Fault
		derr  = rerr
	)
	if rerr == nil {
		out, fault, derr = decodeAnswer(raw, resp.Header.Get("Content-Type"), op)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, statusError(typ, resp, fault)
	}
	if derr != nil {
		// The call was processed, but its answer is lost: possibly applied.
		return nil, unreadable(typ, resp.StatusCode, derr)
	}
	if fault != nil {
		return nil, faultError(typ, resp, fault)
	}
	if out.RequestStatus == wire.StatusError {
		return nil, refusal(typ, resp.StatusCode, out.RequestError)
	}
	return out, nil
}

// errTooLarge is an answer past the client's cap.
var errTooLarge = errors.New("answer too large")

// readCapped reads at most limit bytes of an answer and fails, without
// reading on, when there are more: one that announces more in its
// Content-Length (length, -1 when unknown) is not read at all.
func readCapped(r io.Reader, length, limit int64) ([]byte, error) {
	if length > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds %d bytes", errTooLarge, length, limit)
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, limit)
	}
	return b, nil
}

// decodeAnswer reads the answer to op: the SOAP envelope, then the
// <Response> document it returns, or the Fault it carries instead. This is
// the decoder of outside bytes the fuzz test drives.
func decodeAnswer(raw []byte, contentType, op string) (*wire.Response, *wire.Fault, error) {
	ret, fault, err := wire.UnmarshalReturn(raw, contentType, op)
	if err != nil || fault != nil {
		return nil, fault, err
	}
	out, err := decodeResponse(ret)
	return out, nil, err
}

// decodeResponse reads the <Response> document a call returned; anything
// else is an error.
func decodeResponse(doc string) (*wire.Response, error) {
	var out wire.Response
	if err := wire.UnmarshalString(doc, &out); err != nil {
		return nil, err
	}
	if out.RequestStatus != wire.StatusOK && out.RequestStatus != wire.StatusError {
		return nil, fmt.Errorf("RequestStatus %q is neither OK nor ERROR", cleanMessage(out.RequestStatus))
	}
	return &out, nil
}

// unwrapURL drops *url.Error's "Post <url>:" prefix: the instance URL is
// configuration, logged once, not news in every error.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
