package clarus

import (
	"encoding/json"
	"fmt"
	"time"
)

// CursorKey is the sweep's key on lockstep.source-cursors.
const CursorKey = "clarus/stock_balances"

// Cursor is the sweep's progress, committed with every page of snapshots in
// one transaction: a restarted sweep resumes after the last committed page,
// under the same snapshot id, and the next incremental sweep starts from
// the high-water mark of the last completed one.
type Cursor struct {
	SnapshotID string `json:"snapshot_id,omitempty"`
	InProgress bool   `json:"in_progress"`
	Full       bool   `json:"full"`
	// Since is the in-progress sweep's filter: balances updated after it
	// (zero for a full sweep).
	Since time.Time `json:"since,omitzero"`
	// After is the end cursor of the last committed page.
	After string `json:"after,omitempty"`
	// StartedAt is the server's clock at the in-progress sweep's first page.
	StartedAt time.Time `json:"started_at,omitzero"`
	// LocalStart is lockstep's clock when the in-progress sweep began.
	LocalStart time.Time `json:"local_start,omitzero"`
	Pages      int       `json:"pages"`
	Balances   int64     `json:"balances"`
	// HighWater is the StartedAt of the last completed sweep: every balance
	// updated since may not be in it, so the next sweep reads those.
	HighWater time.Time `json:"high_water,omitzero"`
	// LastStart and LastFullStart are lockstep's clock at the start of the
	// last completed sweep and full sweep: the schedule survives restarts.
	LastStart     time.Time `json:"last_start,omitzero"`
	LastFullStart time.Time `json:"last_full_start,omitzero"`
}

// decodeCursor decodes the committed cursor, if any, from the values the
// cursor topic holds.
func decodeCursor(vals map[string][]byte) (Cursor, bool, error) {
	v, ok := vals[CursorKey]
	if !ok {
		return Cursor{}, false, nil
	}
	var c Cursor
	if err := json.Unmarshal(v, &c); err != nil {
		return Cursor{}, false, fmt.Errorf("cursor %s: %w", CursorKey, err)
	}
	return c, true, nil
}
