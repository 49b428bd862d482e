// Package orders is the orders processor (flow 2 of the design): Prima sales
// orders in, Clarus goods-out commands and drift out.
//
// Input -> fold -> state -> output:
//
//   - prima.sales-orders (key order ref) and clarus.order-acks (same key,
//     co-partitioned) are folded per order by Step, a pure function of the
//     order's State, the input and the item master (itemmaster.Items);
//   - prima.items is a global table (every instance reads all of it), as
//     the orders are keyed by order ref and the items by SKU;
//   - the State of each order is the "orders" store; a held order has a
//     re-drive timer that looks at the item master again;
//   - outputs: lockstep.cmd.clarus-orders (create, cancel) and
//     lockstep.drift (sku_unmapped, order_rejected,
//     order_amended_after_release, order_cancelled_after_dispatch).
//
// The rules, in one place: only stock lines go to Clarus; a line is
// non-stock when Prima says so on the line or on its item, or when its SKU
// matches a configured pattern (shipping, fees). A stock line whose SKU is
// unknown, discontinued or has no Clarus code holds the whole order until
// the item master maps it. After release the warehouse is shielded: a
// change to prices alone goes nowhere; a change to stock lines or the
// delivery address is an exception, or, with ForwardAmendments, a cancel
// that Clarus refuses once picking started, then a re-create. A
// cancellation is forwarded until Clarus refuses it (dispatched), then it
// is an exception.
package orders
