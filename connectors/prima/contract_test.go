package prima_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lockstep-dev/lockstep/connectors/contracttest"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
)

// Contract tests: Prima's transport as a client no one here wrote speaks
// it. Python's zeep, a stock SOAP client, is given only the simulator's
// WSDL URL; what it sends and gets back is compared with lockstep's client,
// and the documents on both sides are validated against prima.xsd (lxml).

// zeepScript calls each of calls (an operation and its string arguments,
// hex-encoded JSON in argv[2]) through a zeep client built from the WSDL at
// argv[1] + "/wsdl", validates every Request and Response document against
// the XSD at argv[3], and prints the returned strings as one JSON line.
const zeepScript = `
import json, re, sys
import zeep
from lxml import etree

url, calls, xsd = sys.argv[1], json.loads(bytes.fromhex(sys.argv[2]).decode("utf-8")), sys.argv[3]
schema = etree.XMLSchema(etree.parse(xsd))
client = zeep.Client(url + "/wsdl")

def valid(doc):
    # The string is text already: its declaration's encoding does not apply.
    schema.assertValid(etree.fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", doc)))

out = []
for call in calls:
    result = getattr(client.service, call["op"])(*call["args"])
    if not isinstance(result, str):
        raise SystemExit("%s returned %r, not a string" % (call["op"], result))
    valid(call["args"][-1])
    valid(result)
    out.append(result)
print(json.dumps(out))
`

type zeepCall struct {
	Op   string   `json:"op"`
	Args []string `json:"args"`
}

// runZeep runs zeepScript against the instance at url and returns what
// each call returned.
func runZeep(t *testing.T, url string, calls []zeepCall) []string {
	t.Helper()
	arg, err := json.Marshal(calls)
	if err != nil {
		t.Fatal(err)
	}
	xsd, err := filepath.Abs("prima.xsd")
	if err != nil {
		t.Fatal(err)
	}
	out := strings.TrimSpace(contracttest.Run(t, zeepScript, url, hex.EncodeToString(arg), xsd))
	var results []string
	if err := json.Unmarshal([]byte(out[strings.LastIndexByte(out, '\n')+1:]), &results); err != nil || len(results) != len(calls) {
		t.Fatalf("zeep printed %q: %v", out, err)
	}
	return results
}

// recorder sits in front of the simulator and keeps every SOAP call it
// passes on, with the answer.
type recorder struct {
	sim   http.Handler
	mu    sync.Mutex
	calls []recorded
}

type recorded struct {
	header http.Header
	body   []byte
	status int
	answer []byte
	ct     string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rec.sim.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rr := httptest.NewRecorder()
	rec.sim.ServeHTTP(rr, r)
	rec.mu.Lock()
	rec.calls = append(rec.calls, recorded{header: r.Header.Clone(), body: body, status: rr.Code, answer: rr.Body.Bytes(),
		ct: rr.Header().Get("Content-Type")})
	rec.mu.Unlock()
	for k, v := range rr.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rr.Code)
	_, _ = w.Write(rr.Body.Bytes())
}

func (rec *recorder) take() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.calls
	rec.calls = nil
	return out
}

