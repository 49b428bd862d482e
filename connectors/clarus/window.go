package clarus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/clock"
	"github.com/lockstep-dev/lockstep/connectors/cursor"
	"github.com/lockstep-dev/lockstep/schemas"
)

// A window sweep pages through the records Clarus dated since the last
// sweep began, less an overlap (shipments by dispatched_at, goods-in
// receipts by actual_date_of_receipt), and produces an event per record,
// committing each page with its cursor on lockstep.source-cursors in one
// Kafka transaction. The shipment source and the receipt source are window
// sweeps: what they read and produce is theirs, the schedule, the cursor
// and the transactions are here.

// maxSent bounds the events a cursor remembers: past it, the overlap's
// records are produced again, which consumers drop by event id, rather
// than the cursor growing without end.
const maxSent = 10_000

// WindowCursor is a window sweep's progress, committed with every page of
// events in one transaction: a restarted sweep resumes after the last
// committed page, and never reports a record twice unless the cursor forgot
// it (maxSent).
type WindowCursor struct {
	// InProgress is set while a sweep is under way. From is its lower
	// bound on the records' dates, After the end cursor of its last
	// committed page, StartedAt the server's clock at its first page,
	// LocalStart lockstep's clock when it began.
	InProgress bool      `json:"in_progress"`
	From       time.Time `json:"from,omitzero"`
	After      string    `json:"after,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	LocalStart time.Time `json:"local_start,omitzero"`
	Pages      int       `json:"pages,omitempty"`
	// Since is the server's clock at the first page of the last completed
	// sweep: the next one reads the records dated from Since, less the
	// overlap (a record may be listed later than it is dated).
	Since time.Time `json:"since,omitzero"`
	// LastStart is lockstep's clock at the start of the last completed
	// sweep: the schedule survives restarts.
	LastStart time.Time `json:"last_start,omitzero"`
	// Sent are the events produced that a later sweep may read again (their
	// records are dated in its overlap), by event id, with each record's
	// date.
	Sent map[string]time.Time `json:"sent,omitempty"`
}

// begin starts the sweep after c at now, reading from c's Since less
// overlap. A source that never completed a sweep starts overlap before
// now: the tenant's past is not lockstep's to report (a despatch note
// would reach Prima for each old shipment).
func (c WindowCursor) begin(now time.Time, overlap time.Duration) WindowCursor {
	from := c.Since.Add(-overlap)
	if c.Since.IsZero() {
		from = now.Add(-overlap)
	}
	return WindowCursor{InProgress: true, From: from, LocalStart: now, Since: c.Since, LastStart: c.LastStart, Sent: maps.Clone(c.Sent)}
}

// complete ends the sweep c describes, forgetting the events the next
// sweep cannot read again.
func (c *WindowCursor) complete(overlap time.Duration) {
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

// decodeWindowCursor decodes the committed cursor under key, if any, from
// the values the cursor topic holds.
func decodeWindowCursor(key string, vals map[string][]byte) (WindowCursor, bool, error) {
	v, ok := vals[key]
	if !ok {
		return WindowCursor{}, false, nil
	}
	var c WindowCursor
	if err := json.Unmarshal(v, &c); err != nil {
		return WindowCursor{}, false, fmt.Errorf("cursor %s: %w", key, err)
	}
	return c, true, nil
}

// windowPage is one page a window sweep read, and what it makes of it.
type windowPage struct {
	ReadAt      time.Time // the server's clock when it read the page
	HasNextPage bool
	EndCursor   string
	Records     []*kgo.Record
	// Sent are the events Records carry that a later sweep may read again,
	// by event id, with their records' dates.
	Sent map[string]time.Time
	// Events are the records' events (Records may hold more: a shipment's
	// picks), Known the records whose events were produced before, Skipped
	// those left out.
	Events, Known, Skipped int
}

// WindowStats says what one window sweep did.
type WindowStats struct {
	Resumed bool // continued a sweep a previous run left in progress
	Pages   int  // committed by this call
	Events  int  // events produced
	Known   int  // records read again whose events were produced before
	Skipped int  // records left out: not lockstep's, or not readable
}

// windowSweep is the machinery of a window sweep; a source embeds it and
// sets read.
type windowSweep struct {
	name              string // "shipment source", in logs and errors
	key               string // the cursor's key on lockstep.source-cursors
	interval, overlap time.Duration
	tx                *cursor.Committer
	o                 Options
	m                 sourceMetrics
	// read reads the page after cur (cur.From, cur.After; cur.Sent are the
	// events produced already) and says what to produce for it.
	read func(ctx context.Context, cur WindowCursor) (windowPage, error)

	cur WindowCursor
}

// newWindowSweep validates what every window source needs (a client, a
// serde, the warehouses, a page size), fills o's defaults and its
// TransactionalID (txPrefix+subdomain after the topic prefix when empty;
// the stock sweep's is refused, as the two would fence each other), and
// returns the sweep under key, counting in m. The source sets read.
func newWindowSweep(name, txPrefix, key string, interval, overlap time.Duration, cfg Config, api *Client, serde *schemas.Serde,
	o Options, m func(*Metrics) sourceMetrics, kopts []kgo.Opt) (*windowSweep, error) {
	if api == nil || serde == nil {
		return nil, fmt.Errorf("clarus: %s: needs an API client and a serde", name)
	}
	if whs := cfg.warehouseCodes(); len(whs) == 0 || len(whs) != len(cfg.Warehouses) {
		return nil, fmt.Errorf("clarus: %s: %sWAREHOUSES: want valid id=code pairs (validate the configuration first)", name, EnvPrefix)
	}
	if cfg.PageSize <= 0 {
		return nil, fmt.Errorf("clarus: %s: %sPAGE_SIZE must be positive", name, EnvPrefix)
	}
	if o.TransactionalID == "" {
		o.TransactionalID = o.TopicPrefix + txPrefix + cfg.Subdomain
	}
	if strings.HasSuffix(o.TransactionalID, "lockstep-clarus-sweep-"+cfg.Subdomain) {
		return nil, fmt.Errorf("clarus: %s: transactional id %q is the stock sweep's: the two would fence each other", name, o.TransactionalID)
	}
	o = o.withDefaults(cfg)
	tx, err := cursor.NewCommitter(cursor.Config{Topic: o.TopicPrefix + schemas.TopicSourceCursors, TransactionalID: o.TransactionalID, Logger: o.Logger}, kopts...)
	if err != nil {
		return nil, fmt.Errorf("clarus: %s: %w", name, err)
	}
	sm := m(o.Metrics)
	return &windowSweep{name: name, key: key, interval: interval, overlap: overlap, tx: tx, o: o, m: sm}, nil
}

// Close releases the Kafka client Sweep opened; Run needs no Close.
func (w *windowSweep) Close() { w.tx.Close() }

// run sweeps every interval until ctx ends. A failed sweep is logged and
// resumed from its cursor after a pause; only a fenced producer (another
// source took over) stops it.
func (w *windowSweep) run(ctx context.Context) error {
	defer w.Close()
	defer w.o.setReady(false)
	for ctx.Err() == nil {
		if err := w.load(ctx); err != nil {
			w.o.Logger.Error("clarus "+w.name+": reading the cursor failed", "err", err)
			_ = clock.Sleep(ctx, w.o.Clock, 30*time.Second)
			continue
		}
		due := w.o.Clock.Now()
		if !w.cur.InProgress && !w.cur.LastStart.IsZero() {
			due = w.cur.LastStart.Add(w.interval)
		}
		if err := clock.Sleep(ctx, w.o.Clock, due.Sub(w.o.Clock.Now())); err != nil {
			break
		}
		st, err := w.sweep(ctx)
		switch {
		case err == nil:
			w.o.Logger.Debug("clarus "+w.name+" sweep completed", "pages", st.Pages, "events", st.Events, "known", st.Known, "skipped", st.Skipped)
		case ctx.Err() != nil:
		case errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
			return fmt.Errorf("clarus: %s: %w", w.name, err)
		default:
			w.o.Logger.Error("clarus "+w.name+" sweep failed; it resumes from its cursor", "err", err, "pages", st.Pages)
			_ = clock.Sleep(ctx, w.o.Clock, min(w.interval, time.Minute))
		}
	}
	return nil
}

// load reads the committed cursor once per client: after a restart, and
// after a transaction whose outcome is unknown. It fences a previous
// incarnation first, so a page it left uncommitted is aborted, never
// resumed from.
func (w *windowSweep) load(ctx context.Context) error {
	if w.tx.Loaded() {
		return nil
	}
	vals, err := w.tx.Load(ctx, w.key)
	if err != nil {
		return fmt.Errorf("clarus: %s: read cursor: %w", w.name, err)
	}
	cur, found, err := decodeWindowCursor(w.key, vals)
	if err != nil {
		return fmt.Errorf("clarus: %s: read cursor: %w", w.name, err)
	}
	w.cur = cur
	w.o.setReady(true)
	w.o.Logger.Info("clarus "+w.name+": cursor loaded", "found", found, "in_progress", cur.InProgress, "since", cur.Since)
	return nil
}

// sweep runs one sweep to its end: the one in progress if a previous run
// left one, else a new one.
func (w *windowSweep) sweep(ctx context.Context) (st WindowStats, err error) {
	defer func() {
		outcome := "completed"
		if err != nil {
			outcome = "failed"
		}
		w.m.sweeps.WithLabelValues(outcome).Inc()
	}()
	if err := w.load(ctx); err != nil {
		return st, err
	}
	cur := w.cur
	st.Resumed = cur.InProgress
	if !cur.InProgress {
		cur = cur.begin(w.o.Clock.Now().UTC(), w.overlap)
	}
	for cur.InProgress {
		p, err := w.read(ctx, cur)
		if err != nil {
			return st, err
		}
		if p.HasNextPage && p.EndCursor == cur.After {
			return st, fmt.Errorf("clarus: %s: page after %q ends where it started", w.name, cur.After)
		}
		next := cur
		next.Sent = maps.Clone(cur.Sent)
		if next.Sent == nil {
			next.Sent = map[string]time.Time{}
		}
		maps.Copy(next.Sent, p.Sent)
		if next.StartedAt.IsZero() {
			next.StartedAt = p.ReadAt
		}
		if p.EndCursor != "" {
			next.After = p.EndCursor
		}
		next.Pages++
		if !p.HasNextPage {
			next.complete(w.overlap)
		}
		cv, err := json.Marshal(next)
		if err != nil {
			return st, err
		}
		if err := w.tx.Commit(ctx, w.key, cv, p.Records...); err != nil {
			return st, fmt.Errorf("clarus: %s: page %d: %w", w.name, next.Pages, err)
		}
		w.cur, cur = next, next
		st.Pages++
		st.Events, st.Known, st.Skipped = st.Events+p.Events, st.Known+p.Known, st.Skipped+p.Skipped
		w.m.events.WithLabelValues("sweep").Add(float64(p.Events))
	}
	return st, nil
}

// Cursor returns the last committed cursor (after Sweep or Run loaded it).
func (w *windowSweep) Cursor() WindowCursor { return w.cur }
