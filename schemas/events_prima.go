package schemas

import "time"

// SalesOrder is a Prima sales order with every line (prima.sales-orders, key
// order ref).
type SalesOrder struct {
	Meta
	OrderRef string `avro:"order_ref"`
	// Version grows with every change in Prima; with OrderRef it is the
	// deterministic reference of what was sent to Clarus.
	Version     int64            `avro:"version"`
	Status      SalesOrderStatus `avro:"status"`
	Warehouse   string           `avro:"warehouse"`
	Currency    string           `avro:"currency"` // ISO 4217, of the line prices
	CustomerRef *string          `avro:"customer_ref"`
	Channel     *string          `avro:"channel"`
	Delivery    *DeliveryAddress `avro:"delivery"`
	Lines       []SalesOrderLine `avro:"lines"`
}

// SalesOrderLine is one line of a Prima order.
type SalesOrderLine struct {
	LineNo   int    `avro:"line_no"`
	SKU      string `avro:"sku"` // Prima SKU
	Quantity int64  `avro:"quantity"`
	// StockItem is false for lines that never go to Clarus: gift cards,
	// warranties, service fees, shipping.
	StockItem   bool    `avro:"stock_item"`
	UnitPrice   Decimal `avro:"unit_price"`
	Description *string `avro:"description"`
}

// SalesOrderStatus is the state of a Prima order.
type SalesOrderStatus string

// Sales order statuses.
const (
	SalesOrderReleased  SalesOrderStatus = "released"
	SalesOrderAmended   SalesOrderStatus = "amended"
	SalesOrderCancelled SalesOrderStatus = "cancelled"
)

// PurchaseOrder is a Prima purchase order (prima.purchase-orders, key PO
// ref).
type PurchaseOrder struct {
	Meta
	PORef       string              `avro:"po_ref"`
	Version     int64               `avro:"version"`
	Status      PurchaseOrderStatus `avro:"status"`
	SupplierRef string              `avro:"supplier_ref"`
	Warehouse   string              `avro:"warehouse"`
	Currency    string              `avro:"currency"` // ISO 4217, of the line costs
	ExpectedAt  *time.Time          `avro:"expected_at"`
	Lines       []PurchaseOrderLine `avro:"lines"`
}

// PurchaseOrderLine is one line of a Prima PO.
type PurchaseOrderLine struct {
	LineNo   int     `avro:"line_no"`
	SKU      string  `avro:"sku"` // Prima SKU
	Quantity int64   `avro:"quantity"`
	UnitCost Decimal `avro:"unit_cost"`
}

// PurchaseOrderStatus is the state of a Prima PO.
type PurchaseOrderStatus string

// Purchase order statuses.
const (
	PurchaseOrderApproved  PurchaseOrderStatus = "approved"
	PurchaseOrderAmended   PurchaseOrderStatus = "amended"
	PurchaseOrderCancelled PurchaseOrderStatus = "cancelled"
)

// Item is a Prima item: stock or not, its Clarus mapping and unit cost
// (prima.items, compacted, key sku).
type Item struct {
	Meta
	SKU         string  `avro:"sku"` // product code plus matrix codes
	Description string  `avro:"description"`
	ClarusCode  *string `avro:"clarus_code"` // nil while unmapped
	StockItem   bool    `avro:"stock_item"`
	UnitCost    Decimal `avro:"unit_cost"`
	Currency    string  `avro:"currency"`
	Active      bool    `avro:"active"` // false once discontinued
}

// PrimaStockLevel is what Prima believes a stock level is
// (prima.stock-levels, key sku@warehouse).
type PrimaStockLevel struct {
	Meta
	SKU       string    `avro:"sku"` // Prima SKU
	Warehouse string    `avro:"warehouse"`
	Available int64     `avro:"available"`
	OnHand    *int64    `avro:"on_hand"` // when Prima reports one
	AsOf      time.Time `avro:"as_of"`
}

// DespatchNote is a Prima despatch note created, or a failed attempt to
// create one (prima.despatch-notes, key order ref).
type DespatchNote struct {
	Meta
	OrderRef       string             `avro:"order_ref"`
	ShipmentID     string             `avro:"shipment_id"` // the note's reference
	Status         DespatchNoteStatus `avro:"status"`
	DespatchNoteID *string            `avro:"despatch_note_id"` // Prima's id; nil when failed
	Reason         *string            `avro:"reason"`
	Lines          []Line             `avro:"lines"` // Prima SKUs
}

// DespatchNoteStatus is the outcome of creating a despatch note.
type DespatchNoteStatus string

// Despatch note statuses.
const (
	DespatchCreated DespatchNoteStatus = "created"
	DespatchFailed  DespatchNoteStatus = "failed"
)

// SchemaName implements Event.
func (*SalesOrder) SchemaName() string { return "lockstep.v1.SalesOrder" }

// SchemaName implements Event.
func (*PurchaseOrder) SchemaName() string { return "lockstep.v1.PurchaseOrder" }

// SchemaName implements Event.
func (*Item) SchemaName() string { return "lockstep.v1.Item" }

// SchemaName implements Event.
func (*PrimaStockLevel) SchemaName() string { return "lockstep.v1.PrimaStockLevel" }

// SchemaName implements Event.
func (*DespatchNote) SchemaName() string { return "lockstep.v1.DespatchNote" }
