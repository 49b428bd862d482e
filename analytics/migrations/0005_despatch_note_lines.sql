-- despatch_note_lines: Prima despatch notes (prima.despatch-notes), one row
-- per note line, the Prima side of the daily reconciliation.
--
-- Two producers write the topic: the Prima source, reading notes back, and
-- the Prima sink's acknowledgements, so one note may come as two events with
-- different event_ids. A row's identity is (reference, event_id, line_no):
-- copies of one event collapse under ReplacingMergeTree (read with FINAL),
-- and readers take each note's lines from its latest event by note_id, so two
-- events of one note never add up. Lines are numbered from 1 in (sku,
-- quantity) order; an event without lines (a failed post) has one row with
-- line_no 0.
--
-- reference is the note's reference: the Clarus shipment id when lockstep
-- made the note, whatever a person typed when they made it by hand. note_id
-- is Prima's id, '' for a failed post (status failed, with its reason).
CREATE TABLE IF NOT EXISTS despatch_note_lines
(
    reference       String,
    event_id        String,
    line_no         UInt32,
    note_id         String,
    order_ref       String,
    status          String,
    reason          String,
    sku             String,
    quantity        Int64,
    source          String,
    occurred_at     DateTime,
    ingested_at     DateTime,
    kafka_topic     String,
    kafka_partition Int32,
    kafka_offset    Int64,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (reference, event_id, line_no);
