package analytics

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
)

// DriftEvent is one row of drift_events.
type DriftEvent struct {
	EventID        string // identity: re-inserting the same EventID collapses
	DiscrepancyID  string
	Kind           string // e.g. stock_parity, missing_despatch
	Owner          string // warehouse | finance | operations
	Status         string // open | updated | resolved | acknowledged
	SKU            string
	Warehouse      string
	OrderRef       string
	PORef          string
	ShipmentID     string // the Clarus shipment of a fulfilment discrepancy
	ExpectedQty    *int64
	ActualQty      *int64
	DeltaQty       *int64
	ValueDelta     *decimal.Decimal // Decimal(18,4)
	Currency       string
	Detail         string
	OccurredAt     time.Time // stored as DateTime: whole seconds, UTC
	IngestedAt     time.Time
	KafkaTopic     string
	KafkaPartition int32
	KafkaOffset    int64
}

const insertDriftEvents = `INSERT INTO drift_events (
    event_id, discrepancy_id, kind, owner, status, sku, warehouse, order_ref, po_ref, shipment_id,
    expected_qty, actual_qty, delta_qty, value_delta, currency, detail,
    occurred_at, ingested_at, kafka_topic, kafka_partition, kafka_offset)`

// InsertDriftEvents writes events to drift_events in one block. It is safe
// to repeat after a failure or a replay: rows with the same EventID collapse.
func InsertDriftEvents(ctx context.Context, conn driver.Conn, events []DriftEvent) error {
	return insertRows(ctx, conn, "drift events", insertDriftEvents, events, func(e DriftEvent) (string, []any) {
		return e.EventID, []any{
			e.EventID, e.DiscrepancyID, e.Kind, e.Owner, e.Status, e.SKU, e.Warehouse, e.OrderRef, e.PORef, e.ShipmentID,
			e.ExpectedQty, e.ActualQty, e.DeltaQty, e.ValueDelta, e.Currency, e.Detail,
			dateTime(e.OccurredAt), dateTime(e.IngestedAt), e.KafkaTopic, e.KafkaPartition, e.KafkaOffset,
		}
	})
}
