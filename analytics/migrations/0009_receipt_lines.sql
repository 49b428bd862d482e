-- receipt_lines: Clarus goods-in receipts (clarus.receipts), one row per
-- line of each receipt, the goods side of the three-way matching.
--
-- Clarus completes a receipt once, and the webhook and the sweep both
-- report it, possibly under different event ids (and a replay reports it
-- again). Unlike a shipment, whose events carry different states (confirmed,
-- then cancelled), a receipt has one state, so all its events are copies of
-- one fact: a row's identity is (receipt_id, line_no), not the event, and
-- every copy collapses under ReplacingMergeTree (readers use FINAL), as the
-- inbound processor counts a receipt once by its id. The sink numbers lines
-- from 1 in (clarus_code, quantity) order, not in arrival order, so copies
-- that list the lines differently still collapse line for line; a receipt
-- without lines has one row with line_no 0. The table has no time
-- partition, so that copies collapse whatever time they carry.
--
-- po_ref is '' when Clarus recorded no PO reference. clarus_code is the
-- Clarus product code; items maps it to a Prima SKU. received_at is the
-- event's occurred_at, when Clarus received the goods, in UTC.
CREATE TABLE IF NOT EXISTS receipt_lines
(
    receipt_id      String,
    line_no         UInt32,
    event_id        String,
    po_ref          String,
    warehouse       String,
    clarus_code     String,
    quantity        Int64,
    received_at     DateTime,
    ingested_at     DateTime,
    kafka_topic     String,
    kafka_partition Int32,
    kafka_offset    Int64,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(inserted_at)
ORDER BY (receipt_id, line_no);
