package prima

import (
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// FuzzDecodeResponse drives the decoder of Prima's answers, the outside
// bytes the client reads (a SOAP envelope returning a Response document),
// with the conversions after it: whatever the bytes, no panic; whatever it
// accepts is well-formed, in cursor order, and survives a round trip
// through the encoder.
func FuzzDecodeResponse(f *testing.F) {
	seeds := []wire.Response{
		{RequestStatus: wire.StatusOK, Data: &wire.ResponseData{More: true, Items: []wire.Item{
			{Matrix: wire.Matrix{Product: "ST1", MtrxCode1: "BLK", MtrxCode2: "9"}, Description: "Café crème – €", ClarusCode: "SKU-00001",
				StockItem: true, Active: true, UnitCost: "12.3400", Currency: "GBP", Modified: "2026-03-02T09:00:00.001Z"},
			{Matrix: wire.Matrix{Product: "ST1", MtrxCode1: "BLK", MtrxCode2: "10"}, UnitCost: "-1", Currency: "EUR", Modified: "2026-03-02T09:00:00.001Z"},
		}}},
		{RequestStatus: wire.StatusOK, Data: &wire.ResponseData{StockLevels: []wire.StockLevel{
			{Matrix: wire.Matrix{Product: "ST1"}, Warehouse: "WH1", Available: 5, OnHand: new(int64), Modified: "2026-03-02T09:00:00Z"},
		}}},
		{RequestStatus: wire.StatusError, RequestError: "Line 1: unknown product NOPE"},
		{RequestStatus: wire.StatusOK, Data: &wire.ResponseData{BatchRef: "b1", Found: true, Lines: 3, AppliedAt: "2026-03-02T09:00:00Z"}},
	}
	for _, r := range seeds {
		doc, err := wire.MarshalString(r)
		if err != nil {
			f.Fatal(err)
		}
		b := wire.MarshalReturn(wire.OpHandler, wire.PartResponse, doc)
		f.Add(b, wire.ContentType)
		f.Add(b[:len(b)/2], wire.ContentType)
	}
	f.Add(wire.MarshalFault(wire.FaultServer, "Record locked\x85"), wire.ContentType)
	f.Add([]byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><o:wsomhandlerResponse xmlns:o="urn:omlink">`+
		`<r>&lt;Response RequestStatus="OK"&gt;&lt;Data&gt;&lt;Item Product="P" Modified="x"/&gt;&lt;/Data&gt;&lt;/Response&gt;</r>`+
		`</o:wsomhandlerResponse></s:Body></s:Envelope>`), "text/xml; charset=utf-8")
	f.Add([]byte("<?xml version=\"1.0\" encoding=\"latin1\"?><Response RequestStatus=\"OK\"/>\xff"), "")

	f.Fuzz(func(t *testing.T, raw []byte, contentType string) {
		resp, fault, err := decodeAnswer(raw, contentType, wire.OpHandler)
		if fault != nil && (resp != nil || err != nil) {
			t.Fatalf("a fault and %+v, %v", resp, err)
		}
		if err != nil || fault != nil {
			return
		}
		if resp.RequestStatus != wire.StatusOK && resp.RequestStatus != wire.StatusError {
			t.Fatalf("accepted status %q", resp.RequestStatus)
		}
		items, ierr := itemsFrom(resp, Cursor{})
		levels, lerr := levelsFrom(resp, Cursor{})
		var prev Cursor
		for _, it := range items {
			if _, err := wire.ParseSKU(it.SKU); err != nil || !it.UnitCost.Valid() || len(it.Currency) != 3 {
				t.Fatalf("accepted item %+v", it)
			}
			if !after(it.Modified, it.SKU, prev) {
				t.Fatalf("items out of order: %+v after %+v", it, prev)
			}
			prev = Cursor{Modified: it.Modified, Key: it.SKU}
		}
		prev = Cursor{}
		for _, l := range levels {
			key := schemas.StockKey(l.SKU, l.Warehouse)
			if _, err := wire.ParseSKU(l.SKU); err != nil || l.Warehouse == "" || !after(l.Modified, key, prev) {
				t.Fatalf("accepted level %+v", l)
			}
			prev = Cursor{Modified: l.Modified, Key: key}
		}
		if ierr != nil && lerr != nil {
			return
		}
		doc, err := wire.MarshalString(resp)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again := wire.MarshalReturn(wire.OpHandler, wire.PartResponse, doc)
		if _, _, err := decodeAnswer(again, wire.ContentType, wire.OpHandler); err != nil {
			t.Fatalf("re-decode %q: %v", again, err)
		}
	})
}

func after(t time.Time, key string, prev Cursor) bool {
	c := t.Compare(prev.Modified)
	return c > 0 || c == 0 && key > prev.Key
}

// answerOf encodes data as Prima answers it and decodes the answer as the
// client does, so that each sales order or PO element has its text.
func answerOf(t testing.TB, data *wire.ResponseData) *wire.Response {
	t.Helper()
	doc, err := wire.MarshalString(wire.Response{RequestStatus: wire.StatusOK, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := decodeAnswer(wire.MarshalReturn(wire.OpHandler, wire.PartResponse, doc), wire.ContentType, wire.OpHandler)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// checkFeedPage checks what a page of a dead-lettering feed read from any
// bytes must be (pageFrom): no more records than elements, each with its
// text; the accepted ones (at is their place in the feed) in cursor
// order; next not behind the last of them.
func checkFeedPage[R any](t *testing.T, elems int, recs []R, next Cursor, rec func(R) (raw string, accepted bool, at Cursor)) {
	t.Helper()
	if len(recs) > elems {
		t.Fatalf("%d records from %d elements", len(recs), elems)
	}
	var prev Cursor
	for _, r := range recs {
		raw, ok, at := rec(r)
		if !strings.HasPrefix(raw, "<") {
			t.Fatalf("record without its text: %+v", r)
		}
		if !ok {
			continue
		}
		if !after(at.Modified, at.Key, prev) {
			t.Fatalf("records out of order: %+v after %+v", at, prev)
		}
		prev = at
	}
	if !prev.Modified.IsZero() && (next.Modified.Before(prev.Modified) || next.Modified.Equal(prev.Modified) && next.Key < prev.Key) {
		t.Fatalf("cursor %+v behind the last record read %+v", next, prev)
	}
}
