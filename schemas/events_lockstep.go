package schemas

import "time"

// StockLevel is Clarus stock folded per sku@warehouse (lockstep.stock-levels,
// compacted, key sku@warehouse).
type StockLevel struct {
	Meta
	SKU       string `avro:"sku"` // Clarus product code
	Warehouse string `avro:"warehouse"`
	OnHand    int64  `avro:"on_hand"`
	Allocated int64  `avro:"allocated"`
	Held      int64  `avro:"held"`
	Available int64  `avro:"available"` // OnHand - Allocated - Held
	// OpenGoodsOut is what goods-outs lockstep sent still have to
	// dispatch here: Prima is pushed OnHand - Held - max(Allocated,
	// OpenGoodsOut).
	OpenGoodsOut int64 `avro:"open_goods_out"`
	// LastMovementID is nil right after a re-base from a snapshot.
	LastMovementID *string   `avro:"last_movement_id"`
	AsOf           time.Time `avro:"as_of"`
}

// DriftEvent is a disagreement between Clarus and Prima opened, updated,
// resolved or acknowledged (lockstep.drift, key discrepancy id). Every event
// about one discrepancy carries the same DiscrepancyID.
type DriftEvent struct {
	Meta
	DiscrepancyID string      `avro:"discrepancy_id"`
	Kind          DriftKind   `avro:"kind"`
	Owner         DriftOwner  `avro:"owner"`
	Status        DriftStatus `avro:"status"`
	SKU           *string     `avro:"sku"`
	Warehouse     *string     `avro:"warehouse"`
	OrderRef      *string     `avro:"order_ref"`
	PORef         *string     `avro:"po_ref"`
	ShipmentID    *string     `avro:"shipment_id"`
	ExpectedQty   *int64      `avro:"expected_qty"` // what the master system says
	ActualQty     *int64      `avro:"actual_qty"`   // what the other system says
	DeltaQty      *int64      `avro:"delta_qty"`    // ActualQty - ExpectedQty
	ValueDelta    *Decimal    `avro:"value_delta"`  // DeltaQty at unit cost
	Currency      *string     `avro:"currency"`
	Detail        string      `avro:"detail"` // one sentence a person can act on
}

// DriftKind names a kind of discrepancy. It is a string in the schema, not an
// enum, so that a new kind needs no schema change.
type DriftKind string

// Drift kinds named by the design.
const (
	DriftStockParity             DriftKind = "stock_parity"
	DriftSKUUnmapped             DriftKind = "sku_unmapped"
	DriftOrderRejected           DriftKind = "order_rejected"
	DriftAmendedAfterRelease     DriftKind = "order_amended_after_release"
	DriftCancelAfterDispatch     DriftKind = "order_cancelled_after_dispatch"
	DriftMissingDespatch         DriftKind = "missing_despatch"
	DriftDespatchMismatch        DriftKind = "despatch_mismatch"
	DriftDespatchWithoutShipment DriftKind = "despatch_without_shipment"
	DriftDespatchPostFailed      DriftKind = "despatch_post_failed"
	DriftShipmentWithoutOrder    DriftKind = "shipment_without_order"
	DriftOrphanReceipt           DriftKind = "orphan_receipt"
	DriftReceiptOverPO           DriftKind = "receipt_over_po"
	DriftReceiptSKUNotOnPO       DriftKind = "receipt_sku_not_on_po"
	DriftReceiptWrongWarehouse   DriftKind = "receipt_wrong_warehouse"
	DriftPONotInWMS              DriftKind = "po_not_in_wms"
	DriftWMSFeedGap              DriftKind = "wms_feed_gap"
	DriftPushFailed              DriftKind = "push_failed"
)

// DriftOwner is the team that acts on a discrepancy.
type DriftOwner string

// Drift owners.
const (
	OwnerWarehouse  DriftOwner = "warehouse"
	OwnerFinance    DriftOwner = "finance"
	OwnerOperations DriftOwner = "operations"
)

// DriftStatus is where a discrepancy stands.
type DriftStatus string

// Drift statuses.
const (
	DriftOpen         DriftStatus = "open"
	DriftUpdated      DriftStatus = "updated"
	DriftResolved     DriftStatus = "resolved"
	DriftAcknowledged DriftStatus = "acknowledged"
)

// DeadLetter is a record a stage could not process, parked with its original
// bytes so it can be inspected and re-driven (lockstep.dlq, key the original
// key).
type DeadLetter struct {
	Meta
	OriginalTopic     string    `avro:"original_topic"`
	OriginalPartition int32     `avro:"original_partition"`
	OriginalOffset    int64     `avro:"original_offset"`
	OriginalTimestamp time.Time `avro:"original_timestamp"`
	OriginalKey       []byte    `avro:"original_key"` // nil for a record without key
	OriginalValue     []byte    `avro:"original_value"`
	OriginalHeaders   []Header  `avro:"original_headers"`
	Reason            string    `avro:"reason"` // the error, as text
	Stage             string    `avro:"stage"`  // processor or sink that gave up
	FailedAt          time.Time `avro:"failed_at"`
	Attempts          int32     `avro:"attempts"` // tries before parking
}

// Header is a Kafka record header.
type Header struct {
	Key   string `avro:"key"`
	Value []byte `avro:"value"`
}

// SchemaName implements Event.
func (*StockLevel) SchemaName() string { return "lockstep.v1.StockLevel" }

// SchemaName implements Event.
func (*DriftEvent) SchemaName() string { return "lockstep.v1.DriftEvent" }

// SchemaName implements Event.
func (*DeadLetter) SchemaName() string { return "lockstep.v1.DeadLetter" }

// FulfilmentClosed says an order is dispatched in Clarus and every shipment
// has its despatch note in Prima (lockstep.fulfilment, key order ref).
type FulfilmentClosed struct {
	Meta
	OrderRef        string   `avro:"order_ref"`
	Warehouse       string   `avro:"warehouse"`
	ShipmentIDs     []string `avro:"shipment_ids"`
	DespatchNoteIDs []string `avro:"despatch_note_ids"`
	Units           int64    `avro:"units"`
}

// SchemaName implements Event.
func (*FulfilmentClosed) SchemaName() string { return "lockstep.v1.FulfilmentClosed" }

// OpenGoodsOut is what a goods-out lockstep sent to Clarus still has to
// dispatch of one product at one warehouse (lockstep.open-goods-out, key
// Clarus code@warehouse): absolute, per order, so a replay or a repeat is
// harmless. Open is 0 once the goods-out is dispatched, cancelled or
// refused. The stock flow sums it per key: stock promised to orders that
// Clarus may not have allocated yet.
type OpenGoodsOut struct {
	Meta
	OrderRef  string `avro:"order_ref"`
	SKU       string `avro:"sku"` // Clarus product code
	Warehouse string `avro:"warehouse"`
	Open      int64  `avro:"open"`
}

// SchemaName implements Event.
func (*OpenGoodsOut) SchemaName() string { return "lockstep.v1.OpenGoodsOut" }
