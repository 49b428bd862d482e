package ledger

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The fact topics, decoded into the rows of the fact tables that the daily
// reconciliation reads. Like drift events, a record that does not decode or
// cannot be a row goes to the DLQ.

// decodeShipment turns one record of clarus.shipments into its
// shipment_lines rows.
func decodeShipment(ctx context.Context, serde *schemas.Serde, rec *kgo.Record) ([]analytics.ShipmentLine, error) {
	var ev schemas.Shipment
	if err := serde.Decode(ctx, rec.Value, &ev); err != nil {
		return nil, err
	}
	return shipmentRows(&ev, rec)
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
	if len(ev.Lines) == 0 {
		return []analytics.ShipmentLine{base}, nil
	}
	lines := slices.Clone(ev.Lines)
	slices.SortFunc(lines, func(a, b schemas.ShipmentLine) int {
		return cmp.Or(cmp.Compare(a.SKU, b.SKU), cmp.Compare(a.Quantity, b.Quantity), cmp.Compare(a.Picked, b.Picked))
	})
	rows := make([]analytics.ShipmentLine, len(lines))
	for i, l := range lines {
		rows[i] = base
		rows[i].LineNo, rows[i].ClarusCode, rows[i].Quantity, rows[i].Picked = uint32(i+1), l.SKU, l.Quantity, l.Picked
	}
	return rows, nil
}

// decodeDespatchNote turns one record of prima.despatch-notes into its
// despatch_note_lines rows.
func decodeDespatchNote(ctx context.Context, serde *schemas.Serde, rec *kgo.Record) ([]analytics.DespatchNoteLine, error) {
	var ev schemas.DespatchNote
	if err := serde.Decode(ctx, rec.Value, &ev); err != nil {
		return nil, err
	}
	return despatchNoteRows(&ev, rec)
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
	if len(ev.Lines) == 0 {
		return []analytics.DespatchNoteLine{base}, nil
	}
	lines := slices.Clone(ev.Lines)
	slices.SortFunc(lines, func(a, b schemas.Line) int {
		return cmp.Or(cmp.Compare(a.SKU, b.SKU), cmp.Compare(a.Quantity, b.Quantity))
	})
	rows := make([]analytics.DespatchNoteLine, len(lines))
	for i, l := range lines {
		rows[i] = base
		rows[i].LineNo, rows[i].SKU, rows[i].Quantity = uint32(i+1), l.SKU, l.Quantity
	}
	return rows, nil
}

// decodeItem turns one record of prima.items into its items row.
func decodeItem(ctx context.Context, serde *schemas.Serde, rec *kgo.Record) ([]analytics.Item, error) {
	var ev schemas.Item
	if err := serde.Decode(ctx, rec.Value, &ev); err != nil {
		return nil, err
	}
	row, err := itemRow(&ev, rec)
	if err != nil {
		return nil, err
	}
	return []analytics.Item{row}, nil
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
