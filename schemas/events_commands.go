package schemas

import "time"

// The commands lockstep's processors send to the systems through the sinks.
// Each carries a deterministic reference the sink looks up before re-sending
// after an ambiguous failure, so at-least-once delivery never duplicates.

// PrimaStockCommand is a batch of absolute stock levels to push to Prima
// (lockstep.cmd.prima-stock, key warehouse).
type PrimaStockCommand struct {
	Meta
	BatchRef  string           `avro:"batch_ref"`
	Warehouse string           `avro:"warehouse"`
	AsOf      time.Time        `avro:"as_of"` // instant of the Clarus levels
	Lines     []PrimaStockLine `avro:"lines"`
}

// PrimaStockLine is the level to set for one SKU: absolute, never a delta, so
// a repeated push is harmless.
type PrimaStockLine struct {
	SKU       string `avro:"sku"` // Prima SKU
	Available int64  `avro:"available"`
}

// DespatchCommand asks for the Prima despatch note of a Clarus shipment
// (lockstep.cmd.prima-despatch, key order ref).
type DespatchCommand struct {
	Meta
	OrderRef       string  `avro:"order_ref"`
	ShipmentID     string  `avro:"shipment_id"` // reference of the note to create
	Warehouse      string  `avro:"warehouse"`
	Carrier        *string `avro:"carrier"`
	TrackingNumber *string `avro:"tracking_number"`
	Lines          []Line  `avro:"lines"` // Prima SKUs
}

// ClarusOrderCommand creates, cancels or closes a Clarus goods-out order from the
// stock lines of a Prima order (lockstep.cmd.clarus-orders, key order ref).
type ClarusOrderCommand struct {
	Meta
	OrderRef     string            `avro:"order_ref"`
	OrderVersion int64             `avro:"order_version"`
	Action       ClarusOrderAction `avro:"action"`
	// Replace marks a cancel that makes way for the re-created amended
	// order: the sink refuses it once Clarus has started picking, where a
	// plain cancellation goes on until dispatch.
	Replace     bool             `avro:"replace"`
	Warehouse   string           `avro:"warehouse"`
	CustomerRef *string          `avro:"customer_ref"`
	Delivery    *DeliveryAddress `avro:"delivery"`
	Lines       []ClarusLine     `avro:"lines"`
}

// ClarusLine is a line sent to Clarus, with both sides of the SKU mapping.
type ClarusLine struct {
	LineNo     int    `avro:"line_no"` // in the Prima order or PO
	SKU        string `avro:"sku"`     // Prima SKU
	ClarusCode string `avro:"clarus_code"`
	Quantity   int64  `avro:"quantity"`
}

// ClarusOrderAction is what to do with a goods-out order.
type ClarusOrderAction string

// Clarus order actions.
const (
	ClarusOrderCreate ClarusOrderAction = "create"
	ClarusOrderCancel ClarusOrderAction = "cancel"
	// ClarusOrderClose records on a dispatched goods-out that Prima holds
	// its despatch notes: the fulfilment is closed on both sides.
	ClarusOrderClose ClarusOrderAction = "close"
)

// ClarusReceiptCommand creates, updates or cancels the Clarus pre-receipt of
// a Prima PO (lockstep.cmd.clarus-receipts, key PO ref).
type ClarusReceiptCommand struct {
	Meta
	PORef       string              `avro:"po_ref"`
	POVersion   int64               `avro:"po_version"`
	Action      ClarusReceiptAction `avro:"action"`
	Warehouse   string              `avro:"warehouse"`
	SupplierRef string              `avro:"supplier_ref"`
	ExpectedAt  *time.Time          `avro:"expected_at"`
	Lines       []ClarusLine        `avro:"lines"`
}

// ClarusReceiptAction is what to do with a pre-receipt.
type ClarusReceiptAction string

// Clarus receipt actions.
const (
	ClarusReceiptCreate ClarusReceiptAction = "create"
	ClarusReceiptUpdate ClarusReceiptAction = "update"
	ClarusReceiptCancel ClarusReceiptAction = "cancel"
)

// SchemaName implements Event.
func (*PrimaStockCommand) SchemaName() string { return "lockstep.v1.PrimaStockCommand" }

// SchemaName implements Event.
func (*DespatchCommand) SchemaName() string { return "lockstep.v1.DespatchCommand" }

// SchemaName implements Event.
func (*ClarusOrderCommand) SchemaName() string { return "lockstep.v1.ClarusOrderCommand" }

// SchemaName implements Event.
func (*ClarusReceiptCommand) SchemaName() string { return "lockstep.v1.ClarusReceiptCommand" }
