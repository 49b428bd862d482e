// Package fulfilment is the fulfilment processor (flow 3 of the design): Clarus shipments joined to Prima despatch notes, per order.
//
// Input -> fold -> state -> output:
//
//   - prima.sales-orders (prices, currency, every line),
//     lockstep.cmd.clarus-orders (what lockstep asked Clarus to pick, with
//     both sides of the SKU mapping), clarus.shipments and
//     prima.despatch-notes, all keyed by order ref and co-partitioned, are
//     folded per order by Rules, pure functions of the order's State, the
//     input and the time;
//   - the State of each order is the "fulfilment" store; SLA deadlines and
//     grace periods are timers in state, so they fire exactly once;
//   - outputs: lockstep.cmd.prima-despatch (one despatch note per
//     shipment, its reference the shipment id), lockstep.cmd.clarus-orders
//     (close, once Prima holds every note of a completed goods-out),
//     lockstep.fulfilment (FulfilmentClosed) and lockstep.drift
//     (missing_despatch, despatch_mismatch, despatch_without_shipment,
//     despatch_post_failed, shipment_without_order).
//
// The rules, in one place: a confirmed shipment of an order lockstep sent
// asks once for its despatch note, with the shipped stock lines in Prima
// SKUs and, on the order's first note, the order's non-stock lines, which
// Prima invoices with the goods. Only Prima's note read back from Prima
// confirms it: no note within the SLA opens missing_despatch with the value
// shipped; the note resolves it. A note whose stock lines differ from the
// shipment is despatch_mismatch. A shipment of an order lockstep never sent,
// and a note that matches no shipment, wait a grace period (the topics are
// read side by side, so either may arrive first) and then are
// shipment_without_order and despatch_without_shipment. A permanently
// refused post is despatch_post_failed. When the goods-out is complete and
// every shipment has its note, lockstep closes it in Clarus and emits
// FulfilmentClosed.
package fulfilment
