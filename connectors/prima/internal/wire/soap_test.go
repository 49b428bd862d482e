package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A call and its answer survive the envelope whatever the strings hold:
// markup, quotes, Latin-1, characters beyond it, CR and LF.
func TestEnvelopeRoundTrip(t *testing.T) {
	doc := "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<Request RequestType=\"X\"><Data Note=\"a &amp; b &lt; c\">Crème – €\r\n]]></Data></Request>"
	raw := MarshalCall(OpCompanyHandler, Part{Name: PartCompanyID, Value: "DUB"}, Part{Name: PartRequest, Value: doc})
	if !bytes.HasPrefix(raw, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) || !bytes.Contains(raw, []byte(`RequestType="X"`)) {
		t.Fatalf("envelope %q", raw)
	}
	call, err := UnmarshalCall(raw, SOAPContentType)
	if err != nil {
		t.Fatal(err)
	}
	if call.Op != OpCompanyHandler || len(call.Parts) != 2 || call.Parts[0] != (Part{PartCompanyID, "DUB"}) || call.Parts[1] != (Part{PartRequest, doc}) {
		t.Fatalf("call %+v", call)
	}

	ans := MarshalReturn(OpCompanyHandler, PartResponse, doc)
	if !bytes.HasPrefix(ans, []byte(declaration)) || !bytes.Contains(ans, []byte("Cr\xe8me &#8211; &#8364;")) {
		t.Fatalf("answer %q", ans)
	}
	ret, fault, err := UnmarshalReturn(ans, ContentType, OpCompanyHandler)
	if err != nil || fault != nil || ret != doc {
		t.Fatalf("returned %q, %v, %v", ret, fault, err)
	}

	f := MarshalFault(FaultServer, "Record locked – try later")
	if _, fault, err := UnmarshalReturn(f, ContentType, OpHandler); err != nil || fault == nil ||
		*fault != (Fault{Code: FaultServer, String: "Record locked – try later"}) {
		t.Fatalf("fault %+v, %v", fault, err)
	}
}

// A string document's declaration names an encoding that no longer
// applies: the text is read as it is, whatever the declaration says.
func TestUnmarshalStringIgnoresDeclaredEncoding(t *testing.T) {
	for _, decl := range []string{``, `<?xml version="1.0"?>`, `<?xml version="1.0" encoding="ISO-8859-1"?>`, `<?xml version="1.0" encoding="utf-8"?>`} {
		var r Response
		if err := UnmarshalString(decl+`<Response RequestStatus="OK" RequestError="Crème €"/>`, &r); err != nil || r.RequestError != "Crème €" {
			t.Errorf("%q: %+v, %v", decl, r, err)
		}
	}
	var r Response
	if err := UnmarshalString(`<?xml version="1.0" encoding="EBCDIC"?><Response RequestStatus="OK"/>`, &r); err == nil {
		t.Error("EBCDIC accepted")
	}
	if err := UnmarshalString(`<Response RequestStatus="OK"/><Response/>`, &r); !errors.Is(err, ErrTrailing) {
		t.Errorf("trailing: %v", err)
	}
	if err := UnmarshalString("<Response RequestStatus=\"OK\" RequestError=\"\u009c\"/>", &r); !errors.Is(err, ErrC1) {
		t.Errorf("C1: %v", err)
	}
	if err := UnmarshalString("", &r); err == nil {
		t.Error("empty accepted")
	}
}

