package prima

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The sales-order feed: each order Prima shows becomes a schemas.SalesOrder
// on prima.sales-orders, keyed by its ref; one the source cannot turn
// into an event goes to lockstep.dlq with why, in the same transaction as
// the page and its cursor, and the feed goes on. The purchase-order feed
// (source_pos.go) works the same way, through the same recordsPage.

// maxEventBytes bounds an encoded sales order or purchase order event.
// Kafka refuses a record over the broker's message.max.bytes (1 MiB by
// default) and the producer's max.request.size, and a refused record
// would fail the page's transaction, again at every poll: the feed would
// stall on one order. Under the limit, with room for the key, headers and
// batch overhead, such an order is dead-lettered instead.
const maxEventBytes = 900 << 10

// maxDeadRawBytes bounds the element text a dead letter carries, for the
// same reason: the letter itself must fit in a Kafka record. A longer
// text is cut, and the reason says so.
const maxDeadRawBytes = 256 << 10

// sourceStage names the source in the DLQ's stage header.
const sourceStage = "prima-source"

func (s *Source) ordersPage(ctx context.Context, since Cursor) (page, error) {
	op, err := s.api.SalesOrders(ctx, since, s.cfg.PageSize)
	if err != nil {
		return page{}, err
	}
	return recordsPage(ctx, s, s.ordersTopic, orderEvents, op.Records, op.Next, op.More)
}

// orderEvents turns sales order records into events for recordsPage.
var orderEvents = deadLettering[OrderRecord]{
	kind: "sales order", probe: schemaProbe,
	record: func(r OrderRecord) (string, int64, time.Time, string, error) {
		return r.Order.Ref, r.Order.Version, r.Order.Modified, r.Raw, r.Err
	},
	event: func(r OrderRecord, now time.Time) (schemas.Event, int, error) {
		ev, err := salesOrderEvent(r.Order, now)
		if err != nil {
			return nil, 0, err
		}
		return ev, len(ev.Lines), nil
	},
}

// schemaProbe is a valid sales order event, encoded to check the schema
// registry answers.
var schemaProbe = &schemas.SalesOrder{Meta: schemas.Meta{EventID: "probe", Source: schemas.SourcePrima},
	Status: schemas.SalesOrderReleased}

// deadLettering says how recordsPage turns the records (R) of a feed whose
// records the source dead-letters into events.
type deadLettering[R any] struct {
	kind  string        // names a record in a reason: "sales order"
	probe schemas.Event // a valid event of the feed
	// record returns what names r, its text and, when it could not be
	// read, why.
	record func(r R) (ref string, version int64, modified time.Time, raw string, err error)
	// event returns r's event and how many lines it has, or why it is
	// none.
	event func(r R, now time.Time) (ev schemas.Event, lines int, err error)
}

// recordsPage is the page of recs, read up to next: each record's event
// on topic, keyed by its ref, or its dead letter with why.
func recordsPage[R any](ctx context.Context, s *Source, topic string, f deadLettering[R], recs []R, next Cursor, more bool) (page, error) {
	p := page{next: next, more: more}
	if len(recs) == 0 {
		return p, nil
	}
	// Encoding fails for the registry's sake (down, refusing the schema)
	// or for the record's. Only the second is the record's fault: check
	// the first before blaming any record for it.
	if _, err := s.serde.Encode(ctx, f.probe); err != nil {
		return page{}, fmt.Errorf("prima: source: encode %s: %w", f.kind, err)
	}
	now := s.o.Clock.Now().UTC()
	for _, r := range recs {
		ref, version, modified, raw, err := f.record(r)
		v, reason := f.value(ctx, s.serde, r, recordName(ref, version, modified), err, now)
		if reason != "" {
			p.recs = append(p.recs, s.deadLetter(ctx, topic, ref, raw, reason, modified, now))
			p.dead = append(p.dead, deadNote{key: ref, reason: reason})
			continue
		}
		p.recs = append(p.recs, &kgo.Record{Topic: topic, Key: []byte(ref), Value: v})
		p.events++
	}
	return p, nil
}

// value encodes r's event, or says why it is none: r is unreadable
// (rerr), its event cannot be made or encoded, or it is too large.
func (f deadLettering[R]) value(ctx context.Context, serde *schemas.Serde, r R, name string, rerr error, now time.Time) ([]byte, string) {
	if rerr != nil {
		return nil, fmt.Sprintf("prima %s %s is unreadable: %v", f.kind, name, rerr)
	}
	ev, lines, err := f.event(r, now)
	if err != nil {
		return nil, fmt.Sprintf("prima %s %s is unreadable: %v", f.kind, name, err)
	}
	v, err := serde.Encode(ctx, ev)
	if err != nil {
		return nil, fmt.Sprintf("prima %s %s cannot be encoded: %v", f.kind, name, err)
	}
	if len(v) > maxEventBytes {
		return nil, fmt.Sprintf("prima %s %s is too large: its event is %d bytes, over the %d-byte limit under Kafka's default 1 MiB message.max.bytes (%d lines)",
			f.kind, name, len(v), maxEventBytes, lines)
	}
	return v, ""
}

