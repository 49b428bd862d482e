-- Question: which discrepancies are still open, per owning team and kind,
-- and what are they worth?
--
-- One row per (owner, kind, currency). A discrepancy is open while its latest
-- event is not 'resolved' (open, updated and acknowledged all count);
-- acknowledged ones are also counted on their own, so a team sees what it
-- has looked at but not yet fixed. Values are each discrepancy's latest
-- value_delta, net (signed) and gross (absolute), never added across
-- currencies; discrepancies without a value (e.g. missing_despatch) have
-- currency '' and add 0.
--
-- drift_current takes each discrepancy's latest event with argMax, so the
-- copies of an event that a replay inserted (before ClickHouse merges them
-- away) are never counted twice.
SELECT
    owner,
    kind,
    currency,
    count()                                          AS open_discrepancies,
    countIf(status = 'acknowledged')                 AS acknowledged,
    sum(ifNull(value_delta, toDecimal64(0, 4)))      AS net_value,
    sum(abs(ifNull(value_delta, toDecimal64(0, 4)))) AS gross_value,
    min(opened_at)                                   AS oldest_opened_at
FROM drift_current
WHERE status != 'resolved'
GROUP BY owner, kind, currency
ORDER BY owner, kind, currency
