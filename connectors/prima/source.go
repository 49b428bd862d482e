package prima

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/cursor"
	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Source polls Prima's items, stock levels, sales orders, despatch notes
// and purchase orders modified since its cursors and produces them to
// prima.items, prima.stock-levels, prima.sales-orders,
// prima.despatch-notes and prima.purchase-orders, each page in one Kafka
// transaction with its cursor on lockstep.source-cursors: a restart
// resumes after the last committed page, with no gap and no repeat. A
// sales order, despatch note or purchase order it cannot turn into an
// event goes to lockstep.dlq in the same transaction. Prima
// documents no webhooks, so polling is all of its change capture. A
// Source is used from one goroutine: Run, or Poll then Close.
type Source struct {
	cfg   Config
	api   *Client
	serde *schemas.Serde
	tx    *cursor.Committer
	o     Options

	itemsTopic, levelsTopic, ordersTopic, notesTopic, posTopic, dlqTopic string

	cursors map[string]Cursor
}

// PollStats says what one Poll committed.
type PollStats struct {
	Items, StockLevels, SalesOrders, DespatchNotes, PurchaseOrders, Pages int
	// DeadLetters counts the sales orders, despatch notes and purchase
	// orders sent to the DLQ instead.
	DeadLetters int
}

// NewSource returns a source that will produce with a transactional client
// built from kopts (seed brokers, TLS, SASL). It only validates; Run (or
// the first Poll) connects.
func NewSource(cfg Config, api *Client, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if api == nil || serde == nil {
		return nil, errors.New("prima: source: needs a Prima client and a serde")
	}
	o = o.withDefaults()
	for _, f := range o.Feeds {
		if !slices.Contains(allFeeds, f) {
			return nil, fmt.Errorf("prima: source: unknown feed %q (want one of %v)", f, allFeeds)
		}
	}
	if len(o.Feeds) == 0 {
		o.Feeds = allFeeds
	}
	tx, err := cursor.NewCommitter(cursor.Config{Topic: o.TopicPrefix + schemas.TopicSourceCursors,
		TransactionalID: o.TransactionalID, Logger: o.Logger}, kopts...)
	if err != nil {
		return nil, fmt.Errorf("prima: source: %w", err)
	}
	return &Source{cfg: cfg, api: api, serde: serde, tx: tx, o: o,
		itemsTopic:  o.TopicPrefix + schemas.TopicItems,
		levelsTopic: o.TopicPrefix + schemas.TopicPrimaStockLevels,
		ordersTopic: o.TopicPrefix + schemas.TopicSalesOrders,
		notesTopic:  o.TopicPrefix + schemas.TopicDespatchNotes,
		posTopic:    o.TopicPrefix + schemas.TopicPurchaseOrders,
		dlqTopic:    o.TopicPrefix + schemas.TopicDLQ,
	}, nil
}

// Close closes the producer that Poll opened, for a caller that polls
// without Run (tests, a one-off catch-up); Run closes its own. Closing
// twice, or a source never polled, is harmless. The source is not ready
// after it.
func (s *Source) Close() {
	if s.tx.Loaded() {
		s.o.setReady(false)
	}
	s.tx.Close()
}

// Cursors returns the committed cursors by key (after Poll or Run loaded
// them).
func (s *Source) Cursors() map[string]Cursor { return maps.Clone(s.cursors) }

// Run opens the producer, polls every PollInterval until ctx ends, and
// closes it. A poll that failed on a retryable answer (5xx, 429, a lost
// answer) is tried again from the committed cursors after a backoff
// (BackoffBase doubling to BackoffMax, at least Retry-After), up to
// MaxAttempts in a row; then, or on any other failure, it waits for the
// next interval. Only a fenced producer (another source took over) stops
// it.
func (s *Source) Run(ctx context.Context) error {
	defer s.Close()
	failures, backoff := 0, s.cfg.BackoffBase
	for {
		st, err := s.Poll(ctx)
		wait := s.cfg.PollInterval
		var ae *APIError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
			return fmt.Errorf("prima: source: %w", err)
		case err != nil && errors.As(err, &ae) && ae.Retryable && failures+1 < s.cfg.MaxAttempts:
			failures++
			wait = max(backoff, ae.RetryAfter)
			backoff = min(2*backoff, s.cfg.BackoffMax)
			s.o.Logger.Warn("prima poll failed; retrying from its cursors", "err", err, "pages", st.Pages, "attempt", failures, "retry_in", wait)
		case err != nil:
			s.o.Logger.Error("prima poll failed; it resumes from its cursors at the next interval", "err", err, "pages", st.Pages, "attempts", failures+1)
			failures, backoff = 0, s.cfg.BackoffBase
		default:
			failures, backoff = 0, s.cfg.BackoffBase
			if st.Pages > 0 {
				s.o.Logger.Info("prima poll committed", "items", st.Items, "stock_levels", st.StockLevels,
					"sales_orders", st.SalesOrders, "despatch_notes", st.DespatchNotes, "purchase_orders", st.PurchaseOrders,
					"dead_letters", st.DeadLetters, "pages", st.Pages)
			}
		}
		if sleep(ctx, s.o.Clock, wait) != nil {
			return nil
		}
	}
}

