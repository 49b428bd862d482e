package schemas

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"time"

	"github.com/linkedin/goavro/v2"
)

// The direct codec reads and writes Avro binary straight from and to an
// event's struct. It serves records written with the catalog entry's own
// schema, which is nearly all of them (lockstep writes what it reads): with
// no schema resolution to do, the map tree goavro builds per record is pure
// overhead. Records of any other writer schema keep the goavro path, which
// resolves. Like the plan, it is compiled once per event type.
//
// It must give what the goavro path gives, bit for bit: the same Go values
// for every body goavro accepts, an error for every body it refuses, and the
// same bytes when encoding. Hence some odd-looking choices below, each
// copied from goavro: varints of any length, block sizes read and ignored,
// value errors reported after the whole body parsed.

// directRecord is the direct codec of one record type.
type directRecord struct {
	name   string
	fields []directField
	min    int // fewest bytes the record takes on the wire
}

type directField struct {
	name  string
	index []int
	directCodec
}

// directCodec reads and writes one Avro type from and to one Go type.
type directCodec struct {
	// dec sets rv, which is settable, from the wire.
	dec func(d *directDecoder, rv reflect.Value) error
	enc func(e *directEncoder, rv reflect.Value) error
	// min is the fewest bytes a value takes on the wire: an array block
	// count beyond what the bytes left could hold is refused before
	// anything is allocated for it.
	min int
}

// directDecoder is the state of one body's decoding.
type directDecoder struct {
	buf []byte // what is left of the body
	// valueErr is the first value the wire format allows but the Go type
	// does not hold (a decimal beyond 18 digits). The goavro path finds such
	// values after parsing the whole body, so a body both malformed and out
	// of range is malformed: decoding goes on after one to keep that order.
	valueErr error
}

// directEncoder is the state of one body's encoding.
type directEncoder struct {
	buf []byte
	// lateErr is the first error goavro's encoder would report (an unknown
	// enum symbol). The goavro path meets those only after the plan
	// converted the whole event, so any plan error (a decimal out of range)
	// takes precedence: encoding goes on after one to find it.
	lateErr error
}

// errShort is a body that ends before its record does.
var errShort = errors.New("short buffer")

// buildDirect compiles the direct codec for Go type gt and Avro record t. It
// accepts what the plan accepts except the constructs it refuses with an
// error, for which the schema keeps the goavro path.
func buildDirect(t *avroType, gt reflect.Type) (*directRecord, error) {
	b := directBuilder{records: map[string]*directRecord{}}
	return b.record(t, gt)
}

type directBuilder struct {
	records map[string]*directRecord // by avro name and Go type, so shared and recursive records terminate
}

func (b *directBuilder) record(t *avroType, gt reflect.Type) (*directRecord, error) {
	if t.kind != "record" || gt.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%s is a %s, Go type %s is not a struct", t.name, t.kind, gt)
	}
	key := t.name + "|" + gt.String()
	if r, ok := b.records[key]; ok {
		return r, nil
	}
	r := &directRecord{name: t.name}
	b.records[key] = r
	indexes, err := matchFields(t, gt)
	if err != nil {
		return nil, err
	}
	for i, f := range t.fields {
		c, err := b.codec(f.typ, gt.FieldByIndex(indexes[i]).Type, t.name+"."+f.name)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.name, f.name, err)
		}
		r.fields = append(r.fields, directField{name: f.name, index: indexes[i], directCodec: *c})
		r.min += c.min
	}
	return r, nil
}

