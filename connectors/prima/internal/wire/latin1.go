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

// ContentType is what the simulator answers as: Prima's web services are
// documented as ISO-8859-1, so its SOAP answers are ISO-8859-1 documents,
// declared so. Clients send UTF-8 envelopes (SOAPContentType), as every
// SOAP 1.1 stack does.
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
	return latin1Document(string(utf)), nil
}

// latin1Document encodes an XML document held as a string in ISO-8859-1,
// behind the declaration that says so. Markup is ASCII; only attribute
// values and text can hold runes past U+00FF, and a character reference
// is valid in both.
func latin1Document(doc string) []byte {
	out := make([]byte, 0, len(declaration)+len(doc)+16)
	out = append(out, declaration...)
	for _, r := range doc {
		if r < 0x100 {
			out = append(out, byte(r))
		} else {
			out = fmt.Appendf(out, "&#%d;", r)
		}
	}
	return out
}

// Unmarshal decodes an XML document into v. The encoding is the one its
// declaration names; a document without one is read in the charset of
// contentType, and without that in ISO-8859-1, the documented encoding.
// The document is checked as UnmarshalString says.
func Unmarshal(body []byte, contentType string, v any) error {
	r, err := documentReader(body, contentType, "ISO-8859-1")
	if err != nil {
		return err
	}
	d := xml.NewDecoder(r)
	d.CharsetReader = charsetReader
	if err := decodeChecked(d, v); err != nil {
		return fmt.Errorf("decode XML: %w", err)
	}
	return nil
}

// documentReader reads body as text: a document with a declaration is
// left to the decoder (the declaration names its encoding); one without
// is read in the charset of contentType, else in fallback.
// A UTF-8 byte order mark says UTF-8 and is dropped.
func documentReader(body []byte, contentType, fallback string) (io.Reader, error) {
	if b, ok := bytes.CutPrefix(body, []byte("\xef\xbb\xbf")); ok {
		body, fallback, contentType = b, "UTF-8", ""
	}
	r := bytes.NewReader(body)
	if bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("<?xml")) {
		return r, nil
	}
	label := fallback
	if _, params, err := mime.ParseMediaType(contentType); err == nil && params["charset"] != "" {
		label = params["charset"]
	}
	return charsetReader(label, r)
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
