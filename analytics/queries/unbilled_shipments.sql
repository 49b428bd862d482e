-- Question: which Clarus shipments have no Prima despatch note, and what
-- are they worth at unit cost?
--
-- One row per (shipment, currency): every shipment whose latest event is a
-- confirmation and that no created despatch note names as its reference,
-- however long ago it was dispatched, so a shipment stays here until Prima
-- has its note. Units are all the shipment's units in that currency; the
-- value is those units at the unit cost of their Prima SKU. Units whose
-- Clarus code has no Prima SKU have no value and come on a row of their own
-- with currency '' (unmapped_units).
--
-- The SKU mapping is the reconciliation's: a Clarus code is the one item
-- that names it, or, of several, the one active item; otherwise it is
-- unmapped. Items are read at their latest version (argMax on version) and
-- shipments at their latest event (argMax), so replayed copies and older
-- versions are never counted.
SELECT
    shipment_id,
    order_ref,
    warehouse,
    dispatched_at,
    currency,
    sum(quantity)                        AS units,
    sumIf(quantity, sku = '')            AS unmapped_units,
    sum(quantity * unit_cost)            AS value
FROM
(
    SELECT shipment_id, order_ref, warehouse, dispatched_at, clarus_code, quantity
    FROM shipment_lines FINAL
    WHERE line_no > 0
      AND status = 'confirmed'
      AND (shipment_id, event_id) IN (
          SELECT shipment_id, argMax(event_id, (dispatched_at, status = 'cancelled', ingested_at, kafka_offset, event_id))
          FROM shipment_lines
          GROUP BY shipment_id)
      AND shipment_id NOT IN (SELECT reference FROM despatch_note_lines WHERE status = 'created')
)
ANY LEFT JOIN
(
    SELECT
        code AS clarus_code,
        if(count() = 1, any(item_sku), if(countIf(item_active = 1) = 1, anyIf(item_sku, item_active = 1), '')) AS sku,
        if(count() = 1, any(cost), if(countIf(item_active = 1) = 1, anyIf(cost, item_active = 1), toDecimal64(0, 4))) AS unit_cost,
        if(count() = 1, any(cur), if(countIf(item_active = 1) = 1, anyIf(cur, item_active = 1), '')) AS currency
    FROM
    (
        SELECT
            sku                                          AS item_sku,
            argMax(clarus_code, (version, kafka_offset)) AS code,
            argMax(unit_cost, (version, kafka_offset))   AS cost,
            argMax(currency, (version, kafka_offset))    AS cur,
            argMax(active, (version, kafka_offset))      AS item_active
        FROM items
        GROUP BY sku
    )
    WHERE code != ''
    GROUP BY code
) USING clarus_code
GROUP BY shipment_id, order_ref, warehouse, dispatched_at, currency
ORDER BY dispatched_at, shipment_id, currency
