package ledger

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/schemas"
)

// A route is how the records of one topic become rows of one ledger table.
// Every topic goes through the same batch, insert, retry, commit and DLQ
// path in the sink; only the decoding and the insert differ, so a new table
// is one more route here, not another sink.
type route struct {
	topic string // before the prefix
	table string // the ClickHouse table, for logs and metrics
	// newRows returns an empty buffer of the table's rows.
	newRows func() rowBuffer
}

// routes are the topics the sink reads, in the order a batch inserts them:
// facts before drift, so that a drift row is never in the ledger before the
// facts that explain it.
var routes = []route{
	{schemas.TopicItems, "items", func() rowBuffer {
		return &rowsOf[analytics.Item]{decodeFn: decodeItem, insertFn: analytics.InsertItems}
	}},
	{schemas.TopicShipments, "shipment_lines", func() rowBuffer {
		return &rowsOf[analytics.ShipmentLine]{decodeFn: decodeShipment, insertFn: analytics.InsertShipmentLines}
	}},
	{schemas.TopicDespatchNotes, "despatch_note_lines", func() rowBuffer {
		return &rowsOf[analytics.DespatchNoteLine]{decodeFn: decodeDespatchNote, insertFn: analytics.InsertDespatchNoteLines}
	}},
	{schemas.TopicPurchaseOrders, "po_lines", func() rowBuffer {
		return &rowsOf[analytics.POLine]{decodeFn: decodePurchaseOrder, insertFn: analytics.InsertPOLines}
	}},
	{schemas.TopicReceipts, "receipt_lines", func() rowBuffer {
		return &rowsOf[analytics.ReceiptLine]{decodeFn: decodeReceipt, insertFn: analytics.InsertReceiptLines}
	}},
	{schemas.TopicDrift, "drift_events", func() rowBuffer {
		return &rowsOf[analytics.DriftEvent]{decodeFn: decodeDrift, insertFn: analytics.InsertDriftEvents}
	}},
}

// batch is what has been polled and not yet committed: the rows to insert,
// one buffer per route, and every record they came from, dead-lettered ones
// included.
type batch struct {
	tables []rowBuffer
	recs   []*kgo.Record
	first  time.Time // when the first record arrived
}

func newBatch() batch {
	b := batch{tables: make([]rowBuffer, len(routes))}
	for i, r := range routes {
		b.tables[i] = r.newRows()
	}
	return b
}

// rows is the number of rows waiting to be inserted.
func (b *batch) rows() int {
	n := 0
	for _, t := range b.tables {
		n += t.len()
	}
	return n
}

// rowBuffer holds one table's rows of the batch being built.
type rowBuffer interface {
	// add decodes rec and appends its rows (none, one, or one per line).
	// Its error is the record's fault when permanent(err).
	add(ctx context.Context, serde *schemas.Serde, rec *kgo.Record) error
	// insert writes the rows in one block.
	insert(ctx context.Context, conn driver.Conn) error
	len() int
	reset()
}

// rowsOf is the rowBuffer of a table whose rows are R.
type rowsOf[R any] struct {
	decodeFn func(ctx context.Context, serde *schemas.Serde, rec *kgo.Record) ([]R, error)
	insertFn func(ctx context.Context, conn driver.Conn, rows []R) error
	rows     []R
}

func (b *rowsOf[R]) add(ctx context.Context, serde *schemas.Serde, rec *kgo.Record) error {
	rows, err := b.decodeFn(ctx, serde, rec)
	if err != nil {
		return err
	}
	b.rows = append(b.rows, rows...)
	return nil
}

func (b *rowsOf[R]) insert(ctx context.Context, conn driver.Conn) error {
	return b.insertFn(ctx, conn, b.rows)
}

func (b *rowsOf[R]) len() int { return len(b.rows) }
func (b *rowsOf[R]) reset()   { b.rows = b.rows[:0] }
