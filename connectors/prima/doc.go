// Package prima connects lockstep to Prima Solutions' XML web services: the one place that knows XML, a polling source of items, stock levels, sales orders, despatch notes and purchase orders, the stock sink, the despatch sink and the stock parity check.
//
// # Components
//
// Each is built by a constructor that only validates and runs as Run(ctx),
// which opens its Kafka clients and closes them before it returns; each
// reports readiness through Options.SetReady.
//
//   - Source polls Prima's item master and stock levels into prima.items
//     (compacted, key Prima SKU) and prima.stock-levels (key
//     sku@warehouse), sales orders into prima.sales-orders, despatch
//     notes into prima.despatch-notes (key order ref) and purchase orders
//     into prima.purchase-orders (key PO ref), each page in one
//     transaction with its cursor; Options.Feeds picks the feeds.
//   - DespatchSink posts lockstep.cmd.prima-despatch commands as despatch
//     notes whose reference is the Clarus shipment id, looking the
//     reference up before every create (Prima makes a second note for a
//     repeat), and reports a refusal as a failed note on
//     prima.despatch-notes with a dead letter, in the transaction with
//     its offsets. A note created produces nothing: the source's
//     despatch-note feed reading it back is its confirmation.
//   - Sink pushes lockstep.cmd.prima-stock commands. Their lines name
//     Clarus product codes; the sink maps each to the Prima stock item
//     whose ClarusCode it is, from prima.items read as a global table (all
//     of it, from the start, then followed), and pushes nothing before that
//     table has caught up. A code with no such item is held, never
//     dropped: the mapped lines go ahead, the held level is written to
//     lockstep.stock-held (compacted, key clarus-code@warehouse, latest
//     level wins) with a sku_unmapped drift event for the warehouse team,
//     and it is pushed, tombstoned and resolved when the mapping arrives.
//     Every line pushed is recorded in lockstep.stock-pushed (compacted,
//     key sku@warehouse): "pushing" before the call, "pushed" or "failed"
//     after it. That record is the sink's ordering guard (a level older
//     than the one Prima last acknowledged is never sent) and the parity
//     check's expectation. The commands of one warehouse that one poll
//     returns go to Prima in one call (every stock processor partition
//     pushes at the same instants, so this is one call per warehouse per
//     push, not one per partition), under a reference derived from theirs.
//     Levels Prima refused are pushed again every RetryFailedAfter until
//     it takes them; the push_failed discrepancy resolves then.
//   - Parity compares what Prima holds with what lockstep pushed. It lives
//     apart from the sink, as its own component, because it reads only
//     topics: lockstep.stock-pushed (what was pushed, and whether a push is
//     in flight), prima.stock-levels (what Prima holds, as the source polls
//     it) and prima.items (unit cost). Reading Prima's levels from the
//     source's change feed rather than calling MultiAvailableToSell costs
//     Prima no extra calls, sees a level changed by hand at any time (not
//     only after a push) without sweeping every SKU, and needs no server
//     help that Prima does not document: MultiAvailableToSell's warehouse
//     filter is itself an assumption. A key is judged only when its last
//     push is done and ParitySettle has passed since (longer than the
//     source's poll interval, so the pushed level has been polled back);
//     a difference opens a stock_parity drift event for finance, valued at
//     the item's unit cost, updates it when the difference changes and
//     resolves it when the two agree again. Open discrepancies are kept in
//     lockstep.stock-parity (compacted) so that a restart resolves what was
//     open before it. Run one Parity per deployment: a second one repeats
//     the same events under the same ids, which the ledger collapses.
//
// # Guarantees
//
// The sink is at-least-once: its state records and drift events are
// written before a command's offset is committed, levels are absolute and
// batch references deterministic, so a repeat is harmless. Held levels of
// a partition are re-driven only by the sink that owns it, before it
// handles any newer command of that partition.
package prima
