package clarus

import (
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

	"github.com/lockstep-dev/lockstep/connectors/clock"
	"github.com/lockstep-dev/lockstep/connectors/cursor"
	"github.com/lockstep-dev/lockstep/schemas"
)

// ShipmentSource reads Clarus shipments through GraphQL and produces one
// event per shipment to clarus.shipments, committing each page together
// with its cursor on lockstep.source-cursors in one Kafka transaction.
//
// Every ShipmentSweepInterval it pages through the shipments dispatched
// since the last sweep began, less ShipmentSweepOverlap. The receiver
// reports a goods out's shipments when it completes; the source reports a
// partial shipment as it leaves, and one whose webhook never came. Both
// produce the same event id for a shipment, which consumers keep once.
// It also produces each dispatched shipment's picks, dated when it left,
// under the movement ids the receiver uses (the fold keeps each once): a
// partial shipment raises no webhook until its goods out completes, and
// without its picks the stock sweep would see the units gone, the fold
// not, and report a feed gap.
type ShipmentSource struct {
	cfg   Config
	api   *Client
	serde *schemas.Serde
	tx    *cursor.Committer
	ships shipmentMapper
	topic string
	moves string // clarus.stock-movements
	o     Options

	cur ShipmentCursor
}

// ShipmentSweepStats says what one shipment sweep did.
type ShipmentSweepStats struct {
	Resumed   bool // continued a sweep a previous run left in progress
	Pages     int  // committed by this call
	Shipments int  // events produced
	Known     int  // shipments read again whose events were produced before
	Skipped   int  // shipments left out: not lockstep's, or not readable
}

// NewShipmentSource validates and returns a source that produces with a
// transactional client built from kopts (seed brokers, TLS, SASL). Run
// opens the client and closes it before returning; a caller that drives
// Sweep itself (tests) releases it with Close. o.TransactionalID must be
// the source's own: empty, it is lockstep-clarus-shipments-<subdomain>
// after the topic prefix; the stock sweep's is refused, as the two would
// fence each other.
func NewShipmentSource(cfg Config, api *Client, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*ShipmentSource, error) {
	if api == nil || serde == nil {
		return nil, errors.New("clarus: shipment source: needs an API client and a serde")
	}
	if whs := cfg.warehouseCodes(); len(whs) == 0 || len(whs) != len(cfg.Warehouses) {
		return nil, fmt.Errorf("clarus: shipment source: %sWAREHOUSES: want valid id=code pairs (validate the configuration first)", EnvPrefix)
	}
	if cfg.PageSize <= 0 {
		return nil, fmt.Errorf("clarus: shipment source: %sPAGE_SIZE must be positive", EnvPrefix)
	}
	if o.TransactionalID == "" {
		o.TransactionalID = o.TopicPrefix + "lockstep-clarus-shipments-" + cfg.Subdomain
	}
	if strings.HasSuffix(o.TransactionalID, "lockstep-clarus-sweep-"+cfg.Subdomain) {
		return nil, fmt.Errorf("clarus: shipment source: transactional id %q is the stock sweep's: the two would fence each other", o.TransactionalID)
	}
	o = o.withDefaults(cfg)
	tx, err := cursor.NewCommitter(cursor.Config{Topic: o.TopicPrefix + schemas.TopicSourceCursors,
		TransactionalID: o.TransactionalID, Logger: o.Logger}, kopts...)
	if err != nil {
		return nil, fmt.Errorf("clarus: shipment source: %w", err)
	}
	return &ShipmentSource{cfg: cfg, api: api, serde: serde, tx: tx, ships: newShipmentMapper(cfg),
		topic: o.TopicPrefix + schemas.TopicShipments, moves: o.TopicPrefix + schemas.TopicStockMovements, o: o}, nil
}

// Close releases the Kafka client Sweep opened; Run needs no Close.
func (s *ShipmentSource) Close() { s.tx.Close() }

// Cursor returns the last committed cursor (after Sweep or Run loaded it).
func (s *ShipmentSource) Cursor() ShipmentCursor { return s.cur }

// Run sweeps every ShipmentSweepInterval until ctx ends. A failed sweep is
// logged and resumed from its cursor after a pause; only a fenced producer
// (another source took over) stops it.
func (s *ShipmentSource) Run(ctx context.Context) error {
	defer s.Close()
	defer s.o.setReady(false)
	interval := s.cfg.shipmentInterval()
	for ctx.Err() == nil {
		if err := s.load(ctx); err != nil {
			s.o.Logger.Error("clarus shipment source: reading the cursor failed", "err", err)
			_ = clock.Sleep(ctx, s.o.Clock, 30*time.Second)
			continue
		}
		due := s.o.Clock.Now()
		if !s.cur.InProgress && !s.cur.LastStart.IsZero() {
			due = s.cur.LastStart.Add(interval)
		}
		if err := clock.Sleep(ctx, s.o.Clock, due.Sub(s.o.Clock.Now())); err != nil {
			break
		}
		st, err := s.Sweep(ctx)
		switch {
		case err == nil:
			s.o.Logger.Debug("clarus shipment sweep completed", "pages", st.Pages, "shipments", st.Shipments, "known", st.Known, "skipped", st.Skipped)
		case ctx.Err() != nil:
		case errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
			return fmt.Errorf("clarus: shipment source: %w", err)
		default:
			s.o.Logger.Error("clarus shipment sweep failed; it resumes from its cursor", "err", err, "pages", st.Pages)
			_ = clock.Sleep(ctx, s.o.Clock, min(interval, time.Minute))
		}
	}
	return nil
}

