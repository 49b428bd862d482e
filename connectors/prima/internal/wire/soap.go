package wire

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Prima's transport, as prima.wsdl describes it: SOAP 1.1, RPC style,
// literal use, namespace urn:omlink. Each call is one operation element in
// the Body whose parts are strings: wsomhandler(RequestXML) or
// comwsomhandler(CompanyID, RequestXML), the Request document as text; the
// answer's one part is the Response document as text. The operation
// names, the namespace and one-string-in, one-string-out are documented;
// the part names, their order and literal (not encoded) use are assumed.
const (
	EnvelopeNS = "http://schemas.xmlsoap.org/soap/envelope/"
	Namespace  = "urn:omlink"

	OpHandler        = "wsomhandler"    // the instance's default company
	OpCompanyHandler = "comwsomhandler" // a company named by CompanyID

	PartCompanyID = "CompanyID"   // assumed
	PartRequest   = "RequestXML"  // assumed
	PartResponse  = "ResponseXML" // assumed

	// SOAPContentType is what a SOAP 1.1 client sends: a UTF-8 envelope.
	SOAPContentType = "text/xml; charset=utf-8"
	// SOAPAction is the header value the WSDL's soapAction="" asks for:
	// SOAP 1.1 requires the header, and the operation is named in the Body.
	SOAPAction = `""`
)

// Fault codes of SOAP 1.1.
const (
	FaultVersionMismatch = "VersionMismatch"
	FaultMustUnderstand  = "MustUnderstand"
	FaultClient          = "Client"
	FaultServer          = "Server"
)

// Part is one argument of an RPC call: its name and its string value.
type Part struct{ Name, Value string }

// Call is an RPC request as a server reads it: the operation and its parts
// in the order they came.
type Call struct {
	Op    string
	Parts []Part
}

// Arg returns the value of the part named name.
func (c Call) Arg(name string) (string, bool) {
	for _, p := range c.Parts {
		if p.Name == name {
			return p.Value, true
		}
	}
	return "", false
}

// Fault is a SOAP 1.1 Fault.
type Fault struct {
	Code   string // faultcode without its prefix: Client, Server...
	String string // faultstring
	Actor  string // faultactor, when given
}

func (f *Fault) Error() string { return fmt.Sprintf("SOAP fault %s: %s", f.Code, f.String) }