// recordName names a record in a reason, as far as it could be read.
func recordName(ref string, version int64, modified time.Time) string {
	name := fmt.Sprintf("%q", cleanMessage(ref))
	if version > 0 {
		name += fmt.Sprintf(" version %d", version)
	}
	if !modified.IsZero() {
		name += " modified " + wire.FormatTime(modified)
	}
	return name
}

// deadLetter is a record element the source could not turn into an
// event, as a dead letter: keyed by its order ref (none when unreadable),
// the element's text raw as the original value, addressed to the topic
// the event was meant for. The record never reached Kafka, so it has no
// partition or offset (-1 for both); its timestamp is the element's
// Modified, at, or now when that is unreadable.
func (s *Source) deadLetter(ctx context.Context, topic, key, raw, reason string, at, now time.Time) *kgo.Record {
	// The element's content names the letter: the same bad element
	// dead-lettered again (a poll repeated after a failed commit) has the
	// same id, another one another.
	sum := sha256.Sum256([]byte(raw))
	id := fmt.Sprintf("%s/%s", topic, hex.EncodeToString(sum[:12]))
	if len(raw) > maxDeadRawBytes {
		reason += fmt.Sprintf("; the element's text is cut to its first %d of %d bytes", maxDeadRawBytes, len(raw))
		raw = wire.CutUTF8(raw, maxDeadRawBytes)
	}
	orig := &kgo.Record{Topic: topic, Partition: -1, Offset: -1, Timestamp: at, Value: []byte(raw)}
	if orig.Timestamp.IsZero() {
		orig.Timestamp = now
	}
	if key != "" {
		orig.Key = []byte(key)
	}
	l := deadletter.Letter{Record: orig, Reason: reason, Stage: sourceStage, FailedAt: now, ID: id}
	rec, err := deadletter.Record(ctx, s.dlqTopic, l, deadletter.Avro(s.serde))
	if err != nil {
		s.o.Logger.Warn("prima source: dead letter envelope failed; keeping the element's text", "err", err)
	}
	return rec
}

// The despatch-note feed: every note Prima holds becomes a
// schemas.DespatchNote (created) on prima.despatch-notes, keyed by its
// order ref, whoever made it: the despatch sink, or a person in Prima's
// screens under a reference of their choosing. This read-back, not the
// sink's own success, is what confirms a shipment to the fulfilment
// join: a post Prima answered OK and did not keep never shows up here,
// and the join's SLA opens missing_despatch for it. A note that cannot be
// read goes to lockstep.dlq in the page's transaction, and the feed goes
// on.

// notesPage reads one page of despatch notes after since.
func (s *Source) notesPage(ctx context.Context, since Cursor) (page, error) {
	dp, err := s.api.DespatchNotes(ctx, since, s.cfg.PageSize)
	if err != nil {
		return page{}, err
	}
	p := page{next: dp.Next, more: dp.More}
	now := s.o.Clock.Now().UTC()
	for _, r := range dp.Records {
		n := r.Note
		if r.Err != nil {
			reason := fmt.Sprintf("prima despatch note %q (reference %q, order %q) is unreadable: %v",
				cleanMessage(n.ID), cleanMessage(n.Reference), cleanMessage(n.OrderRef), r.Err)
			p.recs = append(p.recs, s.deadLetter(ctx, s.notesTopic, n.OrderRef, r.Raw, reason, n.Modified, now))
			p.dead = append(p.dead, deadNote{key: n.ID, reason: reason})
			continue
		}
		// Encoding fails only for the registry's sake (down, refusing
		// the schema): every field is already checked. The page is
		// tried again, rather than a good note blamed for it.
		v, err := s.serde.Encode(ctx, despatchNoteEvent(n, now))
		if err != nil {
			return page{}, fmt.Errorf("prima: source: encode despatch note %s: %w", n.ID, err)
		}
		p.recs = append(p.recs, &kgo.Record{Topic: s.notesTopic, Key: []byte(n.OrderRef), Value: v})
		p.events++
	}
	return p, nil
}

// despatchNoteEvent is n as prima.despatch-notes carries it. Its id
// names the note alone: the same note read twice (a replayed poll) is
// the same event. It occurred when the goods left, by the note's date,
// or when the note was made if it has none.
func despatchNoteEvent(n DespatchNote, now time.Time) *schemas.DespatchNote {
	at := n.DespatchDate
	if at.IsZero() {
		at = n.Modified
	}
	id := n.ID
	return &schemas.DespatchNote{
		Meta: schemas.Meta{EventID: "prima:despatch-note:" + n.ID, Source: schemas.SourcePrima,
			OccurredAt: at, IngestedAt: now},
		OrderRef: n.OrderRef, ShipmentID: n.Reference, Status: schemas.DespatchCreated, DespatchNoteID: &id,
		Lines: n.Lines,
	}
}
