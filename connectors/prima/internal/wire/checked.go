package wire

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Decoding outside bytes: everything Prima (or a client of the simulator)
// sends goes through checked, which refuses what encoding/xml lets pass
// but a faithful peer never sends.

// maxDepth bounds element nesting; Prima's documents are three deep, a
// SOAP envelope around one six.
const maxDepth = 32

var (
	// ErrTrailing is content after the root element: a second document,
	// or the tail of one glued to another.
	ErrTrailing = errors.New("content after the root element")
	// ErrC1 is a C1 control character (U+0080-U+009F) in text or an
	// attribute: no Latin-1 text holds one, so it is the mark of
	// Windows-1252 bytes (the euro sign is 0x80) read as ISO-8859-1, and
	// taking the text would store it garbled.
	ErrC1 = errors.New("C1 control character (U+0080-U+009F): mis-decoded text")
)

// checked hands a decoder's tokens on, refusing a DOCTYPE or other
// directive (a SOAP message must not have one), text outside the root
// element, C1 controls and nesting beyond maxDepth.
type checked struct {
	d     *xml.Decoder
	depth int
}

func newChecked(d *xml.Decoder) *checked { return &checked{d: d} }

func (c *checked) Token() (xml.Token, error) {
	t, err := c.d.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case xml.StartElement:
		if c.depth++; c.depth > maxDepth {
			return nil, fmt.Errorf("elements nested deeper than %d", maxDepth)
		}
		for _, a := range t.Attr {
			if hasC1(a.Value) {
				return nil, fmt.Errorf("attribute %s of <%s>: %w", a.Name.Local, t.Name.Local, ErrC1)
			}
		}
	case xml.EndElement:
		c.depth--
	case xml.CharData:
		if c.depth == 0 && len(bytes.TrimSpace(t)) > 0 {
			return nil, errors.New("text outside the root element")
		}
		if hasC1(string(t)) {
			return nil, ErrC1
		}
	case xml.Directive:
		return nil, errors.New("a DOCTYPE or other <!...> directive")
	}
	return t, nil
}

// end reads what follows the root element: whitespace, comments and
// processing instructions only.
func (c *checked) end() error {
	for {
		t, err := c.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t.(type) {
		case xml.StartElement, xml.EndElement:
			return ErrTrailing
		}
	}
}

func hasC1(s string) bool {
	for _, r := range s {
		if r >= 0x80 && r <= 0x9f {
			return true
		}
	}
	return false
}

// decodeChecked decodes the one root element of d into v, checked, and
// refuses anything after it.
func decodeChecked(d *xml.Decoder, v any) error {
	c := newChecked(d)
	if err := xml.NewTokenDecoder(c).Decode(v); err != nil {
		if err == io.EOF {
			return errors.New("no root element")
		}
		return err
	}
	return c.end()
}

// MarshalString encodes v as the ISO-8859-1 document Prima exchanges,
// declaration included, as the string that travels in a SOAP envelope:
// each byte of the Latin-1 encoding is one character, and characters
// outside Latin-1 are character references (see Marshal), so the string
// can be written back in ISO-8859-1 unchanged.
func MarshalString(v any) (string, error) {
	b, err := Marshal(v)
	if err != nil {
		return "", err
	}
	return latin1String(b), nil
}

// latin1String decodes ISO-8859-1 bytes: every byte is the code point of
// the same value.
func latin1String(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/8)
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// UnmarshalString decodes a document that arrived as a string (the
// argument or return value of a SOAP call) into v. The string is text
// already, so the encoding its declaration names says nothing about it;
// the names Prima may use are accepted, others refused. The document is
// checked: no DOCTYPE, no C1 controls, nothing after the root element.
func UnmarshalString(doc string, v any) error {
	d := xml.NewDecoder(strings.NewReader(doc))
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if _, err := charsetReader(label, in); err != nil {
			return nil, err
		}
		return in, nil
	}
	if err := decodeChecked(d, v); err != nil {
		return fmt.Errorf("decode XML: %w", err)
	}
	return nil
}
