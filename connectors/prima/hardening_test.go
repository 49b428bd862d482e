package prima

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
)

// answerWith returns an envelope returning doc from wsomhandler.
func answerWith(doc string) []byte { return wire.MarshalReturn(wire.OpHandler, wire.PartResponse, doc) }

// The envelope and the document it returns are refused when they hold what
// a faithful Prima never sends: content after the root element, C1 control
// characters (Windows-1252 text read as Latin-1), a DOCTYPE, a return
// value that is not a string, the wrong operation's answer, deep nesting.
func TestDecodeAnswerRefuses(t *testing.T) {
	ok := `<Response RequestStatus="OK"/>`
	env := func(inner string) string {
		return `<?xml version="1.0" encoding="ISO-8859-1"?><s:Envelope xmlns:s="` + wire.EnvelopeNS + `"><s:Body>` + inner + `</s:Body></s:Envelope>`
	}
	wrap := func(part string) string {
		return env(`<o:wsomhandlerResponse xmlns:o="urn:omlink">` + part + `</o:wsomhandlerResponse>`)
	}
	for _, tc := range []struct {
		name, raw string
		want      string // "" decodes; "fault" is a Fault; else in the error
	}{
		{"ok", string(answerWith(ok)), ""},
		{"ok, a comment after the root", string(answerWith(ok)) + "\n<!-- served by X -->\n", ""},
		{"ok, any return part name", wrap(`<return>&lt;Response RequestStatus="OK"/&gt;</return>`), ""},
		{"Latin-1 text", wrap("<r>&lt;Response RequestStatus=\"ERROR\" RequestError=\"Cr\xe8me\"/&gt;</r>"), ""},
		{"Windows-1252 declared so", strings.Replace(wrap("<r>&lt;Response RequestStatus=\"ERROR\" RequestError=\"\x80\"/&gt;</r>"),
			"ISO-8859-1", "windows-1252", 1), ""},
		{"a fault", string(wire.MarshalFault(wire.FaultServer, "boom")), "fault"},
		{"element after the envelope", string(answerWith(ok)) + "<x/>", "content after the root element"},
		{"text after the envelope", string(answerWith(ok)) + "garbage", "text outside the root element"},
		{"a second Response", string(answerWith(ok + ok)), "content after the root element"},
		{"text after the Response", string(answerWith(ok + "trailing")), "text outside the root element"},
		{"C1 in the envelope (Windows-1252 read as Latin-1)", wrap("<r>&lt;Response RequestStatus=\"ERROR\" RequestError=\"\x80 5\"/&gt;</r>"), "C1"},
		{"C1 as a reference in the document", string(answerWith(`<Response RequestStatus="ERROR" RequestError="&#133;"/>`)), "C1"},
		{"C1 in the document's text", string(answerWith("<Response RequestStatus=\"OK\"><Data>\u0085</Data></Response>")), "C1"},
		{"a DOCTYPE", `<!DOCTYPE x>` + string(answerWith(ok))[len(`<?xml version="1.0" encoding="ISO-8859-1"?>`)+1:], "directive"},
		{"a DOCTYPE in the document", string(answerWith(`<!DOCTYPE Response [<!ENTITY e "x">]>` + ok)), "directive"},
		{"an element for a return value", wrap(`<r><Response RequestStatus="OK"/></r>`), "not a string"},
		{"no return value", wrap(``), "no return value"},
		{"another operation's answer", env(`<o:comwsomhandlerResponse xmlns:o="urn:omlink"><r/></o:comwsomhandlerResponse>`), "not wsomhandlerResponse"},
		{"two elements in the Body", env(`<a/><b/>`), "want one"},
		{"SOAP 1.2", strings.Replace(string(answerWith(ok)), wire.EnvelopeNS, "http://www.w3.org/2003/05/soap-envelope", 1), "not SOAP 1.1"},
		{"not an envelope", ok, "not a SOAP envelope"},
		{"a bare Response in the Body", env(ok), "not wsomhandlerResponse"},
		{"not a Response", string(answerWith(`<Answer RequestStatus="OK"/>`)), "expected element type <Response>"},
		{"a status of neither", string(answerWith(`<Response RequestStatus="MAYBE"/>`)), "neither OK nor ERROR"},
		{"cut short", string(answerWith(ok))[:60], "XML syntax error"},
		{"deep", string(answerWith(`<Response RequestStatus="OK">` + strings.Repeat("<Data>", 40) + strings.Repeat("</Data>", 40) + `</Response>`)), "nested deeper"},
	} {
		resp, fault, err := decodeAnswer([]byte(tc.raw), wire.ContentType, wire.OpHandler)
		switch tc.want {
		case "":
			if err != nil || fault != nil || resp == nil {
				t.Errorf("%s: %+v %v %v", tc.name, resp, fault, err)
			}
		case "fault":
			if err != nil || fault == nil || fault.Code != wire.FaultServer || fault.String != "boom" {
				t.Errorf("%s: %+v %v %v", tc.name, resp, fault, err)
			}
		default:
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: want an error with %q, got %+v %v %v", tc.name, tc.want, resp, fault, err)
			}
		}
	}
}

