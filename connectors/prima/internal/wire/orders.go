package wire

import (
	"encoding/xml"
	"io"
	"strings"
)

// MaxSalesOrderBytes bounds the text of one SalesOrder element. Past it the
// element's lines are not read (Oversize says so, Raw keeps the start):
// one runaway order must not take the memory of a whole page, nor make the
// page unreadable, since the connector dead-letters it and goes on.
const MaxSalesOrderBytes = 4 << 20

// SalesOrder is one order of a SalesOrdersModifiedSince answer, modelled
// on the documented MultiNewOrder Data (OrderNumber, AddrLine1..., Country)
// and OrderLineData. Every attribute is kept as text: a value the connector
// cannot read (a price that is not a decimal) spoils that one order, which
// it dead-letters, never the decoding of the page around it.
type SalesOrder struct {
	OrderNumber string `xml:"OrderNumber,attr"`
	Version     string `xml:"Version,attr"` // grows on every change
	Status      string `xml:"Status,attr"`  // Released or Cancelled
	Warehouse   string `xml:"Warehouse,attr"`
	Currency    string `xml:"Currency,attr"`
	CustomerRef string `xml:"CustomerRef,attr,omitempty"`
	Channel     string `xml:"Channel,attr,omitempty"`
	Modified    string `xml:"Modified,attr"`
	// The delivery address, named as MultiNewOrder's AddrLine1-6,
	// PostCode and Country; DelName, Town and Region are assumed.
	DelName   string `xml:"DelName,attr,omitempty"`
	AddrLine1 string `xml:"AddrLine1,attr,omitempty"`
	AddrLine2 string `xml:"AddrLine2,attr,omitempty"`
	Town      string `xml:"Town,attr,omitempty"`
	Region    string `xml:"Region,attr,omitempty"`
	PostCode  string `xml:"PostCode,attr,omitempty"`
	Country   string `xml:"Country,attr,omitempty"`

	Lines []OrderLine `xml:"OrderLine"`

	kept // the element's text, for a dead letter
}

// OrderLine is one line of a SalesOrder, as the documented OrderLineData
// (OrderLine, Product, MtrxCode1-4, Quantity, Price) plus the assumed
// StockType and Description.
type OrderLine struct {
	OrderLine string `xml:"OrderLine,attr"` // the line number
	Matrix
	Quantity    string `xml:"Quantity,attr"`
	Price       string `xml:"Price,attr"`
	StockType   string `xml:"StockType,attr"` // StockTypeStock or StockTypeNonStock
	Description string `xml:"Description,attr,omitempty"`
}

// Stock types of an order line (assumed: Prima's public material shows
// none): a stock line is picked from a warehouse, a non-stock one (gift
// card, warranty, service) never is.
const (
	StockTypeStock    = "stock"
	StockTypeNonStock = "non_stock"
)

// Order statuses on the feed (assumed): an order reaches the feed once
// released, so these two suffice.
const (
	OrderReleased  = "Released"
	OrderCancelled = "Cancelled"
)

// kept is an element's text as it came, for the dead letter of an
// element the connector cannot read: what it dead-letters is what Prima
// sent, not a summary of it. Sales orders and purchase orders embed it.
type kept struct {
	raw      string // the element as it came, re-serialized (see Raw)
	oversize bool
}

// Raw returns the element as it was decoded: its tokens written back as
// text, attributes and text as received (entities spelled canonically,
// namespace prefixes and comments dropped), cut at the element's byte
// limit. Empty for an element that was not decoded.
func (k *kept) Raw() string { return k.raw }

// Oversize reports whether the element was larger than its byte limit
// (MaxSalesOrderBytes, MaxPurchaseOrderBytes); then only its attributes
// were read.
func (k *kept) Oversize() bool { return k.oversize }

// UnmarshalXML decodes the element, keeping its text for Raw.
func (o *SalesOrder) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain SalesOrder // without this method: the default decoding
	return decodeKeepingText(d, start, MaxSalesOrderBytes, (*plain)(o), &o.kept)
}

