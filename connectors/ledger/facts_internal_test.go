package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

var factAt = time.Date(2026, 3, 2, 9, 30, 15, 250_000_000, time.UTC)

func validShipment() *schemas.Shipment {
	return &schemas.Shipment{
		Meta:       schemas.Meta{EventID: "clarus:shipment:SH-1:confirmed", Source: schemas.SourceClarus, OccurredAt: factAt, IngestedAt: factAt},
		ShipmentID: "SH-1", OrderRef: "SO-1", Status: schemas.ShipmentConfirmed, Warehouse: "WH1", GoodsOutID: "GO-1",
		Lines: []schemas.ShipmentLine{{SKU: "CL-B", Quantity: 1, Picked: 1}, {SKU: "CL-A", Quantity: 3, Picked: 3}, {SKU: "CL-A", Quantity: 2, Picked: 2}},
	}
}

func validNote() *schemas.DespatchNote {
	return &schemas.DespatchNote{
		Meta:     schemas.Meta{EventID: "prima:despatch-note:DN-1", Source: schemas.SourcePrima, OccurredAt: factAt, IngestedAt: factAt},
		OrderRef: "SO-1", ShipmentID: "SH-1", Status: schemas.DespatchCreated, DespatchNoteID: str("DN-1"),
		Lines: []schemas.Line{{SKU: "PR-B", Quantity: 1}, {SKU: "PR-A", Quantity: 5}},
	}
}

func validItem() *schemas.Item {
	return &schemas.Item{
		Meta: schemas.Meta{EventID: "prima:item:PR-A", Source: schemas.SourcePrima, OccurredAt: factAt, IngestedAt: factAt},
		SKU:  "PR-A", ClarusCode: str("CL-A"), UnitCost: schemas.NewDecimal(2, 5000), Currency: "EUR", Active: true,
	}
}

func validPO() *schemas.PurchaseOrder {
	expected := factAt.Add(72 * time.Hour)
	return &schemas.PurchaseOrder{
		Meta:  schemas.Meta{EventID: "prima:purchase-order:PO-1:2", Source: schemas.SourcePrima, OccurredAt: factAt, IngestedAt: factAt},
		PORef: "PO-1", Version: 2, Status: schemas.PurchaseOrderAmended, SupplierRef: "SUP-1", Warehouse: "WH1", Currency: "EUR",
		ExpectedAt: &expected,
		Lines: []schemas.PurchaseOrderLine{
			{LineNo: 3, SKU: "PR-A", Quantity: 2, UnitCost: schemas.NewDecimal(2, 5000)},
			{LineNo: 1, SKU: "PR-B", Quantity: 0, UnitCost: schemas.NewDecimal(0, 10)},
		},
	}
}

func validReceipt() *schemas.Receipt {
	return &schemas.Receipt{
		Meta:      schemas.Meta{EventID: "clarus:receipt:R-1", Source: schemas.SourceClarus, OccurredAt: factAt, IngestedAt: factAt},
		ReceiptID: "R-1", PORef: str("PO-1"), Warehouse: "WH1",
		Lines: []schemas.Line{{SKU: "CL-B", Quantity: 1}, {SKU: "CL-A", Quantity: 3}, {SKU: "CL-A", Quantity: 0}},
	}
}

