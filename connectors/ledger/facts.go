package ledger

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The fact topics, decoded into the rows of the fact tables that the daily
// reconciliation and the three-way matching of purchase orders and
// receipts read. Like drift events, a record that does not decode or
// cannot be a row goes to the DLQ.

// decoded is the decoding of a topic whose events are E: the record's
// value decoded into a new E, which rows turns into the table's rows.
func decoded[E any, PE interface {
	*E
	schemas.Event
}, R any](rows func(PE, *kgo.Record) ([]R, error)) func(context.Context, *schemas.Serde, *kgo.Record) ([]R, error) {
	return func(ctx context.Context, serde *schemas.Serde, rec *kgo.Record) ([]R, error) {
		ev := PE(new(E))
		if err := serde.Decode(ctx, rec.Value, ev); err != nil {
			return nil, err
		}
		return rows(ev, rec)
	}
}

// oneRow is rows for an event that is one row.
func oneRow[E, R any](row func(E, *kgo.Record) (R, error)) func(E, *kgo.Record) ([]R, error) {
	return func(ev E, rec *kgo.Record) ([]R, error) {
		r, err := row(ev, rec)
		if err != nil {
			return nil, err
		}
		return []R{r}, nil
	}
}

// The decodings of the fact topics.
var (
	decodeShipment      = decoded(shipmentRows)
	decodeDespatchNote  = decoded(despatchNoteRows)
	decodeItem          = decoded(oneRow(itemRow))
	decodePurchaseOrder = decoded(purchaseOrderRows)
	decodeReceipt       = decoded(receiptRows)
)