// MarshalCall encodes an RPC request envelope in UTF-8, as SOAP clients
// send them.
func MarshalCall(op string, parts ...Part) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<soap:Envelope xmlns:soap="` + EnvelopeNS + `"><soap:Body>`)
	b.WriteString(`<om:` + op + ` xmlns:om="` + Namespace + `">`)
	for _, p := range parts {
		writePart(&b, p)
	}
	b.WriteString(`</om:` + op + `></soap:Body></soap:Envelope>`)
	return []byte(b.String())
}

// MarshalReturn encodes the answer to op, its return value in part, as an
// ISO-8859-1 envelope (ContentType).
func MarshalReturn(op, part, value string) []byte {
	var b strings.Builder
	b.WriteString(`<soap:Envelope xmlns:soap="` + EnvelopeNS + `"><soap:Body>`)
	b.WriteString(`<om:` + op + `Response xmlns:om="` + Namespace + `">`)
	writePart(&b, Part{Name: part, Value: value})
	b.WriteString(`</om:` + op + `Response></soap:Body></soap:Envelope>`)
	return latin1Document(b.String())
}

// MarshalFault encodes a SOAP Fault envelope in ISO-8859-1 (ContentType).
func MarshalFault(code, msg string) []byte {
	var b strings.Builder
	b.WriteString(`<soap:Envelope xmlns:soap="` + EnvelopeNS + `"><soap:Body><soap:Fault>`)
	b.WriteString(`<faultcode>soap:` + code + `</faultcode><faultstring>`)
	escapeText(&b, msg)
	b.WriteString(`</faultstring></soap:Fault></soap:Body></soap:Envelope>`)
	return latin1Document(b.String())
}

func writePart(b *strings.Builder, p Part) {
	b.WriteString("<" + p.Name + ">")
	escapeText(b, p.Value)
	b.WriteString("</" + p.Name + ">")
}

// escapeText escapes s as element content: &, < and > (so "]]>" cannot
// occur), and CR, which a parser would otherwise turn into LF. Quotes stay
// as they are, as other SOAP stacks leave them, so the Request document is
// legible in a capture. A character XML 1.0 cannot hold becomes U+FFFD,
// as encoding/xml does.
func escapeText(b *strings.Builder, s string) {
	for i, w := 0, 0; i < len(s); i += w {
		r, width := utf8.DecodeRuneInString(s[i:])
		w = width
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\r':
			b.WriteString("&#13;")
		case r == utf8.RuneError && width == 1, !xmlChar(r):
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
}

// xmlChar reports whether XML 1.0 allows r in a document.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// UnmarshalCall reads a request envelope, as a server does. What a SOAP
// server must refuse comes back as a *Fault to answer with: another SOAP
// version (VersionMismatch), a header it must understand
// (MustUnderstand), anything malformed (Client).
func UnmarshalCall(raw []byte, contentType string) (Call, error) {
	root, err := parseEnvelope(raw, contentType)
	if err != nil {
		var f *Fault
		if errors.As(err, &f) {
			return Call{}, f
		}
		return Call{}, &Fault{Code: FaultClient, String: "Malformed envelope: " + err.Error()}
	}
	for _, h := range root.header {
		if v := h.attrValue(EnvelopeNS, "mustUnderstand"); v == "1" || v == "true" {
			return Call{}, &Fault{Code: FaultMustUnderstand, String: fmt.Sprintf("Header %s is not understood", h.name.Local)}
		}
	}
	op := root.body
	if op.name.Space != Namespace {
		return Call{}, &Fault{Code: FaultClient, String: fmt.Sprintf("Operation %s is not in namespace %s", op.name.Local, Namespace)}
	}
	call := Call{Op: op.name.Local}
	for _, p := range op.kids {
		if p.name.Space != "" {
			return Call{}, &Fault{Code: FaultClient, String: fmt.Sprintf("Part %s must be unqualified (RPC literal)", p.name.Local)}
		}
		v, err := p.stringValue()
		if err != nil {
			return Call{}, &Fault{Code: FaultClient, String: err.Error()}
		}
		if _, dup := call.Arg(p.name.Local); dup {
			return Call{}, &Fault{Code: FaultClient, String: fmt.Sprintf("Part %s appears twice", p.name.Local)}
		}
		call.Parts = append(call.Parts, Part{Name: p.name.Local, Value: v})
	}
	return call, nil
}

// UnmarshalReturn reads the answer to op: the return value (the first part
// of op's response element, whatever its name, as SOAP 1.1 section 7.1
// has it), or the Fault the answer carries. err is an answer that is
// neither.
func UnmarshalReturn(raw []byte, contentType, op string) (string, *Fault, error) {
	root, err := parseEnvelope(raw, contentType)
	if err != nil {
		return "", nil, err
	}
	b := root.body
	if b.name.Space == EnvelopeNS && b.name.Local == "Fault" {
		return "", readFault(b), nil
	}
	if b.name.Space != Namespace || b.name.Local != op+"Response" {
		return "", nil, fmt.Errorf("the answer is <%s> in %q, not %sResponse in %s", b.name.Local, b.name.Space, op, Namespace)
	}
	if len(b.kids) == 0 {
		return "", nil, fmt.Errorf("%sResponse has no return value", op)
	}
	v, err := b.kids[0].stringValue()
	if err != nil {
		return "", nil, err
	}
	return v, nil, nil
}

func readFault(n *node) *Fault {
	f := &Fault{}
	for _, k := range n.kids {
		switch k.name.Local {
		case "faultcode":
			code := strings.TrimSpace(k.text.String())
			if _, local, ok := strings.Cut(code, ":"); ok {
				code = local
			}
			f.Code = code
		case "faultstring":
			f.String = k.text.String()
		case "faultactor":
			f.Actor = k.text.String()
		}
	}
	if f.Code == "" {
		f.Code = FaultServer
	}
	return f
}

// node is an element of an envelope: its name, attributes, direct text
// and child elements.
type node struct {
	name  xml.Name
	attrs []xml.Attr
	text  strings.Builder
	kids  []*node
}

// attrValue returns the attribute space:local, "" when absent.
func (n *node) attrValue(space, local string) string {
	for _, a := range n.attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

const xsiNS = "http://www.w3.org/2001/XMLSchema-instance"

// stringValue is a part's string: its text, with no element inside it
// and not nil. An xsi:type (RPC encoded) is ignored.
func (n *node) stringValue() (string, error) {
	if len(n.kids) > 0 {
		return "", fmt.Errorf("part %s holds element <%s>, not a string", n.name.Local, n.kids[0].name.Local)
	}
	if v := n.attrValue(xsiNS, "nil"); v == "true" || v == "1" {
		return "", fmt.Errorf("part %s is nil", n.name.Local)
	}
	return n.text.String(), nil
}

// envelope is a parsed SOAP 1.1 envelope: its header entries and the one
// element of its Body.
type envelope struct {
	header []*node
	body   *node
}

// parseEnvelope parses and checks an envelope: SOAP 1.1's namespace, an
// optional Header, then a Body with exactly one element (an RPC call or
// answer, or a Fault), then only elements of other namespaces. Without a
// declaration or a charset in contentType, an envelope is UTF-8.
func parseEnvelope(raw []byte, contentType string) (envelope, error) {
	root, err := parseTree(raw, contentType)
	if err != nil {
		return envelope{}, err
	}
	if root.name.Local != "Envelope" {
		return envelope{}, fmt.Errorf("not a SOAP envelope: the root is <%s>", root.name.Local)
	}
	if root.name.Space != EnvelopeNS {
		return envelope{}, &Fault{Code: FaultVersionMismatch, String: fmt.Sprintf("Envelope namespace %q is not SOAP 1.1's", root.name.Space)}
	}
	var env envelope
	var body *node
	for i, k := range root.kids {
		switch {
		case body != nil:
			if k.name.Space == "" || k.name.Space == EnvelopeNS {
				return envelope{}, fmt.Errorf("<%s> after the Body: only elements of other namespaces may follow it", k.name.Local)
			}
		case k.name.Space == EnvelopeNS && k.name.Local == "Header" && i == 0:
			env.header = k.kids
		case k.name.Space == EnvelopeNS && k.name.Local == "Body":
			body = k
		default:
			return envelope{}, fmt.Errorf("<%s> where the Header or Body belongs", k.name.Local)
		}
	}
	switch {
	case body == nil:
		return envelope{}, errors.New("the envelope has no Body")
	case len(body.kids) != 1:
		return envelope{}, fmt.Errorf("the Body holds %d elements, want one", len(body.kids))
	}
	for _, n := range []*node{root, body} {
		if strings.TrimSpace(n.text.String()) != "" {
			return envelope{}, fmt.Errorf("text inside <%s>", n.name.Local)
		}
	}
	env.body = body.kids[0]
	return env, nil
}

// parseTree reads a document into nodes, checked (see checked).
func parseTree(raw []byte, contentType string) (*node, error) {
	r, err := documentReader(raw, contentType, "UTF-8")
	if err != nil {
		return nil, err
	}
	d := xml.NewDecoder(r)
	d.CharsetReader = charsetReader
	c := newChecked(d)
	var root *node
	var stack []*node
	for {
		t, err := c.Token()
		if err != nil {
			if errors.Is(err, io.EOF) && root != nil && len(stack) == 0 {
				return root, nil
			}
			if errors.Is(err, io.EOF) && root == nil {
				return nil, errors.New("decode XML: no root element")
			}
			return nil, fmt.Errorf("decode XML: %w", err)
		}
		switch t := t.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("decode XML: %w", ErrTrailing)
			}
			n := &node{name: t.Name, attrs: t.Attr}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
}
