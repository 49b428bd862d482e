package clarussim

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// A parser for the executable subset of GraphQL that read-only clients
// send: operations with variables, fields with aliases and arguments, and
// every literal. Fragments and directives are refused with a GraphQL error
// rather than half-supported.

type gqlOp struct {
	Kind, Name string
	Vars       []gqlVarDef
	Sel        []*gqlField
}

type gqlVarDef struct {
	Name, Type string
	NonNull    bool
	Default    any
	HasDefault bool
}

type gqlField struct {
	Alias, Name string
	Args        []gqlArg
	Sel         []*gqlField
	HasSel      bool
	Line, Col   int
}

type gqlArg struct {
	Name  string
	Value any // string, int64, float64, bool, nil, gqlEnum, gqlVar, []any, map[string]any
}

type gqlVar string
type gqlEnum string

// gqlError is a GraphQL error with the location it refers to.
type gqlError struct {
	Message   string
	Line, Col int
}

func (e *gqlError) Error() string { return e.Message }

const maxQueryDepth = 16

type gqlParser struct {
	src       string
	pos       int
	line, col int
	tok       string // current token; "" at the end
	kind      byte   // 'p' punctuator, 'n' name, 'i' int, 'f' float, 's' string, 0 end
	tl, tc    int    // token position
	depth     int
}

func parseGraphQL(src string) (ops []*gqlOp, err error) {
	p := &gqlParser{src: src, line: 1, col: 1}
	defer func() {
		if r := recover(); r != nil {
			ge, ok := r.(*gqlError)
			if !ok {
				panic(r)
			}
			ops, err = nil, ge
		}
	}()
	p.next()
	for p.kind != 0 {
		ops = append(ops, p.operation())
	}
	if len(ops) == 0 {
		p.fail("Unexpected end of document")
	}
	return ops, nil
}

func (p *gqlParser) fail(format string, args ...any) {
	panic(&gqlError{Message: "Parse error: " + fmt.Sprintf(format, args...), Line: p.tl, Col: p.tc})
}

func (p *gqlParser) advance(n int) {
	for range n {
		if p.src[p.pos] == '\n' {
			p.line, p.col = p.line+1, 1
		} else {
			p.col++
		}
		p.pos++
	}
}

// next reads the next token, skipping ignored characters and comments.
func (p *gqlParser) next() {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' {
			p.advance(1)
		} else if c == '#' {
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.advance(1)
			}
		} else if strings.HasPrefix(p.src[p.pos:], "\ufeff") {
			p.pos += 3
		} else {
			break
		}
	}
	p.tl, p.tc = p.line, p.col
	if p.pos >= len(p.src) {
		p.tok, p.kind = "", 0
		return
	}
	start, c := p.pos, p.src[p.pos]
	switch {
	case strings.HasPrefix(p.src[p.pos:], "..."):
		p.advance(3)
		p.kind = 'p'
	case strings.IndexByte("!$&():=@[]{}|", c) >= 0:
		p.advance(1)
		p.kind = 'p'
	case c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
		for p.pos < len(p.src) && isNameByte(p.src[p.pos]) {
			p.advance(1)
		}
		p.kind = 'n'
	case c == '-' || c >= '0' && c <= '9':
		p.number()
	case c == '"':
		p.str()
		return
	default:
		r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
		p.fail("unexpected character %q", r)
	}
	p.tok = p.src[start:p.pos]
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

func (p *gqlParser) number() {
	p.kind = 'i'
	digits := func() int {
		n := 0
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.advance(1)
			n++
		}
		return n
	}
	if p.src[p.pos] == '-' {
		p.advance(1)
	}
	if digits() == 0 {
		p.fail("invalid number")
	}
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.advance(1)
		p.kind = 'f'
		if digits() == 0 {
			p.fail("invalid number")
		}
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.advance(1)
		p.kind = 'f'
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.advance(1)
		}
		if digits() == 0 {
			p.fail("invalid number")
		}
	}
}

// str reads a quoted string (block strings included) into p.tok, unescaped.
func (p *gqlParser) str() {
	p.kind = 's'
	if strings.HasPrefix(p.src[p.pos:], `"""`) {
		end := strings.Index(p.src[p.pos+3:], `"""`)
		if end < 0 {
			p.fail("unterminated string")
		}
		p.tok = strings.TrimSpace(p.src[p.pos+3 : p.pos+3+end])
		p.advance(end + 6)
		return
	}
	start := p.pos
	p.advance(1)
	for {
		if p.pos >= len(p.src) || p.src[p.pos] == '\n' {
			p.fail("unterminated string")
		}
		c := p.src[p.pos]
		if c == '"' {
			p.advance(1)
			break
		}
		if c == '\\' {
			p.advance(1)
			if p.pos >= len(p.src) {
				p.fail("unterminated string")
			}
		}
		p.advance(1)
	}
	// GraphQL's escapes are JSON's.
	var s string
	if err := json.Unmarshal([]byte(p.src[start:p.pos]), &s); err != nil {
		p.fail("invalid string escape")
	}
	p.tok = s
}

func (p *gqlParser) expect(tok string) {
	if p.kind != 'p' || p.tok != tok {
		p.fail("expected %q, got %q", tok, p.tok)
	}
	p.next()
}

func (p *gqlParser) peek(tok string) bool { return p.kind == 'p' && p.tok == tok }

func (p *gqlParser) name() string {
	if p.kind != 'n' {
		p.fail("expected a name, got %q", p.tok)
	}
	n := p.tok
	p.next()
	return n
}
