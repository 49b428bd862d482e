package prima

import (
	"encoding/json"
	"fmt"
)

// Keys of the source's cursors on lockstep.source-cursors.
const (
	CursorKeyItems       = "prima/items"
	CursorKeyStockLevels = "prima/stock-levels"
	CursorKeySalesOrders = "prima/sales-orders"
	// CursorKeyDespatchNotes is the despatch-note feed's: every note
	// Prima holds, made by lockstep's sink or by hand, onto
	// prima.despatch-notes.
	CursorKeyDespatchNotes = "prima/despatch-notes"
)

// decodeCursors decodes the committed cursors by key from the values the
// cursor topic holds.
func decodeCursors(vals map[string][]byte) (map[string]Cursor, error) {
	out := make(map[string]Cursor, len(vals))
	for k, v := range vals {
		var c Cursor
		if err := json.Unmarshal(v, &c); err != nil {
			return nil, fmt.Errorf("cursor %s: %w", k, err)
		}
		out[k] = c
	}
	return out, nil
}
