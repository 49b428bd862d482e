package prima

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// itemInfo is what lockstep needs of a Prima item: its Clarus mapping,
// whether it holds stock, and its unit cost.
type itemInfo struct {
	SKU        string
	ClarusCode string // empty while unmapped
	StockItem  bool
	UnitCost   schemas.Decimal
	Currency   string
}

func itemFrom(ev *schemas.Item) itemInfo {
	it := itemInfo{SKU: ev.SKU, StockItem: ev.StockItem, UnitCost: ev.UnitCost, Currency: ev.Currency}
	if ev.ClarusCode != nil {
		it.ClarusCode = *ev.ClarusCode
	}
	return it
}

// itemIndex is the item master as prima.items last said it, indexed both
// ways: by Prima SKU, and by the Clarus code each item names. It is not
// safe for concurrent use; its owner guards it.
type itemIndex struct {
	bySKU  map[string]itemInfo
	byCode map[string]map[string]bool // Clarus code -> Prima SKUs naming it
}

func newItemIndex() *itemIndex {
	return &itemIndex{bySKU: map[string]itemInfo{}, byCode: map[string]map[string]bool{}}
}

// put records the item under sku (nil removes it, as a tombstone does) and
// returns the Clarus codes whose mapping may have changed.
func (x *itemIndex) put(sku string, it *itemInfo) []string {
	var changed []string
	if old, ok := x.bySKU[sku]; ok && old.ClarusCode != "" {
		delete(x.byCode[old.ClarusCode], sku)
		if len(x.byCode[old.ClarusCode]) == 0 {
			delete(x.byCode, old.ClarusCode)
		}
		changed = append(changed, old.ClarusCode)
	}
	delete(x.bySKU, sku)
	if it == nil {
		return changed
	}
	x.bySKU[sku] = *it
	if c := it.ClarusCode; c != "" {
		if x.byCode[c] == nil {
			x.byCode[c] = map[string]bool{}
		}
		x.byCode[c][sku] = true
		if !slices.Contains(changed, c) {
			changed = append(changed, c)
		}
	}
	return changed
}

// item returns the item of a Prima SKU.
func (x *itemIndex) item(sku string) (itemInfo, bool) {
	it, ok := x.bySKU[sku]
	return it, ok
}

// resolve returns the Prima SKU of a Clarus code, or why there is none.
// Exactly one stock item must name the code: a non-stock item never holds
// stock, and two stock items claiming one Clarus product would each get its
// whole level, counting the stock twice, so both are exceptions for the
// warehouse team rather than guesses.
func (x *itemIndex) resolve(code string) (sku, unmapped string) {
	skus := slices.Sorted(maps.Keys(x.byCode[code]))
	var stock []string
	for _, s := range skus {
		if x.bySKU[s].StockItem {
			stock = append(stock, s)
		}
	}
	switch {
	case len(stock) == 1:
		return stock[0], ""
	case len(stock) > 1:
		return "", fmt.Sprintf("Clarus code %s is claimed by %d Prima stock items (%s)", code, len(stock), strings.Join(stock, ", "))
	case len(skus) > 0:
		return "", fmt.Sprintf("Clarus code %s maps to Prima non-stock item %s", code, strings.Join(skus, ", "))
	}
	return "", fmt.Sprintf("no Prima item has Clarus code %s", code)
}

// The sink's decisions, kept pure (no I/O, no clock) so that they are
// table-tested: what a command's lines become, and what the held levels
// of a partition become once their codes map.

// pushLine is one level to send, with both sides of the mapping.
type pushLine struct {
	SKU        string // Prima SKU
	ClarusCode string
	Available  int64
	AsOf       time.Time // the push instant of the command it came from: the ordering guard's clock
}

// commandPlan is what becomes of a command's lines.
type commandPlan struct {
	push []pushLine  // mapped lines, in command order
	hold []heldLevel // unmapped lines; each replaces the held entry under its key
	// unhold are held entries a pushed (or stale) line supersedes: they
	// are tombstoned and their drift resolved once the push is done.
	unhold []heldLevel
	stale  []string // Clarus codes not sent: Prima acknowledged a newer level
}