// codec mirrors planBuilder.conv; where names the field in value errors.
func (b *directBuilder) codec(t *avroType, gt reflect.Type, where string) (*directCodec, error) {
	bad := func() (*directCodec, error) {
		return nil, fmt.Errorf("no direct codec for avro %s and Go %s", t.signature(), gt)
	}
	// goavro gives other logical types values of their own (dates, UUIDs):
	// they are left to it.
	switch {
	case t.logical == "":
	case t.kind == "bytes" && t.logical == "decimal":
	case t.kind == "long" && t.logical == "timestamp-millis":
	default:
		return bad()
	}
	switch t.kind {
	case "union":
		inner, ok := t.nullable()
		if !ok {
			return bad()
		}
		null := int64(0)
		if t.branches[1].kind == "null" {
			null = 1
		}
		if gt == bytesType && inner.kind == "bytes" && inner.logical == "" {
			return nullableBytesCodec(null), nil
		}
		if gt.Kind() != reflect.Pointer {
			return bad()
		}
		ic, err := b.codec(inner, gt.Elem(), where)
		if err != nil {
			return nil, err
		}
		return nullableCodec(ic, null, gt.Elem()), nil
	case "record":
		if gt.Kind() != reflect.Struct {
			return bad()
		}
		r, err := b.record(t, gt)
		if err != nil {
			return nil, err
		}
		// r.min is short of the truth while r is still being built (a
		// recursive reference), which keeps it a lower bound.
		return &directCodec{dec: r.decode, enc: r.encode, min: r.min}, nil
	case "array":
		if gt.Kind() != reflect.Slice || gt == bytesType {
			return bad()
		}
		ic, err := b.codec(t.items, gt.Elem(), where+"[]")
		if err != nil {
			return nil, err
		}
		if ic.min == 0 {
			// Items that can take no bytes leave nothing to bound a block
			// count by.
			return nil, fmt.Errorf("array items of %s can be empty on the wire", t.items.signature())
		}
		return arrayCodec(ic, gt), nil
	case "string":
		if gt.Kind() != reflect.String {
			return bad()
		}
		return stringCodec, nil
	case "enum":
		if gt.Kind() != reflect.String || len(t.symbols) == 0 {
			return bad()
		}
		return enumCodec(t.name, t.symbols, where), nil
	case "boolean":
		if gt.Kind() != reflect.Bool {
			return bad()
		}
		return boolCodec, nil
	case "bytes":
		switch {
		case t.logical == "decimal" && gt == decimalType && t.scale == DecimalScale && t.precision <= 18:
			return decimalCodec(where), nil
		case t.logical == "" && gt == bytesType:
			return bytesCodec, nil
		}
		return bad()
	case "long":
		switch {
		case t.logical == "timestamp-millis" && gt == timeType:
			return timeCodec, nil
		case t.logical == "" && (gt.Kind() == reflect.Int64 || gt.Kind() == reflect.Int):
			return longCodec(gt, where), nil
		}
		return bad()
	case "int":
		switch gt.Kind() {
		case reflect.Int32, reflect.Int, reflect.Int64:
			return intCodec, nil
		}
		return bad()
	}
	return bad()
}

// decodeBody decodes body, the whole Avro body of a record written with this
// record's schema, into rv. Its errors match the goavro path's: malformed
// bytes wrap ErrMalformed, values the Go type cannot hold wrap what the plan
// would have returned.
func (r *directRecord) decodeBody(body []byte, rv reflect.Value) (err error) {
	// Fuzzing found no panic; should one slip through all the same, it
	// is one bad record for the DLQ, not a dead processor (as on the
	// goavro path).
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s: decoder panic: %v", ErrMalformed, r.name, p)
		}
	}()
	d := directDecoder{buf: body}
	if err := r.decode(&d, rv); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(d.buf) != 0 {
		return fmt.Errorf("%w: %s: %d bytes after the record", ErrMalformed, r.name, len(d.buf))
	}
	if d.valueErr != nil {
		return fmt.Errorf("schemas: decode %w", d.valueErr)
	}
	return nil
}

func (r *directRecord) decode(d *directDecoder, rv reflect.Value) error {
	for i := range r.fields {
		f := &r.fields[i]
		if err := f.dec(d, rv.FieldByIndex(f.index)); err != nil {
			return fmt.Errorf("%s.%s: %w", r.name, f.name, err)
		}
	}
	return nil
}

// appendBody appends the Avro body of rv to buf. Its errors match the goavro
// path's Encode errors.
func (r *directRecord) appendBody(buf []byte, rv reflect.Value) ([]byte, error) {
	e := directEncoder{buf: buf}
	if err := r.encode(&e, rv); err != nil {
		return nil, fmt.Errorf("schemas: encode %w", err)
	}
	if e.lateErr != nil {
		return nil, fmt.Errorf("schemas: encode %s: %w", r.name, e.lateErr)
	}
	return e.buf, nil
}

func (r *directRecord) encode(e *directEncoder, rv reflect.Value) error {
	for i := range r.fields {
		f := &r.fields[i]
		if err := f.enc(e, rv.FieldByIndex(f.index)); err != nil {
			return fmt.Errorf("%s.%s: %w", r.name, f.name, err)
		}
	}
	return nil
}

