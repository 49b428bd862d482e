package inbound

import (
	"errors"
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/schemas"
)

func TestValidatePO(t *testing.T) {
	many := make([]schemas.PurchaseOrderLine, 11)
	for i := range many {
		many[i] = pl(i+1, "BOOT/9", 1, "1")
	}
	for _, tc := range []struct {
		name string
		po   *schemas.PurchaseOrder
		want string // "" for valid
	}{
		{"valid", approved(pl(1, "BOOT/9", 1, "1")), ""},
		{"no lines", approved(), "no lines"},
		{"duplicate line numbers", approved(pl(1, "BOOT/9", 1, "1"), pl(1, "BOOT/8", 1, "1")), "line number 1 appears twice"},
		{"zero quantity", approved(pl(1, "BOOT/9", 0, "1")), "quantity 0 is not positive"},
		{"negative quantity", approved(pl(1, "BOOT/9", -3, "1")), "quantity -3 is not positive"},
		{"negative cost", approved(pl(1, "BOOT/9", 1, "-1")), "unit cost -1.0000 is negative"},
		{"oversized", approved(many...), "11 lines, more than the 10 allowed"},
		{"no SKU", approved(pl(1, "", 1, "1")), "has no SKU"},
		{"no warehouse", func() *schemas.PurchaseOrder { p := approved(pl(1, "BOOT/9", 1, "1")); p.Warehouse = ""; return p }(), "no warehouse"},
		{"unknown status", po(1, "draft", nil, pl(1, "BOOT/9", 1, "1")), `unknown status "draft"`},
		{"an orphan key", func() *schemas.PurchaseOrder { p := approved(pl(1, "BOOT/9", 1, "1")); p.PORef = "orphan:R1"; return p }(), "may not start with"},
		{"a cancellation needs no lines", cancelled(2), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check(t, rules.ValidatePO(tc.po), tc.want)
		})
	}
}

func TestValidateReceipt(t *testing.T) {
	many := make([]schemas.Line, 11)
	for i := range many {
		many[i] = rl("SKU-1", 1)
	}
	for _, tc := range []struct {
		name string
		rc   *schemas.Receipt
		want string
	}{
		{"valid", receipt("R1", rl("SKU-1", 1)), ""},
		{"a zero line receives nothing", receipt("R1", rl("SKU-1", 0)), ""},
		{"no lines", receipt("R1"), "no lines"},
		{"negative quantity", receipt("R1", rl("SKU-1", -1)), "quantity -1 is negative"},
		{"no product code", receipt("R1", rl("", 1)), "line 1 has no product code"},
		{"no id", receipt(" ", rl("SKU-1", 1)), "no receipt id"},
		{"oversized", receipt("R1", many...), "11 lines, more than the 10 allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, rules.ValidateReceipt(tc.rc), tc.want) })
	}
}

func check(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("got %v, want ErrInvalid with %q", err, want)
	case err != nil && !errorsIs(err):
		t.Fatalf("%v is not ErrInvalid", err)
	}
}

func TestReceiptKey(t *testing.T) {
	for _, tc := range []struct {
		ref  *string
		want string
	}{{new("PO-1"), "PO-1"}, {nil, "orphan:R1"}, {new(""), "orphan:R1"}} {
		if got := ReceiptKey(&schemas.Receipt{ReceiptID: "R1", PORef: tc.ref}); got != tc.want {
			t.Errorf("ReceiptKey = %q, want %q", got, tc.want)
		}
	}
}

func errorsIs(err error) bool { return errors.Is(err, ErrInvalid) }
