package schemas

import (
	"fmt"
	"reflect"
	"strings"
)

// A plan maps one Go type onto one reader schema, built once per event type
// when the package loads, so the hot path walks precomputed field indexes and
// converters instead of re-reading struct tags or schemas.
//
// goavro has no reader/writer schema resolution: it decodes with the
// writer's schema into maps keyed by field name. The plan does the
// resolution: it takes each reader field from the map by name, so fields the
// writer added are ignored and fields it lacked take the reader's default.

// conv converts one Go value to and from goavro's native form.
type conv struct {
	enc func(rv reflect.Value) (any, error)
	// dec sets rv, which is settable, from a native value.
	dec func(n any, rv reflect.Value) error
}

type recordPlan struct {
	name   string
	fields []fieldPlan
}

type fieldPlan struct {
	name   string
	index  []int // through embedded structs such as Meta
	conv   *conv
	hasDef bool
	def    any // native form of the default, decoded afresh each time so callers never share it
}

type planBuilder struct {
	records map[string]*recordPlan // by avro name and Go type, so shared and recursive records terminate
}

func buildPlan(t *avroType, gt reflect.Type) (*recordPlan, error) {
	b := planBuilder{records: map[string]*recordPlan{}}
	return b.record(t, gt)
}

func (b *planBuilder) record(t *avroType, gt reflect.Type) (*recordPlan, error) {
	if t.kind != "record" || gt.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s is a %s, Go type %s is not a struct", t.name, t.kind, gt)
	}
	key := t.name + "|" + gt.String()
	if p, ok := b.records[key]; ok {
		return p, nil
	}
	p := &recordPlan{name: t.name}
	b.records[key] = p

	indexes, err := matchFields(t, gt)
	if err != nil {
		return nil, err
	}
	for i, f := range t.fields {
		index := indexes[i]
		ft := gt.FieldByIndex(index).Type
		c, err := b.conv(f.typ, ft)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.name, f.name, err)
		}
		fp := fieldPlan{name: f.name, index: index, conv: c, hasDef: f.hasDefault()}
		if fp.hasDef {
			if fp.def, err = nativeDefault(f); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", t.name, f.name, err)
			}
			// Decoding the default once proves it fits the Go type.
			if err := c.dec(fp.def, reflect.New(ft).Elem()); err != nil {
				return nil, fmt.Errorf("%s.%s default: %w", t.name, f.name, err)
			}
		}
		p.fields = append(p.fields, fp)
	}
	return p, nil
}

// matchFields pairs each field of record t, in schema order, with the index
// of the field of struct gt tagged with its name; a tagged Go field the
// schema lacks is an error too.
func matchFields(t *avroType, gt reflect.Type) ([][]int, error) {
	goFields := map[string][]int{}
	if err := collectFields(gt, nil, goFields); err != nil {
		return nil, err
	}
	out := make([][]int, len(t.fields))
	for i, f := range t.fields {
		index, ok := goFields[f.name]
		if !ok {
			return nil, fmt.Errorf("%s.%s: no field of %s has tag avro:%q", t.name, f.name, gt, f.name)
		}
		delete(goFields, f.name)
		out[i] = index
	}
	for name := range goFields {
		return nil, fmt.Errorf("%s: field avro:%q of %s is not in the schema", t.name, name, gt)
	}
	return out, nil
}

// collectFields indexes gt's fields by avro tag. Untagged embedded structs
// (Meta) are flattened; any other exported field must carry a tag, so a field
// can never be silently left out of the wire format.
func collectFields(gt reflect.Type, prefix []int, into map[string][]int) error {
	for i := range gt.NumField() {
		sf := gt.Field(i)
		index := append(append([]int(nil), prefix...), i)
		tag, hasTag := sf.Tag.Lookup("avro")
		switch {
		case hasTag && tag != "-":
			name, _, _ := strings.Cut(tag, ",")
			if _, dup := into[name]; dup {
				return fmt.Errorf("%s: two fields have tag avro:%q", gt, name)
			}
			into[name] = index
		case hasTag:
		case sf.Anonymous && sf.Type.Kind() == reflect.Struct:
			if err := collectFields(sf.Type, index, into); err != nil {
				return err
			}
		case sf.IsExported():
			return fmt.Errorf("%s.%s has no avro tag", gt, sf.Name)
		}
	}
	return nil
}

func (p *recordPlan) encode(rv reflect.Value) (map[string]any, error) {
	m := make(map[string]any, len(p.fields))
	for i := range p.fields {
		f := &p.fields[i]
		v, err := f.conv.enc(rv.FieldByIndex(f.index))
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", p.name, f.name, err)
		}
		m[f.name] = v
	}
	return m, nil
}

// decode sets every field of rv: from the writer's value when it had the
// field, else from the reader's default.
func (p *recordPlan) decode(n any, rv reflect.Value) error {
	m, ok := n.(map[string]any)
	if !ok {
		return fmt.Errorf("%w: %s: got %T, want a record", ErrIncompatible, p.name, n)
	}
	for i := range p.fields {
		f := &p.fields[i]
		v, ok := m[f.name]
		if !ok {
			if !f.hasDef {
				return fmt.Errorf("%w: %s.%s: the writer lacks it and it has no default", ErrIncompatible, p.name, f.name)
			}
			v = f.def
		}
		if err := f.conv.dec(v, rv.FieldByIndex(f.index)); err != nil {
			return fmt.Errorf("%s.%s: %w", p.name, f.name, err)
		}
	}
	return nil
}

func mismatch(n any, want string) error {
	return fmt.Errorf("%w: got %T, want %s", ErrIncompatible, n, want)
}
