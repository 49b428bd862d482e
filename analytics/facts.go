package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
)

// The fact tables hold what the two systems said, as the ledger sink read it
// from Kafka: Clarus shipments, Prima despatch notes and the Prima item
// master, which the daily reconciliation (package analytics/reconcile)
// compares, and Prima purchase orders and Clarus receipts, which the
// three-way matching queries compare. Each row carries the Kafka coordinates it came from, and every table
// collapses re-inserted copies (see the migrations), so the sink may insert
// at-least-once.

// ShipmentLine is one row of shipment_lines: one line of a Clarus shipment
// event.
type ShipmentLine struct {
	ShipmentID string
	EventID    string
	// LineNo numbers the event's lines from 1 in (ClarusCode, Quantity,
	// Picked) order; 0 is the one row of an event without lines.
	LineNo         uint32
	OrderRef       string
	GoodsOutID     string
	Warehouse      string
	Status         string // confirmed | cancelled
	ClarusCode     string // Clarus product code
	Quantity       int64  // dispatched in this shipment
	Picked         int64
	OrderComplete  bool
	Carrier        string
	TrackingNumber string
	DispatchedAt   time.Time // the event's occurred_at: whole seconds, UTC
	IngestedAt     time.Time
	KafkaTopic     string
	KafkaPartition int32
	KafkaOffset    int64
}

// DespatchNoteLine is one row of despatch_note_lines: one line of a Prima
// despatch note event.
type DespatchNoteLine struct {
	Reference string // the note's reference: a shipment id, or what a person typed
	EventID   string
	// LineNo numbers the event's lines from 1 in (SKU, Quantity) order; 0 is
	// the one row of an event without lines.
	LineNo         uint32
	NoteID         string // Prima's id; "" for a failed post
	OrderRef       string
	Status         string // created | failed
	Reason         string
	SKU            string // Prima SKU
	Quantity       int64
	Source         string // who wrote the event: prima (read back) or lockstep (sink ack)
	OccurredAt     time.Time
	IngestedAt     time.Time
	KafkaTopic     string
	KafkaPartition int32
	KafkaOffset    int64
}

// Item is one row of items: a version of a Prima item.
type Item struct {
	SKU         string
	ClarusCode  string // "" while unmapped
	Description string
	StockItem   bool
	UnitCost    decimal.Decimal // Decimal(18,4)
	Currency    string
	Active      bool
	EventID     string
	// Version orders the versions of one SKU; the highest wins. The sink
	// sets it to OccurredAt in Unix milliseconds.
	Version        uint64
	OccurredAt     time.Time
	IngestedAt     time.Time
	KafkaTopic     string
	KafkaPartition int32
	KafkaOffset    int64
}

// POLine is one row of po_lines: one line of one version of a Prima
// purchase order.
type POLine struct {
	PORef   string
	Version int64 // grows with every change in Prima; the highest is the PO
	// LineNo is Prima's line number (from 1); 0 is the one row of a
	// version without lines.
	LineNo         uint32
	EventID        string
	Status         string // approved | amended | cancelled
	SupplierRef    string
	Warehouse      string
	Currency       string          // of UnitCost
	ExpectedAt     *time.Time      // nil when Prima has no expected date
	SKU            string          // Prima SKU
	Quantity       int64           // ordered
	UnitCost       decimal.Decimal // Decimal(18,4)
	OccurredAt     time.Time       // Prima's modification time
	IngestedAt     time.Time
	KafkaTopic     string
	KafkaPartition int32
	KafkaOffset    int64
}

// ReceiptLine is one row of receipt_lines: one line of a Clarus goods-in
// receipt.
type ReceiptLine struct {
	ReceiptID string
	// LineNo numbers the receipt's lines from 1 in (ClarusCode, Quantity)
	// order; 0 is the one row of a receipt without lines.
	LineNo         uint32
	EventID        string
	PORef          string // "" when Clarus recorded no PO reference
	Warehouse      string
	ClarusCode     string // Clarus product code
	Quantity       int64  // received
	ReceivedAt     time.Time
	IngestedAt     time.Time
	KafkaTopic     string
	KafkaPartition int32
	KafkaOffset    int64
}

const insertShipmentLines = `INSERT INTO shipment_lines (
    shipment_id, event_id, line_no, order_ref, goods_out_id, warehouse, status, clarus_code,
    quantity, picked, order_complete, carrier, tracking_number, dispatched_at, ingested_at,
    kafka_topic, kafka_partition, kafka_offset)`

// InsertShipmentLines writes rows to shipment_lines in one block. Repeating
// it after a failure or a replay is safe: copies collapse.
func InsertShipmentLines(ctx context.Context, conn driver.Conn, rows []ShipmentLine) error {
	return insertRows(ctx, conn, "shipment lines", insertShipmentLines, rows, func(r ShipmentLine) (string, []any) {
		return r.EventID, []any{
			r.ShipmentID, r.EventID, r.LineNo, r.OrderRef, r.GoodsOutID, r.Warehouse, r.Status, r.ClarusCode,
			r.Quantity, r.Picked, boolUInt8(r.OrderComplete), r.Carrier, r.TrackingNumber,
			dateTime(r.DispatchedAt), dateTime(r.IngestedAt), r.KafkaTopic, r.KafkaPartition, r.KafkaOffset,
		}
	})
}