// long reads a zigzag varint as goavro does: any number of bytes, bits
// beyond 64 dropped.
func (d *directDecoder) long() (int64, error) {
	var value uint64
	var shift uint
	for i, b := range d.buf {
		value |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			d.buf = d.buf[i+1:]
			return int64(value>>1) ^ -int64(value&1), nil
		}
		shift += 7
	}
	return 0, errShort
}

// int reads an Avro int exactly as goavro's int decoder, which differs from
// long on overlong input.
func (d *directDecoder) int() (int32, error) {
	var value int
	var shift uint
	for i, b := range d.buf {
		value |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			d.buf = d.buf[i+1:]
			return int32(value>>1) ^ -int32(value&1), nil
		}
		shift += 7
	}
	return 0, errShort
}

// bytes returns the next length-prefixed bytes, aliasing the body.
func (d *directDecoder) bytes() ([]byte, error) {
	n, err := d.long()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("negative length %d", n)
	}
	if n > int64(len(d.buf)) {
		return nil, fmt.Errorf("length %d beyond the %d bytes left", n, len(d.buf))
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b, nil
}

// index reads a union branch or enum symbol index below n.
func (d *directDecoder) index(n int, what string) (int, error) {
	i, err := d.long()
	if err != nil {
		return 0, err
	}
	if i < 0 || i >= int64(n) {
		return 0, fmt.Errorf("%s index %d not below %d", what, i, n)
	}
	return int(i), nil
}

// blockCount reads an array block's item count as goavro does, the byte
// size of a negative count read and ignored; then refuses a count the bytes
// left cannot hold at min bytes an item.
func (d *directDecoder) blockCount(min int) (int, error) {
	n, err := d.long()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		if n == math.MinInt64 {
			return 0, fmt.Errorf("block count %d", n)
		}
		n = -n
		if _, err := d.long(); err != nil {
			return 0, err
		}
	}
	if n > goavro.MaxBlockCount {
		return 0, fmt.Errorf("block count %d beyond %d", n, goavro.MaxBlockCount)
	}
	if n > int64(len(d.buf)/min) {
		return 0, fmt.Errorf("block of %d items in %d bytes", n, len(d.buf))
	}
	return int(n), nil
}

func appendLong(buf []byte, v int64) []byte {
	return binary.AppendUvarint(buf, uint64(v<<1)^uint64(v>>63))
}

func appendBytes(buf, b []byte) []byte {
	return append(appendLong(buf, int64(len(b))), b...)
}

func nullableCodec(ic *directCodec, null int64, elem reflect.Type) *directCodec {
	return &directCodec{
		dec: func(d *directDecoder, rv reflect.Value) error {
			i, err := d.index(2, "union")
			if err != nil {
				return err
			}
			if int64(i) == null {
				rv.SetZero()
				return nil
			}
			// A new value each time, as the plan does: the caller may still
			// hold the old one.
			p := reflect.New(elem)
			if err := ic.dec(d, p.Elem()); err != nil {
				return err
			}
			rv.Set(p)
			return nil
		},
		enc: func(e *directEncoder, rv reflect.Value) error {
			if rv.IsNil() {
				e.buf = appendLong(e.buf, null)
				return nil
			}
			e.buf = appendLong(e.buf, 1-null)
			return ic.enc(e, rv.Elem())
		},
		min: 1,
	}
}

func nullableBytesCodec(null int64) *directCodec {
	return &directCodec{
		dec: func(d *directDecoder, rv reflect.Value) error {
			i, err := d.index(2, "union")
			if err != nil {
				return err
			}
			if int64(i) == null {
				rv.SetZero()
				return nil
			}
			b, err := d.bytes()
			if err != nil {
				return err
			}
			// Never nil, even when empty: nil is null.
			rv.SetBytes(append([]byte{}, b...))
			return nil
		},
		enc: func(e *directEncoder, rv reflect.Value) error {
			if rv.IsNil() {
				e.buf = appendLong(e.buf, null)
				return nil
			}
			e.buf = appendBytes(appendLong(e.buf, 1-null), rv.Bytes())
			return nil
		},
		min: 1,
	}
}

