package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The loader's SQL only selects; which event of a shipment or note is the
// latest, and what that means, is decided in Go, where it is tested without
// a server. The shipment and note queries filter on columns that every
// copy of a row shares (copies are one event inserted twice), so FINAL
// collapses them whatever the filter; items are versions that differ, so
// the latest is taken with argMax over all of them instead.
//
// Times are bound as Unix seconds inside toDateTime(?): clickhouse-go binds
// a time.Time as DateTime64 where it sees sub-seconds, which 18.16 lacks.

// dayShipments and dayNotes are subqueries: the ids that have an event on
// the day. Each takes the day's start and end.
const (
	dayShipments = `SELECT shipment_id FROM shipment_lines
        WHERE dispatched_at >= toDateTime(?) AND dispatched_at < toDateTime(?)`
	dayNoteRefs = `SELECT reference FROM despatch_note_lines
        WHERE status = 'created' AND occurred_at >= toDateTime(?) AND occurred_at < toDateTime(?)`
	dayNoteIDs = `SELECT note_id FROM despatch_note_lines
        WHERE status = 'created' AND occurred_at >= toDateTime(?) AND occurred_at < toDateTime(?)`
	dayOrders = `SELECT order_ref FROM shipment_lines
        WHERE dispatched_at >= toDateTime(?) AND dispatched_at < toDateTime(?)`
)

// The events of the day's shipments and of the shipments the day's notes
// refer to.
const selectShipments = `SELECT shipment_id, event_id, line_no, order_ref, goods_out_id, warehouse, status,
    clarus_code, quantity, dispatched_at, ingested_at, kafka_offset
FROM shipment_lines FINAL
WHERE shipment_id IN (` + dayShipments + `) OR shipment_id IN (` + dayNoteRefs + `)`

// The created events of the day's notes and of the notes that refer to the
// day's shipments.
const selectNotes = `SELECT note_id, event_id, line_no, reference, order_ref, sku, quantity,
    occurred_at, ingested_at, kafka_offset
FROM despatch_note_lines FINAL
WHERE status = 'created' AND (note_id IN (` + dayNoteIDs + `) OR reference IN (` + dayShipments + `))`

// The latest version of every item. prima.items is keyed by SKU, so the
// offsets of one SKU's versions are comparable.
const selectItems = `SELECT sku,
    argMax(clarus_code, (version, kafka_offset)),
    argMax(unit_cost, (version, kafka_offset)),
    argMax(currency, (version, kafka_offset)),
    argMax(active, (version, kafka_offset)),
    argMax(stock_item, (version, kafka_offset))
FROM items
GROUP BY sku`

// The open discrepancies that say why a shipment of the day has no note
// (see Cover): each discrepancy's latest event, as drift_current orders
// them.
const selectCovers = `SELECT discrepancy_id,
    argMax(shipment_id, (occurred_at, kafka_offset)),
    argMax(order_ref, (occurred_at, kafka_offset))
FROM drift_events
WHERE discrepancy_id IN (
    SELECT discrepancy_id FROM drift_events
    WHERE kind IN ('missing_despatch', 'despatch_post_failed', 'shipment_without_order')
      AND (shipment_id IN (` + dayShipments + `) OR order_ref IN (` + dayOrders + `)))
GROUP BY discrepancy_id
HAVING argMax(status, (occurred_at, kafka_offset)) != 'resolved'
   AND argMax(kind, (occurred_at, kafka_offset)) IN ('missing_despatch', 'despatch_post_failed', 'shipment_without_order')`

// How far each feed has come.
const selectWatermarks = `SELECT
    (SELECT max(dispatched_at) FROM shipment_lines),
    (SELECT max(occurred_at) FROM despatch_note_lines)`

// Load reads the facts of day (its 00:00 UTC) from the fact tables.
func Load(ctx context.Context, conn driver.Conn, day time.Time) (Facts, error) {
	f := Facts{Day: day}
	from, to := day.Unix(), day.AddDate(0, 0, 1).Unix()
	var err error
	if f.Shipments, err = loadShipments(ctx, conn, from, to); err != nil {
		return Facts{}, err
	}
	if f.Notes, err = loadNotes(ctx, conn, from, to); err != nil {
		return Facts{}, err
	}
	if f.Items, err = loadItems(ctx, conn); err != nil {
		return Facts{}, err
	}
	if f.Covers, err = loadCovers(ctx, conn, from, to); err != nil {
		return Facts{}, err
	}
	var ship, note time.Time
	if err := conn.QueryRow(ctx, selectWatermarks).Scan(&ship, &note); err != nil {
		return Facts{}, fmt.Errorf("reconcile: read watermarks: %w", err)
	}
	f.Watermark = watermark(ship, note, day.AddDate(0, 0, 1))
	return f, nil
}

// watermark is the lower of the feeds' latest times, capped at end.
func watermark(ship, note, end time.Time) time.Time {
	return slices.MinFunc([]time.Time{ship.UTC(), note.UTC(), end.UTC()}, time.Time.Compare)
}

// event is one event of a shipment or a note, with its lines.
type event[H any] struct {
	head           H // the entity as this event describes it, without lines
	id             string
	at, ingestedAt time.Time
	cancelled      bool
	offset         int64
	lines          []Qty
}