// scripted answers every call with status, body and headers.
type scripted struct {
	status int
	body   []byte
	header map[string]string
	calls  atomic.Int32
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", wire.ContentType)
	for k, v := range s.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(s.status)
	_, _ = w.Write(s.body)
}

func scriptedClient(t *testing.T, h http.Handler) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := DefaultConfig()
	cfg.BaseURL = srv.URL
	c, err := NewClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// How each kind of answer is classified: what the sink retries, parks or
// looks up before re-sending. RequestError and faultstring reach errors
// (and so logs and DLQ headers) without control characters and capped.
func TestClientClassifiesAnswers(t *testing.T) {
	long := strings.Repeat("é\x01\x1b[31m", 400) // 2,800 bytes of text and terminal escapes
	refused := func(msg string) []byte {
		doc, err := wire.MarshalString(wire.Response{RequestStatus: wire.StatusError, RequestError: msg})
		if err != nil {
			t.Fatal(err)
		}
		return answerWith(doc)
	}
	for _, tc := range []struct {
		name                 string
		status               int
		body                 []byte
		retryable, ambiguous bool
		fault, msg           string
	}{
		{"record locked", 200, refused("Record LOCKED by user JBLOGGS"), true, false, "", "Record LOCKED by user JBLOGGS"},
		{"server busy", 200, refused("Server is Busy, try again"), true, false, "", "Server is Busy, try again"},
		{"a business refusal", 200, refused("Line 1: unknown product NOPE"), false, false, "", "Line 1: unknown product NOPE"},
		{"a refusal with control characters", 200, refused("bad\tline\r\nnext\x07"), false, false, "", "bad line  next"},
		{"a fault at 500", 500, wire.MarshalFault(wire.FaultClient, "Procedure wsomhandler failed"), true, true, "Client", "Procedure wsomhandler failed"},
		{"a fault at 200", 200, wire.MarshalFault(wire.FaultServer, "Lost its database"), true, true, "Server", "Lost its database"},
		{"a fault with a long message", 500, wire.MarshalFault(wire.FaultServer, long), true, true, "Server", ""},
		{"a 404 page", 404, []byte("<html>Not here</html>"), false, false, "", "Not Found"},
		{"trailing content", 200, append(answerWith(`<Response RequestStatus="OK"/>`), "<x/>"...), true, true, "", "unreadable answer"},
		{"C1 text", 200, answerWith("<Response RequestStatus=\"ERROR\" RequestError=\"\u0080\"/>"), true, true, "", "unreadable answer"},
	} {
		c := scriptedClient(t, &scripted{status: tc.status, body: tc.body})
		_, err := c.LookupStockBatch(context.Background(), "b1")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != tc.status || ae.Retryable != tc.retryable || ae.Ambiguous != tc.ambiguous ||
			ae.Fault != tc.fault || !strings.Contains(ae.Message, tc.msg) || IsRetryable(err) != tc.retryable {
			t.Errorf("%s: %#v", tc.name, err)
			continue
		}
		if len(ae.Message) > maxMessageBytes || !utf8.ValidString(ae.Message) || strings.ContainsFunc(ae.Message, func(r rune) bool {
			return r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f
		}) {
			t.Errorf("%s: message %q", tc.name, ae.Message)
		}
	}
}

func TestCleanMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"tab\there\r\nnl", "tab here  nl"},
		{"bell\x07 esc\x1b[0m del\x7f c1\u0085", "bell esc[0m del c1"},
		{"Crème €", "Crème €"},
		{strings.Repeat("a", 600), strings.Repeat("a", maxMessageBytes-3) + "..."},
		{strings.Repeat("é", 300), strings.Repeat("é", (maxMessageBytes-3)/2) + "..."},
	} {
		got := cleanMessage(tc.in)
		if got != tc.want || len(got) > maxMessageBytes || !utf8.ValidString(got) {
			t.Errorf("cleanMessage(%.20q...) = %q", tc.in, got)
		}
	}
}

// A page longer than the PageSize asked for, a warehouse code outside
// [A-Za-z0-9_-] and a negative available level are refused with errors
// that say so, not retried; bad values are refused before they are sent.
func TestClientRefusesBadValues(t *testing.T) {
	ctx := context.Background()
	ok := func(d *wire.ResponseData) []byte {
		doc, err := wire.MarshalString(wire.Response{RequestStatus: wire.StatusOK, Data: d})
		if err != nil {
			t.Fatal(err)
		}
		return answerWith(doc)
	}
	level := func(wh string, n int64) wire.StockLevel {
		return wire.StockLevel{Matrix: wire.Matrix{Product: "ST1"}, Warehouse: wh, Available: n, Modified: "2026-03-02T09:00:00.000Z"}
	}
	items := make([]wire.Item, 3)
	for i := range items {
		items[i] = wire.Item{Matrix: wire.Matrix{Product: "ST" + string(rune('1'+i))}, UnitCost: "1", Currency: "GBP",
			Modified: "2026-03-02T09:00:00.000Z"}
	}
	for _, tc := range []struct {
		name string
		body []byte
		call func(*Client) error
		want error
	}{
		{"items past the page size", ok(&wire.ResponseData{Items: items}), func(c *Client) error { _, _, err := c.Items(ctx, Cursor{}, 2); return err }, ErrPageTooLong},
		{"items at the page size", ok(&wire.ResponseData{Items: items, More: true}), func(c *Client) error { _, _, err := c.Items(ctx, Cursor{}, 3); return err }, nil},
		{"levels past the page size", ok(&wire.ResponseData{StockLevels: []wire.StockLevel{level("WH1", 1), level("WH2", 1)}}),
			func(c *Client) error { _, _, err := c.StockLevels(ctx, Cursor{}, 1); return err }, ErrPageTooLong},
		{"a warehouse with a space", ok(&wire.ResponseData{StockLevels: []wire.StockLevel{level("WH 1", 1)}}),
			func(c *Client) error { _, _, err := c.StockLevels(ctx, Cursor{}, 10); return err }, ErrBadWarehouse},
		{"a warehouse with @", ok(&wire.ResponseData{StockLevels: []wire.StockLevel{level("WH@1", 1)}}),
			func(c *Client) error { _, _, err := c.StockLevels(ctx, Cursor{}, 10); return err }, ErrBadWarehouse},
		{"a negative level", ok(&wire.ResponseData{StockLevels: []wire.StockLevel{level("WH-1_a", -3)}}),
			func(c *Client) error { _, _, err := c.StockLevels(ctx, Cursor{}, 10); return err }, ErrBadQuantity},
		{"a good level", ok(&wire.ResponseData{StockLevels: []wire.StockLevel{level("WH-1_a", 0)}}),
			func(c *Client) error { _, _, err := c.StockLevels(ctx, Cursor{}, 10); return err }, nil},
		{"negative available to sell", ok(&wire.ResponseData{SKUs: []wire.Available{{Matrix: wire.Matrix{Product: "ST1"}, AvailableQuantity: -1}}}),
			func(c *Client) error { _, err := c.AvailableToSell(ctx, "", []string{"ST1"}); return err }, ErrBadQuantity},
		{"available to sell in a bad warehouse", ok(&wire.ResponseData{SKUs: []wire.Available{{Matrix: wire.Matrix{Product: "ST1"}, Warehouse: "W/1"}}}),
			func(c *Client) error { _, err := c.AvailableToSell(ctx, "", []string{"ST1"}); return err }, ErrBadWarehouse},
	} {
		c := scriptedClient(t, &scripted{status: 200, body: tc.body})
		err := tc.call(c)
		var ae *APIError
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != nil && (!errors.Is(err, tc.want) || !errors.As(err, &ae) || ae.Retryable):
			t.Errorf("%s: want %v, not retryable; got %#v", tc.name, tc.want, err)
		}
	}

	// Bad values are refused before anything is sent.
	s := &scripted{status: 200, body: ok(nil)}
	c := scriptedClient(t, s)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"a warehouse with a space", c.UpdateStock(ctx, StockBatch{Ref: "b", Warehouse: "WH 1", Lines: []StockLine{{SKU: "ST1"}}}), ErrBadWarehouse},
		{"no warehouse", c.UpdateStock(ctx, StockBatch{Ref: "b", Lines: []StockLine{{SKU: "ST1"}}}), ErrBadWarehouse},
		{"a negative level", c.UpdateStock(ctx, StockBatch{Ref: "b", Warehouse: "WH1", Lines: []StockLine{{SKU: "ST1", Available: -1}}}), ErrBadQuantity},
		{"a filter with a quote", func() error { _, err := c.AvailableToSell(ctx, `W"1`, nil); return err }(), ErrBadWarehouse},
	} {
		if !errors.Is(tc.err, tc.want) || IsRetryable(tc.err) {
			t.Errorf("%s: %v", tc.name, tc.err)
		}
	}
	if n := s.calls.Load(); n != 0 {
		t.Fatalf("%d calls sent", n)
	}
}

