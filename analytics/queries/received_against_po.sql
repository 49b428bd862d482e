-- Question: per line of every live purchase order, how much has Clarus
-- received against it, what is that worth at the PO's unit cost, and what
-- is still outstanding?
--
-- One row per line of the latest version of each PO that is not cancelled
-- (every change in Prima is a new version, a cancellation too: a PO whose
-- latest version is a cancellation is left out, with or without lines, and
-- an amended PO counts only as its latest version).
--
-- received_qty is what the distinct receipts naming the PO received
-- (receipt_lines FINAL: the webhook's, the sweep's and a replay's copies of
-- a receipt count once) under the Clarus code of the line's Prima SKU
-- (items, latest version; a SKU without a code receives nothing). When
-- several lines of a PO share a Clarus code (one SKU ordered on two lines,
-- or two SKUs with one code), the units received under it fill those lines
-- in line order, each up to its ordered quantity, and the last of them takes
-- what is left, so an over-receipt shows on it. The receipt's warehouse is
-- not compared with the PO's. Units received under a code that no line of
-- the PO orders are on no row.
--
-- received_value is received_qty at the line's unit cost, in the PO's
-- currency; outstanding_qty is what is still to come (never below 0) and
-- over_received_qty what came beyond the line's ordered quantity.
SELECT
    po_ref,
    supplier_ref,
    warehouse,
    tupleElement(line, 1)                             AS line_no,
    tupleElement(line, 2)                             AS sku,
    clarus_code,
    tupleElement(line, 3)                             AS ordered_qty,
    tupleElement(line, 4)                             AS unit_cost,
    currency,
    received_qty,
    received_qty * tupleElement(line, 4)              AS received_value,
    greatest(tupleElement(line, 3) - received_qty, 0) AS outstanding_qty,
    greatest(received_qty - tupleElement(line, 3), 0) AS over_received_qty
FROM
(
    -- The lines of a PO that share a Clarus code, in line order, and what
    -- each takes of the units received under it.
    SELECT
        po_ref, supplier_ref, warehouse, currency, clarus_code,
        arraySort(groupArray((line_no, sku, quantity, unit_cost)))  AS lines,
        arrayMap(l -> tupleElement(l, 3), lines)                   AS ordered,
        arrayMap((c, q) -> c - q, arrayCumSum(ordered), ordered)   AS ordered_before,
        any(pool)                                                  AS pooled,
        -- Each line takes what the lines before it left, up to its ordered
        -- quantity; the last line's cap is everything. (18.16 loses a
        -- column that a lambda's body names by alias, hence the arguments.)
        arrayMap((b, cap, p) -> greatest(least(cap, p - b), 0),
                 ordered_before,
                 arrayPushBack(arrayPopBack(ordered), pooled),
                 arrayResize([pooled], length(lines), pooled))      AS received
    FROM
    (
        SELECT po_ref, supplier_ref, warehouse, currency, clarus_code, line_no, sku, quantity, unit_cost, pool
        FROM
        (
            -- The lines of the latest version of each live PO, with the
            -- Clarus code of their SKU ('' when it has none).
            SELECT po_ref, supplier_ref, warehouse, currency, item_code AS clarus_code, line_no, sku, quantity, unit_cost
            FROM
            (
                SELECT po_ref, supplier_ref, warehouse, currency, line_no, sku, quantity, unit_cost
                FROM po_lines FINAL
                WHERE line_no > 0
                  AND status != 'cancelled'
                  AND (po_ref, version) IN (SELECT po_ref, max(version) FROM po_lines GROUP BY po_ref)
            ) AS po
            ANY LEFT JOIN
            (
                SELECT sku, argMax(clarus_code, (version, kafka_offset)) AS item_code
                FROM items
                GROUP BY sku
            ) AS item USING sku
        ) AS po_line
        ANY LEFT JOIN
        (
            -- The units received against each PO, per Clarus code.
            SELECT po_ref, clarus_code, sum(quantity) AS pool
            FROM receipt_lines FINAL
            WHERE po_ref != '' AND clarus_code != ''
            GROUP BY po_ref, clarus_code
        ) AS received USING (po_ref, clarus_code)
    )
    GROUP BY po_ref, supplier_ref, warehouse, currency, clarus_code
)
ARRAY JOIN
    lines    AS line,
    received AS received_qty
ORDER BY po_ref, line_no