// lineRows is one row per line of an event: base, with each line set on
// it by set, which is given the line's number: from 1 in the order that
// order sorts the lines in, whatever order the event lists them in, so that
// copies of an event collapse line for line. An event without lines is one
// row, base, with line number 0, so that it is still known. set's error
// (a line that cannot be a row) is the event's.
func lineRows[L, R any](base R, lines []L, order func(a, b L) int, set func(r *R, lineNo uint32, l L) error) ([]R, error) {
	if len(lines) == 0 {
		return []R{base}, nil
	}
	lines = slices.Clone(lines)
	slices.SortFunc(lines, order)
	rows := make([]R, len(lines))
	for i, l := range lines {
		rows[i] = base
		if err := set(&rows[i], uint32(i+1), l); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// byLine orders the lines of receipts and despatch notes: by SKU, then
// quantity.
func byLine(a, b schemas.Line) int {
	return cmp.Or(cmp.Compare(a.SKU, b.SKU), cmp.Compare(a.Quantity, b.Quantity))
}

// shipmentRows is one row per line of ev, numbered in a canonical order so
// that copies of the event that list their lines differently (the webhook
// and the sweep) collapse line for line; an event without lines is one row
// with line_no 0.
func shipmentRows(ev *schemas.Shipment, rec *kgo.Record) ([]analytics.ShipmentLine, error) {
	if err := required(ev.EventID, field{"event_id", ev.EventID}, field{"shipment_id", ev.ShipmentID},
		field{"status", string(ev.Status)}); err != nil {
		return nil, err
	}
	if err := inDateTime(ev.EventID, stamp{"occurred_at", ev.OccurredAt}, stamp{"ingested_at", ev.IngestedAt}); err != nil {
		return nil, err
	}
	base := analytics.ShipmentLine{
		ShipmentID: ev.ShipmentID, EventID: ev.EventID, OrderRef: ev.OrderRef, GoodsOutID: ev.GoodsOutID,
		Warehouse: ev.Warehouse, Status: string(ev.Status), OrderComplete: ev.OrderComplete,
		Carrier: deref(ev.Carrier), TrackingNumber: deref(ev.TrackingNumber),
		DispatchedAt: ev.OccurredAt.UTC().Truncate(time.Second), IngestedAt: ev.IngestedAt.UTC().Truncate(time.Second),
		KafkaTopic: rec.Topic, KafkaPartition: rec.Partition, KafkaOffset: rec.Offset,
	}
	return lineRows(base, ev.Lines, func(a, b schemas.ShipmentLine) int {
		return cmp.Or(cmp.Compare(a.SKU, b.SKU), cmp.Compare(a.Quantity, b.Quantity), cmp.Compare(a.Picked, b.Picked))
	}, func(r *analytics.ShipmentLine, no uint32, l schemas.ShipmentLine) error {
		r.LineNo, r.ClarusCode, r.Quantity, r.Picked = no, l.SKU, l.Quantity, l.Picked
		return nil
	})
}

// despatchNoteRows is one row per line of ev, numbered in (sku, quantity)
// order; an event without lines (a failed post) is one row with line_no 0.
// A created note must name Prima's note id: the reconciliation tells notes
// apart by it, since two producers report the same note.
func despatchNoteRows(ev *schemas.DespatchNote, rec *kgo.Record) ([]analytics.DespatchNoteLine, error) {
	if err := required(ev.EventID, field{"event_id", ev.EventID}, field{"status", string(ev.Status)}); err != nil {
		return nil, err
	}
	if ev.Status == schemas.DespatchCreated && deref(ev.DespatchNoteID) == "" {
		return nil, fmt.Errorf("%w: created despatch note without despatch_note_id (event %q)", ErrInvalid, ev.EventID)
	}
	if err := inDateTime(ev.EventID, stamp{"occurred_at", ev.OccurredAt}, stamp{"ingested_at", ev.IngestedAt}); err != nil {
		return nil, err
	}
	base := analytics.DespatchNoteLine{
		Reference: ev.ShipmentID, EventID: ev.EventID, NoteID: deref(ev.DespatchNoteID), OrderRef: ev.OrderRef,
		Status: string(ev.Status), Reason: deref(ev.Reason), Source: string(ev.Source),
		OccurredAt: ev.OccurredAt.UTC().Truncate(time.Second), IngestedAt: ev.IngestedAt.UTC().Truncate(time.Second),
		KafkaTopic: rec.Topic, KafkaPartition: rec.Partition, KafkaOffset: rec.Offset,
	}
	return lineRows(base, ev.Lines, byLine, func(r *analytics.DespatchNoteLine, no uint32, l schemas.Line) error {
		r.LineNo, r.SKU, r.Quantity = no, l.SKU, l.Quantity
		return nil
	})
}

// itemRow is the items row of ev. Its version is Prima's modification time
// in milliseconds, so the latest change of an item wins whatever order the
// versions are inserted in.
func itemRow(ev *schemas.Item, rec *kgo.Record) (analytics.Item, error) {
	if err := required(ev.EventID, field{"event_id", ev.EventID}, field{"sku", ev.SKU}); err != nil {
		return analytics.Item{}, err
	}
	if err := inDateTime(ev.EventID, stamp{"occurred_at", ev.OccurredAt}, stamp{"ingested_at", ev.IngestedAt}); err != nil {
		return analytics.Item{}, err
	}
	cost, err := money(ev.EventID, "unit_cost", ev.UnitCost)
	if err != nil {
		return analytics.Item{}, err
	}
	return analytics.Item{
		SKU: ev.SKU, ClarusCode: deref(ev.ClarusCode), Description: ev.Description, StockItem: ev.StockItem,
		UnitCost: cost, Currency: ev.Currency, Active: ev.Active, EventID: ev.EventID,
		Version:    uint64(ev.OccurredAt.UnixMilli()),
		OccurredAt: ev.OccurredAt.UTC().Truncate(time.Second), IngestedAt: ev.IngestedAt.UTC().Truncate(time.Second),
		KafkaTopic: rec.Topic, KafkaPartition: rec.Partition, KafkaOffset: rec.Offset,
	}, nil
}

// purchaseOrderRows is one row per line of a PO version, under Prima's own
// line numbers, which are the lines' identity in po_lines: a line number
// below 1 or used twice in one version is refused, since its row would
// collapse with another. A version without lines (a cancellation may carry
// none) is one row with line_no 0. A negative quantity cannot be ordered.
func purchaseOrderRows(ev *schemas.PurchaseOrder, rec *kgo.Record) ([]analytics.POLine, error) {
	if err := required(ev.EventID, field{"event_id", ev.EventID}, field{"po_ref", ev.PORef},
		field{"status", string(ev.Status)}); err != nil {
		return nil, err
	}
	stamps := []stamp{{"occurred_at", ev.OccurredAt}, {"ingested_at", ev.IngestedAt}}
	if ev.ExpectedAt != nil {
		stamps = append(stamps, stamp{"expected_at", *ev.ExpectedAt})
	}
	if err := inDateTime(ev.EventID, stamps...); err != nil {
		return nil, err
	}
	var expected *time.Time
	if ev.ExpectedAt != nil {
		t := ev.ExpectedAt.UTC().Truncate(time.Second)
		expected = &t
	}
	base := analytics.POLine{
		PORef: ev.PORef, Version: ev.Version, EventID: ev.EventID, Status: string(ev.Status),
		SupplierRef: ev.SupplierRef, Warehouse: ev.Warehouse, Currency: ev.Currency, ExpectedAt: expected,
		OccurredAt: ev.OccurredAt.UTC().Truncate(time.Second), IngestedAt: ev.IngestedAt.UTC().Truncate(time.Second),
		KafkaTopic: rec.Topic, KafkaPartition: rec.Partition, KafkaOffset: rec.Offset,
	}
	seen := make(map[int]bool, len(ev.Lines))
	return lineRows(base, ev.Lines, func(a, b schemas.PurchaseOrderLine) int {
		return cmp.Compare(a.LineNo, b.LineNo)
	}, func(r *analytics.POLine, _ uint32, l schemas.PurchaseOrderLine) error {
		switch {
		case l.LineNo < 1 || uint64(l.LineNo) > math.MaxUint32:
			return fmt.Errorf("%w: line_no %d is outside 1 to %d (event %s)", ErrInvalid, l.LineNo, uint32(math.MaxUint32), ev.EventID)
		case seen[l.LineNo]:
			return fmt.Errorf("%w: line_no %d appears twice (event %s)", ErrInvalid, l.LineNo, ev.EventID)
		}
		seen[l.LineNo] = true
		cost, err := money(ev.EventID, "unit_cost", l.UnitCost)
		if err != nil {
			return err
		}
		r.LineNo, r.SKU, r.UnitCost = uint32(l.LineNo), l.SKU, cost
		r.Quantity, err = notNegative(ev.EventID, l.LineNo, l.SKU, l.Quantity)
		return err
	})
}

// receiptRows is one row per line of a receipt, numbered in (clarus code,
// quantity) order; the PO reference is empty when Clarus recorded none. A
// line needs a product code and a quantity that is not negative.
func receiptRows(ev *schemas.Receipt, rec *kgo.Record) ([]analytics.ReceiptLine, error) {
	if err := required(ev.EventID, field{"event_id", ev.EventID}, field{"receipt_id", ev.ReceiptID}); err != nil {
		return nil, err
	}
	if err := inDateTime(ev.EventID, stamp{"occurred_at", ev.OccurredAt}, stamp{"ingested_at", ev.IngestedAt}); err != nil {
		return nil, err
	}
	base := analytics.ReceiptLine{
		ReceiptID: ev.ReceiptID, EventID: ev.EventID, PORef: deref(ev.PORef), Warehouse: ev.Warehouse,
		ReceivedAt: ev.OccurredAt.UTC().Truncate(time.Second), IngestedAt: ev.IngestedAt.UTC().Truncate(time.Second),
		KafkaTopic: rec.Topic, KafkaPartition: rec.Partition, KafkaOffset: rec.Offset,
	}
	return lineRows(base, ev.Lines, byLine, func(r *analytics.ReceiptLine, no uint32, l schemas.Line) error {
		if err := required(ev.EventID, field{"sku of a line", l.SKU}); err != nil {
			return err
		}
		var err error
		r.LineNo, r.ClarusCode = no, l.SKU
		r.Quantity, err = notNegative(ev.EventID, int(no), l.SKU, l.Quantity)
		return err
	})
}

// notNegative refuses the negative quantity q of line lineNo, of sku.
func notNegative(eventID string, lineNo int, sku string, q int64) (int64, error) {
	if q < 0 {
		return 0, fmt.Errorf("%w: line %d (%s): quantity %d is negative (event %s)", ErrInvalid, lineNo, sku, q, eventID)
	}
	return q, nil
}
