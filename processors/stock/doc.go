// Package stock folds Clarus stock movements into levels per sku@warehouse and schedules the batched push to Prima.
//
// The package reads as input -> fold -> state -> output:
//
//   - Input: clarus.stock-movements and clarus.stock-snapshots, both keyed
//     sku@warehouse and co-partitioned.
//   - Fold (fold.go, rebase.go, gaps.go, journal.go, codec.go; pure): Fold
//     applies one movement to a Level; Rebase checks a Level against a
//     Clarus snapshot as of the snapshot's time, using the Journal of
//     recent movement effects, and re-bases it when they disagree,
//     returning the Gap; Pending holds gaps until their deadline and
//     counts late movements against them.
//   - State (the "levels", "dirty" and "gaps" stores of the stream
//     runtime): the level and journal of each key in one value, its
//     pending gaps, and per partition the index of the keys changed since
//     the last push (sorted lists in 64 shards, cleared by every push).
//     A movement writes one state key (and its dedupe entry); the runtime
//     writes each key once per transaction to the changelog.
//   - Output (processor.go and timers.go, the only files that touch the
//     runtime): lockstep.cmd.prima-stock, one PrimaStockCommand per
//     warehouse and partition every PushInterval, with ABSOLUTE available
//     levels of the keys whose available stock changed since their last
//     push; lockstep.stock-levels, the level of every key that changed, at
//     the same push; lockstep.drift, a wms_feed_gap DriftEvent for each
//     re-base that corrected on hand or held stock (allocated too with
//     ReportAllocationGaps) by more than late movements explained.
//
// Command lines carry the Clarus product code as the SKU: the mapping to
// Prima SKUs (product code plus matrix codes) is applied later, by the Prima
// sink / adapter, which owns the item master.
//
// Movements and snapshots arrive on two topics, and the runtime consumes
// them in no particular order between the two: a snapshot handled before a
// movement that occurred before the snapshot's as_of (a webhook slower than
// the sweep, or a catch-up after downtime) reads as a gap. The level is
// re-based at once and stays right (the snapshot counts the movement, and
// Fold drops it as superseded when it comes), but the gap is not reported
// at once: it is held pending, with a timer at its deadline (FeedGapGrace
// after the snapshot was handled). A superseded movement that arrives in
// the meantime is counted against it; at the deadline a gap the late
// movements explained is dropped, and only an unexplained remainder (a
// webhook that never came) is reported as wms_feed_gap. A newer snapshot
// of the key holds its own gap, with its own deadline and id (gaps.go).
//
// Every emitted event has a deterministic event_id, derived from its inputs
// (sku@warehouse, snapshot id, push due time, partition), so a replay of the
// source topics emits the same ids and the same batch references. (Whether
// a held gap is reported still depends on whether its late movement is
// consumed before the deadline, which a replay that reads one topic far
// ahead of the other can change; its id cannot.)
package stock
