package prima

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Cursor is a position in a modified-since feed: after the record with key
// Key modified at Modified. Key breaks ties between records modified in
// the same millisecond, so a page boundary inside one never skips any.
type Cursor struct {
	Modified time.Time `json:"modified,omitzero"`
	Key      string    `json:"key,omitempty"`
	// CaughtUpAt is lockstep's clock at the start of the last poll that
	// read the feed to its end: everything Prima changed before it is on
	// the feed's topic. The parity check judges a push only once the
	// stock-level feed has caught up past it, so a lagging poll (Prima
	// throttling or failing) is not read as drift.
	CaughtUpAt time.Time `json:"caught_up_at,omitzero"`
	// DeadLettered lists, space-separated, a digest of each record after
	// the cursor that was dead-lettered though the cursor could not move
	// past it (its Modified stamp is unreadable, and no readable record
	// follows it yet), so that the next poll, meeting it again, does not
	// dead-letter it twice. Only the sales-order and purchase-order
	// feeds keep it. A string, not a slice, so that a Cursor stays
	// comparable.
	DeadLettered string `json:"dead_lettered,omitempty"`
}

// Item is an item of Prima's item master.
type Item struct {
	SKU         string // product code plus matrix codes, "/" between
	Description string
	ClarusCode  string // empty while unmapped
	StockItem   bool
	Active      bool
	UnitCost    schemas.Decimal
	Currency    string
	Modified    time.Time
}

// StockLevel is what Prima holds for a SKU in a warehouse.
type StockLevel struct {
	SKU       string
	Warehouse string
	Available int64
	OnHand    *int64
	Modified  time.Time
}

// StockBatch is a set of absolute available levels for one warehouse, with
// the reference Prima keeps, so that the sink can ask whether a batch was
// applied before sending it again: Prima itself applies a repeat again.
type StockBatch struct {
	Ref       string
	Warehouse string
	AsOf      time.Time
	Lines     []StockLine
}

// StockLine is one absolute level: never a delta, so a repeat is harmless.
type StockLine struct {
	SKU       string
	Available int64
}

// Items returns up to limit items modified after since, in (Modified, SKU)
// order, and the cursor after the last of them (since itself when none).
func (c *Client) Items(ctx context.Context, since Cursor, limit int) ([]Item, Cursor, error) {
	resp, err := c.call(ctx, wire.TypeItemsModifiedSince, sinceData(since, limit))
	if err != nil {
		return nil, since, err
	}
	if err := checkPage(resp, limit); err != nil {
		return nil, since, &APIError{Op: wire.TypeItemsModifiedSince, Status: 200, Message: "refused page", Err: err}
	}
	items, err := itemsFrom(resp, since)
	if err == nil && len(items) == 0 && resp.Data != nil && resp.Data.More {
		err = errStuck
	}
	if err != nil {
		return nil, since, &APIError{Op: wire.TypeItemsModifiedSince, Status: 200, Message: err.Error()}
	}
	if n := len(items); n > 0 {
		since = Cursor{Modified: items[n-1].Modified, Key: items[n-1].SKU}
	}
	return items, since, nil
}

// StockLevels returns up to limit stock levels modified after since, in
// (Modified, sku@warehouse) order, and the cursor after the last of them.
func (c *Client) StockLevels(ctx context.Context, since Cursor, limit int) ([]StockLevel, Cursor, error) {
	resp, err := c.call(ctx, wire.TypeStockLevelsModifiedSince, sinceData(since, limit))
	if err != nil {
		return nil, since, err
	}
	if err := checkPage(resp, limit); err != nil {
		return nil, since, &APIError{Op: wire.TypeStockLevelsModifiedSince, Status: 200, Message: "refused page", Err: err}
	}
	levels, err := levelsFrom(resp, since)
	if err == nil && len(levels) == 0 && resp.Data != nil && resp.Data.More {
		err = errStuck
	}
	if err != nil {
		return nil, since, &APIError{Op: wire.TypeStockLevelsModifiedSince, Status: 200, Message: err.Error()}
	}
	if n := len(levels); n > 0 {
		last := levels[n-1]
		since = Cursor{Modified: last.Modified, Key: schemas.StockKey(last.SKU, last.Warehouse)}
	}
	return levels, since, nil
}

// errStuck is a full page of records all at or before the cursor: the
// feed cannot move on, and asking again would answer the same.
var errStuck = errors.New("a full page holds only records at or before the cursor; raise the page size")

func sinceData(since Cursor, limit int) wire.RequestData {
	d := wire.RequestData{AfterKey: since.Key, PageSize: limit}
	if !since.Modified.IsZero() {
		d.ModifiedSince = wire.FormatTime(since.Modified)
	}
	return d
}

