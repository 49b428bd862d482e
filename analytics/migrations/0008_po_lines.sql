-- po_lines: Prima purchase orders (prima.purchase-orders), one row per line
-- of each PO version, the order side of the three-way matching of POs,
-- receipts and supplier invoices.
--
-- Every change of a PO in Prima is a new version (versions grow) and a new
-- event; the latest version of a PO is the PO, older versions stay for the
-- record. The same version read twice (a replayed poll, a replay of the
-- topic) is the same event: a row's identity is (po_ref, version, line_no),
-- so the copies collapse under ReplacingMergeTree and readers use FINAL.
-- The table has no time partition, so that copies collapse whatever time
-- they carry. line_no is Prima's own line number; a version without lines
-- (a cancellation may carry none) has one row with line_no 0, so that its
-- status is still known.
--
-- unit_cost is Decimal(18, 4) in the PO's currency, as items stores unit
-- cost. expected_at is NULL when Prima has no expected date; occurred_at is
-- Prima's modification time. All times are UTC.
CREATE TABLE IF NOT EXISTS po_lines
(
    po_ref          String,
    version         Int64,
    line_no         UInt32,
    event_id        String,
    status          String,
    supplier_ref    String,
    warehouse       String,
    currency        String,
    expected_at     Nullable(DateTime),
    sku             String,
    quantity        Int64,
    unit_cost       Decimal(18, 4),
    occurred_at     DateTime,
    ingested_at     DateTime,
    kafka_topic     String,
    kafka_partition Int32,
    kafka_offset    Int64,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(inserted_at)
ORDER BY (po_ref, version, line_no);