func arrayCodec(ic *directCodec, gt reflect.Type) *directCodec {
	return &directCodec{
		dec: func(d *directDecoder, rv reflect.Value) error {
			var s reflect.Value
			n := 0
			for {
				count, err := d.blockCount(ic.min)
				if err != nil {
					return err
				}
				if count == 0 {
					break
				}
				if n == 0 {
					s = reflect.MakeSlice(gt, count, count)
				} else {
					// Later blocks are rare (goavro and lockstep write one):
					// grow by doubling so that many small ones stay linear.
					if n+count > s.Cap() {
						grown := reflect.MakeSlice(gt, n, max(2*s.Cap(), n+count))
						reflect.Copy(grown, s)
						s = grown
					}
					s = s.Slice(0, n+count)
				}
				for i := n; i < n+count; i++ {
					if err := ic.dec(d, s.Index(i)); err != nil {
						return fmt.Errorf("[%d]: %w", i, err)
					}
				}
				n += count
			}
			switch {
			case n == 0:
				rv.SetZero() // nil, as the plan gives
			case s.Cap() != n:
				exact := reflect.MakeSlice(gt, n, n)
				reflect.Copy(exact, s)
				rv.Set(exact)
			default:
				rv.Set(s)
			}
			return nil
		},
		enc: func(e *directEncoder, rv reflect.Value) error {
			n := rv.Len()
			// goavro splits an array into blocks of at most MaxBlockCount.
			for start := 0; start < n; {
				count := int(min(int64(n-start), goavro.MaxBlockCount))
				e.buf = appendLong(e.buf, int64(count))
				for i := start; i < start+count; i++ {
					if err := ic.enc(e, rv.Index(i)); err != nil {
						return fmt.Errorf("[%d]: %w", i, err)
					}
				}
				start += count
			}
			e.buf = append(e.buf, 0)
			return nil
		},
		min: 1,
	}
}

var stringCodec = &directCodec{
	dec: func(d *directDecoder, rv reflect.Value) error {
		b, err := d.bytes()
		if err != nil {
			return err
		}
		rv.SetString(string(b))
		return nil
	},
	enc: func(e *directEncoder, rv reflect.Value) error {
		s := rv.String()
		e.buf = append(appendLong(e.buf, int64(len(s))), s...)
		return nil
	},
	min: 1,
}

func enumCodec(name string, symbols []string, where string) *directCodec {
	what := "enum " + name
	return &directCodec{
		dec: func(d *directDecoder, rv reflect.Value) error {
			i, err := d.index(len(symbols), what)
			if err != nil {
				return err
			}
			rv.SetString(symbols[i])
			return nil
		},
		enc: func(e *directEncoder, rv reflect.Value) error {
			s := rv.String()
			for i, sym := range symbols {
				if sym == s {
					e.buf = appendLong(e.buf, int64(i))
					return nil
				}
			}
			if e.lateErr == nil {
				e.lateErr = fmt.Errorf("%s: %q is not a symbol of enum %s %v", where, s, name, symbols)
			}
			return nil
		},
		min: 1,
	}
}

var boolCodec = &directCodec{
	dec: func(d *directDecoder, rv reflect.Value) error {
		if len(d.buf) == 0 {
			return errShort
		}
		b := d.buf[0]
		if b > 1 {
			return fmt.Errorf("boolean byte %d", b)
		}
		d.buf = d.buf[1:]
		rv.SetBool(b == 1)
		return nil
	},
	enc: func(e *directEncoder, rv reflect.Value) error {
		var b byte
		if rv.Bool() {
			b = 1
		}
		e.buf = append(e.buf, b)
		return nil
	},
	min: 1,
}

var bytesCodec = &directCodec{
	dec: func(d *directDecoder, rv reflect.Value) error {
		b, err := d.bytes()
		if err != nil {
			return err
		}
		if len(b) == 0 {
			rv.SetZero() // nil, as the plan gives
			return nil
		}
		rv.SetBytes(append([]byte(nil), b...)) // b aliases the record buffer
		return nil
	},
	enc: func(e *directEncoder, rv reflect.Value) error {
		e.buf = appendBytes(e.buf, rv.Bytes())
		return nil
	},
	min: 1,
}

