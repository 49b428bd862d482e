-- drift_events: the drift ledger, one row per drift event (DESIGN.md section 6).
--
-- Append-only. A row's identity is event_id: the ledger sink is at-least-once,
-- so a replay may insert the same event again; ReplacingMergeTree keyed on
-- event_id collapses the copies at merge time (or at once with FINAL /
-- OPTIMIZE ... FINAL). A replayed event carries the same occurred_at, so its
-- copies land in the same monthly partition, where the collapse happens.
--
-- Portable between ClickHouse 18.16 (distro, tests) and current releases
-- (docker-compose): DateTime, Decimal(18,4), no LowCardinality, no JSON.
-- Business keys that do not apply are '' rather than NULL.
CREATE TABLE IF NOT EXISTS drift_events
(
    event_id        String,
    discrepancy_id  String,
    kind            String,
    owner           String,
    status          String,
    sku             String,
    warehouse       String,
    order_ref       String,
    po_ref          String,
    expected_qty    Nullable(Int64),
    actual_qty      Nullable(Int64),
    delta_qty       Nullable(Int64),
    value_delta     Nullable(Decimal(18, 4)),
    currency        String,
    detail          String,
    occurred_at     DateTime,
    ingested_at     DateTime,
    kafka_topic     String,
    kafka_partition Int32,
    kafka_offset    Int64,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY event_id;
