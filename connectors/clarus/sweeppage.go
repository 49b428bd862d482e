package clarus

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/lockstep-dev/lockstep/schemas"
)

// One page of a sweep: read, confirm, turn into snapshots.

// pageResult is what one page produced.
type pageResult struct {
	records []*kgo.Record
	retried int
	skipped int
}

// entry is the balance of one key on one read: summed over accounts when
// no account is configured.
type entry struct {
	productID string
	code      string // as Clarus spells it, for filters
	available int64
	allocated int64
}

// page reads the next page of the sweep cur describes and returns the
// cursor after it with the page's snapshots.
func (s *Sweeper) page(ctx context.Context, cur Cursor) (Cursor, pageResult, error) {
	var res pageResult
	q := BalanceQuery{Filter: BalanceFilter{WarehouseIDs: s.whIDs, AccountID: s.cfg.AccountID}, First: s.cfg.PageSize, After: cur.After}
	var all, chunk, chunkKeys []string
	if !cur.Full {
		all = skus(cur.Keys)
		lo := min(cur.Chunk*cur.ChunkSKUs, len(all))
		chunk = all[lo:min(lo+cur.ChunkSKUs, len(all))]
		for _, k := range cur.Keys {
			sku, _, _ := strings.Cut(k, "@")
			if _, found := slices.BinarySearch(chunk, sku); found {
				chunkKeys = append(chunkKeys, k)
			}
		}
		q.Filter.ProductCodes = spellings(chunk)
	}
	p1, err := s.api.StockBalances(ctx, q)
	if err != nil {
		return cur, res, err
	}
	if p1.HasNextPage && p1.EndCursor == cur.After {
		return cur, res, fmt.Errorf("clarus: sweep: page after %q ends where it started", cur.After)
	}
	next := cur
	if next.SnapshotID == "" {
		// Named after the server's first read: unique per sweep, and the
		// same across a restart, which resumes under it.
		next.SnapshotID = "clarus-" + p1.ReadAt.UTC().Format("20060102T150405.000000000Z")
		next.StartedAt = p1.ReadAt
	}
	first, bad := s.collect(p1.Balances, "")
	res.skipped += len(bad)
	// A key webhooks touched that a chunk read in one page did not return
	// has no balance in Clarus: it is confirmed absent, then snapshotted as
	// zero. (In a chunk of several pages it may lie in another page.)
	var absent []string
	if !cur.Full && cur.After == "" && !p1.HasNextPage {
		for _, k := range chunkKeys {
			if _, ok := first[k]; !ok && !bad[k] {
				absent = append(absent, k)
			}
		}
	}
	snaps, retry, skipped, err := s.confirm(ctx, first, absent, p1.ReadAt)
	if err != nil {
		return cur, res, err
	}
	res.retried, res.skipped = len(retry), res.skipped+skipped
	next.Retry = append(next.Retry, retry...)
	now := s.o.Clock.Now().UTC()
	for _, sn := range snaps {
		key := schemas.StockKey(sn.SKU, sn.Warehouse)
		sn.Meta = schemas.Meta{EventID: "clarus/stock_balances/" + next.SnapshotID + "/" + key, Source: schemas.SourceClarus,
			OccurredAt: sn.AsOf, IngestedAt: now}
		sn.SnapshotID = next.SnapshotID
		v, err := s.serde.Encode(ctx, &sn)
		if err != nil {
			return cur, res, fmt.Errorf("clarus: sweep: encode snapshot %s: %w", key, err)
		}
		res.records = append(res.records, &kgo.Record{Topic: s.snapTopic, Key: []byte(key), Value: v})
	}
	next.Pages++
	next.Balances += int64(len(res.records))
	switch {
	case p1.HasNextPage:
		next.After = p1.EndCursor
	case cur.Full:
		next.complete()
	default:
		next.Chunk, next.After = next.Chunk+1, ""
		if next.Chunk*next.ChunkSKUs >= len(all) {
			next.complete()
		}
	}
	return next, res, nil
}