// decimalCodec reads and writes a decimal(18,4) as two's complement bytes
// of its unscaled value, the same value goavro's *big.Rat holds.
func decimalCodec(where string) *directCodec {
	return &directCodec{
		dec: func(d *directDecoder, rv reflect.Value) error {
			b, err := d.bytes()
			if err != nil {
				return err
			}
			v, ok := unscaledFromBytes(b)
			if !ok || !Decimal(v).Valid() {
				if d.valueErr == nil {
					r := new(big.Rat).SetFrac(signedBigInt(b), big.NewInt(decimalOne))
					d.valueErr = fmt.Errorf("%s: %w: %s", where, ErrDecimalRange, r.FloatString(8))
				}
				return nil
			}
			rv.SetInt(v)
			return nil
		},
		enc: func(e *directEncoder, rv reflect.Value) error {
			dec := Decimal(rv.Int())
			if !dec.Valid() {
				return fmt.Errorf("%w: %s", ErrDecimalRange, dec)
			}
			var full [8]byte
			binary.BigEndian.PutUint64(full[:], uint64(dec))
			// The shortest two's complement, as goavro writes: drop leading
			// bytes that only repeat the sign, keeping at least one.
			i := 0
			if dec < 0 {
				for i < 7 && full[i] == 0xff && full[i+1]&0x80 != 0 {
					i++
				}
			} else {
				for i < 7 && full[i] == 0 && full[i+1]&0x80 == 0 {
					i++
				}
			}
			e.buf = appendBytes(e.buf, full[i:])
			return nil
		},
		min: 1,
	}
}

// unscaledFromBytes reads big-endian two's complement; ok is false when the
// value does not fit an int64. Leading bytes that only repeat the sign are
// allowed, as goavro allows them.
func unscaledFromBytes(b []byte) (v int64, ok bool) {
	if len(b) == 0 {
		return 0, true
	}
	neg := b[0]&0x80 != 0
	if len(b) > 8 {
		sign := byte(0)
		if neg {
			sign = 0xff
		}
		for _, c := range b[:len(b)-8] {
			if c != sign {
				return 0, false
			}
		}
		b = b[len(b)-8:]
		if b[0]&0x80 != 0 != neg {
			return 0, false
		}
	}
	var u uint64
	if neg {
		u = math.MaxUint64
	}
	for _, c := range b {
		u = u<<8 | uint64(c)
	}
	return int64(u), true
}

// signedBigInt reads big-endian two's complement of any length, for error
// messages.
func signedBigInt(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return n
}

var timeCodec = &directCodec{
	dec: func(d *directDecoder, rv reflect.Value) error {
		ms, err := d.long()
		if err != nil {
			return err
		}
		// goavro's arithmetic, so that even times beyond what UnixMilli
		// round-trips come out the same.
		seconds := ms / 1e3
		*timeAt(rv) = time.Unix(seconds, (ms-seconds*1e3)*1e6).UTC()
		return nil
	},
	enc: func(e *directEncoder, rv reflect.Value) error {
		e.buf = appendLong(e.buf, timeAt(rv).UnixMilli())
		return nil
	},
	min: 1,
}

// longCodec reads a long into a Go int64 or int. Only an int narrower than
// 64 bits can overflow; that is an ErrIncompatible value error, as the
// plan's.
func longCodec(gt reflect.Type, where string) *directCodec {
	narrow := reflect.Zero(gt).OverflowInt(math.MaxInt64)
	return &directCodec{
		dec: func(d *directDecoder, rv reflect.Value) error {
			v, err := d.long()
			if err != nil {
				return err
			}
			if narrow && rv.OverflowInt(v) {
				if d.valueErr == nil {
					d.valueErr = fmt.Errorf("%s: %w: %d overflows Go %s", where, ErrIncompatible, v, rv.Type())
				}
				return nil
			}
			rv.SetInt(v)
			return nil
		},
		enc: func(e *directEncoder, rv reflect.Value) error {
			e.buf = appendLong(e.buf, rv.Int())
			return nil
		},
		min: 1,
	}
}

var intCodec = &directCodec{
	dec: func(d *directDecoder, rv reflect.Value) error {
		v, err := d.int()
		if err != nil {
			return err
		}
		rv.SetInt(int64(v))
		return nil
	},
	enc: func(e *directEncoder, rv reflect.Value) error {
		v := rv.Int()
		if v < math.MinInt32 || v > math.MaxInt32 {
			return fmt.Errorf("%d overflows an avro int", v)
		}
		e.buf = appendLong(e.buf, v)
		return nil
	},
	min: 1,
}
