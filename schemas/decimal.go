package schemas

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Decimal is an amount of money in ten-thousandths of a currency unit: the
// Avro decimal(18,4) of the schemas, and ClickHouse's Decimal(18,4), held in
// an int64 so that sums and comparisons are exact and allocation-free. Add and
// subtract with + and -; multiply by a quantity with Mul, which checks range.
type Decimal int64

// DecimalScale is the number of decimal places a Decimal holds.
const DecimalScale = 4

const (
	decimalOne = 10_000
	// decimalMax is the largest unscaled value with 18 digits of precision.
	decimalMax = 999_999_999_999_999_999
)

// NewDecimal returns units + tenThousandths/10000, e.g. NewDecimal(12, 3400)
// for 12.34. tenThousandths takes the sign of units when units is not zero.
func NewDecimal(units, tenThousandths int64) Decimal {
	if units < 0 {
		tenThousandths = -tenThousandths
	}
	return Decimal(units*decimalOne + tenThousandths)
}

// Valid reports whether d fits decimal(18,4).
func (d Decimal) Valid() bool { return d >= -decimalMax && d <= decimalMax }

// Mul returns d*q, the value of q units at price d.
func (d Decimal) Mul(q int64) (Decimal, error) {
	p := int64(d) * q
	// The one overflow division cannot see, -1 * MinInt64, is out of range.
	if d != 0 && p/int64(d) != q || !Decimal(p).Valid() {
		return 0, fmt.Errorf("%w: %s * %d", ErrDecimalRange, d, q)
	}
	return Decimal(p), nil
}

// String formats d with exactly four decimal places, as ClickHouse prints
// Decimal(18,4): "-12.3400".
func (d Decimal) String() string {
	var buf [24]byte
	return string(d.appendText(buf[:0]))
}

func (d Decimal) appendText(b []byte) []byte {
	u := uint64(d)
	if d < 0 {
		b = append(b, '-')
		u = -u
	}
	b = strconv.AppendUint(b, u/decimalOne, 10)
	frac := u % decimalOne
	return append(b, '.', byte('0'+frac/1000), byte('0'+frac/100%10), byte('0'+frac/10%10), byte('0'+frac%10))
}

// ParseDecimal parses a decimal such as "12", "-0.5" or "1234.5678". It never
// rounds: more than four significant decimal places is an error.
func ParseDecimal(s string) (Decimal, error) {
	in := s
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return 0, fmt.Errorf("schemas: parse decimal %q: no digits", in)
	}
	if frac = strings.TrimRight(frac, "0"); len(frac) > DecimalScale {
		return 0, fmt.Errorf("%w: %q", ErrDecimalRange, in)
	}
	var v uint64
	for _, part := range []string{intPart, frac + strings.Repeat("0", DecimalScale-len(frac))} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("schemas: parse decimal %q: invalid character %q", in, c)
			}
			v = v*10 + uint64(c-'0')
			if v > decimalMax {
				return 0, fmt.Errorf("%w: %q", ErrDecimalRange, in)
			}
		}
	}
	if neg {
		return Decimal(-int64(v)), nil
	}
	return Decimal(v), nil
}

// MustParseDecimal is ParseDecimal for constants; it panics on error.
func MustParseDecimal(s string) Decimal {
	d, err := ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

// MarshalText lets Decimal travel in JSON and configuration as text, never as
// a float.
func (d Decimal) MarshalText() ([]byte, error) { return d.appendText(nil), nil }

// UnmarshalText parses the form MarshalText writes.
func (d *Decimal) UnmarshalText(b []byte) error {
	v, err := ParseDecimal(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// rat converts to the *big.Rat goavro encodes decimals from.
func (d Decimal) rat() (*big.Rat, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("%w: %s", ErrDecimalRange, d)
	}
	return new(big.Rat).SetFrac64(int64(d), decimalOne), nil
}

// decimalFromRat converts what goavro decodes; a writer with another scale
// is accepted as long as the value is exact at scale 4.
func decimalFromRat(r *big.Rat) (Decimal, error) {
	num, den := r.Num(), r.Denom()
	if num.IsInt64() && den.IsInt64() && decimalOne%den.Int64() == 0 {
		v := num.Int64() * (decimalOne / den.Int64())
		if d := Decimal(v); v/(decimalOne/den.Int64()) == num.Int64() && d.Valid() {
			return d, nil
		}
	}
	return 0, fmt.Errorf("%w: %s", ErrDecimalRange, r.FloatString(8))
}
