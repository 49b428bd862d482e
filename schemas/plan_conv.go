package schemas

import (
	"fmt"
	"reflect"
	"time"
)

var (
	timeType    = reflect.TypeFor[time.Time]()
	decimalType = reflect.TypeFor[Decimal]()
	bytesType   = reflect.TypeFor[[]byte]()
)

// conv builds the converter between Avro type t and Go type gt. It accepts
// only the pairings the event types use, so a mistyped Go field fails when
// the package loads, not on some later record.
func (b *planBuilder) conv(t *avroType, gt reflect.Type) (*conv, error) {
	bad := func() (*conv, error) {
		return nil, fmt.Errorf("avro %s does not map to Go %s", t.signature(), gt)
	}
	switch t.kind {
	case "union":
		inner, ok := t.nullable()
		if !ok {
			return nil, fmt.Errorf("only unions of null and one type are supported, got %s", t.signature())
		}
		if gt == bytesType && inner.kind == "bytes" && inner.logical == "" {
			return nullableBytesConv(), nil // nil is null; no pointer to a slice
		}
		if gt.Kind() != reflect.Pointer {
			return bad()
		}
		ic, err := b.conv(inner, gt.Elem())
		if err != nil {
			return nil, err
		}
		return nullableConv(ic, inner.unionName(), gt.Elem()), nil
	case "record":
		if gt.Kind() != reflect.Struct {
			return bad()
		}
		p, err := b.record(t, gt)
		if err != nil {
			return nil, err
		}
		return &conv{
			enc: func(rv reflect.Value) (any, error) { return p.encode(rv) },
			dec: p.decode,
		}, nil
	case "array":
		if gt.Kind() != reflect.Slice || gt == bytesType {
			return bad()
		}
		ic, err := b.conv(t.items, gt.Elem())
		if err != nil {
			return nil, err
		}
		return arrayConv(ic, gt), nil
	case "string", "enum":
		if gt.Kind() != reflect.String {
			return bad()
		}
		return stringConv, nil
	case "boolean":
		if gt.Kind() != reflect.Bool {
			return bad()
		}
		return boolConv, nil
	case "bytes":
		switch {
		case t.logical == "decimal" && gt == decimalType && t.scale == DecimalScale && t.precision <= 18:
			return decimalConv, nil
		case t.logical == "" && gt == bytesType:
			return bytesConv, nil
		}
		return bad()
	case "long":
		switch {
		case t.logical == "timestamp-millis" && gt == timeType:
			return timeConv, nil
		case t.logical == "" && (gt.Kind() == reflect.Int64 || gt.Kind() == reflect.Int):
			return intConv(false), nil
		}
		return bad()
	case "int":
		switch gt.Kind() {
		case reflect.Int32, reflect.Int, reflect.Int64:
			return intConv(true), nil
		}
		return bad()
	}
	return bad()
}

func nullableConv(ic *conv, branch string, elem reflect.Type) *conv {
	return &conv{
		enc: func(rv reflect.Value) (any, error) {
			if rv.IsNil() {
				return nil, nil
			}
			v, err := ic.enc(rv.Elem())
			if err != nil {
				return nil, err
			}
			return map[string]any{branch: v}, nil
		},
		dec: func(n any, rv reflect.Value) error {
			if n == nil {
				rv.SetZero()
				return nil
			}
			m, ok := n.(map[string]any)
			v, found := m[branch]
			if !ok || !found || len(m) != 1 {
				return mismatch(n, "null or "+branch)
			}
			p := reflect.New(elem)
			if err := ic.dec(v, p.Elem()); err != nil {
				return err
			}
			rv.Set(p)
			return nil
		},
	}
}

func nullableBytesConv() *conv {
	return &conv{
		enc: func(rv reflect.Value) (any, error) {
			if rv.IsNil() {
				return nil, nil
			}
			return map[string]any{"bytes": rv.Bytes()}, nil
		},
		dec: func(n any, rv reflect.Value) error {
			if n == nil {
				rv.SetZero()
				return nil
			}
			m, _ := n.(map[string]any)
			b, ok := m["bytes"].([]byte)
			if !ok || len(m) != 1 {
				return mismatch(n, "null or bytes")
			}
			// goavro's bytes alias the record buffer; an event must outlive it.
			rv.SetBytes(append([]byte{}, b...))
			return nil
		},
	}
}

func arrayConv(ic *conv, gt reflect.Type) *conv {
	return &conv{
		enc: func(rv reflect.Value) (any, error) {
			out := make([]any, rv.Len())
			for i := range out {
				v, err := ic.enc(rv.Index(i))
				if err != nil {
					return nil, fmt.Errorf("[%d]: %w", i, err)
				}
				out[i] = v
			}
			return out, nil
		},
		dec: func(n any, rv reflect.Value) error {
			arr, ok := n.([]any)
			if !ok {
				return mismatch(n, "array")
			}
			if len(arr) == 0 {
				rv.SetZero() // nil, so a round trip of a nil slice is exact
				return nil
			}
			s := reflect.MakeSlice(gt, len(arr), len(arr))
			for i, v := range arr {
				if err := ic.dec(v, s.Index(i)); err != nil {
					return fmt.Errorf("[%d]: %w", i, err)
				}
			}
			rv.Set(s)
			return nil
		},
	}
}
