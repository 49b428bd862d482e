package clarus

// ShipmentCursorKey is the shipment source's key on
// lockstep.source-cursors.
const ShipmentCursorKey = "clarus/shipments"

// ShipmentCursor is the shipment source's progress: a window sweep's
// cursor over the shipments' dispatched_at.
type ShipmentCursor = WindowCursor
