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
// under the same snapshot id, and the next incremental sweep reads the keys
// webhooks touched since the last completed one began.
type Cursor struct {
	SnapshotID string `json:"snapshot_id,omitempty"`
	InProgress bool   `json:"in_progress"`
	Full       bool   `json:"full"`
	// Keys are the sku@warehouse keys an incremental sweep reads, sorted by
	// SKU; it reads their SKUs ChunkSKUs at a time, and is at chunk Chunk.
	Keys      []string `json:"keys,omitempty"`
	ChunkSKUs int      `json:"chunk_skus,omitempty"`
	Chunk     int      `json:"chunk,omitempty"`
	// After is the end cursor of the last committed page (of the chunk).
	After string `json:"after,omitempty"`
	// StartedAt is the server's clock at the in-progress sweep's first page.
	StartedAt time.Time `json:"started_at,omitzero"`
	// LocalStart is lockstep's clock when the in-progress sweep began.
	LocalStart time.Time `json:"local_start,omitzero"`
	Pages      int       `json:"pages"`
	Balances   int64     `json:"balances"`
	// Until are the end offsets of clarus.stock-movements, by partition,
	// when the in-progress sweep began; Offsets are those of the last
	// completed sweep. Every key a webhook touched at or after Offsets was
	// touched after that sweep began, so the next incremental sweep reads
	// it again.
	Until   map[int32]int64 `json:"until,omitempty"`
	Offsets map[int32]int64 `json:"offsets,omitempty"`
	// Retry are keys a sweep could not read consistently (they changed
	// while it read them): the next sweep reads them again.
	Retry []string `json:"retry,omitempty"`
	// FullBalances is how many balances the last completed full sweep
	// read: an incremental sweep that would read as many is a full one.
	FullBalances int64 `json:"full_balances,omitempty"`
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
	if c.InProgress && !c.Full && c.ChunkSKUs <= 0 {
		// An incremental sweep of an earlier version (filtered by
		// updated_at): start over with a full one.
		c = Cursor{LastStart: c.LastStart, LastFullStart: c.LastFullStart}
	}
	return c, true, nil
}
