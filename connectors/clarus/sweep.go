package clarus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/clock"
	"github.com/lockstep-dev/lockstep/connectors/cursor"
	"github.com/lockstep-dev/lockstep/schemas"
)

// sweepOverlap widens an incremental sweep's filter backwards, so a balance
// updated in the same clock tick as the previous sweep's first read (the
// real API's timestamps may be coarser than the simulator's) is read again
// rather than missed. A snapshot read twice is harmless; one missed is not.
const sweepOverlap = time.Second

// Sweeper reads Clarus stock balances through GraphQL and produces one
// StockSnapshot per balance to clarus.stock-snapshots, committing each page
// together with its cursor on lockstep.source-cursors in one Kafka
// transaction.
type Sweeper struct {
	cfg       Config
	api       *Client
	serde     *schemas.Serde
	tx        *cursor.Committer
	snapTopic string
	o         Options

	cur Cursor
}

// SweepStats says what one Sweep did.
type SweepStats struct {
	SnapshotID string
	Full       bool
	Resumed    bool // continued a sweep a previous run left in progress
	Pages      int  // committed by this call
	Balances   int
}

// NewSweeper validates and returns a sweep that produces with a
// transactional client built from kopts (seed brokers, TLS, SASL). Run opens
// the client and closes it before returning; a caller that drives Sweep
// itself (tests, `lockstep reconcile`) releases it with Close.
func NewSweeper(cfg Config, api *Client, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*Sweeper, error) {
	if api == nil || serde == nil {
		return nil, errors.New("clarus: sweep: needs an API client and a serde")
	}
	o = o.withDefaults(cfg)
	tx, err := cursor.NewCommitter(cursor.Config{Topic: o.TopicPrefix + schemas.TopicSourceCursors,
		TransactionalID: o.TransactionalID, Logger: o.Logger}, kopts...)
	if err != nil {
		return nil, fmt.Errorf("clarus: sweep: %w", err)
	}
	return &Sweeper{cfg: cfg, api: api, serde: serde, tx: tx, o: o,
		snapTopic: o.TopicPrefix + schemas.TopicStockSnapshots}, nil
}

// Close releases the Kafka client Sweep opened; Run needs no Close.
func (s *Sweeper) Close() { s.tx.Close() }

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
			s.o.Logger.Info("clarus sweep completed", "snapshot_id", st.SnapshotID, "full", st.Full, "pages", st.Pages, "balances", st.Balances)
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
		"snapshot_id", cur.SnapshotID, "high_water", cur.HighWater)
	return nil
}

// Cursor returns the last committed cursor (after Sweep or Run loaded it).
func (s *Sweeper) Cursor() Cursor { return s.cur }

// Sweep runs one sweep to its end: the one in progress if a previous run
// left one, else a new one, full when none was ever completed or the last
// full one is FullSweepInterval old, else of the balances updated since.
func (s *Sweeper) Sweep(ctx context.Context) (SweepStats, error) {
	if err := s.load(ctx); err != nil {
		s.o.Metrics.sweeps.WithLabelValues("failed").Inc()
		return SweepStats{}, err
	}
	cur := s.cur
	st := SweepStats{Resumed: cur.InProgress}
	if !cur.InProgress {
		now := s.o.Clock.Now().UTC()
		full := cur.HighWater.IsZero() || s.cfg.FullSweepInterval == 0 || now.Sub(cur.LastFullStart) >= s.cfg.FullSweepInterval
		cur = Cursor{InProgress: true, Full: full, LocalStart: now,
			HighWater: cur.HighWater, LastStart: cur.LastStart, LastFullStart: cur.LastFullStart}
		if !full {
			cur.Since = cur.HighWater.Add(-sweepOverlap)
		}
	}
	st.Full, st.SnapshotID = cur.Full, cur.SnapshotID
	for cur.InProgress {
		page, err := s.api.StockBalances(ctx, BalanceQuery{UpdatedAfter: cur.Since, First: s.cfg.PageSize, After: cur.After})
		if err != nil {
			s.o.Metrics.sweeps.WithLabelValues("failed").Inc()
			return st, err
		}
		if page.HasNextPage && page.EndCursor == cur.After {
			s.o.Metrics.sweeps.WithLabelValues("failed").Inc()
			return st, fmt.Errorf("clarus: sweep: page after %q ends where it started", cur.After)
		}
		next := cur
		if next.SnapshotID == "" {
			// Named after the server's first read: unique per sweep, and the
			// same across a restart, which resumes under it.
			next.SnapshotID = "clarus-" + page.ReadAt.UTC().Format("20060102T150405.000000000Z")
			next.StartedAt = page.ReadAt
		}
		next.Pages++
		next.Balances += int64(len(page.Balances))
		next.After = page.EndCursor
		if !page.HasNextPage {
			next.InProgress, next.After, next.Since = false, "", time.Time{}
			next.HighWater, next.LastStart = next.StartedAt, next.LocalStart
			if next.Full {
				next.LastFullStart = next.LocalStart
			}
		}
		if err := s.commit(ctx, next, page); err != nil {
			s.o.Metrics.sweeps.WithLabelValues("failed").Inc()
			return st, err
		}
		s.cur, cur = next, next
		st.SnapshotID = next.SnapshotID
		st.Pages++
		st.Balances += len(page.Balances)
		s.o.Metrics.snapshots.Add(float64(len(page.Balances)))
	}
	s.o.Metrics.sweeps.WithLabelValues("completed").Inc()
	s.o.Metrics.lastSweep.Set(float64(s.o.Clock.Now().Unix()))
	return st, nil
}

// commit produces a page's snapshots and the cursor after it in one
// transaction.
func (s *Sweeper) commit(ctx context.Context, next Cursor, page BalancePage) error {
	now := s.o.Clock.Now().UTC()
	recs := make([]*kgo.Record, 0, len(page.Balances)+1)
	for _, b := range page.Balances {
		key := schemas.StockKey(b.SKU, b.Warehouse)
		v, err := s.serde.Encode(ctx, &schemas.StockSnapshot{
			Meta: schemas.Meta{EventID: "clarus/stock_balances/" + next.SnapshotID + "/" + key, Source: schemas.SourceClarus,
				OccurredAt: page.ReadAt, IngestedAt: now},
			SnapshotID: next.SnapshotID, SKU: b.SKU, Warehouse: b.Warehouse,
			OnHand: b.OnHand, Allocated: b.Allocated, Held: b.Held, AsOf: page.ReadAt,
		})
		if err != nil {
			return fmt.Errorf("clarus: sweep: encode snapshot %s: %w", key, err)
		}
		recs = append(recs, &kgo.Record{Topic: s.snapTopic, Key: []byte(key), Value: v})
	}
	cv, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := s.tx.Commit(ctx, CursorKey, cv, recs...); err != nil {
		return fmt.Errorf("clarus: sweep: page %d: %w", next.Pages, err)
	}
	return nil
}