// decodeKeepingText decodes the element start opens into v, a type
// without an UnmarshalXML method, and keeps its text in k. Past limit
// bytes only the element's attributes are decoded and the text is cut:
// one runaway element must not take the memory of a whole page, nor make
// the page unreadable.
func decodeKeepingText(d *xml.Decoder, start xml.StartElement, limit int, v any, k *kept) error {
	var raw strings.Builder
	writeToken(&raw, start)
	toks := []xml.Token{start.Copy()}
	over := false
	for depth := 1; depth > 0; {
		t, err := d.Token()
		if err != nil {
			return err
		}
		switch t.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
		if over {
			continue // read to the end of the element, keeping nothing
		}
		writeToken(&raw, t)
		if raw.Len() > limit {
			over = true
			continue
		}
		toks = append(toks, xml.CopyToken(t))
	}
	if over {
		toks = []xml.Token{start, start.End()} // the attributes alone
	}
	if err := xml.NewTokenDecoder(&replay{toks: toks}).Decode(v); err != nil {
		return err
	}
	k.raw, k.oversize = raw.String(), over
	if over {
		k.raw = CutUTF8(k.raw, limit)
	}
	return nil
}

// replay hands out tokens already read.
type replay struct{ toks []xml.Token }

func (r *replay) Token() (xml.Token, error) {
	if len(r.toks) == 0 {
		return nil, io.EOF
	}
	t := r.toks[0]
	r.toks = r.toks[1:]
	return t, nil
}

// writeToken writes t back as text. Prima's documents have no namespaces;
// only local names are kept. Comments and processing instructions are
// not content, and directives never get this far (checked refuses them).
func writeToken(b *strings.Builder, t xml.Token) {
	switch t := t.(type) {
	case xml.StartElement:
		b.WriteString("<" + t.Name.Local)
		for _, a := range t.Attr {
			b.WriteString(" " + a.Name.Local + `="`)
			_ = xml.EscapeText(b, []byte(a.Value))
			b.WriteString(`"`)
		}
		b.WriteString(">")
	case xml.EndElement:
		b.WriteString("</" + t.Name.Local + ">")
	case xml.CharData:
		_ = xml.EscapeText(b, t)
	}
}

// CutUTF8 returns at most n bytes of s, never splitting a character.
func CutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Despatch notes (all assumed: Prima's public material shows no despatch
// note request type). A note records what left a warehouse for a sales
// order; Prima invoices from it, so a second note for one shipment is a
// second invoice. Prima documents no idempotency: NewDespatchNote with a
// reference already used makes another note, and DespatchNotes, which
// answers every note with a reference, is how a writer finds out whether
// its earlier attempt reached Prima.

// DespatchNote is one note of a DespatchNotes or DespatchNotesModifiedSince
// answer. Every attribute is text, as on SalesOrder: a value the connector
// cannot read (a quantity that is not an integer) spoils that one note,
// which the source dead-letters, never the decoding of the page.
type DespatchNote struct {
	DespatchNoteID string `xml:"DespatchNoteID,attr"`
	Reference      string `xml:"Reference,attr"`
	OrderNumber    string `xml:"OrderNumber,attr"`
	Warehouse      string `xml:"Warehouse,attr,omitempty"`
	DespatchDate   string `xml:"DespatchDate,attr,omitempty"`
	Carrier        string `xml:"Carrier,attr,omitempty"`
	TrackingNumber string `xml:"TrackingNumber,attr,omitempty"`
	// Modified orders the feed. A note is immutable once made, so it is
	// the note's creation instant.
	Modified string `xml:"Modified,attr"`

	Lines []DespatchLine `xml:"DespatchLine"`
}

// DespatchLine is one line of a despatch note: a SKU spelt as the order
// lines spell it (product and matrix codes) and the units despatched,
// as text (see DespatchNote).
type DespatchLine struct {
	Matrix
	Quantity string `xml:"Quantity,attr"`
}
