package discrepancy

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

var owners = Owners{schemas.DriftOrphanReceipt: schemas.OwnerWarehouse, schemas.DriftReceiptOverPO: schemas.OwnerFinance}

func TestOpenUpdateResolve(t *testing.T) {
	var s Set
	id := ID(schemas.DriftReceiptOverPO, "PO-1", "2")
	if id != "receipt_over_po/PO-1/2" {
		t.Fatalf("ID = %q", id)
	}
	d := owners.Open(&s, Drift{ID: id, Kind: schemas.DriftReceiptOverPO, Cause: "r1"})
	if d.Status != schemas.DriftOpen || d.Owner != schemas.OwnerFinance || s[id] != schemas.DriftReceiptOverPO {
		t.Fatalf("open: %+v, set %v", d, s)
	}
	if d = owners.Open(&s, Drift{ID: id, Kind: schemas.DriftReceiptOverPO, Cause: "r2"}); d.Status != schemas.DriftUpdated {
		t.Fatalf("second open: %+v", d)
	}
	owners.Open(&s, Drift{ID: ID(schemas.DriftOrphanReceipt, "R1"), Kind: schemas.DriftOrphanReceipt, Cause: "r1"})
	if got := s.IDs(schemas.DriftOrphanReceipt); !slices.Equal(got, []string{"orphan_receipt/R1"}) {
		t.Fatalf("IDs(orphan) = %v", got)
	}
	if got := s.IDs(); !slices.Equal(got, []string{"orphan_receipt/R1", id}) {
		t.Fatalf("IDs() = %v", got)
	}
	// The set survives its JSON as a state field does.
	v, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Set
	if err := json.Unmarshal(v, &back); err != nil || len(back) != 2 {
		t.Fatalf("JSON %s back %v, %v", v, back, err)
	}
	d, ok := owners.Resolve(back, id, "r3", "fine now")
	if !ok || d.Status != schemas.DriftResolved || d.Kind != schemas.DriftReceiptOverPO || d.Owner != schemas.OwnerFinance || d.Detail != "fine now" {
		t.Fatalf("resolve: %+v, %v", d, ok)
	}
	if _, ok := owners.Resolve(back, id, "r4", "again"); ok {
		t.Fatal("resolved twice")
	}
}

func TestEvent(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	v := schemas.MustParseDecimal("10")
	ev := Drift{ID: "receipt_over_po/PO-1/2", Kind: schemas.DriftReceiptOverPO, Owner: schemas.OwnerFinance, Status: schemas.DriftOpen,
		Cause: "receipt-R1", SKU: "BOOT/9", Warehouse: "WH1", Expected: new(int64(10)), Actual: new(int64(12)), Value: &v, Currency: "GBP", Detail: "d"}.Event(at, at.Add(time.Second))
	if ev.EventID != "receipt_over_po/PO-1/2:open:receipt-R1" || ev.DiscrepancyID != "receipt_over_po/PO-1/2" || *ev.DeltaQty != 2 ||
		*ev.SKU != "BOOT/9" || *ev.Warehouse != "WH1" || *ev.Currency != "GBP" || *ev.ValueDelta != v || ev.Source != schemas.SourceLockstep ||
		!ev.OccurredAt.Equal(at) || !ev.IngestedAt.Equal(at.Add(time.Second)) {
		t.Fatalf("event %+v", ev)
	}
	bare := Drift{ID: "x", Expected: new(int64(3))}.Event(at, at)
	if bare.DeltaQty != nil || bare.SKU != nil || bare.Warehouse != nil || bare.Currency != nil {
		t.Fatalf("bare event %+v", bare)
	}
}

func TestLineChanges(t *testing.T) {
	l := func(no int, sku, code string, q int64) schemas.ClarusLine {
		return schemas.ClarusLine{LineNo: no, SKU: sku, ClarusCode: code, Quantity: q}
	}
	was := []schemas.ClarusLine{l(1, "A", "C-A", 2), l(2, "B", "C-B", 1), l(3, "C", "C-C", 5)}
	now := []schemas.ClarusLine{l(1, "A", "C-A", 3), l(2, "D", "C-D", 1), l(4, "E", "C-E", 1), l(3, "C2", "C-C", 5)}
	want := []string{"line 1 (A) quantity 2 -> 3", "line 2 now D x1, was B x1", "line 4 added (E x1)"}
	if got := LineChanges(was, now); !slices.Equal(got, want) {
		t.Fatalf("LineChanges = %q, want %q", got, want)
	}
	if got := LineChanges(was, now[:2]); !slices.Equal(got[len(got)-1:], []string{"line 3 removed (C x5)"}) {
		t.Fatalf("LineChanges = %q", got)
	}
	if got := LineChanges(was, was); got != nil {
		t.Fatalf("no change: %q", got)
	}
}
