package primasim_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
)

// A description outside ASCII travels as ISO-8859-1 bytes (é is one byte,
// 0xE9) in an ISO-8859-1 envelope, characters beyond Latin-1 as character
// references in the returned document (escaped once more in the
// envelope), and both decode back to the original; an envelope a client
// sends in Latin-1 is read as such.
func TestLatin1RoundTrip(t *testing.T) {
	sim, srv, _ := newSim(t, primasim.Options{})
	desc := "Café crème Suède boot, 42½ – 95 €"
	mustApply(t, sim, primasim.Event{Type: "add_item", SKU: "CAFÉ1/NOIR/9", Description: desc, UnitCost: cost("12.5")})

	status, h, raw := post(t, srv.URL, envelope(`<?xml version="1.0" encoding="ISO-8859-1"?><Request RequestType="ItemsModifiedSince"><Data PageSize="10"/></Request>`))
	if status != http.StatusOK || h.Get("Content-Type") != "text/xml; charset=ISO-8859-1" {
		t.Fatalf("status %d, content type %q", status, h.Get("Content-Type"))
	}
	for _, want := range [][]byte{[]byte("Caf\xe9 cr\xe8me Su\xe8de"), []byte("42\xbd"), []byte("&amp;#8211;"), []byte("&amp;#8364;"),
		[]byte(`<?xml version="1.0" encoding="ISO-8859-1"?>`)} {
		if !bytes.Contains(raw, want) {
			t.Errorf("answer lacks %q: %q", want, raw)
		}
	}
	if bytes.Contains(raw, []byte("\xc3\xa9")) {
		t.Errorf("answer holds UTF-8: %q", raw)
	}
	a := decode(t, wire.OpHandler, status, h, raw)
	if a.fault != nil || len(a.resp.Data.Items) != 1 || a.resp.Data.Items[0].Description != desc || a.resp.Data.Items[0].Product != "CAFÉ1" {
		t.Fatalf("answer %+v", a)
	}

	// The request's product code is Latin-1 too, in a Latin-1 envelope.
	env := strings.Replace(string(envelope(`<?xml version="1.0" encoding="ISO-8859-1"?><Request RequestType="StockLevelUpdate"><Data BatchRef="b1" Warehouse="WH1"><Line Product="CAFÉ1" MtrxCode1="NOIR" MtrxCode2="9" Available="7"/></Data></Request>`)),
		`encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1)
	status, h, raw = post(t, srv.URL, latin1(t, env))
	if a := decode(t, wire.OpHandler, status, h, raw); status != http.StatusOK || a.resp.RequestStatus != wire.StatusOK {
		t.Fatalf("update: %d %q", status, raw)
	}
	if got, ok := sim.State().Level("CAFÉ1/NOIR/9", "WH1"); !ok || got != 7 {
		t.Fatalf("level %d %v", got, ok)
	}
}

// Refusals of the handler are Response documents: business errors, an
// unknown or malformed Request, all RequestStatus ERROR at HTTP 200; a
// refused batch changes nothing.
func TestErrorsAreResponses(t *testing.T) {
	sim, srv, _ := newSim(t, primasim.Options{})
	mustApply(t, sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"})
	url := srv.URL

	for _, tc := range []struct {
		name   string
		req    wire.Request
		status int
		msg    string
	}{
		{"unknown type", wire.Request{RequestType: "Teleport"}, 200, `Unknown RequestType "Teleport"`},
		{"documented, not simulated", wire.Request{RequestType: wire.TypeNewOrder}, 200, "not supported"},
		{"no batch ref", wire.Request{RequestType: wire.TypeStockLevelUpdate, Data: wire.RequestData{Warehouse: "WH1"}}, 200, "BatchRef"},
		{"unknown product", wire.Request{RequestType: wire.TypeStockLevelUpdate, Data: wire.RequestData{BatchRef: "b", Warehouse: "WH1",
			Lines: []wire.StockLine{{Matrix: wire.Matrix{Product: "ST1", MtrxCode1: "BLK", MtrxCode2: "9"}, Available: 3},
				{Matrix: wire.Matrix{Product: "NOPE"}, Available: 1}}}}, 200, "Line 2: unknown product NOPE"},
		{"bad since", wire.Request{RequestType: wire.TypeItemsModifiedSince, Data: wire.RequestData{ModifiedSince: "yesterday"}}, 200, "ModifiedSince"},
	} {
		status, h, resp := request(t, url, tc.req)
		if status != tc.status || resp.RequestStatus != wire.StatusError || !strings.Contains(resp.RequestError, tc.msg) ||
			!strings.HasPrefix(h.Get("Content-Type"), "text/xml") {
			t.Errorf("%s: %d %+v", tc.name, status, resp)
		}
	}
	if st := sim.State(); len(st.Stock) != 0 || len(st.Batches) != 0 {
		t.Fatalf("a refused batch changed state: %+v", st)
	}
	for _, doc := range []string{"<Request RequestType=", `<Request RequestType="ItemsModifiedSince"/><Request/>`} {
		status, h, raw := post(t, url, envelope(doc))
		if a := decode(t, wire.OpHandler, status, h, raw); status != http.StatusOK || a.resp.RequestStatus != wire.StatusError ||
			!strings.HasPrefix(a.resp.RequestError, "Malformed request") {
			t.Errorf("%q: %d %+v", doc, status, a)
		}
	}
}

// What the SOAP layer refuses is a SOAP Fault, as a SOAP 1.1 server
// answers: HTTP 500 (415 for a body that is not text/xml), faultcode
// Client, VersionMismatch or MustUnderstand.
func TestSOAPFaults(t *testing.T) {
	_, srv, _ := newSim(t, primasim.Options{})
	doc := `<Request RequestType="ItemsModifiedSince"><Data/></Request>`
	ok := envelope(doc)
	for _, tc := range []struct {
		name    string
		body    []byte
		ct      string
		action  bool
		status  int
		code, s string
	}{
		{"no SOAPAction", ok, wire.SOAPContentType, false, 500, wire.FaultClient, "SOAPAction"},
		{"SOAP 1.2 content type", ok, "application/soap+xml; charset=utf-8", true, 415, wire.FaultClient, "text/xml"},
		{"not XML", []byte("<Request RequestType="), wire.SOAPContentType, true, 500, wire.FaultClient, "Malformed envelope"},
		{"a bare Request", []byte(doc), wire.SOAPContentType, true, 500, wire.FaultClient, "not a SOAP envelope"},
		{"SOAP 1.2 envelope", bytes.Replace(ok, []byte(wire.EnvelopeNS), []byte("http://www.w3.org/2003/05/soap-envelope"), 1),
			wire.SOAPContentType, true, 500, wire.FaultVersionMismatch, "not SOAP 1.1"},
		{"unknown operation", wire.MarshalCall("omhandler", wire.Part{Name: wire.PartRequest, Value: doc}), wire.SOAPContentType, true, 500,
			wire.FaultClient, "Unknown operation omhandler"},
		{"wrong part", wire.MarshalCall(wire.OpHandler, wire.Part{Name: "xml", Value: doc}), wire.SOAPContentType, true, 500,
			wire.FaultClient, "takes the parts"},
		{"parts out of order", wire.MarshalCall(wire.OpCompanyHandler, wire.Part{Name: wire.PartRequest, Value: doc},
			wire.Part{Name: wire.PartCompanyID, Value: "1"}), wire.SOAPContentType, true, 500, wire.FaultClient, "takes the parts"},
		{"operation outside urn:omlink", bytes.Replace(ok, []byte(wire.Namespace), []byte("urn:other"), 1), wire.SOAPContentType, true, 500,
			wire.FaultClient, "not in namespace"},
		{"must understand", bytes.Replace(ok, []byte("<soap:Body>"),
			[]byte(`<soap:Header><x:Auth xmlns:x="urn:x" soap:mustUnderstand="1">t</x:Auth></soap:Header><soap:Body>`), 1),
			wire.SOAPContentType, true, 500, wire.FaultMustUnderstand, "Auth"},
		{"a DOCTYPE", append([]byte(`<!DOCTYPE x [<!ENTITY a "b">]>`), ok[bytes.IndexByte(ok, '\n')+1:]...), wire.SOAPContentType, true, 500,
			wire.FaultClient, "directive"},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ct)
		if tc.action {
			req.Header.Set("SOAPAction", wire.SOAPAction)
		}
		status, h, raw := do(t, req)
		a := decode(t, wire.OpHandler, status, h, raw)
		if status != tc.status || a.fault == nil || a.fault.Code != tc.code || !strings.Contains(a.fault.String, tc.s) {
			t.Errorf("%s: %d %+v %q", tc.name, status, a.fault, raw)
		}
	}
	// The old invented transport is gone.
	for _, path := range []string{"/wsomhandler", "/comwsomhandler"} {
		if status, _, _ := post(t, srv.URL+path, []byte(doc)); status != http.StatusNotFound {
			t.Errorf("POST %s: %d", path, status)
		}
	}
}

// comwsomhandler takes the company id as its first part; wsomhandler
// serves the default company without one.
func TestCompanyIDRequiredOnComwsomhandler(t *testing.T) {
	_, srv, _ := newSim(t, primasim.Options{CompanyID: "DUB"})
	doc := marshal(t, wire.Request{RequestType: wire.TypeItemsModifiedSince})
	for _, tc := range []struct {
		name string
		env  []byte
		op   string
		msg  string
	}{
		{"empty", wire.MarshalCall(wire.OpCompanyHandler, wire.Part{Name: wire.PartCompanyID}, wire.Part{Name: wire.PartRequest, Value: doc}),
			wire.OpCompanyHandler, "CompanyID is required"},
		{"unknown", wire.MarshalCall(wire.OpCompanyHandler, wire.Part{Name: wire.PartCompanyID, Value: "LOA"},
			wire.Part{Name: wire.PartRequest, Value: doc}), wire.OpCompanyHandler, `Unknown CompanyID "LOA"`},
		{"known", wire.MarshalCall(wire.OpCompanyHandler, wire.Part{Name: wire.PartCompanyID, Value: "DUB"},
			wire.Part{Name: wire.PartRequest, Value: doc}), wire.OpCompanyHandler, ""},
		{"default", envelope(doc), wire.OpHandler, ""},
	} {
		status, h, raw := post(t, srv.URL, tc.env)
		a := decode(t, tc.op, status, h, raw)
		if status != 200 || a.fault != nil || a.resp.RequestError != tc.msg || (tc.msg == "") != (a.resp.RequestStatus == wire.StatusOK) {
			t.Errorf("%s: %d %+v", tc.name, status, a)
		}
	}
	status, h, raw := post(t, srv.URL, wire.MarshalCall(wire.OpCompanyHandler, wire.Part{Name: wire.PartRequest, Value: doc}))
	if a := decode(t, wire.OpCompanyHandler, status, h, raw); status != 500 || a.fault == nil {
		t.Errorf("no CompanyID part: %d %+v", status, a)
	}
}

// The WSDL is published at GET /wsdl with the address the caller used.
func TestWSDL(t *testing.T) {
	_, srv, _ := newSim(t, primasim.Options{})
	for _, tc := range []struct {
		path, proto string
		status      int
		location    string
	}{
		{"/wsdl", "", 200, srv.URL + "/"},
		{"/wsdl?targetURI=urn:omlink", "", 200, srv.URL + "/"},
		{"/wsdl", "https", 200, "https://" + strings.TrimPrefix(srv.URL, "http://") + "/"},
		{"/wsdl?targetURI=urn:other", "", 404, ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+tc.path, nil)
		if tc.proto != "" {
			req.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		status, h, raw := do(t, req)
		if status != tc.status {
			t.Errorf("%s: %d", tc.path, status)
			continue
		}
		if tc.status == 200 && (!bytes.Contains(raw, []byte(`<soap:address location="`+tc.location+`"/>`)) ||
			!strings.HasPrefix(h.Get("Content-Type"), "text/xml")) {
			t.Errorf("%s: %s %q", tc.path, h.Get("Content-Type"), raw)
		}
	}
}

// The stock levels of one batch share a modified stamp; the cursor's key
// pages through the tie without skipping or repeating a level.
func TestStockLevelsPageThroughTies(t *testing.T) {
	sim, srv, _ := newSim(t, primasim.Options{})
	var lines []wire.StockLine
	for _, size := range []string{"6", "7", "8", "9", "10"} {
		sku := "ST1/BLK/" + size
		mustApply(t, sim, primasim.Event{Type: "add_item", SKU: sku})
		m, _ := wire.ParseSKU(sku)
		lines = append(lines, wire.StockLine{Matrix: m, Available: 1})
	}
	url := srv.URL
	if _, _, resp := request(t, url, wire.Request{RequestType: wire.TypeStockLevelUpdate,
		Data: wire.RequestData{BatchRef: "b1", Warehouse: "WH1", Lines: lines}}); resp.RequestStatus != wire.StatusOK {
		t.Fatal(resp.RequestError)
	}
	var seen []string
	d := wire.RequestData{PageSize: 2}
	for range 10 {
		_, _, resp := request(t, url, wire.Request{RequestType: wire.TypeStockLevelsModifiedSince, Data: d})
		for _, l := range resp.Data.StockLevels {
			sku, _ := l.SKU()
			seen = append(seen, sku)
			d.ModifiedSince, d.AfterKey = l.Modified, sku+"@"+l.Warehouse
		}
		if !resp.Data.More {
			break
		}
	}
	if want := "ST1/BLK/10 ST1/BLK/6 ST1/BLK/7 ST1/BLK/8 ST1/BLK/9"; strings.Join(seen, " ") != want {
		t.Fatalf("paged %v, want %s", seen, want)
	}
}

// Prima documents no idempotency: a batch reference sent again, even with
// other levels, is applied again like any write (only counted), and the
// status request finds the first application.
func TestBatchRepeatAppliedAgain(t *testing.T) {
	sim, srv, _ := newSim(t, primasim.Options{})
	mustApply(t, sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"})
	url := srv.URL
	line := func(n int64) []wire.StockLine {
		return []wire.StockLine{{Matrix: wire.Matrix{Product: "ST1", MtrxCode1: "BLK", MtrxCode2: "9"}, Available: n}}
	}
	_, _, first := request(t, url, wire.Request{RequestType: wire.TypeStockLevelUpdate, Data: wire.RequestData{BatchRef: "b1", Warehouse: "WH1", Lines: line(5)}})
	_, _, again := request(t, url, wire.Request{RequestType: wire.TypeStockLevelUpdate, Data: wire.RequestData{BatchRef: "b1", Warehouse: "WH1", Lines: line(9)}})
	if first.RequestStatus != wire.StatusOK || again.RequestStatus != wire.StatusOK {
		t.Fatalf("first %+v again %+v", first, again)
	}
	if got, _ := sim.State().Level("ST1/BLK/9", "WH1"); got != 9 {
		t.Fatalf("level %d after a repeat, want 9: a repeat is applied", got)
	}
	_, _, found := request(t, url, wire.Request{RequestType: wire.TypeStockLevelUpdateStatus, Data: wire.RequestData{BatchRef: "b1"}})
	_, _, missing := request(t, url, wire.Request{RequestType: wire.TypeStockLevelUpdateStatus, Data: wire.RequestData{BatchRef: "b2"}})
	if !found.Data.Found || found.Data.Lines != 1 || missing.Data.Found {
		t.Fatalf("found %+v missing %+v", found.Data, missing.Data)
	}
	if st := sim.State(); st.Counters.BatchesApplied != 1 || st.Counters.BatchRepeats != 1 || st.Batches[0].Repeats != 1 {
		t.Fatalf("counters %+v", st.Counters)
	}
}

// MultiAvailableToSell answers the documented SKU lines.
func TestMultiAvailableToSell(t *testing.T) {
	sim, srv, _ := newSim(t, primasim.Options{})
	mustApply(t, sim,
		primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"},
		primasim.Event{Type: "set_stock", SKU: "ST1/BLK/9", Warehouse: "WH1", Available: ptr[int64](4)},
		primasim.Event{Type: "set_stock", SKU: "ST1/BLK/9", Warehouse: "WH2", Available: ptr[int64](6)})
	m := wire.Matrix{Product: "ST1", MtrxCode1: "BLK", MtrxCode2: "9"}
	_, _, all := request(t, srv.URL, wire.Request{RequestType: wire.TypeMultiAvailableToSell,
		Data: wire.RequestData{SKUs: []wire.Matrix{m, {Product: "NOPE"}}}})
	_, _, one := request(t, srv.URL, wire.Request{RequestType: wire.TypeMultiAvailableToSell,
		Data: wire.RequestData{Warehouse: "WH2", SKUs: []wire.Matrix{m}}})
	if len(all.Data.SKUs) != 1 || all.Data.SKUs[0].AvailableQuantity != 10 || all.Data.SKUs[0].AvailableDate != "2026-03-02" ||
		len(one.Data.SKUs) != 1 || one.Data.SKUs[0].AvailableQuantity != 6 {
		t.Fatalf("all %+v one %+v", all.Data, one.Data)
	}
}
