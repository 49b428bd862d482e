package wire

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// ContentType is what requests and answers are sent as: Prima's web
// services are documented as ISO-8859-1.
const ContentType = "text/xml; charset=ISO-8859-1"

const declaration = `<?xml version="1.0" encoding="ISO-8859-1"?>` + "\n"

// Marshal encodes v as an ISO-8859-1 XML document with its declaration.
// Characters outside Latin-1 (the euro sign, typographic dashes) become
// numeric character references, so nothing is lost or replaced by '?'.
func Marshal(v any) ([]byte, error) {
	utf, err := xml.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(declaration)+len(utf)+16)
	out = append(out, declaration...)
	// Markup is ASCII; only attribute values and text can hold runes past
	// U+00FF, and a character reference is valid in both.
	for _, r := range string(utf) {
		if r < 0x100 {
			out = append(out, byte(r))
		} else {
			out = fmt.Appendf(out, "&#%d;", r)
		}
	}
	return out, nil
}

// Unmarshal decodes an XML document into v. The encoding is the one its
// declaration names; a document without one is read in the charset of
// contentType, and without that in ISO-8859-1, the documented encoding.
func Unmarshal(body []byte, contentType string, v any) error {
	var r io.Reader = bytes.NewReader(body)
	if !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("<?xml")) {
		label := "ISO-8859-1"
		if _, params, err := mime.ParseMediaType(contentType); err == nil && params["charset"] != "" {
			label = params["charset"]
		}
		cr, err := charsetReader(label, r)
		if err != nil {
			return err
		}
		r = cr
	}
	d := xml.NewDecoder(r)
	d.CharsetReader = charsetReader
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("decode XML: %w", err)
	}
	return nil
}

// charsetReader reads the encodings a Prima instance can plausibly send:
// Latin-1 (documented), its Windows superset, and UTF-8.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819", "us-ascii", "ascii":
		return charmap.ISO8859_1.NewDecoder().Reader(in), nil
	case "windows-1252", "cp1252":
		return charmap.Windows1252.NewDecoder().Reader(in), nil
	case "utf-8", "utf8":
		return in, nil
	}
	return nil, fmt.Errorf("unsupported XML encoding %q", label)
}
