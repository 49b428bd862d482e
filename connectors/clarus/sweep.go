package clarus

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/text/unicode/norm"

	"github.com/lockstep-dev/lockstep/connectors/clock"
	"github.com/lockstep-dev/lockstep/connectors/cursor"
	"github.com/lockstep-dev/lockstep/schemas"
)

// maxIncrementalKeys bounds the keys an incremental sweep reads; when
// webhooks touched more since the last sweep, a full sweep is cheaper (and
// the cursor, which lists them, stays small).
const maxIncrementalKeys = 5000

// Sweeper reads Clarus stock through GraphQL and produces one StockSnapshot
// per sku@warehouse to clarus.stock-snapshots, committing each page
// together with its cursor on lockstep.source-cursors in one Kafka
// transaction.
//
// It reads documented fields only (clarus.graphql). A balance gives
// available and allocated stock and a warehouse id; the warehouse code
// comes from the configuration (checked against Clarus's warehouses at each
// full sweep), held stock from the stock records whose status is "held",
// and on hand is available + allocated + held (lockstep's reading of
// "available", assumed). A full sweep pages through every balance of the
// configured warehouses; an incremental one reads, by product_code, the
// SKUs webhooks touched since the last sweep began (read from
// clarus.stock-movements), so a forged or wrong webhook is corrected at the
// next sweep.
//
// Balances and held stock come from different requests, so each page is
// confirmed: balances, held stock, the balances of the same products
// again, then their held stock again. A key whose balance or held stock
// changed between its two reads is not snapshotted (the pair may belong
// to different instants); it is read again at the next sweep. A key a webhook touched that has no balance in Clarus
// gets a zero snapshot, so a movement invented for it is undone too.
type Sweeper struct {
	cfg        Config
	api        *Client
	serde      *schemas.Serde
	tx         *cursor.Committer
	kopts      []kgo.Opt
	reader     *kgo.Client
	snapTopic  string
	moveTopic  string
	warehouses map[string]string // Clarus id -> code
	whIDs      []string
	o          Options

	cur Cursor
}

// SweepStats says what one Sweep did.
type SweepStats struct {
	SnapshotID string
	Full       bool
	Resumed    bool // continued a sweep a previous run left in progress
	Keys       int  // the keys an incremental sweep set out to read
	Pages      int  // committed by this call
	Balances   int  // snapshots produced
	Retried    int  // keys that changed while read, left to the next sweep
	Skipped    int  // balances refused (bad product code, code collision, other warehouse or account)
}

// NewSweeper validates and returns a sweep that produces with a
// transactional client built from kopts (seed brokers, TLS, SASL). Run opens
// the client and closes it before returning; a caller that drives Sweep
// itself (tests, `lockstep reconcile`) releases it with Close.
func NewSweeper(cfg Config, api *Client, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*Sweeper, error) {
	if api == nil || serde == nil {
		return nil, errors.New("clarus: sweep: needs an API client and a serde")
	}
	whs := cfg.warehouseCodes()
	if len(whs) == 0 || len(whs) != len(cfg.Warehouses) {
		return nil, fmt.Errorf("clarus: sweep: %sWAREHOUSES: want valid id=code pairs (validate the configuration first)", EnvPrefix)
	}
	if cfg.PageSize <= 0 {
		return nil, fmt.Errorf("clarus: sweep: %sPAGE_SIZE must be positive", EnvPrefix)
	}
	o = o.withDefaults(cfg)
	tx, err := cursor.NewCommitter(cursor.Config{Topic: o.TopicPrefix + schemas.TopicSourceCursors,
		TransactionalID: o.TransactionalID, Logger: o.Logger}, kopts...)
	if err != nil {
		return nil, fmt.Errorf("clarus: sweep: %w", err)
	}
	return &Sweeper{cfg: cfg, api: api, serde: serde, tx: tx, kopts: slices.Clone(kopts), o: o,
		snapTopic: o.TopicPrefix + schemas.TopicStockSnapshots, moveTopic: o.TopicPrefix + schemas.TopicStockMovements,
		warehouses: whs, whIDs: slices.Sorted(maps.Keys(whs))}, nil
}

// Close releases the Kafka clients Sweep opened; Run needs no Close.
func (s *Sweeper) Close() {
	s.tx.Close()
	if s.reader != nil {
		s.reader.Close()
		s.reader = nil
	}
}

