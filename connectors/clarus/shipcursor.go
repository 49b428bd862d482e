package clarus

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// ShipmentCursorKey is the shipment source's key on
// lockstep.source-cursors.
const ShipmentCursorKey = "clarus/shipments"

// maxSent bounds the events a cursor remembers: past it, the overlap's
// shipments are produced again, which consumers drop by event id, rather
// than the cursor growing without end.
const maxSent = 10_000

// ShipmentCursor is the shipment source's progress, committed with every
// page of events in one transaction: a restarted source resumes after the
// last committed page, and never reports a shipment twice unless the
// cursor forgot it (maxSent).
type ShipmentCursor struct {
	// InProgress is set while a sweep is under way. From is its lower
	// bound on dispatched_at, After the end cursor of its last committed
	// page, StartedAt the server's clock at its first page, LocalStart
	// lockstep's clock when it began.
	InProgress bool      `json:"in_progress"`
	From       time.Time `json:"from,omitzero"`
	After      string    `json:"after,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	LocalStart time.Time `json:"local_start,omitzero"`
	Pages      int       `json:"pages,omitempty"`
	// Since is the server's clock at the first page of the last completed
	// sweep: the next one reads the shipments dispatched from Since, less
	// the overlap (a shipment may be listed later than it is dated).
	Since time.Time `json:"since,omitzero"`
	// LastStart is lockstep's clock at the start of the last completed
	// sweep: the schedule survives restarts.
	LastStart time.Time `json:"last_start,omitzero"`
	// Sent are the events produced that a later sweep may read again (their
	// shipments were dispatched in its overlap), by event id, with when
	// each shipment was dispatched.
	Sent map[string]time.Time `json:"sent,omitempty"`
}

// begin starts the sweep after c at now, reading from c's Since less
// overlap. A source that never completed a sweep starts overlap before
// now: the shipments of the tenant's past are not lockstep's to report (a
// despatch note would reach Prima for each).
func (c ShipmentCursor) begin(now time.Time, overlap time.Duration) ShipmentCursor {
	from := c.Since.Add(-overlap)
	if c.Since.IsZero() {
		from = now.Add(-overlap)
	}
	return ShipmentCursor{InProgress: true, From: from, LocalStart: now, Since: c.Since, LastStart: c.LastStart, Sent: maps.Clone(c.Sent)}
}

// complete ends the sweep c describes, forgetting the events the next
// sweep cannot read again.
func (c *ShipmentCursor) complete(overlap time.Duration) {
	c.Since, c.LastStart = c.StartedAt, c.LocalStart
	c.InProgress, c.From, c.After, c.StartedAt, c.LocalStart, c.Pages = false, time.Time{}, "", time.Time{}, time.Time{}, 0
	next := c.Since.Add(-overlap)
	for id, at := range c.Sent {
		if at.Before(next) {
			delete(c.Sent, id)
		}
	}
	if len(c.Sent) > maxSent {
		c.Sent = nil
	}
}

// decodeShipmentCursor decodes the committed cursor, if any, from the
// values the cursor topic holds.
func decodeShipmentCursor(vals map[string][]byte) (ShipmentCursor, bool, error) {
	v, ok := vals[ShipmentCursorKey]
	if !ok {
		return ShipmentCursor{}, false, nil
	}
	var c ShipmentCursor
	if err := json.Unmarshal(v, &c); err != nil {
		return ShipmentCursor{}, false, fmt.Errorf("cursor %s: %w", ShipmentCursorKey, err)
	}
	return c, true, nil
}
