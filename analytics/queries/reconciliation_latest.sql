-- Question: what did the latest reconciliation of Clarus shipments against
-- Prima despatch notes find?
--
-- The latest run of the latest day reconciled (a day may be reconciled more
-- than once; its latest run is its answer), one row per discrepancy line in
-- the report's order, each with the run's summary: when it finished, how far
-- the feeds had come (watermark, complete), whether it balanced, how many
-- shipments and notes it compared, and the net value of its discrepancies
-- per currency (currencies[i] goes with discrepancy_value[i]). A balanced
-- run is one row with its summary and an empty line (line_no 0).
--
-- delta_qty is units on the despatch notes minus units shipped; value_delta
-- is that at the SKU's unit cost, so negative is shipped but not invoiced.
-- FINAL collapses the copies a retried insert wrote.
SELECT
    run_id, day, finished_at, watermark, complete, balanced, shipments, notes, discrepancies, completeness_breaks,
    currencies, discrepancy_value,
    line_no, kind, owner, shipment_id, note_reference, order_ref, warehouse, sku, clarus_code,
    shipped_qty, noted_qty, delta_qty, value_delta, currency, detail
FROM
(
    SELECT run_id, day, finished_at, watermark, complete, balanced, shipments, notes, discrepancies,
        completeness_breaks, currencies, discrepancy_value
    FROM reconciliation_runs FINAL
    WHERE run_id = (SELECT argMax(run_id, (day, started_at, run_id)) FROM reconciliation_runs)
)
ALL LEFT JOIN
(
    SELECT run_id, line_no, kind, owner, shipment_id, note_reference, order_ref, warehouse, sku, clarus_code,
        shipped_qty, noted_qty, delta_qty, value_delta, currency, detail
    FROM reconciliation_lines FINAL
    WHERE run_id = (SELECT argMax(run_id, (day, started_at, run_id)) FROM reconciliation_runs)
) USING run_id
ORDER BY line_no