const insertDespatchNoteLines = `INSERT INTO despatch_note_lines (
    reference, event_id, line_no, note_id, order_ref, status, reason, sku, quantity, source,
    occurred_at, ingested_at, kafka_topic, kafka_partition, kafka_offset)`

// InsertDespatchNoteLines writes rows to despatch_note_lines in one block.
// Repeating it after a failure or a replay is safe: copies collapse.
func InsertDespatchNoteLines(ctx context.Context, conn driver.Conn, rows []DespatchNoteLine) error {
	return insertRows(ctx, conn, "despatch note lines", insertDespatchNoteLines, rows, func(r DespatchNoteLine) (string, []any) {
		return r.EventID, []any{
			r.Reference, r.EventID, r.LineNo, r.NoteID, r.OrderRef, r.Status, r.Reason, r.SKU, r.Quantity, r.Source,
			dateTime(r.OccurredAt), dateTime(r.IngestedAt), r.KafkaTopic, r.KafkaPartition, r.KafkaOffset,
		}
	})
}

const insertItems = `INSERT INTO items (
    sku, clarus_code, description, stock_item, unit_cost, currency, active, event_id, version,
    occurred_at, ingested_at, kafka_topic, kafka_partition, kafka_offset)`

// InsertItems writes item versions to items in one block. Repeating it is
// safe: per SKU the highest Version wins.
func InsertItems(ctx context.Context, conn driver.Conn, rows []Item) error {
	return insertRows(ctx, conn, "items", insertItems, rows, func(r Item) (string, []any) {
		return r.EventID, []any{
			r.SKU, r.ClarusCode, r.Description, boolUInt8(r.StockItem), r.UnitCost, r.Currency, boolUInt8(r.Active),
			r.EventID, r.Version, dateTime(r.OccurredAt), dateTime(r.IngestedAt),
			r.KafkaTopic, r.KafkaPartition, r.KafkaOffset,
		}
	})
}

const insertPOLines = `INSERT INTO po_lines (
    po_ref, version, line_no, event_id, status, supplier_ref, warehouse, currency, expected_at,
    sku, quantity, unit_cost, occurred_at, ingested_at, kafka_topic, kafka_partition, kafka_offset)`

// InsertPOLines writes purchase order lines to po_lines in one block.
// Repeating it is safe: copies of a version collapse.
func InsertPOLines(ctx context.Context, conn driver.Conn, rows []POLine) error {
	return insertRows(ctx, conn, "PO lines", insertPOLines, rows, func(r POLine) (string, []any) {
		var expected *time.Time
		if r.ExpectedAt != nil {
			t := dateTime(*r.ExpectedAt)
			expected = &t
		}
		return r.EventID, []any{
			r.PORef, r.Version, r.LineNo, r.EventID, r.Status, r.SupplierRef, r.Warehouse, r.Currency, expected,
			r.SKU, r.Quantity, r.UnitCost, dateTime(r.OccurredAt), dateTime(r.IngestedAt),
			r.KafkaTopic, r.KafkaPartition, r.KafkaOffset,
		}
	})
}

const insertReceiptLines = `INSERT INTO receipt_lines (
    receipt_id, line_no, event_id, po_ref, warehouse, clarus_code, quantity, received_at, ingested_at,
    kafka_topic, kafka_partition, kafka_offset)`

// InsertReceiptLines writes receipt lines to receipt_lines in one block.
// Repeating it is safe: copies of a receipt collapse.
func InsertReceiptLines(ctx context.Context, conn driver.Conn, rows []ReceiptLine) error {
	return insertRows(ctx, conn, "receipt lines", insertReceiptLines, rows, func(r ReceiptLine) (string, []any) {
		return r.EventID, []any{
			r.ReceiptID, r.LineNo, r.EventID, r.PORef, r.Warehouse, r.ClarusCode, r.Quantity,
			dateTime(r.ReceivedAt), dateTime(r.IngestedAt), r.KafkaTopic, r.KafkaPartition, r.KafkaOffset,
		}
	})
}

// insertRows sends rows as one block with stmt, an INSERT with its column
// list; values gives a row's identity (for errors) and its column values in
// the list's order.
func insertRows[R any](ctx context.Context, conn driver.Conn, what, stmt string, rows []R, values func(R) (string, []any)) error {
	if len(rows) == 0 {
		return nil
	}
	batch, err := conn.PrepareBatch(ctx, stmt)
	if err != nil {
		return fmt.Errorf("analytics: insert %s: %w", what, err)
	}
	for _, r := range rows {
		id, vs := values(r)
		if err := batch.Append(vs...); err != nil {
			batch.Abort()
			return fmt.Errorf("analytics: insert %s of %s: %w", what, id, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("analytics: insert %d %s: %w", len(rows), what, err)
	}
	return nil
}

// dateTime is t as a DateTime column holds it: whole seconds, UTC.
func dateTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// boolUInt8 is b as ClickHouse 18.16's boolean, a UInt8 (it has no Bool).
func boolUInt8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
