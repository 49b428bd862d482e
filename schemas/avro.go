package schemas

import (
	"encoding/json"
	"fmt"
	"strings"
)

// avroType is a parsed Avro schema node. goavro keeps its own model private,
// so this is the copy lockstep reads field names, defaults and logical types
// from: the projection plans and the evolution check both need them.
type avroType struct {
	kind      string // primitive name, or record, enum, array, map, fixed, union
	logical   string // logicalType, if any
	precision int
	scale     int
	name      string // full name of a named type
	fields    []*avroField
	symbols   []string
	items     *avroType // array items, map values
	branches  []*avroType
}

type avroField struct {
	name string
	typ  *avroType
	def  json.RawMessage // nil when the field has no default
}

func (f *avroField) hasDefault() bool { return f.def != nil }

// unionName is the key goavro uses for a union branch in its native form.
func (t *avroType) unionName() string {
	switch {
	case t.name != "":
		return t.name
	case t.logical != "":
		return t.kind + "." + t.logical
	default:
		return t.kind
	}
}

// nullable returns the non-null branch of a two-branch union with null.
func (t *avroType) nullable() (*avroType, bool) {
	if t.kind != "union" || len(t.branches) != 2 {
		return nil, false
	}
	switch {
	case t.branches[0].kind == "null":
		return t.branches[1], true
	case t.branches[1].kind == "null":
		return t.branches[0], true
	}
	return nil, false
}

func (t *avroType) field(name string) *avroField {
	for _, f := range t.fields {
		if f.name == name {
			return f
		}
	}
	return nil
}

// parseSchema parses schema text; named types may be referenced by name after
// their definition, as the Avro specification allows.
func parseSchema(text string) (*avroType, error) {
	var raw any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, err
	}
	p := schemaParser{named: map[string]*avroType{}}
	return p.parse(raw, "")
}

type schemaParser struct {
	named map[string]*avroType
}

var primitives = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true,
}

func fullName(name, namespace string) string {
	if strings.Contains(name, ".") || namespace == "" {
		return name
	}
	return namespace + "." + name
}

func (p *schemaParser) parse(raw any, ns string) (*avroType, error) {
	switch v := raw.(type) {
	case string:
		if primitives[v] {
			return &avroType{kind: v}, nil
		}
		if t, ok := p.named[fullName(v, ns)]; ok {
			return t, nil
		}
		if t, ok := p.named[v]; ok {
			return t, nil
		}
		return nil, fmt.Errorf("unknown type %q", v)
	case []any:
		u := &avroType{kind: "union"}
		for _, b := range v {
			bt, err := p.parse(b, ns)
			if err != nil {
				return nil, err
			}
			u.branches = append(u.branches, bt)
		}
		return u, nil
	case map[string]any:
		return p.parseObject(v, ns)
	}
	return nil, fmt.Errorf("unexpected schema node %T", raw)
}

func (p *schemaParser) parseObject(m map[string]any, ns string) (*avroType, error) {
	kind, _ := m["type"].(string)
	if kind == "" {
		// {"type": {...}} or {"type": [...]}: a wrapped type.
		return p.parse(m["type"], ns)
	}
	t := &avroType{kind: kind}
	t.logical, _ = m["logicalType"].(string)
	if f, ok := m["precision"].(float64); ok {
		t.precision = int(f)
	}
	if f, ok := m["scale"].(float64); ok {
		t.scale = int(f)
	}
	switch kind {
	case "record", "error", "enum", "fixed":
		name, _ := m["name"].(string)
		if name == "" {
			return nil, fmt.Errorf("%s without a name", kind)
		}
		if n, ok := m["namespace"].(string); ok {
			ns = n
		}
		t.name = fullName(name, ns)
		ns = t.name[:max(strings.LastIndex(t.name, "."), 0)]
		p.named[t.name] = t // before the fields, so a record may refer to itself
	}
	switch kind {
	case "record", "error":
		t.kind = "record"
		fields, _ := m["fields"].([]any)
		for _, rf := range fields {
			fm, ok := rf.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("record %s: field is %T", t.name, rf)
			}
			f, err := p.parseField(fm, ns)
			if err != nil {
				return nil, fmt.Errorf("record %s: %w", t.name, err)
			}
			t.fields = append(t.fields, f)
		}
	case "enum":
		syms, _ := m["symbols"].([]any)
		for _, s := range syms {
			str, _ := s.(string)
			t.symbols = append(t.symbols, str)
		}
	case "array", "map":
		key := "items"
		if kind == "map" {
			key = "values"
		}
		it, err := p.parse(m[key], ns)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		t.items = it
	case "fixed":
	default:
		if !primitives[kind] {
			return p.parse(kind, ns) // {"type": "SomeNamedType"}
		}
	}
	return t, nil
}

func (p *schemaParser) parseField(fm map[string]any, ns string) (*avroField, error) {
	name, _ := fm["name"].(string)
	if name == "" {
		return nil, fmt.Errorf("field without a name")
	}
	ft, err := p.parse(fm["type"], ns)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", name, err)
	}
	f := &avroField{name: name, typ: ft}
	if d, ok := fm["default"]; ok {
		if f.def, err = json.Marshal(d); err != nil {
			return nil, fmt.Errorf("field %s default: %w", name, err)
		}
	}
	return f, nil
}

// signature renders a type for comparison: two fields have the same type iff
// their signatures are equal. Unlike goavro's canonical form it keeps the
// decimal precision and scale, whose change would silently rescale money.
func (t *avroType) signature() string {
	var b strings.Builder
	t.writeSignature(&b, map[string]bool{})
	return b.String()
}

func (t *avroType) writeSignature(b *strings.Builder, seen map[string]bool) {
	if t.name != "" && seen[t.name] {
		b.WriteString(t.name)
		return
	}
	if t.name != "" {
		seen[t.name] = true
	}
	switch t.kind {
	case "union":
		b.WriteString("union[")
		for i, br := range t.branches {
			if i > 0 {
				b.WriteByte(',')
			}
			br.writeSignature(b, seen)
		}
		b.WriteByte(']')
	case "record":
		fmt.Fprintf(b, "record %s{", t.name)
		for i, f := range t.fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f.name + ":")
			f.typ.writeSignature(b, seen)
		}
		b.WriteByte('}')
	case "enum":
		fmt.Fprintf(b, "enum %s%v", t.name, t.symbols)
	case "array", "map":
		b.WriteString(t.kind + "<")
		t.items.writeSignature(b, seen)
		b.WriteByte('>')
	default:
		b.WriteString(t.kind)
		if t.logical != "" {
			fmt.Fprintf(b, "(%s %d %d)", t.logical, t.precision, t.scale)
		}
	}
}
