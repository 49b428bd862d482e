package schemas

import "time"

// StockMovement is one Clarus stock movement (clarus.stock-movements, key
// sku@warehouse).
type StockMovement struct {
	Meta
	// MovementID is unique in Clarus, so a fold can drop a replayed movement.
	MovementID string            `avro:"movement_id"`
	SKU        string            `avro:"sku"` // Clarus product code
	Warehouse  string            `avro:"warehouse"`
	Kind       StockMovementKind `avro:"kind"`
	// Quantity is a signed delta in units, except for MovementCount, where
	// it is the counted absolute quantity on hand.
	Quantity  int64   `avro:"quantity"`
	Reference *string `avro:"reference"` // order ref, PO ref or receipt id
	Reason    *string `avro:"reason"`    // Clarus reason code
}

// StockMovementKind says how a movement changes a stock level.
type StockMovementKind string

// Stock movement kinds.
const (
	MovementReceipt      StockMovementKind = "receipt"
	MovementPick         StockMovementKind = "pick"
	MovementAdjustment   StockMovementKind = "adjustment"
	MovementCount        StockMovementKind = "count"
	MovementAllocation   StockMovementKind = "allocation"
	MovementDeallocation StockMovementKind = "deallocation"
	MovementHold         StockMovementKind = "hold"
	MovementRelease      StockMovementKind = "release"
)

// StockSnapshot is a full read of one Clarus stock balance
// (clarus.stock-snapshots, key sku@warehouse).
type StockSnapshot struct {
	Meta
	SnapshotID string    `avro:"snapshot_id"` // shared by all balances of one sweep
	SKU        string    `avro:"sku"`
	Warehouse  string    `avro:"warehouse"`
	OnHand     int64     `avro:"on_hand"`
	Allocated  int64     `avro:"allocated"`
	Held       int64     `avro:"held"`
	AsOf       time.Time `avro:"as_of"`
}

// Shipment is a Clarus goods-out confirmed or cancelled (clarus.shipments,
// key order ref).
type Shipment struct {
	Meta
	// ShipmentID is also the reference of the Prima despatch note.
	ShipmentID     string         `avro:"shipment_id"`
	OrderRef       string         `avro:"order_ref"`
	Status         ShipmentStatus `avro:"status"`
	Warehouse      string         `avro:"warehouse"`
	Lines          []ShipmentLine `avro:"lines"` // Clarus product codes
	Carrier        *string        `avro:"carrier"`
	TrackingNumber *string        `avro:"tracking_number"`
	GoodsOutID     string         `avro:"goods_out_id"`
	// OrderComplete says the goods-out was fully dispatched when read: no
	// further shipment of the order follows.
	OrderComplete bool `avro:"order_complete"`
}

// ShipmentLine is one product of a shipment.
type ShipmentLine struct {
	SKU      string `avro:"sku"`      // Clarus product code
	Quantity int64  `avro:"quantity"` // dispatched in this shipment
	Picked   int64  `avro:"picked"`   // picked for the goods-out line so far
}

// ShipmentStatus is the outcome of a goods-out order.
type ShipmentStatus string

// Shipment statuses.
const (
	ShipmentConfirmed ShipmentStatus = "confirmed"
	ShipmentCancelled ShipmentStatus = "cancelled"
)

// Receipt is a Clarus goods-in receipt completed (clarus.receipts, key PO
// ref, or "orphan:"+receipt id).
type Receipt struct {
	Meta
	ReceiptID string  `avro:"receipt_id"`
	PORef     *string `avro:"po_ref"` // nil for an orphan receipt
	Warehouse string  `avro:"warehouse"`
	Lines     []Line  `avro:"lines"` // Clarus product codes
}

// OrderAck is the Clarus answer to a ClarusOrderCommand (clarus.order-acks,
// key order ref).
type OrderAck struct {
	Meta
	OrderRef     string `avro:"order_ref"`
	OrderVersion int64  `avro:"order_version"`
	// Action is the command answered: a cancel-and-recreate sends both
	// for one version.
	Action   ClarusOrderAction `avro:"action"`
	Status   OrderAckStatus    `avro:"status"`
	ClarusID *string           `avro:"clarus_id"` // nil when rejected
	Reason   *string           `avro:"reason"`
}

// OrderAckStatus is what Clarus did with a goods-out command.
type OrderAckStatus string

// Order ack statuses.
const (
	OrderCreated   OrderAckStatus = "created"
	OrderRejected  OrderAckStatus = "rejected"
	OrderCancelled OrderAckStatus = "cancelled"
	OrderClosed    OrderAckStatus = "closed"
)

// ReceiptAck is the Clarus answer to a ClarusReceiptCommand
// (clarus.receipt-acks, key PO ref): the pre-receipt exists, was changed,
// refused or cancelled.
type ReceiptAck struct {
	Meta
	PORef     string              `avro:"po_ref"`
	POVersion int64               `avro:"po_version"`
	Action    ClarusReceiptAction `avro:"action"` // the command answered
	Status    ReceiptAckStatus    `avro:"status"`
	ClarusID  *string             `avro:"clarus_id"` // nil when rejected
	Reason    *string             `avro:"reason"`
}

// ReceiptAckStatus is what Clarus did with a pre-receipt command.
type ReceiptAckStatus string

// Receipt ack statuses.
const (
	ReceiptCreated   ReceiptAckStatus = "created"
	ReceiptUpdated   ReceiptAckStatus = "updated"
	ReceiptRejected  ReceiptAckStatus = "rejected"
	ReceiptCancelled ReceiptAckStatus = "cancelled"
)

// SchemaName implements Event.
func (*StockMovement) SchemaName() string { return "lockstep.v1.StockMovement" }

// SchemaName implements Event.
func (*StockSnapshot) SchemaName() string { return "lockstep.v1.StockSnapshot" }

// SchemaName implements Event.
func (*Shipment) SchemaName() string { return "lockstep.v1.Shipment" }

// SchemaName implements Event.
func (*Receipt) SchemaName() string { return "lockstep.v1.Receipt" }

// SchemaName implements Event.
func (*OrderAck) SchemaName() string { return "lockstep.v1.OrderAck" }

// SchemaName implements Event.
func (*ReceiptAck) SchemaName() string { return "lockstep.v1.ReceiptAck" }
