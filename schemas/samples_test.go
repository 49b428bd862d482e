package schemas

import (
	"time"
)

// at is a fixed instant, whole milliseconds and UTC, so samples round-trip
// exactly and golden encodings never change by themselves.
func at(minute int) time.Time {
	return time.Date(2026, 3, 2, 9, minute, 4, 567_000_000, time.UTC)
}

func meta(id string, src Source) Meta {
	return Meta{EventID: id, Source: src, OccurredAt: at(0), IngestedAt: at(1)}
}

var address = &DeliveryAddress{
	Name: "Ada Lovelace", Line1: "12 Analytical Row", Line2: new("Flat 3"),
	City: "London", Region: new("Greater London"), Postcode: "N1 9GU", CountryCode: "GB",
}

// samples holds one fully populated value of every event type: every
// optional field set, every array non-empty, negative numbers where they are
// allowed. The golden files hold their encodings.
func samples() []Event {
	return []Event{
		&StockMovement{Meta: meta("clarus-mv-1", SourceClarus), MovementID: "mv-1", SKU: "TSHIRT-BLK-M",
			Warehouse: "LON1", Kind: MovementAdjustment, Quantity: -3, Reference: new("ADJ-77"), Reason: new("damaged")},
		&StockSnapshot{Meta: meta("clarus-snap-1", SourceClarus), SnapshotID: "sweep-42", SKU: "TSHIRT-BLK-M",
			Warehouse: "LON1", OnHand: 120, Allocated: 15, Held: 2, AsOf: at(2)},
		&Shipment{Meta: meta("clarus-shp-1", SourceClarus), ShipmentID: "GO-9001", OrderRef: "SO-1001",
			Status: ShipmentConfirmed, Warehouse: "LON1", Lines: []ShipmentLine{{"TSHIRT-BLK-M", 2, 3}, {"MUG-WHT", 1, 1}},
			Carrier: new("DPD"), TrackingNumber: new("15501234567890"), GoodsOutID: "8812", OrderComplete: true},
		&Receipt{Meta: meta("clarus-rcpt-1", SourceClarus), ReceiptID: "GI-500", PORef: new("PO-3001"),
			Warehouse: "LON1", Lines: []Line{{"TSHIRT-BLK-M", 48}}},
		&OrderAck{Meta: meta("clarus-ack-1", SourceClarus), OrderRef: "SO-1001", OrderVersion: 3,
			Action: ClarusOrderCancel, Status: OrderRejected, ClarusID: new("GO-9001"), Reason: new("unknown product MUG-RED")},
		&SalesOrder{Meta: meta("prima-so-1", SourcePrima), OrderRef: "SO-1001", Version: 3,
			Status: SalesOrderReleased, Warehouse: "LON1", Currency: "GBP", CustomerRef: new("CUST-7"),
			Channel: new("web"), Delivery: address, Lines: []SalesOrderLine{
				{LineNo: 1, SKU: "TSHIRT/BLK/M", Quantity: 2, StockItem: true, UnitPrice: MustParseDecimal("19.99"), Description: new("T-shirt black M")},
				{LineNo: 2, SKU: "GIFTCARD-25", Quantity: 1, StockItem: false, UnitPrice: MustParseDecimal("25"), Description: new("Gift card")},
				{LineNo: 3, SKU: "DISCOUNT", Quantity: 1, StockItem: false, UnitPrice: MustParseDecimal("-5.0001")},
			}},
		&PurchaseOrder{Meta: meta("prima-po-1", SourcePrima), PORef: "PO-3001", Version: 2,
			Status: PurchaseOrderApproved, SupplierRef: "SUP-12", Warehouse: "LON1", Currency: "EUR",
			ExpectedAt: new(at(30)), Lines: []PurchaseOrderLine{
				{LineNo: 1, SKU: "TSHIRT/BLK/M", Quantity: 48, UnitCost: MustParseDecimal("4.1275")},
			}},
		&Item{Meta: meta("prima-item-1", SourcePrima), SKU: "TSHIRT/BLK/M", Description: "T-shirt black M",
			ClarusCode: new("TSHIRT-BLK-M"), StockItem: true, UnitCost: MustParseDecimal("4.1275"),
			Currency: "GBP", Active: false},
		&PrimaStockLevel{Meta: meta("prima-lvl-1", SourcePrima), SKU: "TSHIRT/BLK/M", Warehouse: "LON1",
			Available: 101, OnHand: new(int64(118)), AsOf: at(3)},
		&DespatchNote{Meta: meta("prima-dn-1", SourcePrima), OrderRef: "SO-1001", ShipmentID: "GO-9001",
			Status: DespatchFailed, DespatchNoteID: new("DN-77"), Reason: new("order on credit hold"),
			Lines: []Line{{"TSHIRT/BLK/M", 2}}},
		&StockLevel{Meta: meta("lockstep-lvl-1", SourceLockstep), SKU: "TSHIRT-BLK-M", Warehouse: "LON1",
			OnHand: 120, Allocated: 15, Held: 2, Available: 103, OpenGoodsOut: 20, LastMovementID: new("mv-1"), AsOf: at(4)},
		&PrimaStockCommand{Meta: meta("lockstep-ps-1", SourceLockstep), BatchRef: "LON1-20260302T0905",
			Warehouse: "LON1", AsOf: at(5), Lines: []PrimaStockLine{{"TSHIRT/BLK/M", 103}, {"MUG/WHT", 0}}},
		&DespatchCommand{Meta: meta("lockstep-dc-1", SourceLockstep), OrderRef: "SO-1001", ShipmentID: "GO-9001",
			Warehouse: "LON1", Carrier: new("DPD"), TrackingNumber: new("15501234567890"),
			Lines: []Line{{"TSHIRT/BLK/M", 2}}},
		&ClarusOrderCommand{Meta: meta("lockstep-co-1", SourceLockstep), OrderRef: "SO-1001", OrderVersion: 3,
			Action: ClarusOrderCreate, Warehouse: "LON1", CustomerRef: new("CUST-7"), Delivery: address,
			Lines: []ClarusLine{{LineNo: 1, SKU: "TSHIRT/BLK/M", ClarusCode: "TSHIRT-BLK-M", Quantity: 2}}},
		&ClarusReceiptCommand{Meta: meta("lockstep-cr-1", SourceLockstep), PORef: "PO-3001", POVersion: 2,
			Action: ClarusReceiptUpdate, Warehouse: "LON1", SupplierRef: "SUP-12", ExpectedAt: new(at(30)),
			Lines: []ClarusLine{{LineNo: 1, SKU: "TSHIRT/BLK/M", ClarusCode: "TSHIRT-BLK-M", Quantity: 48}}},
		&DriftEvent{Meta: meta("lockstep-drift-1", SourceLockstep), DiscrepancyID: "stock_parity:TSHIRT/BLK/M@LON1",
			Kind: DriftStockParity, Owner: OwnerFinance, Status: DriftOpen, SKU: new("TSHIRT/BLK/M"),
			Warehouse: new("LON1"), OrderRef: new("SO-1001"), PORef: new("PO-3001"), ShipmentID: new("GO-9001"),
			ExpectedQty: new(int64(103)), ActualQty: new(int64(101)), DeltaQty: new(int64(-2)),
			ValueDelta: new(MustParseDecimal("-8.2550")), Currency: new("GBP"),
			Detail: "Prima shows 2 fewer TSHIRT/BLK/M at LON1 than Clarus after the settle window."},
		&FulfilmentClosed{Meta: meta("lockstep-fc-1", SourceLockstep), OrderRef: "SO-1001", Warehouse: "LON1",
			ShipmentIDs: []string{"GO-9001", "GO-9002"}, DespatchNoteIDs: []string{"DN-77", "DN-78"}, Units: 3},
		&ReceiptAck{Meta: meta("clarus-rack-1", SourceClarus), PORef: "PO-3001", POVersion: 2,
			Action: ClarusReceiptUpdate, Status: ReceiptRejected, ClarusID: new("GI-500"), Reason: new("receipt already receiving")},
		&OpenGoodsOut{Meta: meta("lockstep-ogo-1", SourceLockstep), OrderRef: "SO-1001", SKU: "TSHIRT-BLK-M",
			Warehouse: "LON1", Open: 2},
		&DeadLetter{Meta: meta("lockstep-dlq-1", SourceLockstep), OriginalTopic: "clarus.stock-movements",
			OriginalPartition: 7, OriginalOffset: 1 << 40, OriginalTimestamp: at(6),
			OriginalKey: []byte("TSHIRT-BLK-M@LON1"), OriginalValue: []byte{0, 0, 0, 0, 9, 0xff}, Attempts: 3,
			Reason: "schemas: malformed avro", Stage: "stock", FailedAt: at(7), OriginalHeaders: []Header{
				{Key: "traceparent", Value: []byte("00-abc-def-01")}, {Key: "empty"},
			}},
	}
}

// sampleOf returns the sample whose schema is named name.
func sampleOf(name string) Event {
	for _, s := range samples() {
		if s.SchemaName() == name {
			return s
		}
	}
	return nil
}