// TestPurchasingRows: a PO's rows keep Prima's line numbers, its expected
// date (or none) and its costs; a receipt's lines are numbered in the
// canonical order, and a missing PO reference is empty; what cannot be a row is
// ErrInvalid, naming why.
func TestPurchasingRows(t *testing.T) {
	rec := &kgo.Record{Topic: "prima.purchase-orders", Partition: 2, Offset: 9}
	pos, err := purchaseOrderRows(validPO(), rec)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range pos {
		got = append(got, fmt.Sprintf("%d:%s:%d@%s", r.LineNo, r.SKU, r.Quantity, r.UnitCost.StringFixed(4)))
		if r.PORef != "PO-1" || r.Version != 2 || r.Status != "amended" || r.SupplierRef != "SUP-1" || r.Currency != "EUR" ||
			r.ExpectedAt == nil || !r.ExpectedAt.Equal(factAt.Add(72*time.Hour).Truncate(time.Second)) ||
			!r.OccurredAt.Equal(factAt.Truncate(time.Second)) || r.KafkaPartition != 2 || r.KafkaOffset != 9 {
			t.Errorf("PO row %+v", r)
		}
	}
	if strings.Join(got, " ") != "1:PR-B:0@0.0010 3:PR-A:2@2.5000" {
		t.Errorf("PO lines %v", got)
	}
	cancelled := validPO()
	cancelled.Status, cancelled.Lines, cancelled.ExpectedAt = schemas.PurchaseOrderCancelled, nil, nil
	if rows, err := purchaseOrderRows(cancelled, rec); err != nil || len(rows) != 1 || rows[0].LineNo != 0 || rows[0].ExpectedAt != nil {
		t.Errorf("PO without lines: %+v, %v", rows, err)
	}

	rcs, err := receiptRows(validReceipt(), rec)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, r := range rcs {
		got = append(got, fmt.Sprintf("%s:%d@%d", r.ClarusCode, r.Quantity, r.LineNo))
		if r.ReceiptID != "R-1" || r.PORef != "PO-1" || r.Warehouse != "WH1" || !r.ReceivedAt.Equal(factAt.Truncate(time.Second)) {
			t.Errorf("receipt row %+v", r)
		}
	}
	if strings.Join(got, " ") != "CL-A:0@1 CL-A:3@2 CL-B:1@3" {
		t.Errorf("receipt lines %v", got)
	}
	orphan := validReceipt()
	orphan.PORef = nil
	if rows, err := receiptRows(orphan, rec); err != nil || rows[0].PORef != "" {
		t.Errorf("orphan receipt: %+v, %v", rows, err)
	}

	po := func(mutate func(*schemas.PurchaseOrder)) func() error {
		return func() error { e := validPO(); mutate(e); _, err := purchaseOrderRows(e, rec); return err }
	}
	receipt := func(mutate func(*schemas.Receipt)) func() error {
		return func() error { e := validReceipt(); mutate(e); _, err := receiptRows(e, rec); return err }
	}
	tooLate := time.Unix(1<<32, 0)
	for why, f := range map[string]func() error{
		"po_ref is empty":                        po(func(e *schemas.PurchaseOrder) { e.PORef = "" }),
		"status is empty":                        po(func(e *schemas.PurchaseOrder) { e.Status = "" }),
		"expected_at":                            po(func(e *schemas.PurchaseOrder) { e.ExpectedAt = &tooLate }),
		"line_no 0 is outside":                   po(func(e *schemas.PurchaseOrder) { e.Lines[0].LineNo = 0 }),
		"line_no 4294967296 is outside":          po(func(e *schemas.PurchaseOrder) { e.Lines[0].LineNo = 1 << 32 }),
		"line_no 3 appears twice":                po(func(e *schemas.PurchaseOrder) { e.Lines[1].LineNo = 3 }),
		"line 3 (PR-A): quantity -2 is negative": po(func(e *schemas.PurchaseOrder) { e.Lines[0].Quantity = -2 }),
		"unit_cost":                              po(func(e *schemas.PurchaseOrder) { e.Lines[0].UnitCost = schemas.Decimal(1e18) }),
		"receipt_id is empty":                    receipt(func(e *schemas.Receipt) { e.ReceiptID = "" }),
		"occurred_at":                            receipt(func(e *schemas.Receipt) { e.OccurredAt = time.Time{} }),
		"sku of a line is empty":                 receipt(func(e *schemas.Receipt) { e.Lines[0].SKU = "" }),
		"line 3 (CL-B): quantity -1 is negative": receipt(func(e *schemas.Receipt) { e.Lines[0].Quantity = -1 }),
	} {
		if err := f(); !errors.Is(err, ErrInvalid) || !permanent(err) || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: err = %v, want ErrInvalid saying so", why, err)
		}
	}
}