// Run sweeps every SweepInterval until ctx ends. A failed sweep is logged
// and resumed from its cursor after a pause; only a fenced producer (another
// sweep took over) stops it.
func (s *Sweeper) Run(ctx context.Context) error {
	defer s.Close()
	defer s.o.setReady(false)
	for ctx.Err() == nil {
		if err := s.load(ctx); err != nil {
			s.o.Logger.Error("clarus sweep: reading the cursor failed", "err", err)
			_ = clock.Sleep(ctx, s.o.Clock, 30*time.Second)
			continue
		}
		if err := clock.Sleep(ctx, s.o.Clock, s.due().Sub(s.o.Clock.Now())); err != nil {
			break
		}
		st, err := s.Sweep(ctx)
		switch {
		case err == nil:
			s.o.Logger.Info("clarus sweep completed", "snapshot_id", st.SnapshotID, "full", st.Full, "keys", st.Keys,
				"pages", st.Pages, "snapshots", st.Balances, "retried", st.Retried, "skipped", st.Skipped)
		case ctx.Err() != nil:
		case errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
			return fmt.Errorf("clarus: sweep: %w", err)
		default:
			s.o.Logger.Error("clarus sweep failed; it resumes from its cursor", "err", err, "snapshot_id", st.SnapshotID, "pages", st.Pages)
			_ = clock.Sleep(ctx, s.o.Clock, min(s.cfg.SweepInterval, time.Minute))
		}
	}
	return nil
}

// due is when the next sweep should start: now for one in progress.
func (s *Sweeper) due() time.Time {
	if s.cur.InProgress || s.cur.LastStart.IsZero() {
		return s.o.Clock.Now()
	}
	return s.cur.LastStart.Add(s.cfg.SweepInterval)
}

// load reads the committed cursor once per client: after a restart, and
// after a transaction whose outcome is unknown. It fences a previous
// incarnation first, so a page it left uncommitted is aborted, never
// resumed from.
func (s *Sweeper) load(ctx context.Context) error {
	if s.tx.Loaded() {
		return nil
	}
	vals, err := s.tx.Load(ctx, CursorKey)
	if err != nil {
		return fmt.Errorf("clarus: sweep: read cursor: %w", err)
	}
	cur, found, err := decodeCursor(vals)
	if err != nil {
		return fmt.Errorf("clarus: sweep: read cursor: %w", err)
	}
	s.cur = cur
	s.o.setReady(true)
	s.o.Logger.Info("clarus sweep cursor loaded", "found", found, "in_progress", cur.InProgress,
		"snapshot_id", cur.SnapshotID, "last_start", cur.LastStart)
	return nil
}

// Cursor returns the last committed cursor (after Sweep or Run loaded it).
func (s *Sweeper) Cursor() Cursor { return s.cur }

// Sweep runs one sweep to its end: the one in progress if a previous run
// left one, else a new one, full when none was ever completed or the last
// full one is FullSweepInterval old, else of the keys webhooks touched.
func (s *Sweeper) Sweep(ctx context.Context) (st SweepStats, err error) {
	defer func() {
		outcome := "completed"
		if err != nil {
			outcome = "failed"
		}
		s.o.Metrics.sweeps.WithLabelValues(outcome).Inc()
	}()
	if err := s.load(ctx); err != nil {
		return SweepStats{}, err
	}
	cur := s.cur
	st.Resumed = cur.InProgress
	if !cur.InProgress {
		if cur, err = s.plan(ctx, s.cur); err != nil {
			return st, err
		}
		if !cur.InProgress { // an incremental sweep with nothing to read
			if err := s.commit(ctx, cur, nil); err != nil {
				return st, err
			}
			s.cur = cur
			s.o.Metrics.lastSweep.Set(float64(s.o.Clock.Now().Unix()))
			return st, nil
		}
	}
	st.Full, st.SnapshotID, st.Keys = cur.Full, cur.SnapshotID, len(cur.Keys)
	for cur.InProgress {
		next, res, err := s.page(ctx, cur)
		if err != nil {
			return st, err
		}
		if err := s.commit(ctx, next, res.records); err != nil {
			return st, err
		}
		s.cur, cur = next, next
		st.SnapshotID = next.SnapshotID
		st.Pages++
		st.Balances += len(res.records)
		st.Retried += res.retried
		st.Skipped += res.skipped
		s.o.Metrics.snapshots.Add(float64(len(res.records)))
	}
	s.o.Metrics.lastSweep.Set(float64(s.o.Clock.Now().Unix()))
	return st, nil
}