// collect turns balances into entries by key, refusing (and counting, by
// key) those lockstep cannot key: a bad product code, two products whose
// codes are one key, a warehouse or account not configured.
func (s *Sweeper) collect(bs []Balance, pass string) (map[string]*entry, map[string]bool) {
	out, bad := map[string]*entry{}, map[string]bool{}
	for _, b := range bs {
		wh, ok := s.warehouses[b.WarehouseID]
		if !ok || (s.cfg.AccountID != "" && b.AccountID != "" && b.AccountID != s.cfg.AccountID) {
			s.skip(pass, "other_warehouse_or_account", "balance of warehouse "+b.WarehouseID+", account "+b.AccountID)
			bad["warehouse "+b.WarehouseID] = true
			continue
		}
		sku, err := Identifier("product code", b.ProductCode)
		if err != nil {
			s.skip(pass, "bad_code", fmt.Sprintf("product %s: %v", b.ProductID, err))
			bad[b.ProductCode+"@"+wh] = true
			continue
		}
		key := schemas.StockKey(sku, wh)
		if bad[key] {
			continue
		}
		e, seen := out[key]
		switch {
		case !seen:
			out[key] = &entry{productID: b.ProductID, code: b.ProductCode, available: b.Available, allocated: b.Allocated}
		case e.productID != b.ProductID:
			s.skip(pass, "code_collision", fmt.Sprintf("products %s and %s are both %s", e.productID, b.ProductID, key))
			delete(out, key)
			bad[key] = true
		default: // another account's balance of the product
			e.available += b.Available
			e.allocated += b.Allocated
		}
	}
	return out, bad
}

// skip logs and counts a balance the sweep refused; pass "" is the page
// read, which reports; the confirming read does not report twice.
func (s *Sweeper) skip(pass, reason, detail string) {
	if pass != "" {
		return
	}
	s.o.Metrics.sweepSkipped.WithLabelValues(reason).Inc()
	s.o.Logger.Warn("clarus sweep: balance refused", "reason", reason, "detail", detail)
}

// confirm reads the held stock of the keys of first and absent, their
// balances again, then their held stock again, and returns a snapshot of
// each key whose balance and held stock did not change between the two
// reads of each, and the keys that did. readAt is when first was read.
func (s *Sweeper) confirm(ctx context.Context, first map[string]*entry, absent []string, readAt time.Time) (snaps []schemas.StockSnapshot, retry []string, skipped int, err error) {
	keys := append(slices.Collect(maps.Keys(first)), absent...)
	if len(keys) == 0 {
		return nil, nil, 0, nil
	}
	slices.SortFunc(keys, compareKeys)
	ids := map[string]string{} // code -> id
	for id, code := range s.warehouses {
		ids[code] = id
	}
	byWH := map[string][]string{} // warehouse id -> codes as Clarus spells them
	var codes []string
	for _, k := range keys {
		sku, wh, _ := strings.Cut(k, "@")
		spelled := spellings([]string{sku})
		if e, ok := first[k]; ok {
			spelled = []string{e.code}
		}
		byWH[ids[wh]] = append(byWH[ids[wh]], spelled...)
		codes = append(codes, spelled...)
	}
	held, err := s.held(ctx, byWH)
	if err != nil {
		return nil, nil, 0, err
	}
	second, asOf, err := s.reread(ctx, dedupe(codes))
	if err != nil {
		return nil, nil, 0, err
	}
	// Held stock read again too: a hold and its release both between the
	// two balance reads leave the balance equal while the held read between
	// them saw the hold (a snapshot that never existed: on hand counted
	// twice). Tearing it now takes three changes of one key within the
	// four reads.
	held2, err := s.held(ctx, byWH)
	if err != nil {
		return nil, nil, 0, err
	}
	for _, k := range keys {
		sku, wh, _ := strings.Cut(k, "@")
		e1, ok1 := first[k]
		e2, ok2 := second[k]
		switch {
		case ok1 != ok2 || ok1 && *e1 != *e2 || held[k] != held2[k]:
			retry = append(retry, k)
		case !ok2 && !isASCII(sku):
			// Not found under the two spellings tried; a third cannot be
			// ruled out, so no zero is claimed. The full sweep reads it.
			skipped++
		case !ok2:
			snaps = append(snaps, schemas.StockSnapshot{SKU: sku, Warehouse: wh, OnHand: held[k], Held: held[k], AsOf: readAt})
		default:
			snaps = append(snaps, schemas.StockSnapshot{SKU: sku, Warehouse: wh, OnHand: e2.available + e2.allocated + held[k],
				Allocated: e2.allocated, Held: held[k], AsOf: asOf[k]})
		}
	}
	return snaps, retry, skipped, nil
}