// contractSim is a simulator with a Latin-1 product code, behind a
// recorder.
func contractSim(t *testing.T) (*primasim.Server, *recorder, string) {
	t.Helper()
	clock := newClock()
	sim := primasim.New(primasim.Options{CompanyID: "DUB", Clock: clock.Now})
	for _, ev := range []primasim.Event{
		{Type: "add_item", SKU: "ST1/BLK/9"},
		{Type: "add_item", SKU: "CAFÉ1/NOIR/9", Description: "Café crème – €"},
		{Type: "set_stock", SKU: "ST1/BLK/9", Warehouse: "WH1", Available: ptr[int64](4)},
		{Type: "set_stock", SKU: "ST1/BLK/9", Warehouse: "WH2", Available: ptr[int64](6)},
		{Type: "set_stock", SKU: "CAFÉ1/NOIR/9", Warehouse: "WH1", Available: ptr[int64](3)},
	} {
		if err := sim.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{sim: sim}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return sim, rec, srv.URL
}

// zeep, given only the WSDL URL, calls wsomhandler and comwsomhandler with
// a MultiAvailableToSell request in the shape public client code sends,
// and gets back a Response string with the quantities.
func TestZeepCallsSimulatorFromWSDL(t *testing.T) {
	contracttest.Python(t)
	sim, _, url := contractSim(t)
	req := `<?xml version="1.0"?><Request RequestType="MultiAvailableToSell"><Data>` +
		`<sku Product="ST1" MtrxCode1="BLK" MtrxCode2="9" MtrxCode3="" MtrxCode4=""/>` +
		`<sku Product="CAFÉ1" MtrxCode1="NOIR" MtrxCode2="9" MtrxCode3="" MtrxCode4=""/>` +
		`<sku Product="NOPE" MtrxCode1="X" MtrxCode2="1" MtrxCode3="" MtrxCode4=""/>` +
		`</Data></Request>`
	results := runZeep(t, url, []zeepCall{
		{Op: wire.OpHandler, Args: []string{req}},
		{Op: wire.OpCompanyHandler, Args: []string{"DUB", req}},
		{Op: wire.OpCompanyHandler, Args: []string{"LOA", req}},
	})
	for i, res := range results[:2] {
		var resp wire.Response
		if err := wire.UnmarshalString(res, &resp); err != nil {
			t.Fatalf("call %d returned %q: %v", i, res, err)
		}
		got := map[string]int64{}
		if resp.Data != nil {
			for _, a := range resp.Data.SKUs {
				sku, _ := a.SKU()
				got[sku] = a.AvailableQuantity
			}
		}
		if resp.RequestStatus != wire.StatusOK || len(got) != 2 || got["ST1/BLK/9"] != 10 || got["CAFÉ1/NOIR/9"] != 3 {
			t.Errorf("call %d: %+v from %q", i, resp, res)
		}
	}
	var refused wire.Response
	if err := wire.UnmarshalString(results[2], &refused); err != nil || refused.RequestStatus != wire.StatusError ||
		refused.RequestError != `Unknown CompanyID "LOA"` {
		t.Errorf("unknown company: %+v, %v", refused, err)
	}
	if n := sim.State().Counters.Requests[wire.TypeMultiAvailableToSell]; n != 2 {
		t.Errorf("the simulator answered %d MultiAvailableToSell requests", n)
	}
}

// lockstep's client sends what zeep sends for the same call: the same
// Content-Type and SOAPAction, and the same Body (operation element, its
// namespace, the parts in order, their text), and reads the same answer;
// its Request documents are valid against prima.xsd.
func TestClientEnvelopesMatchZeep(t *testing.T) {
	contracttest.Python(t)
	_, rec, url := contractSim(t)
	ctx := context.Background()
	var goCalls []recorded
	for _, company := range []string{"", "DUB"} {
		cfg := testConfig(url)
		cfg.CompanyID = company
		avail, err := newClient(t, cfg).AvailableToSell(ctx, "", []string{"ST1/BLK/9", "CAFÉ1/NOIR/9"})
		if err != nil || avail["ST1/BLK/9"] != 10 || avail["CAFÉ1/NOIR/9"] != 3 {
			t.Fatalf("company %q: %v, %v", company, avail, err)
		}
		goCalls = append(goCalls, rec.take()...)
	}
	calls := zeepCallsOf(t, goCalls)
	results := runZeep(t, url, calls)
	zeepCalls := rec.take()
	if len(zeepCalls) != len(goCalls) {
		t.Fatalf("zeep made %d calls, the client %d", len(zeepCalls), len(goCalls))
	}
	for i, g := range goCalls {
		z := zeepCalls[i]
		if gs, zs := g.header.Get("SOAPAction"), z.header.Get("SOAPAction"); gs != zs {
			t.Errorf("%s: SOAPAction %q, zeep's %q", calls[i].Op, gs, zs)
		}
		if gm, zm := mediaType(g.header.Get("Content-Type")), mediaType(z.header.Get("Content-Type")); gm != zm {
			t.Errorf("%s: Content-Type %q, zeep's %q", calls[i].Op, gm, zm)
		}
		if gb, zb := bodyShape(t, g.body), bodyShape(t, z.body); !slices.Equal(gb, zb) {
			t.Errorf("%s: the client's Body\n%s\nzeep's\n%s", calls[i].Op, strings.Join(gb, "\n"), strings.Join(zb, "\n"))
		}
		ret, fault, err := wire.UnmarshalReturn(g.answer, g.ct, calls[i].Op)
		if err != nil || fault != nil || ret != results[i] {
			t.Errorf("%s: the client read %q (%v, %v), zeep %q", calls[i].Op, ret, fault, err, results[i])
		}
	}
}

// zeepCallsOf turns calls the client made into the same calls for zeep
// to make.
func zeepCallsOf(t *testing.T, recs []recorded) []zeepCall {
	t.Helper()
	var calls []zeepCall
	for _, c := range recs {
		call, err := wire.UnmarshalCall(c.body, c.header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("the simulator's decoder refuses the client's envelope %q: %v", c.body, err)
		}
		zc := zeepCall{Op: call.Op}
		for _, p := range call.Parts {
			zc.Args = append(zc.Args, p.Value)
		}
		calls = append(calls, zc)
	}
	return calls
}

func mediaType(ct string) string {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "unparsable: " + ct
	}
	return mt + "; charset=" + strings.ToLower(params["charset"])
}