// load reads the committed cursors once per producer: at start, and after a
// transaction whose outcome is unknown. It fences a previous incarnation
// first, so a page it left uncommitted is aborted, never resumed from.
func (s *Source) load(ctx context.Context) error {
	if s.tx.Loaded() {
		return nil
	}
	vals, err := s.tx.Load(ctx, s.o.Feeds...)
	if err != nil {
		return fmt.Errorf("prima: source: read cursors: %w", err)
	}
	cur, err := decodeCursors(vals)
	if err != nil {
		return fmt.Errorf("prima: source: read cursors: %w", err)
	}
	s.cursors = cur
	s.o.setReady(true)
	s.o.Logger.Info("prima source cursors loaded", "items", cur[CursorKeyItems], "stock_levels", cur[CursorKeyStockLevels],
		"sales_orders", cur[CursorKeySalesOrders], "despatch_notes", cur[CursorKeyDespatchNotes],
		"purchase_orders", cur[CursorKeyPurchaseOrders])
	return nil
}

// Poll reads each feed until it is caught up, committing page by page.
// A feed Prima fails (down, or answering what breaks the feed's contract)
// does not keep the others from their turn: its error is returned with
// theirs. A failed commit ends the poll, as Kafka would fail them all.
// Outside Run, the first Poll opens the producer and the caller releases
// it with Close.
func (s *Source) Poll(ctx context.Context) (PollStats, error) {
	var st PollStats
	if err := s.load(ctx); err != nil {
		return st, err
	}
	var errs []error
	for _, f := range []feed{
		{CursorKeyItems, "items", s.itemsPage, &st.Items},
		{CursorKeyStockLevels, "stock-levels", s.levelsPage, &st.StockLevels},
		{CursorKeySalesOrders, "sales-orders", s.ordersPage, &st.SalesOrders},
		{CursorKeyDespatchNotes, "despatch-notes", s.notesPage, &st.DespatchNotes},
		{CursorKeyPurchaseOrders, "purchase-orders", s.posPage, &st.PurchaseOrders},
	} {
		if !slices.Contains(s.o.Feeds, f.key) {
			continue
		}
		err := s.pollFeed(ctx, f, &st)
		if err == nil {
			s.o.Metrics.polls.WithLabelValues(f.resource, "ok").Inc()
			continue
		}
		s.o.Metrics.polls.WithLabelValues(f.resource, "failed").Inc()
		var ce *commitError
		if errors.As(err, &ce) || ctx.Err() != nil {
			return st, err
		}
		errs = append(errs, err)
	}
	return st, errors.Join(errs...)
}

// allFeeds are the cursor keys of every feed, in the order Poll reads
// them.
var allFeeds = []string{CursorKeyItems, CursorKeyStockLevels, CursorKeySalesOrders, CursorKeyDespatchNotes,
	CursorKeyPurchaseOrders}

// feed is one modified-since query, its cursor and what it counts.
type feed struct {
	key, resource string
	page          func(context.Context, Cursor) (page, error)
	count         *int
}

