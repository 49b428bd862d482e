-- shipment_lines: Clarus shipments (clarus.shipments), one row per shipment
-- line, the Clarus side of the daily reconciliation.
--
-- A shipment arrives more than once (webhook and sweep) with the same
-- event_id, and the ledger sink is at-least-once; a row's identity is
-- (shipment_id, event_id, line_no), so every copy collapses under
-- ReplacingMergeTree and readers use FINAL. The sink numbers lines from 1 in
-- (clarus_code, quantity, picked) order, not in arrival order, so two copies
-- that list the lines differently still collapse. A shipment without lines
-- (a cancellation may carry none) has one row with line_no 0, so that its
-- status is still known. A shipment's state is its latest event: a confirmed
-- shipment that is later cancelled is not a shipment any more.
--
-- dispatched_at is the event's occurred_at, Clarus's dispatch time, in UTC;
-- copies carry the same one, so they share a monthly partition.
CREATE TABLE IF NOT EXISTS shipment_lines
(
    shipment_id     String,
    event_id        String,
    line_no         UInt32,
    order_ref       String,
    goods_out_id    String,
    warehouse       String,
    status          String,
    clarus_code     String,
    quantity        Int64,
    picked          Int64,
    order_complete  UInt8,
    carrier         String,
    tracking_number String,
    dispatched_at   DateTime,
    ingested_at     DateTime,
    kafka_topic     String,
    kafka_partition Int32,
    kafka_offset    Int64,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(dispatched_at)
ORDER BY (shipment_id, event_id, line_no);
