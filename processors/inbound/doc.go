// Package inbound is the inbound processor (flow 4 of the design): Prima
// purchase orders in, Clarus pre-receipt commands out, and every Clarus
// receipt checked against its PO, with drift for what does not agree.
//
// Input -> fold -> state -> output:
//
//   - prima.purchase-orders (key PO ref), clarus.receipts (key the PO ref
//     Clarus recorded, or orphan:<receipt id> without one) and
//     clarus.receipt-acks (key PO ref), co-partitioned, are folded per key
//     by pure functions of the key's State, the input, the item master
//     (Master) and the time: Rules.PO, Rules.Receipt, Rules.Ack, and the
//     timers' Rules.Redrive and Rules.Check;
//   - prima.items is a global table (package itemmaster), looked up by
//     Prima SKU for PO lines and by Clarus code for receipt lines;
//   - the State of each key is the "pos" store: the last live PO, the
//     pre-receipt sent, the receipts (each once), the discrepancies open;
//     a held PO has a re-drive timer, a PO Clarus has not confirmed a
//     po_not_in_wms check timer;
//   - outputs: lockstep.cmd.clarus-receipts (create, update, cancel) and
//     lockstep.drift (sku_unmapped, po_not_in_wms, orphan_receipt,
//     receipt_over_po, receipt_sku_not_on_po, receipt_wrong_warehouse,
//     po_amended_after_receipt, po_cancelled_after_receipt).
//
// The rules, in one place. An approved PO goes to Clarus at once as a
// pre-receipt, unless a line's SKU is unknown, discontinued, unmapped or
// not a stock item: then the whole PO is held (sku_unmapped, warehouse)
// and re-driven by a timer until the item master maps it. Clarus must
// confirm the pre-receipt by ExpectedAt - LeadTime, and never sooner than
// AckGrace after the PO was folded, so a PO approved late gets the sink's
// time before it is late (po_not_in_wms, operations; a refused create
// opens it at once with Clarus's reason; the created ack resolves it).
// While Clarus has received nothing against the PO, an amendment Clarus
// would see is forwarded as an update and a cancellation as a cancel;
// after a receipt, either is an exception (po_amended_after_receipt,
// po_cancelled_after_receipt, operations) and the warehouse keeps working
// to what it has. A receipt whose PO lockstep does not know is an orphan
// (orphan_receipt, warehouse), valued at item cost, and matched when the
// PO arrives. Against a known PO, units received per line across receipts
// beyond the ordered quantity plus the tolerance are receipt_over_po
// (finance: the supplier's excess at PO cost), and a product the PO does
// not order is receipt_sku_not_on_po (warehouse, at item cost), and the
// receipts booked in at a warehouse the PO does not deliver to are
// receipt_wrong_warehouse per warehouse (warehouse, at PO cost, item cost
// off the PO): the stock is not where Prima expects it. Each
// discrepancy has an id made of its kind and business keys, and each
// event of it an id made of the discrepancy, its status and its cause, so
// the webhook's and the sweep's copies of a receipt, and replays, never
// say anything twice.
package inbound
