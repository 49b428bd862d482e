package wire

import (
	"encoding/xml"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// xsdNode is any element of prima.xsd, read generically.
type xsdNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []xsdNode  `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (n xsdNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n xsdNode) walk(fn func(xsdNode)) {
	fn(n)
	for _, c := range n.Children {
		c.walk(fn)
	}
}

// The XSD is the contract the client and the simulator share: every
// request type here is in it, marked documented or assumed as Documented
// says, and every element and attribute the Go types read or write is
// declared in it.
func TestXSDMatchesWireTypes(t *testing.T) {
	raw, err := os.ReadFile("../../prima.xsd")
	if err != nil {
		t.Fatal(err)
	}
	var root xsdNode
	if err := Unmarshal(raw, "", &root); err != nil {
		t.Fatal(err)
	}
	types := map[string]string{} // request type -> its documentation
	elements, attrs := map[string]bool{}, map[string]bool{}
	root.walk(func(n xsdNode) {
		switch n.XMLName.Local {
		case "simpleType":
			if n.attr("name") == "RequestTypeType" {
				n.walk(func(e xsdNode) {
					if e.XMLName.Local == "enumeration" {
						doc := ""
						e.walk(func(d xsdNode) {
							if d.XMLName.Local == "documentation" {
								doc = d.Text
							}
						})
						types[e.attr("value")] = doc
					}
				})
			}
		case "element":
			elements[n.attr("name")] = true
		case "attribute":
			attrs[n.attr("name")] = true
		}
	})
	for typ, documented := range Documented {
		doc, ok := types[typ]
		switch {
		case !ok:
			t.Errorf("request type %s is not in prima.xsd", typ)
		case documented && !strings.HasPrefix(doc, "documented"):
			t.Errorf("%s: documentation %q should start with \"documented\"", typ, doc)
		case !documented && !strings.HasPrefix(doc, "assumed: not in Prima's public documentation"):
			t.Errorf("%s: documentation %q should start with \"assumed: not in Prima's public documentation\"", typ, doc)
		}
	}
	if len(types) != len(Documented) {
		t.Errorf("prima.xsd lists %d request types, Documented %d", len(types), len(Documented))
	}
	for _, v := range []any{Request{}, Response{}} {
		checkXMLNames(t, reflect.TypeOf(v), elements, attrs)
	}
}

func checkXMLNames(t *testing.T, typ reflect.Type, elements, attrs map[string]bool) {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("xml"), ",")
		switch {
		case f.Anonymous:
			checkXMLNames(t, f.Type, elements, attrs)
		case f.Name == "XMLName":
			if !elements[name] {
				t.Errorf("element %s is not declared in prima.xsd", name)
			}
		case strings.Contains(opts, "attr"):
			if !attrs[name] {
				t.Errorf("%s.%s: attribute %s is not declared in prima.xsd", typ.Name(), f.Name, name)
			}
		case name != "":
			if !elements[name] {
				t.Errorf("%s.%s: element %s is not declared in prima.xsd", typ.Name(), f.Name, name)
			}
			checkXMLNames(t, f.Type, elements, attrs)
		}
	}
}

func TestSKUSpelling(t *testing.T) {
	for _, tc := range []struct {
		sku  string
		m    Matrix
		fail bool
	}{
		{sku: "ST1", m: Matrix{Product: "ST1"}},
		{sku: "ST1/BLK/9", m: Matrix{Product: "ST1", MtrxCode1: "BLK", MtrxCode2: "9"}},
		{sku: "ST1//9", m: Matrix{Product: "ST1", MtrxCode2: "9"}},
		{sku: "A/B/C/D/E", m: Matrix{Product: "A", MtrxCode1: "B", MtrxCode2: "C", MtrxCode3: "D", MtrxCode4: "E"}},
		{sku: "A/B/C/D/E/F", fail: true},
		{sku: "ST1/BLK/", fail: true}, // not canonical: would alias ST1/BLK
		{sku: "", fail: true},
		{sku: "/BLK", fail: true},
		{sku: " ST1", fail: true},
		{sku: "ST1@WH1", fail: true},
	} {
		m, err := ParseSKU(tc.sku)
		if tc.fail {
			if !errors.Is(err, ErrBadSKU) {
				t.Errorf("%q: parsed as %+v", tc.sku, m)
			}
			continue
		}
		if err != nil || m != tc.m {
			t.Errorf("%q: %+v, %v", tc.sku, m, err)
		}
		if back, err := m.SKU(); err != nil || back != tc.sku {
			t.Errorf("%+v spells %q, %v", m, back, err)
		}
	}
}

func TestEncodings(t *testing.T) {
	in := Response{RequestStatus: StatusOK, Data: &ResponseData{Items: []Item{{Matrix: Matrix{Product: "P"}, Description: "Crème € ©"}}}}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `<?xml version="1.0" encoding="ISO-8859-1"?>`) || !strings.Contains(string(b), "Cr\xe8me &#8364; \xa9") {
		t.Fatalf("encoded %q", b)
	}
	var out Response
	if err := Unmarshal(b, "text/xml", &out); err != nil || out.Data.Items[0].Description != "Crème € ©" {
		t.Fatalf("decoded %+v, %v", out, err)
	}
	for _, tc := range []struct {
		body, ct, want string
	}{
		{"<Response RequestStatus=\"OK\" RequestError=\"Cr\xe8me\"/>", "", "Crème"},                                          // no declaration: Latin-1
		{"<Response RequestStatus=\"OK\" RequestError=\"Crème\"/>", "text/xml; charset=utf-8", "Crème"},                      // the header's charset
		{"<?xml version=\"1.0\" encoding=\"windows-1252\"?><Response RequestStatus=\"OK\" RequestError=\"\x80\"/>", "", "€"}, // Windows superset
		{"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response RequestStatus=\"OK\" RequestError=\"é\"/>", "text/xml; charset=ISO-8859-1", "é"},
	} {
		var r Response
		if err := Unmarshal([]byte(tc.body), tc.ct, &r); err != nil || r.RequestError != tc.want {
			t.Errorf("%q: %q, %v", tc.body, r.RequestError, err)
		}
	}
	var r Response
	if err := Unmarshal([]byte(`<?xml version="1.0" encoding="EBCDIC"?><Response/>`), "", &r); err == nil {
		t.Error("EBCDIC accepted")
	}
}
