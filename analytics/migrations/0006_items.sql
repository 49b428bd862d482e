-- items: the Prima item master (prima.items), one row per Prima SKU: its
-- Clarus code (the SKU mapping, '' while unmapped), whether it is a stock
-- item, and its unit cost, which values the reconciliation's discrepancies.
--
-- The latest version of an item wins: ReplacingMergeTree(version) keeps, per
-- sku, the row with the highest version, the event's occurred_at (Prima's
-- modification time) in milliseconds, so a replay of an older event never
-- undoes a newer one. Readers use FINAL.
CREATE TABLE IF NOT EXISTS items
(
    sku             String,
    clarus_code     String,
    description     String,
    stock_item      UInt8,
    unit_cost       Decimal(18, 4),
    currency        String,
    active          UInt8,
    event_id        String,
    version         UInt64,
    occurred_at     DateTime,
    ingested_at     DateTime,
    kafka_topic     String,
    kafka_partition Int32,
    kafka_offset    Int64,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
ORDER BY sku;
