-- drift_current: the latest state of every discrepancy, one row per
-- discrepancy_id, taken from its latest drift event.
--
-- "Latest" orders events by (occurred_at, kafka_offset): DateTime has whole
-- seconds, and the events of one discrepancy share a Kafka key, so their
-- offsets break ties. Copies of a replayed event do not change the answer.
-- Nullable columns go through tuple() so that a NULL in the latest event is
-- kept (argMax on a Nullable argument skips NULLs).
CREATE VIEW IF NOT EXISTS drift_current AS
SELECT
    discrepancy_id,
    argMax(kind, (occurred_at, kafka_offset))                          AS kind,
    argMax(owner, (occurred_at, kafka_offset))                         AS owner,
    argMax(status, (occurred_at, kafka_offset))                        AS status,
    argMax(sku, (occurred_at, kafka_offset))                           AS sku,
    argMax(warehouse, (occurred_at, kafka_offset))                     AS warehouse,
    argMax(order_ref, (occurred_at, kafka_offset))                     AS order_ref,
    argMax(po_ref, (occurred_at, kafka_offset))                        AS po_ref,
    tupleElement(argMax(tuple(expected_qty), (occurred_at, kafka_offset)), 1) AS expected_qty,
    tupleElement(argMax(tuple(actual_qty), (occurred_at, kafka_offset)), 1)   AS actual_qty,
    tupleElement(argMax(tuple(delta_qty), (occurred_at, kafka_offset)), 1)    AS delta_qty,
    tupleElement(argMax(tuple(value_delta), (occurred_at, kafka_offset)), 1)  AS value_delta,
    argMax(currency, (occurred_at, kafka_offset))                      AS currency,
    argMax(detail, (occurred_at, kafka_offset))                        AS detail,
    argMax(event_id, (occurred_at, kafka_offset))                      AS last_event_id,
    min(occurred_at)                                                   AS opened_at,
    max(occurred_at)                                                   AS updated_at,
    uniqExact(event_id)                                                AS events
FROM drift_events
GROUP BY discrepancy_id;