// planCommand maps the lines of cmd, read from partition part. held and
// pushed are the sink's tables; items the item master.
func planCommand(cmd *schemas.PrimaStockCommand, part int32, items *itemIndex, held map[string]heldLevel, pushed map[string]pushedLevel) commandPlan {
	var pl commandPlan
	// Lines are ordered by the push instant of their command (OccurredAt,
	// the stock processor's push timer): it grows with every push of a
	// key, which lives on one partition. The command's AsOf does not: it
	// is the latest Clarus instant among the batch's lines, and a level
	// re-based on a snapshot carries the snapshot's as_of, so a newer push
	// can carry an older AsOf; ordering by it dropped real updates.
	at := cmd.OccurredAt
	if at.IsZero() {
		at = cmd.AsOf
	}
	for _, l := range cmd.Lines {
		old, wasHeld := held[schemas.StockKey(l.SKU, cmd.Warehouse)]
		sku, unmapped := items.resolve(l.SKU)
		if unmapped != "" {
			if wasHeld && at.Before(old.AsOf) {
				// A re-driven older command: the held level is newer.
				pl.stale = append(pl.stale, l.SKU)
				continue
			}
			pl.hold = append(pl.hold, heldLevel{ClarusCode: l.SKU, Warehouse: cmd.Warehouse, Available: l.Available,
				AsOf: at, BatchRef: cmd.BatchRef, Partition: part, Reason: unmapped})
			continue
		}
		line := pushLine{SKU: sku, ClarusCode: l.SKU, Available: l.Available, AsOf: at}
		if wasHeld {
			if at.Before(old.AsOf) {
				line.Available, line.AsOf = old.Available, old.AsOf
			}
			pl.unhold = append(pl.unhold, old)
		}
		if p, ok := pushed[schemas.StockKey(sku, cmd.Warehouse)]; ok && line.AsOf.Before(p.AppliedAsOf) {
			pl.stale = append(pl.stale, l.SKU)
			continue
		}
		pl.push = append(pl.push, line)
	}
	return pl
}

// redriveBatch pushes held levels whose codes now map: one batch per
// warehouse of a partition.
type redriveBatch struct {
	Warehouse string
	Partition int32
	// Ref is derived from the held entries (code, warehouse, the command
	// that held it, level), so a re-drive repeated after a crash sends the
	// same reference, and a different set of levels never reuses one.
	Ref     string
	AsOf    time.Time // the newest level's
	push    []pushLine
	entries []heldLevel // every entry the batch settles, stale ones too
}

// planRedrive groups the held entries whose codes resolve into batches,
// in a stable order. An entry older than the level Prima last acknowledged
// is settled without being sent.
func planRedrive(entries []heldLevel, items *itemIndex, pushed map[string]pushedLevel) []redriveBatch {
	type group struct {
		part int32
		wh   string
	}
	byGroup := map[group]*redriveBatch{}
	slices.SortFunc(entries, func(a, b heldLevel) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Warehouse, b.Warehouse), cmp.Compare(a.ClarusCode, b.ClarusCode))
	})
	var out []*redriveBatch
	for _, h := range entries {
		sku, unmapped := items.resolve(h.ClarusCode)
		if unmapped != "" {
			continue
		}
		g := group{h.Partition, h.Warehouse}
		b := byGroup[g]
		if b == nil {
			b = &redriveBatch{Warehouse: h.Warehouse, Partition: h.Partition}
			byGroup[g] = b
			out = append(out, b)
		}
		b.entries = append(b.entries, h)
		if p, ok := pushed[schemas.StockKey(sku, h.Warehouse)]; ok && h.AsOf.Before(p.AppliedAsOf) {
			continue
		}
		b.push = append(b.push, pushLine{SKU: sku, ClarusCode: h.ClarusCode, Available: h.Available, AsOf: h.AsOf})
		if h.AsOf.After(b.AsOf) {
			b.AsOf = h.AsOf
		}
	}
	batches := make([]redriveBatch, len(out))
	for i, b := range out {
		b.Ref = heldRef(b.Warehouse, b.entries)
		batches[i] = *b
	}
	return batches
}

// heldRef is the deterministic reference of a re-drive batch.
func heldRef(warehouse string, entries []heldLevel) string {
	var sb strings.Builder
	for _, h := range entries {
		fmt.Fprintf(&sb, "%s|%s|%d|%d\n", h.key(), h.BatchRef, h.Available, h.AsOf.UnixMilli())
	}
	sum := sha256.Sum256([]byte(sb.String()))
	return "held-" + warehouse + "-" + hex.EncodeToString(sum[:8])
}
