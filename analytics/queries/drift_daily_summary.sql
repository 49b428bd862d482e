-- Question: how many discrepancies were opened, acknowledged and resolved
-- each day, per kind?
--
-- One row per (day, kind) that had any drift event, days in UTC. Counts are
-- of discrepancies, not events: a discrepancy counts as opened on the day of
-- its 'open' event, acknowledged on the day of its 'acknowledged' event and
-- resolved on the day of its 'resolved' event; 'updated' events change
-- nothing here.
--
-- FINAL collapses the copies of an event that a replay inserted before they
-- are read, and counting distinct discrepancy ids keeps each discrepancy to
-- one per day and status whatever the events look like.
SELECT
    toDate(occurred_at, 'UTC')                             AS day,
    kind,
    uniqExactIf(discrepancy_id, status = 'open')           AS opened,
    uniqExactIf(discrepancy_id, status = 'acknowledged')   AS acknowledged,
    uniqExactIf(discrepancy_id, status = 'resolved')       AS resolved
FROM drift_events FINAL
GROUP BY day, kind
ORDER BY day, kind
