package clarus

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Identifiers: product codes, warehouse codes, references and reason codes
// from Clarus become Kafka keys (sku@warehouse) and travel on to Prima,
// whose web services take ISO-8859-1 XML (DESIGN.md 10). Two byte strings
// that read the same, or that Prima would receive as the same, must not
// become two keys; a byte string lockstep cannot represent must not become
// a key at all. So an identifier is refused, with the reason, when it:
//
//   - is not valid UTF-8, or holds U+FFFD (JSON decoding turns invalid
//     bytes and lone surrogates into it, so two different raw codes would
//     collide);
//   - holds a control character, a bidirectional control, a zero-width or
//     other invisible format character, or a no-break space;
//   - starts or ends with a space;
//   - holds "@" (the key separator);
//   - has, once normalised to NFC, a character outside ISO-8859-1, which a
//     Prima product code cannot hold;
//   - is longer than its limit (a Clarus product code: 50 characters,
//     documented).
//
// An accepted identifier is returned in NFC, so canonically equivalent
// spellings (e + U+0301 and U+00E9) are one key.

// maxCodeLen is the documented maximum length of a Clarus product code,
// also applied to the other identifiers lockstep keys on.
const maxCodeLen = 50

// Identifier returns s normalised to NFC, or why it cannot be an
// identifier; field names it in the reason.
func Identifier(field, s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%s is missing", field)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%s %q is not valid UTF-8", field, s)
	}
	for i, r := range s {
		if reason := badRune(r); reason != "" {
			return "", fmt.Errorf("%s %+q holds %s (%U) at byte %d", field, s, reason, r, i)
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "", fmt.Errorf("%s %+q starts or ends with a space", field, s)
	}
	n := norm.NFC.String(s)
	for i, r := range n {
		if r > unicode.MaxLatin1 {
			return "", fmt.Errorf("%s %+q holds %q (%U) at byte %d, which a Prima code cannot hold (ISO-8859-1 only)", field, s, r, r, i)
		}
	}
	if strings.Contains(n, "@") {
		return "", fmt.Errorf("%s %+q holds @, the sku@warehouse separator", field, s)
	}
	if c := utf8.RuneCountInString(n); c > maxCodeLen {
		return "", fmt.Errorf("%s is %d characters long, more than %d", field, c, maxCodeLen)
	}
	return n, nil
}

// badRune says why r cannot be in an identifier, or "".
func badRune(r rune) string {
	switch {
	case r == utf8.RuneError:
		return "U+FFFD, the mark of an undecodable byte or a lone surrogate"
	case unicode.IsControl(r):
		return "a control character"
	case r == 0x061C || r == 0x200E || r == 0x200F || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069):
		return "a bidirectional control"
	case r == 0x200B || r == 0x200C || r == 0x200D || r == 0x2060 || r == 0xFEFF:
		return "a zero-width character"
	case unicode.Is(unicode.Cf, r):
		return "an invisible format character"
	case r == 0x00A0 || r == 0x2007 || r == 0x202F:
		return "a no-break space"
	}
	return ""
}

// optionalIdentifier is Identifier for a field that may be absent.
func optionalIdentifier(field, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	return Identifier(field, s)
}