// bodyShape lists the elements inside an envelope's Body, one line each:
// depth, namespace, name, attributes other than namespace declarations,
// and text.
func bodyShape(t *testing.T, raw []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(raw))
	var out []string
	depth, inBody := 0, -1
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			if inBody >= 0 {
				var attrs []string
				for _, a := range tok.Attr {
					if a.Name.Space != "xmlns" && a.Name.Local != "xmlns" {
						attrs = append(attrs, a.Name.Space+":"+a.Name.Local+"="+a.Value)
					}
				}
				out = append(out, fmt.Sprintf("%d {%s}%s %v", depth-inBody, tok.Name.Space, tok.Name.Local, attrs))
			}
			if tok.Name.Space == wire.EnvelopeNS && tok.Name.Local == "Body" {
				inBody = depth
			}
			text.Reset()
		case xml.CharData:
			text.Write(tok)
		case xml.EndElement:
			if inBody >= 0 && depth > inBody && strings.TrimSpace(text.String()) != "" {
				out = append(out, fmt.Sprintf("%d text %q", depth-inBody, text.String()))
			}
			text.Reset()
			if depth == inBody {
				inBody = -1
			}
			depth--
		}
	}
}

// The client's envelopes follow prima.wsdl as a SOAP 1.1 RPC/literal
// binding has them: read from the WSDL (not from the constants the client
// uses), the operation element's name and namespace, the part names in
// the message's order, the SOAPAction and the endpoint path. This needs
// no Python.
func TestClientEnvelopesFollowWSDL(t *testing.T) {
	raw, err := os.ReadFile("prima.wsdl")
	if err != nil {
		t.Fatal(err)
	}
	var defs wsdlDefinitions
	if err := xml.Unmarshal(raw, &defs); err != nil {
		t.Fatal(err)
	}
	const wsdlNS = "http://schemas.xmlsoap.org/wsdl/"
	if defs.XMLName.Space != wsdlNS || len(defs.Bindings) != 1 || len(defs.Services) != 1 {
		t.Fatalf("definitions %+v", defs)
	}
	b := defs.Bindings[0]
	if b.SOAP.Style != "rpc" || b.SOAP.Transport != "http://schemas.xmlsoap.org/soap/http" {
		t.Fatalf("binding %+v: want SOAP 1.1 over HTTP, rpc style", b.SOAP)
	}
	messages := map[string][]wsdlPart{}
	for _, m := range defs.Messages {
		messages[m.Name] = m.Parts
	}
	inputs := map[string]string{}
	for _, pt := range defs.PortTypes {
		for _, op := range pt.Operations {
			inputs[op.Name] = strings.TrimPrefix(op.Input.Message, "tns:")
			if out := messages[strings.TrimPrefix(op.Output.Message, "tns:")]; len(out) != 1 || out[0].Type != "xsd:string" {
				t.Errorf("%s returns %+v, want one string", op.Name, out)
			}
		}
	}

	_, rec, url := contractSim(t)
	for _, op := range b.Operations {
		if op.SOAP.SOAPAction != "" || op.Input.Body.Use != "literal" || op.Output.Body.Use != "literal" ||
			op.Input.Body.Namespace != defs.TargetNamespace || op.Output.Body.Namespace != defs.TargetNamespace {
			t.Errorf("%s: %+v", op.Name, op)
		}
		cfg := testConfig(url)
		if op.Name == wire.OpCompanyHandler {
			cfg.CompanyID = "DUB"
		}
		if _, err := newClient(t, cfg).AvailableToSell(context.Background(), "WH1", []string{"ST1/BLK/9"}); err != nil {
			t.Fatalf("%s: %v", op.Name, err)
		}
		calls := rec.take()
		if len(calls) != 1 {
			t.Fatalf("%s: %d calls", op.Name, len(calls))
		}
		c := calls[0]
		if got := c.header.Get("SOAPAction"); got != `"`+op.SOAP.SOAPAction+`"` {
			t.Errorf("%s: SOAPAction %q", op.Name, got)
		}
		if mt, _, _ := mime.ParseMediaType(c.header.Get("Content-Type")); mt != "text/xml" {
			t.Errorf("%s: Content-Type %q is not SOAP 1.1's", op.Name, mt)
		}
		var want []string
		want = append(want, fmt.Sprintf("1 {%s}%s []", op.Input.Body.Namespace, op.Name))
		for _, p := range messages[inputs[op.Name]] {
			if p.Type != "xsd:string" {
				t.Errorf("%s: part %s is %s", op.Name, p.Name, p.Type)
			}
			want = append(want, fmt.Sprintf("2 {}%s []", p.Name))
		}
		var got []string
		for _, line := range bodyShape(t, c.body) {
			if !strings.Contains(line, " text ") {
				got = append(got, line)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: the client's Body\n%s\nthe WSDL's\n%s", op.Name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if len(b.Operations) != 2 {
		t.Errorf("%d operations in the binding", len(b.Operations))
	}
	if loc := defs.Services[0].Ports[0].Address.Location; loc != "http://127.0.0.1:8082/" {
		t.Errorf("the address WSDL replaces is %q", loc)
	}
	if !bytes.Contains(prima.WSDL("http://x:1/"), []byte(`location="http://x:1/"`)) {
		t.Error("WSDL does not set the address")
	}
}

type wsdlDefinitions struct {
	XMLName         xml.Name
	TargetNamespace string `xml:"targetNamespace,attr"`
	Messages        []struct {
		Name  string     `xml:"name,attr"`
		Parts []wsdlPart `xml:"part"`
	} `xml:"message"`
	PortTypes []struct {
		Operations []struct {
			Name  string `xml:"name,attr"`
			Input struct {
				Message string `xml:"message,attr"`
			} `xml:"input"`
			Output struct {
				Message string `xml:"message,attr"`
			} `xml:"output"`
		} `xml:"operation"`
	} `xml:"portType"`
	Bindings []struct {
		SOAP struct {
			Style     string `xml:"style,attr"`
			Transport string `xml:"transport,attr"`
		} `xml:"http://schemas.xmlsoap.org/wsdl/soap/ binding"`
		Operations []wsdlBindingOp `xml:"operation"`
	} `xml:"binding"`
	Services []struct {
		Ports []struct {
			Address struct {
				Location string `xml:"location,attr"`
			} `xml:"http://schemas.xmlsoap.org/wsdl/soap/ address"`
		} `xml:"port"`
	} `xml:"service"`
}

type wsdlPart struct {
	Name string `xml:"name,attr"`
	Type string `xml:"type,attr"`
}

type wsdlBody struct {
	Use       string `xml:"use,attr"`
	Namespace string `xml:"namespace,attr"`
}

type wsdlBindingOp struct {
	Name string `xml:"name,attr"`
	SOAP struct {
		SOAPAction string `xml:"soapAction,attr"`
		Style      string `xml:"style,attr"`
	} `xml:"http://schemas.xmlsoap.org/wsdl/soap/ operation"`
	Input struct {
		Body wsdlBody `xml:"http://schemas.xmlsoap.org/wsdl/soap/ body"`
	} `xml:"input"`
	Output struct {
		Body wsdlBody `xml:"http://schemas.xmlsoap.org/wsdl/soap/ body"`
	} `xml:"output"`
}