// The size cap is enforced while reading: an answer announcing more is not
// read, one streaming more is read to the cap plus one byte and dropped.
func TestAnswerSizeCap(t *testing.T) {
	var read atomic.Int64
	endless := readerFunc(func(p []byte) (int, error) {
		for i := range p {
			p[i] = 'x'
		}
		read.Add(int64(len(p)))
		return len(p), nil
	})
	if _, err := readCapped(endless, -1, 1<<20); !errors.Is(err, errTooLarge) || read.Load() > 1<<20+64<<10 {
		t.Fatalf("endless: %v after %d bytes", err, read.Load())
	}
	read.Store(0)
	if _, err := readCapped(endless, 300<<20, 1<<20); !errors.Is(err, errTooLarge) || read.Load() != 0 {
		t.Fatalf("announced: %v after %d bytes", err, read.Load())
	}
	if b, err := readCapped(strings.NewReader("12345"), 5, 5); err != nil || string(b) != "12345" {
		t.Fatalf("at the cap: %q %v", b, err)
	}

	// End to end: a server streaming an endless answer (no Content-Length)
	// is cut off at the cap; the call is unreadable, possibly applied.
	var wrote atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", wire.ContentType)
		chunk := []byte(strings.Repeat("<a>", 1<<14))
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			n, err := w.Write(chunk)
			wrote.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	c := scriptedClient(t, h)
	c.maxAnswer = 1 << 20
	start := time.Now()
	_, err := c.LookupStockBatch(context.Background(), "b1")
	var ae *APIError
	if !errors.As(err, &ae) || !errors.Is(err, errTooLarge) || !ae.Retryable || !ae.Ambiguous {
		t.Fatalf("%#v", err)
	}
	if time.Since(start) > 5*time.Second || wrote.Load() > 64<<20 {
		t.Fatalf("took %s, server wrote %d bytes", time.Since(start), wrote.Load())
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