// later orders events: by time, a cancellation after a confirmation at the
// same second, then by ingestion and offset, then by id so that the choice
// never depends on the order rows arrive in.
func later[H any](a, b *event[H]) int {
	return cmp.Or(a.at.Compare(b.at), cmpBool(a.cancelled, b.cancelled), a.ingestedAt.Compare(b.ingestedAt),
		cmp.Compare(a.offset, b.offset), cmp.Compare(a.id, b.id))
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// events gathers the rows of many entities' events: entity id -> event id
// -> event.
type events[H any] map[string]map[string]*event[H]

// add returns the event of entity id with event id e.id, creating it from e.
func (es events[H]) add(id string, e event[H]) *event[H] {
	if es[id] == nil {
		es[id] = map[string]*event[H]{}
	}
	if es[id][e.id] == nil {
		es[id][e.id] = &e
	}
	return es[id][e.id]
}

// latest calls f with each entity's latest event and its first event's
// time, in entity id order.
func (es events[H]) latest(f func(e *event[H], first time.Time)) {
	for _, id := range slices.Sorted(maps.Keys(es)) {
		var last *event[H]
		var first time.Time
		for _, e := range es[id] {
			if last == nil || later(e, last) > 0 {
				last = e
			}
			if first.IsZero() || e.at.Before(first) {
				first = e.at
			}
		}
		slices.SortFunc(last.lines, func(a, b Qty) int { return cmp.Or(cmp.Compare(a.Code, b.Code), cmp.Compare(a.Quantity, b.Quantity)) })
		f(last, first)
	}
}

func loadShipments(ctx context.Context, conn driver.Conn, from, to int64) ([]Shipment, error) {
	rows, err := conn.Query(ctx, selectShipments, from, to, from, to)
	if err != nil {
		return nil, fmt.Errorf("reconcile: read shipments: %w", err)
	}
	defer rows.Close()
	es := events[Shipment]{}
	for rows.Next() {
		var (
			e      event[Shipment]
			lineNo uint32
			l      Qty
		)
		s := &e.head
		if err := rows.Scan(&s.ID, &e.id, &lineNo, &s.OrderRef, &s.GoodsOutID, &s.Warehouse, &s.Status,
			&l.Code, &l.Quantity, &e.at, &e.ingestedAt, &e.offset); err != nil {
			return nil, fmt.Errorf("reconcile: read shipments: %w", err)
		}
		e.at, e.cancelled = e.at.UTC(), s.Status != "confirmed"
		ev := es.add(s.ID, e)
		if lineNo > 0 {
			ev.lines = append(ev.lines, l)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconcile: read shipments: %w", err)
	}
	var out []Shipment
	es.latest(func(e *event[Shipment], _ time.Time) {
		s := e.head
		s.DispatchedAt, s.Lines = e.at, e.lines
		out = append(out, s)
	})
	return out, nil
}

func loadNotes(ctx context.Context, conn driver.Conn, from, to int64) ([]Note, error) {
	rows, err := conn.Query(ctx, selectNotes, from, to, from, to)
	if err != nil {
		return nil, fmt.Errorf("reconcile: read despatch notes: %w", err)
	}
	defer rows.Close()
	es := events[Note]{}
	for rows.Next() {
		var (
			e      event[Note]
			lineNo uint32
			l      Qty
		)
		n := &e.head
		if err := rows.Scan(&n.ID, &e.id, &lineNo, &n.Reference, &n.OrderRef, &l.Code, &l.Quantity,
			&e.at, &e.ingestedAt, &e.offset); err != nil {
			return nil, fmt.Errorf("reconcile: read despatch notes: %w", err)
		}
		e.at = e.at.UTC()
		ev := es.add(n.ID, e)
		if lineNo > 0 {
			ev.lines = append(ev.lines, l)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconcile: read despatch notes: %w", err)
	}
	var out []Note
	es.latest(func(e *event[Note], first time.Time) {
		n := e.head
		n.CreatedAt, n.Lines = first, e.lines
		out = append(out, n)
	})
	return out, nil
}

func loadItems(ctx context.Context, conn driver.Conn) ([]Item, error) {
	rows, err := conn.Query(ctx, selectItems)
	if err != nil {
		return nil, fmt.Errorf("reconcile: read items: %w", err)
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		var (
			it            Item
			active, stock uint8
		)
		if err := rows.Scan(&it.SKU, &it.ClarusCode, &it.UnitCost, &it.Currency, &active, &stock); err != nil {
			return nil, fmt.Errorf("reconcile: read items: %w", err)
		}
		it.Active, it.StockItem = active == 1, stock == 1
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconcile: read items: %w", err)
	}
	return out, nil
}

func loadCovers(ctx context.Context, conn driver.Conn, from, to int64) ([]Cover, error) {
	rows, err := conn.Query(ctx, selectCovers, from, to, from, to)
	if err != nil {
		return nil, fmt.Errorf("reconcile: read open drift: %w", err)
	}
	defer rows.Close()
	var out []Cover
	for rows.Next() {
		var c Cover
		if err := rows.Scan(&c.DiscrepancyID, &c.ShipmentID, &c.OrderRef); err != nil {
			return nil, fmt.Errorf("reconcile: read open drift: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconcile: read open drift: %w", err)
	}
	return out, nil
}
