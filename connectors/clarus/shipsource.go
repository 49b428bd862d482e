package clarus

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// ShipmentSource reads Clarus shipments through GraphQL and produces one
// event per shipment to clarus.shipments, committing each page together
// with its cursor on lockstep.source-cursors in one Kafka transaction: a
// window sweep (window.go), as the receipt source is.
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
	*windowSweep
	cfg   Config
	api   *Client
	serde *schemas.Serde
	ships shipmentMapper
	topic string
	moves string // clarus.stock-movements
}

// ShipmentSweepStats says what one shipment sweep did; Events are the
// shipments reported.
type ShipmentSweepStats = WindowStats

// NewShipmentSource validates and returns a source that produces with a
// transactional client built from kopts (seed brokers, TLS, SASL). Run
// opens the client and closes it before returning; a caller that drives
// Sweep itself (tests) releases it with Close. o.TransactionalID must be
// the source's own: empty, it is lockstep-clarus-shipments-<subdomain>
// after the topic prefix; the stock sweep's is refused, as the two would
// fence each other.
func NewShipmentSource(cfg Config, api *Client, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*ShipmentSource, error) {
	w, err := newWindowSweep("shipment source", "lockstep-clarus-shipments-", ShipmentCursorKey, cfg.shipmentInterval(), cfg.shipmentOverlap(),
		cfg, api, serde, o, func(m *Metrics) sourceMetrics { return m.shipments }, kopts)
	if err != nil {
		return nil, err
	}
	s := &ShipmentSource{windowSweep: w, cfg: cfg, api: api, serde: serde, ships: newShipmentMapper(cfg),
		topic: w.o.TopicPrefix + schemas.TopicShipments, moves: w.o.TopicPrefix + schemas.TopicStockMovements}
	s.read = s.page
	return s, nil
}

// Run sweeps every ShipmentSweepInterval until ctx ends. A failed sweep is
// logged and resumed from its cursor after a pause; only a fenced producer
// (another source took over) stops it.
func (s *ShipmentSource) Run(ctx context.Context) error { return s.run(ctx) }

// Sweep runs one sweep to its end: the one in progress if a previous run
// left one, else a new one.
func (s *ShipmentSource) Sweep(ctx context.Context) (ShipmentSweepStats, error) { return s.sweep(ctx) }

// page reads the next page of the sweep cur describes: the shipments'
// events and the picks of those dispatched.
func (s *ShipmentSource) page(ctx context.Context, cur ShipmentCursor) (windowPage, error) {
	p, err := s.api.Shipments(ctx, ShipmentQuery{From: cur.From, First: s.cfg.PageSize, After: cur.After})
	if err != nil {
		return windowPage{}, err
	}
	out := windowPage{ReadAt: p.ReadAt, HasNextPage: p.HasNextPage, EndCursor: p.EndCursor, Sent: map[string]time.Time{}}
	now := s.o.Clock.Now().UTC()
	// The events to produce, read once without the picked units, which
	// take a request of their own: only for the goods outs that need them.
	var todo []Shipment
	for _, sh := range p.Shipments {
		sp, skip, err := s.ships.read(sh, nil, now)
		switch {
		case err != nil:
			out.Skipped++
			s.m.skipped.WithLabelValues("invalid").Inc()
			s.o.Logger.Error("clarus shipment source: a shipment lockstep cannot read is left out", "shipment_id", sh.ID, "err", err)
		case skip != "":
			out.Skipped++
			s.m.skipped.WithLabelValues("not_ours").Inc()
		case hasKey(cur.Sent, sp.event.EventID):
			out.Known++
		default:
			todo = append(todo, sh)
		}
	}
	picked, err := s.picked(ctx, todo)
	if err != nil {
		return windowPage{}, err
	}
	for _, sh := range todo {
		sp, _, _ := s.ships.read(sh, picked[sh.GoodsOutID], now)
		v, err := s.serde.Encode(ctx, &sp.event)
		if err != nil {
			return windowPage{}, err
		}
		out.Records = append(out.Records, &kgo.Record{Topic: s.topic, Key: []byte(sp.event.OrderRef), Value: v})
		for _, m := range sp.picks() {
			m.IngestedAt = now
			v, err := s.serde.Encode(ctx, &m)
			if err != nil {
				return windowPage{}, err
			}
			out.Records = append(out.Records, &kgo.Record{Topic: s.moves, Key: []byte(schemas.StockKey(m.SKU, m.Warehouse)), Value: v})
		}
		out.Sent[sp.event.EventID] = sp.event.OccurredAt
		out.Events++
	}
	return out, nil
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
