-- reconciliation_runs and reconciliation_lines: the results of the daily
-- reconciliation of Clarus shipments against Prima despatch notes (package
-- analytics/reconcile), one row per run and one row per discrepancy line.
--
-- A day may be reconciled more than once (the scheduled run, a manual
-- `lockstep reconcile`); each run keeps its own run_id, and the latest run of
-- a day is its answer. Rows are only re-inserted by a retried insert, and
-- collapse on (day, run_id) and (run_id, line_no); readers use FINAL.
--
-- Units: noted_units are the compared (stock) lines of the notes;
-- non_stock_units are their shipping and fee lines, not compared;
-- unmapped_units were shipped under Clarus codes without a Prima SKU.
--
-- Money: Decimal(18,4), never added across currencies. A run's values are
-- parallel arrays by currency: currencies[i] is the currency of
-- shipped_value[i], noted_value[i] and discrepancy_value[i].
CREATE TABLE IF NOT EXISTS reconciliation_runs
(
    run_id              String,
    day                 Date,
    started_at          DateTime,
    finished_at         DateTime,
    watermark           DateTime,
    complete            UInt8,
    shipments           UInt32,
    notes               UInt32,
    other_day_notes     UInt32,
    shipped_units       Int64,
    noted_units         Int64,
    unmapped_units      Int64,
    non_stock_units     Int64,
    currencies          Array(String),
    shipped_value       Array(Decimal(18, 4)),
    noted_value         Array(Decimal(18, 4)),
    discrepancy_value   Array(Decimal(18, 4)),
    discrepancies       UInt32,
    completeness_breaks UInt32,
    balanced            UInt8,
    inserted_at         DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(day)
ORDER BY (day, run_id);

-- delta_qty is noted_qty - shipped_qty (Prima minus Clarus, Clarus being the
-- master of what shipped), value_delta is delta_qty at the Prima SKU's unit
-- cost: negative is shipped but not (yet) invoiced, positive is invoiced but
-- not shipped. An sku_unmapped line has no Prima SKU, no value and delta 0:
-- its units could not be compared at all.
CREATE TABLE IF NOT EXISTS reconciliation_lines
(
    run_id          String,
    day             Date,
    line_no         UInt32,
    kind            String,
    owner           String,
    shipment_id     String,
    note_reference  String,
    note_ids        Array(String),
    order_ref       String,
    warehouse       String,
    sku             String,
    clarus_code     String,
    shipped_qty     Int64,
    noted_qty       Int64,
    delta_qty       Int64,
    unit_cost       Nullable(Decimal(18, 4)),
    value_delta     Nullable(Decimal(18, 4)),
    currency        String,
    detail          String,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toYYYYMM(day)
ORDER BY (run_id, line_no);
