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
// 0xE9), characters beyond Latin-1 as character references, and both
// decode back to the original; a request in Latin-1 is read as such.
func TestLatin1RoundTrip(t *testing.T) {
	sim, srv, _ := newSim(t, primasim.Options{})
	desc := "Café crème Suède boot, 42½ – 95 €"
	mustApply(t, sim, primasim.Event{Type: "add_item", SKU: "CAFÉ1/NOIR/9", Description: desc, UnitCost: cost("12.5")})

	status, h, raw := call(t, srv.URL+"/wsomhandler", latin1(t,
		`<?xml version="1.0" encoding="ISO-8859-1"?><Request RequestType="ItemsModifiedSince"><Data PageSize="10"/></Request>`))
	if status != http.StatusOK || h.Get("Content-Type") != "text/xml; charset=ISO-8859-1" {
		t.Fatalf("status %d, content type %q", status, h.Get("Content-Type"))
	}
	for _, want := range [][]byte{[]byte("Caf\xe9 cr\xe8me Su\xe8de"), []byte("42\xbd"), []byte("&#8211;"), []byte("&#8364;")} {
		if !bytes.Contains(raw, want) {
			t.Errorf("answer lacks %q: %q", want, raw)
		}
	}
	if bytes.Contains(raw, []byte("\xc3\xa9")) {
		t.Errorf("answer holds UTF-8: %q", raw)
	}
	var resp wire.Response
	if err := wire.Unmarshal(raw, h.Get("Content-Type"), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Data.Items) != 1 || resp.Data.Items[0].Description != desc || resp.Data.Items[0].Product != "CAFÉ1" {
		t.Fatalf("items %+v", resp.Data)
	}

	// The request's product code is Latin-1 too.
	status, _, raw = call(t, srv.URL+"/wsomhandler", latin1(t,
		`<?xml version="1.0" encoding="ISO-8859-1"?><Request RequestType="StockLevelUpdate"><Data BatchRef="b1" Warehouse="WH1"><Line Product="CAFÉ1" MtrxCode1="NOIR" MtrxCode2="9" Available="7"/></Data></Request>`))
	if status != http.StatusOK || !bytes.Contains(raw, []byte(`RequestStatus="OK"`)) {
		t.Fatalf("update: %d %q", status, raw)
	}
	if got, ok := sim.State().Level("CAFÉ1/NOIR/9", "WH1"); !ok || got != 7 {
		t.Fatalf("level %d %v", got, ok)
	}
}

// Refusals are XML: business errors at HTTP 200 with RequestStatus ERROR,
// malformed calls at 400, and a refused batch changes nothing.
func TestErrorsAreXML(t *testing.T) {
	sim, srv, _ := newSim(t, primasim.Options{})
	mustApply(t, sim, primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"})
	url := srv.URL + "/wsomhandler"

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

	status, _, raw := call(t, url, []byte("<Request RequestType="))
	if status != http.StatusBadRequest || !bytes.Contains(raw, []byte(`RequestStatus="ERROR"`)) || !bytes.Contains(raw, []byte("Malformed request")) {
		t.Fatalf("malformed: %d %q", status, raw)
	}
}

// comwsomhandler needs the company id as ?CompanyID=; wsomhandler serves
// the default company without one.
func TestCompanyIDRequiredOnComwsomhandler(t *testing.T) {
	_, srv, _ := newSim(t, primasim.Options{CompanyID: "DUB"})
	req := wire.Request{RequestType: wire.TypeItemsModifiedSince}
	for _, tc := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/comwsomhandler", 400, "CompanyID is required"},
		{"/comwsomhandler?CompanyID=LOA", 400, `Unknown CompanyID "LOA"`},
		{"/comwsomhandler?CompanyID=DUB", 200, ""},
		{"/wsomhandler", 200, ""},
	} {
		status, _, resp := request(t, srv.URL+tc.path, req)
		if status != tc.status || resp.RequestError != tc.msg || (tc.msg == "") != (resp.RequestStatus == wire.StatusOK) {
			t.Errorf("%s: %d %+v", tc.path, status, resp)
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
	url := srv.URL + "/wsomhandler"
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
	url := srv.URL + "/wsomhandler"
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
	_, _, all := request(t, srv.URL+"/wsomhandler", wire.Request{RequestType: wire.TypeMultiAvailableToSell,
		Data: wire.RequestData{SKUs: []wire.Matrix{m, {Product: "NOPE"}}}})
	_, _, one := request(t, srv.URL+"/wsomhandler", wire.Request{RequestType: wire.TypeMultiAvailableToSell,
		Data: wire.RequestData{Warehouse: "WH2", SKUs: []wire.Matrix{m}}})
	if len(all.Data.SKUs) != 1 || all.Data.SKUs[0].AvailableQuantity != 10 || all.Data.SKUs[0].AvailableDate != "2026-03-02" ||
		len(one.Data.SKUs) != 1 || one.Data.SKUs[0].AvailableQuantity != 6 {
		t.Fatalf("all %+v one %+v", all.Data, one.Data)
	}
}