func dedupe(ss []string) []string {
	slices.Sort(ss)
	return slices.Compact(ss)
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// held returns the held stock of the given products by key, reading the
// stock records with status "held" of each warehouse (a few warehouses at
// once: all of them fall between the page read and its confirmation).
func (s *Sweeper) held(ctx context.Context, byWH map[string][]string) (map[string]int64, error) {
	ids := slices.Sorted(maps.Keys(byWH))
	per := make([]map[string]int64, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, id := range ids {
		g.Go(func() error {
			var err error
			per[i], err = s.heldIn(gctx, id, dedupe(byWH[id]))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, m := range per {
		for k, q := range m {
			out[k] += q
		}
	}
	return out, nil
}

// heldIn reads the held stock of codes in warehouse id, every page.
func (s *Sweeper) heldIn(ctx context.Context, id string, codes []string) (map[string]int64, error) {
	out := map[string]int64{}
	wh := s.warehouses[id]
	q := StockQuery{Status: StatusHeld, WarehouseID: id, ProductCodes: codes, AccountID: s.cfg.AccountID, First: s.cfg.PageSize}
	for {
		page, err := s.api.Stocks(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Records {
			if stockStatus(r.Status) != StatusHeld || (s.cfg.AccountID != "" && r.AccountID != "" && r.AccountID != s.cfg.AccountID) {
				continue // the filter was not applied: not lockstep's held stock
			}
			sku, err := Identifier("product code", r.ProductCode)
			if err != nil {
				continue // its balance is refused with the reason
			}
			out[schemas.StockKey(sku, wh)] += r.Quantity
		}
		if !page.HasNextPage {
			return out, nil
		}
		if page.EndCursor == q.After {
			return nil, fmt.Errorf("clarus: sweep: stock page after %q ends where it started", q.After)
		}
		q.After = page.EndCursor
	}
}

// reread reads the balances of codes again, every page, and returns them by
// key with the time each was read.
func (s *Sweeper) reread(ctx context.Context, codes []string) (map[string]*entry, map[string]time.Time, error) {
	out, asOf := map[string]*entry{}, map[string]time.Time{}
	q := BalanceQuery{Filter: BalanceFilter{ProductCodes: codes, WarehouseIDs: s.whIDs, AccountID: s.cfg.AccountID}, First: s.cfg.PageSize}
	for {
		page, err := s.api.StockBalances(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		got, _ := s.collect(page.Balances, "confirm")
		for k, e := range got {
			if old, ok := out[k]; ok { // the same key on two pages: another account
				e.available += old.available
				e.allocated += old.allocated
			}
			out[k], asOf[k] = e, page.ReadAt
		}
		if !page.HasNextPage {
			return out, asOf, nil
		}
		if page.EndCursor == q.After {
			return nil, nil, fmt.Errorf("clarus: sweep: page after %q ends where it started", q.After)
		}
		q.After = page.EndCursor
	}
}