// plan begins a sweep after prev: it notes where clarus.stock-movements
// ends, and decides between a full sweep and an incremental one of the keys
// touched since prev began (plus those prev left to retry).
func (s *Sweeper) plan(ctx context.Context, prev Cursor) (Cursor, error) {
	now := s.o.Clock.Now().UTC()
	starts, ends, err := s.movementOffsets(ctx)
	if err != nil {
		return prev, err
	}
	next := Cursor{InProgress: true, LocalStart: now, Until: ends, Offsets: prev.Offsets,
		LastStart: prev.LastStart, LastFullStart: prev.LastFullStart, FullBalances: prev.FullBalances}
	full := prev.LastStart.IsZero() || prev.Offsets == nil || s.cfg.FullSweepInterval == 0 ||
		now.Sub(prev.LastFullStart) >= s.cfg.FullSweepInterval
	if !full {
		keys, err := s.touched(ctx, prev.Offsets, starts, ends)
		switch {
		case errors.Is(err, errTouchedLost):
			s.o.Logger.Warn("clarus sweep: the keys touched since the last sweep are unknown; sweeping in full", "err", err)
			full = true
		case err != nil:
			return prev, err
		default:
			keys = s.keepKeys(append(keys, prev.Retry...))
			// An incremental sweep reads every warehouse's balance of each
			// SKU: when that is as many as a full sweep reads, sweep in full.
			if n := int64(len(skus(keys)) * len(s.whIDs)); len(keys) > maxIncrementalKeys || (prev.FullBalances > 0 && n >= prev.FullBalances) {
				s.o.Logger.Info("clarus sweep: many keys touched; sweeping in full", "keys", len(keys))
				full = true
			} else {
				next.Keys, next.ChunkSKUs = keys, max(1, s.cfg.PageSize/len(s.whIDs))
			}
		}
	}
	next.Full = full
	if full {
		next.Keys, next.ChunkSKUs = nil, 0
		if err := s.checkWarehouses(ctx); err != nil {
			return prev, err
		}
	}
	if !full && len(next.Keys) == 0 {
		next.complete()
	}
	return next, nil
}

// keepKeys returns keys deduplicated, sorted by SKU then warehouse, without
// those lockstep cannot read (of an unconfigured warehouse: none unless the
// configuration changed).
func (s *Sweeper) keepKeys(keys []string) []string {
	codes := map[string]bool{}
	for _, c := range s.warehouses {
		codes[c] = true
	}
	set := map[string]bool{}
	for _, k := range keys {
		sku, wh, ok := strings.Cut(k, "@")
		if ok && sku != "" && codes[wh] {
			set[k] = true
		}
	}
	out := slices.Collect(maps.Keys(set))
	slices.SortFunc(out, compareKeys)
	return out
}

func compareKeys(a, b string) int {
	as, aw, _ := strings.Cut(a, "@")
	bs, bw, _ := strings.Cut(b, "@")
	return cmp.Or(strings.Compare(as, bs), strings.Compare(aw, bw))
}

// complete ends the sweep c describes.
func (c *Cursor) complete() {
	c.InProgress, c.After, c.Keys, c.ChunkSKUs, c.Chunk = false, "", nil, 0, 0
	c.Offsets, c.Until = c.Until, nil
	c.LastStart = c.LocalStart
	if c.Full {
		c.LastFullStart, c.FullBalances = c.LocalStart, c.Balances
	}
}

// skus returns the distinct SKUs of keys sorted by SKU, in order.
func skus(keys []string) []string {
	var out []string
	for _, k := range keys {
		sku, _, _ := strings.Cut(k, "@")
		if len(out) == 0 || out[len(out)-1] != sku {
			out = append(out, sku)
		}
	}
	return out
}

// spellings returns codes with the NFD spelling of each beside its NFC one,
// for filters: Clarus may store either, and lockstep keys on NFC.
func spellings(codes []string) []string {
	set := map[string]bool{}
	var out []string
	for _, c := range codes {
		for _, v := range []string{c, norm.NFD.String(c)} {
			if !set[v] {
				set[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// checkWarehouses compares the configured warehouses with Clarus's.
func (s *Sweeper) checkWarehouses(ctx context.Context) error {
	codes := slices.Sorted(maps.Values(s.warehouses))
	got, err := s.api.Warehouses(ctx, spellings(codes), s.cfg.PageSize)
	if err != nil {
		return fmt.Errorf("clarus: sweep: reading the warehouses: %w", err)
	}
	byCode := map[string][]string{}
	for code, ids := range got {
		if n, err := Identifier("code", code); err == nil {
			byCode[n] = append(byCode[n], ids...)
		}
	}
	var bad []string
	for _, id := range s.whIDs {
		code := s.warehouses[id]
		switch ids := byCode[code]; {
		case len(ids) == 0:
			bad = append(bad, fmt.Sprintf("Clarus has no warehouse %s (configured as %s)", code, id))
		case !slices.Contains(ids, id):
			bad = append(bad, fmt.Sprintf("warehouse %s is id %s in Clarus, not %s", code, strings.Join(ids, ","), id))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("clarus: sweep: %sWAREHOUSES does not match Clarus: %s", EnvPrefix, strings.Join(bad, "; "))
	}
	return nil
}

// commit produces a page's snapshots and the cursor after it in one
// transaction.
func (s *Sweeper) commit(ctx context.Context, next Cursor, recs []*kgo.Record) error {
	cv, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := s.tx.Commit(ctx, CursorKey, cv, recs...); err != nil {
		return fmt.Errorf("clarus: sweep: page %d: %w", next.Pages, err)
	}
	return nil
}
