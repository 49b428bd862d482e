package schemas

import (
	"errors"
	"math"
	"math/big"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Decimal
		str  string
	}{
		{"0", 0, "0.0000"},
		{"12", 120000, "12.0000"},
		{"-12.34", -123400, "-12.3400"},
		{"+0.0001", 1, "0.0001"},
		{".5", 5000, "0.5000"},
		{"-0.5", -5000, "-0.5000"},
		{"1.50000000", 15000, "1.5000"},
		{"99999999999999.9999", decimalMax, "99999999999999.9999"},
		{"-99999999999999.9999", -decimalMax, "-99999999999999.9999"},
	} {
		got, err := ParseDecimal(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDecimal(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if got.String() != tc.str {
			t.Errorf("%q: String() = %q, want %q", tc.in, got.String(), tc.str)
		}
		var back Decimal
		if text, _ := got.MarshalText(); back.UnmarshalText(text) != nil || back != got {
			t.Errorf("%q: text round trip gave %v", tc.in, back)
		}
	}
	for _, in := range []string{"", "-", ".", "1.00001", "1e3", "1,5", "0x10", "1.2.3", "100000000000000", " 1"} {
		if d, err := ParseDecimal(in); err == nil {
			t.Errorf("ParseDecimal(%q) = %v, want an error", in, d)
		}
	}
}

func TestDecimalMul(t *testing.T) {
	if got, err := MustParseDecimal("4.1275").Mul(-3); err != nil || got != MustParseDecimal("-12.3825") {
		t.Errorf("got %v, %v", got, err)
	}
	for _, tc := range []struct {
		d Decimal
		q int64
	}{{decimalMax, 2}, {-1, math.MinInt64}, {math.MaxInt64 / 2, 3}} {
		if _, err := tc.d.Mul(tc.q); !errors.Is(err, ErrDecimalRange) {
			t.Errorf("%d * %d: %v", tc.d, tc.q, err)
		}
	}
}

// decimalFromRat accepts any writer scale as long as the value is exact at
// scale 4, and refuses what would need rounding or exceed the range.
func TestDecimalFromRat(t *testing.T) {
	for _, tc := range []struct {
		num, den int64
		want     Decimal
		ok       bool
	}{
		{1234, 100, 123400, true},
		{-1, 10000, -1, true},
		{1, 3, 0, false},
		{1, 100000, 0, false},
		{decimalMax + 1, 10000, 0, false},
		{math.MaxInt64, 1, 0, false},
	} {
		got, err := decimalFromRat(big.NewRat(tc.num, tc.den))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%d/%d: %v, %v", tc.num, tc.den, got, err)
		}
	}
}