// Clients send envelopes in other spellings than MarshalCall's: other
// prefixes, a default namespace on the envelope, RPC encoded's xsi:type,
// whitespace, a Header without mustUnderstand.
func TestUnmarshalCallSpellings(t *testing.T) {
	for _, raw := range []string{
		`<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body><ns0:wsomhandler xmlns:ns0="urn:omlink"><RequestXML>&lt;Request/&gt;</RequestXML></ns0:wsomhandler></soap-env:Body></soap-env:Envelope>`,
		`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/">
		   <Header><t:Trace xmlns:t="urn:t">1</t:Trace></Header>
		   <Body><wsomhandler xmlns="urn:omlink"><RequestXML xmlns="" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xsd:string"><![CDATA[<Request/>]]></RequestXML></wsomhandler></Body>
		 </Envelope>`,
	} {
		call, err := UnmarshalCall([]byte(raw), "text/xml")
		if v, _ := call.Arg(PartRequest); err != nil || call.Op != OpHandler || v != "<Request/>" {
			t.Errorf("%q: %+v, %v", raw, call, err)
		}
	}
	for _, tc := range []struct{ raw, code string }{
		{`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><wsomhandler xmlns="urn:omlink"><RequestXML>x</RequestXML></wsomhandler></Body></Envelope>`, FaultClient}, // part in urn:omlink
		{`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><o:wsomhandler xmlns:o="urn:omlink"><RequestXML xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/></o:wsomhandler></Body></Envelope>`, FaultClient},
		{`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><o:wsomhandler xmlns:o="urn:omlink"><RequestXML>a</RequestXML><RequestXML>b</RequestXML></o:wsomhandler></Body></Envelope>`, FaultClient},
		{`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body/></Envelope>`, FaultClient},
		{`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><o:a xmlns:o="urn:omlink"/></Body><Body/></Envelope>`, FaultClient},
		{`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><o:a xmlns:o="urn:omlink"/></Body><x/></Envelope>`, FaultClient},
		{`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body>text<o:a xmlns:o="urn:omlink"/></Body></Envelope>`, FaultClient},
		{`<Envelope xmlns="urn:other"><Body/></Envelope>`, FaultVersionMismatch},
	} {
		_, err := UnmarshalCall([]byte(tc.raw), "text/xml")
		var f *Fault
		if !errors.As(err, &f) || f.Code != tc.code {
			t.Errorf("%q: %v", tc.raw, err)
		}
	}
}

func TestEscapeText(t *testing.T) {
	var b strings.Builder
	escapeText(&b, "a<b>&\"'\r\n\t\x01\xff\U0001F600")
	if got, want := b.String(), "a&lt;b&gt;&amp;\"'&#13;\n\t\uFFFD\uFFFD\U0001F600"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

// FuzzUnmarshalCall drives the simulator's decoder of request envelopes,
// outside bytes from any SOAP client: no panic, every refusal a Fault, and
// whatever it accepts survives MarshalCall.
func FuzzUnmarshalCall(f *testing.F) {
	f.Add(MarshalCall(OpHandler, Part{Name: PartRequest, Value: `<Request RequestType="X"/>`}), SOAPContentType)
	f.Add(MarshalCall(OpCompanyHandler, Part{Name: PartCompanyID, Value: "1"}, Part{Name: PartRequest, Value: "Crème"}), "text/xml; charset=ISO-8859-1")
	f.Add([]byte(`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Header><a mustUnderstand="1"/></Header><Body/></Envelope>`), "")
	f.Fuzz(func(t *testing.T, raw []byte, contentType string) {
		call, err := UnmarshalCall(raw, contentType)
		if err != nil {
			var f *Fault
			if !errors.As(err, &f) || f.Code == "" {
				t.Fatalf("refused without a fault: %v", err)
			}
			return
		}
		again, err := UnmarshalCall(MarshalCall(call.Op, call.Parts...), SOAPContentType)
		if err != nil || again.Op != call.Op || len(again.Parts) != len(call.Parts) {
			t.Fatalf("%+v came back as %+v, %v", call, again, err)
		}
		for i := range call.Parts {
			want := strings.ToValidUTF8(call.Parts[i].Value, "\uFFFD")
			if again.Parts[i] != call.Parts[i] && again.Parts[i].Value != want {
				t.Fatalf("part %d: %q came back as %q", i, call.Parts[i].Value, again.Parts[i].Value)
			}
		}
	})
}