// load reads the committed cursor once per client: after a restart, and
// after a transaction whose outcome is unknown. It fences a previous
// incarnation first, so a page it left uncommitted is aborted, never
// resumed from.
func (s *ShipmentSource) load(ctx context.Context) error {
	if s.tx.Loaded() {
		return nil
	}
	vals, err := s.tx.Load(ctx, ShipmentCursorKey)
	if err != nil {
		return fmt.Errorf("clarus: shipment source: read cursor: %w", err)
	}
	cur, found, err := decodeShipmentCursor(vals)
	if err != nil {
		return fmt.Errorf("clarus: shipment source: read cursor: %w", err)
	}
	s.cur = cur
	s.o.setReady(true)
	s.o.Logger.Info("clarus shipment cursor loaded", "found", found, "in_progress", cur.InProgress, "since", cur.Since)
	return nil
}

// Sweep runs one sweep to its end: the one in progress if a previous run
// left one, else a new one.
func (s *ShipmentSource) Sweep(ctx context.Context) (st ShipmentSweepStats, err error) {
	defer func() {
		outcome := "completed"
		if err != nil {
			outcome = "failed"
		}
		s.o.Metrics.shipmentSweeps.WithLabelValues(outcome).Inc()
	}()
	if err := s.load(ctx); err != nil {
		return st, err
	}
	cur := s.cur
	st.Resumed = cur.InProgress
	if !cur.InProgress {
		cur = cur.begin(s.o.Clock.Now().UTC(), s.cfg.shipmentOverlap())
	}
	for cur.InProgress {
		next, recs, err := s.page(ctx, cur, &st)
		if err != nil {
			return st, err
		}
		cv, err := json.Marshal(next)
		if err != nil {
			return st, err
		}
		if err := s.tx.Commit(ctx, ShipmentCursorKey, cv, recs...); err != nil {
			return st, fmt.Errorf("clarus: shipment source: page %d: %w", next.Pages, err)
		}
		s.cur, cur = next, next
		st.Pages++
		for _, r := range recs {
			if r.Topic == s.topic { // the rest are the shipments' picks
				st.Shipments++
			}
		}
		s.o.Metrics.shipments.WithLabelValues("sweep").Add(float64(len(recs)))
	}
	return st, nil
}

// page reads the next page of the sweep cur describes and returns the
// cursor after it with the page's events.
func (s *ShipmentSource) page(ctx context.Context, cur ShipmentCursor, st *ShipmentSweepStats) (ShipmentCursor, []*kgo.Record, error) {
	p, err := s.api.Shipments(ctx, ShipmentQuery{From: cur.From, First: s.cfg.PageSize, After: cur.After})
	if err != nil {
		return cur, nil, err
	}
	if p.HasNextPage && p.EndCursor == cur.After {
		return cur, nil, fmt.Errorf("clarus: shipment source: page after %q ends where it started", cur.After)
	}
	next := cur
	next.Sent = maps.Clone(cur.Sent)
	if next.Sent == nil {
		next.Sent = map[string]time.Time{}
	}
	if next.StartedAt.IsZero() {
		next.StartedAt = p.ReadAt
	}
	now := s.o.Clock.Now().UTC()
	// The events to produce, read once without the picked units, which
	// take a request of their own: only for the goods outs that need them.
	var todo []Shipment
	for _, sh := range p.Shipments {
		sp, skip, err := s.ships.read(sh, nil, now)
		switch {
		case err != nil:
			st.Skipped++
			s.o.Metrics.shipmentsSkipped.WithLabelValues("invalid").Inc()
			s.o.Logger.Error("clarus shipment source: a shipment lockstep cannot read is left out", "shipment_id", sh.ID, "err", err)
		case skip != "":
			st.Skipped++
			s.o.Metrics.shipmentsSkipped.WithLabelValues("not_ours").Inc()
		case hasKey(next.Sent, sp.event.EventID):
			st.Known++
		default:
			todo = append(todo, sh)
		}
	}
	picked, err := s.picked(ctx, todo)
	if err != nil {
		return cur, nil, err
	}
	var recs []*kgo.Record
	for _, sh := range todo {
		sp, _, _ := s.ships.read(sh, picked[sh.GoodsOutID], now)
		v, err := s.serde.Encode(ctx, &sp.event)
		if err != nil {
			return cur, nil, err
		}
		recs = append(recs, &kgo.Record{Topic: s.topic, Key: []byte(sp.event.OrderRef), Value: v})
		for _, m := range sp.picks() {
			m.IngestedAt = now
			v, err := s.serde.Encode(ctx, &m)
			if err != nil {
				return cur, nil, err
			}
			recs = append(recs, &kgo.Record{Topic: s.moves, Key: []byte(schemas.StockKey(m.SKU, m.Warehouse)), Value: v})
		}
		next.Sent[sp.event.EventID] = sp.event.OccurredAt
	}
	if p.EndCursor != "" {
		next.After = p.EndCursor
	}
	next.Pages++
	if !p.HasNextPage {
		next.complete(s.cfg.shipmentOverlap())
	}
	return next, recs, nil
}

// picked returns the units picked for the goods outs of ss, by goods-out
// id and product code.
func (s *ShipmentSource) picked(ctx context.Context, ss []Shipment) (map[string]map[string]int64, error) {
	out := map[string]map[string]int64{}
	var ids []string
	for _, sh := range ss {
		if !slices.Contains(ids, sh.GoodsOutID) {
			ids = append(ids, sh.GoodsOutID)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	lines, err := s.api.GoodsOutLines(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("clarus: shipment source: goods-out lines: %w", err)
	}
	for _, l := range lines {
		if out[l.GoodsOutID] == nil {
			out[l.GoodsOutID] = map[string]int64{}
		}
		if code, err := Identifier("code", l.ProductCode); err == nil {
			out[l.GoodsOutID][code] += l.PickQuantity
		}
	}
	return out, nil
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}
