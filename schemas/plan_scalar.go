package schemas

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"time"
)

// Converters for the leaves of a plan. Each checks the native type it is
// given: a writer schema that retyped a field must fail with
// ErrIncompatible, never panic.

var stringConv = &conv{
	enc: func(rv reflect.Value) (any, error) { return rv.String(), nil },
	dec: func(n any, rv reflect.Value) error {
		s, ok := n.(string)
		if !ok {
			return mismatch(n, "string")
		}
		rv.SetString(s)
		return nil
	},
}

var boolConv = &conv{
	enc: func(rv reflect.Value) (any, error) { return rv.Bool(), nil },
	dec: func(n any, rv reflect.Value) error {
		v, ok := n.(bool)
		if !ok {
			return mismatch(n, "boolean")
		}
		rv.SetBool(v)
		return nil
	},
}

var bytesConv = &conv{
	enc: func(rv reflect.Value) (any, error) { return rv.Bytes(), nil },
	dec: func(n any, rv reflect.Value) error {
		b, ok := n.([]byte)
		if !ok {
			return mismatch(n, "bytes")
		}
		if len(b) == 0 {
			rv.SetZero()
			return nil
		}
		rv.SetBytes(bytes.Clone(b)) // goavro's bytes alias the record buffer
		return nil
	},
}

var decimalConv = &conv{
	enc: func(rv reflect.Value) (any, error) { return Decimal(rv.Int()).rat() },
	dec: func(n any, rv reflect.Value) error {
		r, ok := n.(*big.Rat)
		if !ok {
			return mismatch(n, "decimal")
		}
		d, err := decimalFromRat(r)
		if err != nil {
			return err
		}
		rv.SetInt(int64(d))
		return nil
	},
}

// timeConv passes milliseconds to goavro, which accepts them, rather than a
// time.Time, whose boxing would cost an allocation per field.
var timeConv = &conv{
	enc: func(rv reflect.Value) (any, error) { return timeAt(rv).UnixMilli(), nil },
	dec: func(n any, rv reflect.Value) error {
		switch v := n.(type) {
		case time.Time:
			*timeAt(rv) = v
		case int64: // a writer without the logical type
			*timeAt(rv) = time.UnixMilli(v).UTC()
		default:
			return mismatch(n, "timestamp-millis")
		}
		return nil
	},
}

// timeAt reaches the time.Time in rv without boxing it.
func timeAt(rv reflect.Value) *time.Time {
	if rv.CanAddr() {
		return rv.Addr().Interface().(*time.Time)
	}
	t := rv.Interface().(time.Time)
	return &t
}

func intConv(is32 bool) *conv {
	return &conv{
		enc: func(rv reflect.Value) (any, error) {
			v := rv.Int()
			if is32 {
				if v < math.MinInt32 || v > math.MaxInt32 {
					return nil, fmt.Errorf("%d overflows an avro int", v)
				}
				return int32(v), nil
			}
			return v, nil
		},
		dec: func(n any, rv reflect.Value) error {
			var v int64
			switch x := n.(type) {
			case int64:
				v = x
			case int32: // Avro promotes a writer's int to a reader's long
				v = int64(x)
			default:
				return mismatch(n, "integer")
			}
			if rv.OverflowInt(v) {
				return fmt.Errorf("%w: %d overflows Go %s", ErrIncompatible, v, rv.Type())
			}
			rv.SetInt(v)
			return nil
		},
	}
}
