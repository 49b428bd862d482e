package clarussim

import (
	"strconv"
)

// The grammar half of the GraphQL parser: operations, selections, values.

func (p *gqlParser) operation() *gqlOp {
	op := &gqlOp{Kind: "query"}
	if p.peek("{") {
		op.Sel = p.selectionSet()
		return op
	}
	switch p.tok {
	case "query", "mutation", "subscription":
		op.Kind = p.name()
	case "fragment":
		panic(&gqlError{Message: "Fragments are not supported", Line: p.tl, Col: p.tc})
	default:
		p.fail("expected an operation, got %q", p.tok)
	}
	if p.kind == 'n' {
		op.Name = p.name()
	}
	if p.peek("(") {
		p.next()
		for !p.peek(")") {
			op.Vars = append(op.Vars, p.varDef())
		}
		p.next()
	}
	p.noDirectives()
	op.Sel = p.selectionSet()
	return op
}

func (p *gqlParser) varDef() gqlVarDef {
	p.expect("$")
	v := gqlVarDef{Name: p.name()}
	p.expect(":")
	v.Type, v.NonNull = p.typeRef()
	if p.peek("=") {
		p.next()
		v.Default, v.HasDefault = p.value(true), true
	}
	p.noDirectives()
	return v
}

// typeRef reads a type reference and returns it as written, with whether
// the outer type is non-null.
func (p *gqlParser) typeRef() (string, bool) {
	if p.depth++; p.depth > maxQueryDepth*2 {
		p.fail("type is nested too deeply")
	}
	defer func() { p.depth-- }()
	var t string
	if p.peek("[") {
		p.next()
		inner, nn := p.typeRef()
		if nn {
			inner += "!"
		}
		p.expect("]")
		t = "[" + inner + "]"
	} else {
		t = p.name()
	}
	if p.peek("!") {
		p.next()
		return t, true
	}
	return t, false
}

func (p *gqlParser) noDirectives() {
	if p.peek("@") {
		panic(&gqlError{Message: "Directives are not supported", Line: p.tl, Col: p.tc})
	}
}

func (p *gqlParser) selectionSet() []*gqlField {
	if p.depth++; p.depth > maxQueryDepth {
		p.fail("query is nested deeper than %d", maxQueryDepth)
	}
	defer func() { p.depth-- }()
	p.expect("{")
	var sel []*gqlField
	for !p.peek("}") {
		if p.peek("...") {
			panic(&gqlError{Message: "Fragments are not supported", Line: p.tl, Col: p.tc})
		}
		sel = append(sel, p.field())
	}
	if len(sel) == 0 {
		p.fail("empty selection set")
	}
	p.next()
	return sel
}

func (p *gqlParser) field() *gqlField {
	f := &gqlField{Line: p.tl, Col: p.tc}
	f.Name = p.name()
	if p.peek(":") {
		p.next()
		f.Alias, f.Name = f.Name, p.name()
	}
	if p.peek("(") {
		p.next()
		for !p.peek(")") {
			a := gqlArg{Name: p.name()}
			p.expect(":")
			a.Value = p.value(false)
			f.Args = append(f.Args, a)
		}
		p.next()
	}
	p.noDirectives()
	if p.peek("{") {
		f.Sel, f.HasSel = p.selectionSet(), true
	}
	return f
}

// value reads an input value; a constant one (a variable default) may not
// name variables.
func (p *gqlParser) value(constant bool) any {
	if p.depth++; p.depth > maxQueryDepth*2 {
		p.fail("value is nested too deeply")
	}
	defer func() { p.depth-- }()
	switch p.kind {
	case 'i':
		n, err := strconv.ParseInt(p.tok, 10, 64)
		if err != nil {
			p.fail("integer %s out of range", p.tok)
		}
		p.next()
		return n
	case 'f':
		f, err := strconv.ParseFloat(p.tok, 64)
		if err != nil {
			p.fail("invalid float %s", p.tok)
		}
		p.next()
		return f
	case 's':
		s := p.tok
		p.next()
		return s
	case 'n':
		n := p.name()
		switch n {
		case "true":
			return true
		case "false":
			return false
		case "null":
			return nil
		}
		return gqlEnum(n)
	}
	switch {
	case p.peek("$") && !constant:
		p.next()
		return gqlVar(p.name())
	case p.peek("["):
		p.next()
		list := []any{}
		for !p.peek("]") {
			list = append(list, p.value(constant))
		}
		p.next()
		return list
	case p.peek("{"):
		p.next()
		obj := map[string]any{}
		for !p.peek("}") {
			k := p.name()
			p.expect(":")
			obj[k] = p.value(constant)
		}
		p.next()
		return obj
	}
	p.fail("unexpected %q", p.tok)
	return nil
}
