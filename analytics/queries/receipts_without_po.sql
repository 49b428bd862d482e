-- Question: which Clarus receipts match no live purchase order, and how
-- much did they receive?
--
-- One row per receipt (receipt_lines FINAL: the webhook's and the sweep's
-- copies of a receipt count once) that received_against_po cannot count:
-- reason 'no_po_ref' when Clarus recorded no PO reference, 'unknown_po' when
-- no version of the PO it names is in po_lines, 'po_cancelled' when the
-- latest version of that PO is a cancellation. lines and units are the
-- receipt's lines and the units they received, under Clarus codes.
SELECT
    receipt_id,
    po_ref,
    warehouse,
    received_at,
    multiIf(po_ref = '', 'no_po_ref', po_ref NOT IN (SELECT po_ref FROM po_lines), 'unknown_po', 'po_cancelled') AS reason,
    countIf(line_no > 0) AS lines,
    sum(quantity)        AS units
FROM receipt_lines FINAL
WHERE po_ref NOT IN (SELECT po_ref FROM po_lines GROUP BY po_ref HAVING argMax(status, version) != 'cancelled')
GROUP BY receipt_id, po_ref, warehouse, received_at
ORDER BY received_at, receipt_id
