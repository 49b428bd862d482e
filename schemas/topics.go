package schemas

import "strings"

// Topic names, in one place. A deployment may prefix them all
// (LOCKSTEP_KAFKA_TOPIC_PREFIX); code applies the prefix where it builds its
// clients, never here.
const (
	TopicStockMovements    = "clarus.stock-movements"   // key sku@warehouse
	TopicStockSnapshots    = "clarus.stock-snapshots"   // key sku@warehouse
	TopicShipments         = "clarus.shipments"         // key order ref
	TopicReceipts          = "clarus.receipts"          // key PO ref, or orphan:<receipt id>
	TopicOrderAcks         = "clarus.order-acks"        // key order ref
	TopicReceiptAcks       = "clarus.receipt-acks"      // key PO ref
	TopicSalesOrders       = "prima.sales-orders"       // key order ref
	TopicPurchaseOrders    = "prima.purchase-orders"    // key PO ref
	TopicItems             = "prima.items"              // key sku; compacted
	TopicPrimaStockLevels  = "prima.stock-levels"       // key sku@warehouse
	TopicDespatchNotes     = "prima.despatch-notes"     // key order ref
	TopicStockLevels       = "lockstep.stock-levels"    // key sku@warehouse; compacted
	TopicCmdPrimaStock     = "lockstep.cmd.prima-stock" // key warehouse
	TopicCmdPrimaDespatch  = "lockstep.cmd.prima-despatch"
	TopicCmdClarusOrders   = "lockstep.cmd.clarus-orders"
	TopicCmdClarusReceipts = "lockstep.cmd.clarus-receipts"
	TopicDrift             = "lockstep.drift"          // key discrepancy id
	TopicFulfilment        = "lockstep.fulfilment"     // key order ref; fulfilment closed
	TopicOpenGoodsOut      = "lockstep.open-goods-out" // key Clarus code@warehouse; per order, absolute
	TopicDLQ               = "lockstep.dlq"            // key: the original key
	TopicSourceCursors     = "lockstep.source-cursors"
	// The Prima stock sink's and parity check's own state: compacted, JSON
	// values (lockstep's private memory, not events).
	TopicStockHeld   = "lockstep.stock-held"   // key clarus code@warehouse; levels held for an unmapped SKU
	TopicStockPushed = "lockstep.stock-pushed" // key prima sku@warehouse; the last level pushed to Prima
	TopicStockParity = "lockstep.stock-parity" // key prima sku@warehouse; open stock_parity discrepancies
)

// StockKey is the key of per-location stock topics: sku@warehouse.
func StockKey(sku, warehouse string) string { return sku + "@" + warehouse }

// SplitStockKey splits a StockKey at its last '@': a SKU may hold one, a
// warehouse code does not. ok is false when either part is empty.
func SplitStockKey(key string) (sku, warehouse string, ok bool) {
	i := strings.LastIndexByte(key, '@')
	if i <= 0 || i == len(key)-1 {
		return "", "", false
	}
	return key[:i], key[i+1:], true
}
