package schemas

import "time"

// Event is a pointer to one of the event types of this package. Only they
// satisfy it in practice: Encode and Decode need the embedded schema named by
// SchemaName.
type Event interface {
	// SchemaName is the full Avro name of the event's schema, which is also
	// its registry subject (record name strategy, see the package doc).
	SchemaName() string
	// EventMeta gives generic code (deduplication, ingestion stamps, the
	// DLQ) the envelope every event carries.
	EventMeta() *Meta
}

// Meta is the envelope every event starts with. It is embedded in each event
// type, so m.EventID reads as a field of the event.
type Meta struct {
	// EventID is unique per source event; consumers drop duplicates by it.
	EventID    string    `avro:"event_id"`
	Source     Source    `avro:"source"`
	OccurredAt time.Time `avro:"occurred_at"`
	IngestedAt time.Time `avro:"ingested_at"`
}

// EventMeta returns m, so that every type embedding Meta satisfies that part
// of Event.
func (m *Meta) EventMeta() *Meta { return m }

// Source is the system an event came from.
type Source string

// Sources.
const (
	SourceClarus   Source = "clarus"
	SourcePrima    Source = "prima"
	SourceLockstep Source = "lockstep"
)

// Line is a quantity of one SKU: the line shape shipments, receipts and
// despatch notes share, so the fulfilment join can compare them directly.
type Line struct {
	SKU      string `avro:"sku"`
	Quantity int64  `avro:"quantity"`
}

// DeliveryAddress is where a sales order goes.
type DeliveryAddress struct {
	Name        string  `avro:"name"`
	Line1       string  `avro:"line1"`
	Line2       *string `avro:"line2"`
	City        string  `avro:"city"`
	Region      *string `avro:"region"`
	Postcode    string  `avro:"postcode"`
	CountryCode string  `avro:"country_code"` // ISO 3166-1 alpha-2
}

// events lists one value of every event type: the catalog pairs each with
// its embedded .avsc by SchemaName, and fails if either side is missing.
var events = []func() Event{
	func() Event { return new(StockMovement) },
	func() Event { return new(StockSnapshot) },
	func() Event { return new(Shipment) },
	func() Event { return new(Receipt) },
	func() Event { return new(OrderAck) },
	func() Event { return new(SalesOrder) },
	func() Event { return new(PurchaseOrder) },
	func() Event { return new(Item) },
	func() Event { return new(PrimaStockLevel) },
	func() Event { return new(DespatchNote) },
	func() Event { return new(StockLevel) },
	func() Event { return new(PrimaStockCommand) },
	func() Event { return new(DespatchCommand) },
	func() Event { return new(ClarusOrderCommand) },
	func() Event { return new(ClarusReceiptCommand) },
	func() Event { return new(DriftEvent) },
	func() Event { return new(DeadLetter) },
	func() Event { return new(FulfilmentClosed) },
	func() Event { return new(ReceiptAck) },
	func() Event { return new(OpenGoodsOut) },
}