// TestFactRows: lines are numbered in a canonical order, whatever order
// the event lists them in; times keep whole seconds; an item's version is
// its time in milliseconds; events that cannot be rows are ErrInvalid.
func TestFactRows(t *testing.T) {
	rec := &kgo.Record{Topic: "clarus.shipments", Partition: 1, Offset: 7}
	rows, err := shipmentRows(validShipment(), rec)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s:%d@%d", r.ClarusCode, r.Quantity, r.LineNo))
		if !r.DispatchedAt.Equal(factAt.Truncate(time.Second)) || r.KafkaOffset != 7 || r.ShipmentID != "SH-1" {
			t.Errorf("row %+v", r)
		}
	}
	if strings.Join(got, " ") != "CL-A:2@1 CL-A:3@2 CL-B:1@3" {
		t.Errorf("shipment lines %v", got)
	}
	notes, err := despatchNoteRows(validNote(), rec)
	if err != nil || len(notes) != 2 || notes[0].SKU != "PR-A" || notes[0].LineNo != 1 || notes[1].NoteID != "DN-1" {
		t.Errorf("note rows %+v, %v", notes, err)
	}
	item, err := itemRow(validItem(), rec)
	if err != nil || item.Version != uint64(factAt.UnixMilli()) || item.UnitCost.String() != "2.5" || item.ClarusCode != "CL-A" {
		t.Errorf("item row %+v, %v", item, err)
	}

	// Without lines, an event is still one row.
	sh := validShipment()
	sh.Lines = nil
	if rows, err := shipmentRows(sh, rec); err != nil || len(rows) != 1 || rows[0].LineNo != 0 {
		t.Errorf("shipment without lines: %+v, %v", rows, err)
	}

	for name, f := range map[string]func() error{
		"shipment_id": func() error { e := validShipment(); e.ShipmentID = ""; _, err := shipmentRows(e, rec); return err },
		"status":      func() error { e := validShipment(); e.Status = ""; _, err := shipmentRows(e, rec); return err },
		"occurred_at": func() error {
			e := validShipment()
			e.OccurredAt = time.Time{}
			_, err := shipmentRows(e, rec)
			return err
		},
		"despatch_note_id": func() error {
			e := validNote()
			e.DespatchNoteID = nil
			_, err := despatchNoteRows(e, rec)
			return err
		},
		"ingested_at": func() error {
			e := validNote()
			e.IngestedAt = time.Unix(1<<32, 0)
			_, err := despatchNoteRows(e, rec)
			return err
		},
		"sku": func() error { e := validItem(); e.SKU = ""; _, err := itemRow(e, rec); return err },
		"unit_cost": func() error {
			e := validItem()
			e.UnitCost = schemas.Decimal(1e18)
			_, err := itemRow(e, rec)
			return err
		},
	} {
		if err := f(); !errors.Is(err, ErrInvalid) || !permanent(err) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want ErrInvalid naming the field", name, err)
		}
	}
	// A failed post has no note id, and is a row.
	failed := validNote()
	failed.Status, failed.DespatchNoteID, failed.Reason = schemas.DespatchFailed, nil, str("refused")
	if rows, err := despatchNoteRows(failed, rec); err != nil || rows[0].NoteID != "" || rows[0].Reason != "refused" {
		t.Errorf("failed post: %+v, %v", rows, err)
	}
}

// FuzzDecodeFacts feeds outside bytes to the fact decoders: none
// panics, and each refuses for good (the DLQ) what it cannot store.
func FuzzDecodeFacts(f *testing.F) {
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	for _, ev := range []schemas.Event{validShipment(), validNote(), validItem(), validPO(), validReceipt()} {
		b, err := serde.Encode(context.Background(), ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-2])
	}
	f.Add([]byte("not avro"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx := context.Background()
		rec := &kgo.Record{Topic: "t", Value: b}
		_, e1 := decodeShipment(ctx, serde, rec)
		_, e2 := decodeDespatchNote(ctx, serde, rec)
		_, e3 := decodeItem(ctx, serde, rec)
		_, e4 := decodePurchaseOrder(ctx, serde, rec)
		_, e5 := decodeReceipt(ctx, serde, rec)
		for _, err := range []error{e1, e2, e3, e4, e5} {
			if err != nil && !permanent(err) {
				t.Fatalf("error not permanent, the record would block its partition: %v", err)
			}
		}
	})
}