// UpdateStock sets the batch's absolute levels. Prima keeps the batch
// reference, for LookupStockBatch, but documents no idempotency: a batch
// sent again is applied again, and an older batch sent after a newer one
// overwrites it. Keeping that from happening is the caller's job.
func (c *Client) UpdateStock(ctx context.Context, b StockBatch) error {
	if err := checkWarehouse(b.Warehouse); err != nil {
		return fmt.Errorf("prima: %s %s: %w", wire.TypeStockLevelUpdate, b.Ref, err)
	}
	d := wire.RequestData{BatchRef: b.Ref, Warehouse: b.Warehouse, Lines: make([]wire.StockLine, len(b.Lines))}
	if !b.AsOf.IsZero() {
		d.AsOf = wire.FormatTime(b.AsOf)
	}
	for i, l := range b.Lines {
		m, err := wire.ParseSKU(l.SKU)
		if err == nil && l.Available < 0 {
			err = fmt.Errorf("%w: %q at %d", ErrBadQuantity, l.SKU, l.Available)
		}
		if err != nil {
			return fmt.Errorf("prima: %s %s line %d: %w", wire.TypeStockLevelUpdate, b.Ref, i+1, err)
		}
		d.Lines[i] = wire.StockLine{Matrix: m, Available: l.Available}
	}
	resp, err := c.call(ctx, wire.TypeStockLevelUpdate, d)
	if err != nil {
		return err
	}
	if resp.Data == nil || resp.Data.BatchRef != b.Ref {
		return &APIError{Op: wire.TypeStockLevelUpdate, Status: 200, Message: "the answer names another batch",
			Retryable: true, Ambiguous: true}
	}
	return nil
}

// LookupStockBatch reports whether Prima applied the batch ref: what the
// sink asks after an ambiguous failure, before sending the batch again.
func (c *Client) LookupStockBatch(ctx context.Context, ref string) (bool, error) {
	resp, err := c.call(ctx, wire.TypeStockLevelUpdateStatus, wire.RequestData{BatchRef: ref})
	if err != nil {
		return false, err
	}
	return resp.Data != nil && resp.Data.Found && resp.Data.BatchRef == ref, nil
}

// AvailableToSell returns Prima's available quantity per SKU in warehouse
// (all warehouses when empty), through the documented MultiAvailableToSell;
// the warehouse filter is assumed (prima.xsd), and left out when empty.
func (c *Client) AvailableToSell(ctx context.Context, warehouse string, skus []string) (map[string]int64, error) {
	if warehouse != "" {
		if err := checkWarehouse(warehouse); err != nil {
			return nil, fmt.Errorf("prima: %s: %w", wire.TypeMultiAvailableToSell, err)
		}
	}
	d := wire.RequestData{Warehouse: warehouse, SKUs: make([]wire.Matrix, len(skus))}
	for i, s := range skus {
		m, err := wire.ParseSKU(s)
		if err != nil {
			return nil, fmt.Errorf("prima: %s: %w", wire.TypeMultiAvailableToSell, err)
		}
		d.SKUs[i] = m
	}
	resp, err := c.call(ctx, wire.TypeMultiAvailableToSell, d)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	if resp.Data == nil {
		return out, nil
	}
	for i, a := range resp.Data.SKUs {
		sku, err := a.SKU()
		switch {
		case err != nil:
		case a.Warehouse != "" && checkWarehouse(a.Warehouse) != nil:
			err = checkWarehouse(a.Warehouse)
		case a.AvailableQuantity < 0:
			err = fmt.Errorf("%w: %d", ErrBadQuantity, a.AvailableQuantity)
		}
		if err != nil {
			return nil, &APIError{Op: wire.TypeMultiAvailableToSell, Status: 200, Message: fmt.Sprintf("SKU line %d", i+1), Err: err}
		}
		out[sku] = a.AvailableQuantity
	}
	return out, nil
}

// checkPage refuses a modified-since page longer than the limit asked for,
// and stock levels with a bad warehouse code or a negative level: the
// whole page, as itemsFrom and levelsFrom refuse a record they cannot
// read, since skipping one would leave lockstep silently wrong.
func checkPage(resp *wire.Response, limit int) error {
	if resp.Data == nil {
		return nil
	}
	if n := max(len(resp.Data.Items), len(resp.Data.StockLevels)); limit > 0 && n > limit {
		return fmt.Errorf("%w: %d rows for PageSize %d", ErrPageTooLong, n, limit)
	}
	for i, l := range resp.Data.StockLevels {
		if err := checkWarehouse(l.Warehouse); err != nil {
			return fmt.Errorf("stock level %d (%q): %w", i+1, l.Product, err)
		}
		if l.Available < 0 {
			return fmt.Errorf("stock level %d (%q in %s): %w: %d", i+1, l.Product, l.Warehouse, ErrBadQuantity, l.Available)
		}
	}
	return nil
}

// checkWarehouse accepts a warehouse code of letters, digits, '_' and '-'.
// Anything else (a space, '@' that would split a sku@warehouse key, a
// control character) is refused, sent or answered.
func checkWarehouse(code string) error {
	if code == "" {
		return fmt.Errorf("%w: empty", ErrBadWarehouse)
	}
	for _, r := range code {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("%w: %q holds %q, outside [A-Za-z0-9_-]", ErrBadWarehouse, code, r)
		}
	}
	return nil
}
