-- Question: how much stock do Prima and Clarus disagree on right now, per
-- warehouse, in units and in money?
--
-- One row per (warehouse, currency) over the open stock_parity
-- discrepancies (latest event not 'resolved'): how many, over how many SKUs,
-- the units Prima shows beyond Clarus net (delta_qty = actual - expected,
-- summed) and gross (absolute), and the value of those units at unit cost,
-- net and gross. A discrepancy without quantity or value adds 0.
--
-- drift_current takes each discrepancy's latest event with argMax, so the
-- copies of an event that a replay inserted are never counted twice.
SELECT
    warehouse,
    currency,
    count()                                          AS open_discrepancies,
    uniqExact(sku)                                   AS skus,
    sum(ifNull(delta_qty, 0))                        AS net_units,
    sum(abs(ifNull(delta_qty, 0)))                   AS gross_units,
    sum(ifNull(value_delta, toDecimal64(0, 4)))      AS net_value,
    sum(abs(ifNull(value_delta, toDecimal64(0, 4)))) AS gross_value
FROM drift_current
WHERE kind = 'stock_parity' AND status != 'resolved'
GROUP BY warehouse, currency
ORDER BY warehouse, currency