// pollFeed reads f until it is caught up.
func (s *Source) pollFeed(ctx context.Context, f feed, st *PollStats) error {
	started := s.o.Clock.Now()
	for {
		since := s.cursors[f.key]
		p, err := f.page(ctx, since)
		if err != nil {
			return err
		}
		p.next.CaughtUpAt = since.CaughtUpAt
		if !p.more {
			p.next.CaughtUpAt = started
		}
		if len(p.recs) == 0 {
			// Nothing new: record that the feed is caught up to the
			// start of this poll, in a transaction of its own.
			if p.next.CaughtUpAt.After(since.CaughtUpAt) {
				cur := since
				cur.CaughtUpAt = p.next.CaughtUpAt
				if err := s.commit(ctx, f.key, cur, nil); err != nil {
					return err
				}
				s.cursors[f.key] = cur
			}
			return nil
		}
		if err := s.commit(ctx, f.key, p.next, p.recs); err != nil {
			return err
		}
		s.cursors[f.key] = p.next
		*f.count += p.events
		st.DeadLetters += len(p.dead)
		st.Pages++
		s.o.Metrics.events.WithLabelValues(f.resource).Add(float64(p.events))
		s.o.Metrics.deadLetters.WithLabelValues(f.resource).Add(float64(len(p.dead)))
		s.o.Metrics.cursorAge.WithLabelValues(f.resource).Set(float64(p.next.Modified.UnixMilli()) / 1000)
		for _, d := range p.dead {
			s.o.Logger.Warn("prima source: record dead-lettered", "resource", f.resource, "key", d.key, "reason", d.reason)
		}
		if !p.more {
			return nil // caught up; a server capping pages lower resumes next poll
		}
	}
}

// page is what one modified-since request yields: the records to produce
// in one transaction with the cursor after them.
type page struct {
	recs   []*kgo.Record
	next   Cursor
	events int        // records that are events on the feed's topic
	dead   []deadNote // records that went to the DLQ instead, to log once committed
	more   bool       // Prima holds more after next: ask again at once
}

// deadNote is what the log says of a dead-lettered record.
type deadNote struct{ key, reason string }

func (s *Source) itemsPage(ctx context.Context, since Cursor) (page, error) {
	items, next, err := s.api.Items(ctx, since, s.cfg.PageSize)
	if err != nil {
		return page{}, err
	}
	now := s.o.Clock.Now().UTC()
	recs := make([]*kgo.Record, 0, len(items))
	for _, it := range items {
		ev := &schemas.Item{
			Meta: schemas.Meta{EventID: "prima:item:" + it.SKU + ":" + wire.FormatTime(it.Modified),
				Source: schemas.SourcePrima, OccurredAt: it.Modified, IngestedAt: now},
			SKU: it.SKU, Description: it.Description, StockItem: it.StockItem,
			UnitCost: it.UnitCost, Currency: it.Currency, Active: it.Active,
		}
		if it.ClarusCode != "" {
			ev.ClarusCode = &it.ClarusCode
		}
		v, err := s.serde.Encode(ctx, ev)
		if err != nil {
			return page{}, fmt.Errorf("prima: source: encode item %s: %w", it.SKU, err)
		}
		recs = append(recs, &kgo.Record{Topic: s.itemsTopic, Key: []byte(it.SKU), Value: v})
	}
	return page{recs: recs, next: next, events: len(recs), more: len(recs) >= s.cfg.PageSize}, nil
}

func (s *Source) levelsPage(ctx context.Context, since Cursor) (page, error) {
	levels, next, err := s.api.StockLevels(ctx, since, s.cfg.PageSize)
	if err != nil {
		return page{}, err
	}
	now := s.o.Clock.Now().UTC()
	recs := make([]*kgo.Record, 0, len(levels))
	for _, l := range levels {
		key := schemas.StockKey(l.SKU, l.Warehouse)
		v, err := s.serde.Encode(ctx, &schemas.PrimaStockLevel{
			Meta: schemas.Meta{EventID: "prima:stock-level:" + key + ":" + wire.FormatTime(l.Modified),
				Source: schemas.SourcePrima, OccurredAt: l.Modified, IngestedAt: now},
			SKU: l.SKU, Warehouse: l.Warehouse, Available: l.Available, OnHand: l.OnHand, AsOf: l.Modified,
		})
		if err != nil {
			return page{}, fmt.Errorf("prima: source: encode stock level %s: %w", key, err)
		}
		recs = append(recs, &kgo.Record{Topic: s.levelsTopic, Key: []byte(key), Value: v})
	}
	return page{recs: recs, next: next, events: len(recs), more: len(recs) >= s.cfg.PageSize}, nil
}

// commit produces a page's events and the cursor after them in one
// transaction: both land, or neither does. When the outcome is unknown the
// cursors are read again before the next page, and the source is not ready
// until then.
func (s *Source) commit(ctx context.Context, key string, next Cursor, recs []*kgo.Record) error {
	cv, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := s.tx.Commit(ctx, key, cv, recs...); err != nil {
		if !s.tx.Loaded() {
			s.o.setReady(false)
		}
		return &commitError{fmt.Errorf("prima: source: %s page: %w", key, err)}
	}
	return nil
}

// commitError is a page Kafka did not take: no feed can commit then.
type commitError struct{ err error }

func (e *commitError) Error() string { return e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }
