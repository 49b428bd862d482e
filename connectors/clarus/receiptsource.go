package clarus

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// ReceiptCursorKey is the receipt source's key on lockstep.source-cursors.
const ReceiptCursorKey = "clarus/goods_in_receipts"

// ReceiptCursor is the receipt source's progress: a window sweep's cursor
// over the receipts' actual_date_of_receipt.
type ReceiptCursor = WindowCursor

// ReceiptSource reads completed Clarus goods-in receipts through GraphQL,
// with their lines and received quantities, and produces one event per
// receipt to clarus.receipts (key: the PO ref as Clarus recorded it, or
// orphan:<receipt id>), committing each page together with its cursor on
// lockstep.source-cursors in one Kafka transaction: the window sweep the
// shipment source runs too (window.go).
//
// Every ReceiptSweepInterval it pages through the receipts completed since
// the last sweep began, less ReceiptSweepOverlap. The receiver reports a
// receipt when its webhook comes (Config.ReceiptEvents); the source reports
// every one, the one whose webhook was lost or refused included. Both
// produce the same event for a receipt, under the same id, which consumers
// keep once. Its stock movements stay the receiver's: a receipt whose
// webhook was lost is corrected in the stock by the stock sweep.
//
// The reads depend on assumed GraphQL declarations (a receipt's lines, the
// actual_date_of_receipt filter): goodsin_contract_test.go lists them.
type ReceiptSource struct {
	*windowSweep
	cfg      Config
	api      *Client
	serde    *schemas.Serde
	receipts receiptMapper
	topic    string
}

// NewReceiptSource validates and returns a source that produces with a
// transactional client built from kopts (seed brokers, TLS, SASL). Run
// opens the client and closes it before returning; a caller that drives
// Sweep itself (tests) releases it with Close. o.TransactionalID must be
// the source's own: empty, it is lockstep-clarus-receipt-source-<subdomain>
// after the topic prefix; the stock sweep's is refused, as the two would
// fence each other.
func NewReceiptSource(cfg Config, api *Client, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*ReceiptSource, error) {
	w, err := newWindowSweep("receipt source", "lockstep-clarus-receipt-source-", ReceiptCursorKey, cfg.receiptInterval(), cfg.receiptOverlap(),
		cfg, api, serde, o, func(m *Metrics) sourceMetrics { return m.receipts }, kopts)
	if err != nil {
		return nil, err
	}
	s := &ReceiptSource{windowSweep: w, cfg: cfg, api: api, serde: serde, receipts: newReceiptMapper(cfg), topic: w.o.TopicPrefix + schemas.TopicReceipts}
	s.read = s.page
	return s, nil
}

// Run sweeps every ReceiptSweepInterval until ctx ends. A failed sweep is
// logged and resumed from its cursor after a pause; only a fenced producer
// (another source took over) stops it.
func (s *ReceiptSource) Run(ctx context.Context) error { return s.run(ctx) }

// Sweep runs one sweep to its end: the one in progress if a previous run
// left one, else a new one. Events are the receipts reported.
func (s *ReceiptSource) Sweep(ctx context.Context) (WindowStats, error) { return s.sweep(ctx) }

// page reads the next page of completed receipts of the sweep cur
// describes and makes their events.
func (s *ReceiptSource) page(ctx context.Context, cur ReceiptCursor) (windowPage, error) {
	p, err := s.api.CompletedGoodsInReceipts(ctx, GoodsInQuery{From: cur.From, First: s.cfg.PageSize, After: cur.After})
	if err != nil {
		return windowPage{}, err
	}
	out := windowPage{ReadAt: p.ReadAt, HasNextPage: p.HasNextPage, EndCursor: p.EndCursor, Sent: map[string]time.Time{}}
	now := s.o.Clock.Now().UTC()
	for _, g := range p.Receipts {
		ev, skip, err := s.receipts.read(g)
		switch {
		case err != nil:
			out.Skipped++
			s.m.skipped.WithLabelValues("invalid").Inc()
			s.o.Logger.Error("clarus receipt source: a receipt lockstep cannot read is left out", "receipt_id", g.ID, "err", err)
			continue
		case skip != "":
			out.Skipped++
			s.m.skipped.WithLabelValues("not_ours").Inc()
			continue
		case hasKey(cur.Sent, ev.EventID):
			out.Known++
			continue
		}
		ev.IngestedAt = now
		v, err := s.serde.Encode(ctx, &ev)
		if err != nil {
			return windowPage{}, err
		}
		out.Records = append(out.Records, &kgo.Record{Topic: s.topic, Key: []byte(ReceiptKey(&ev)), Value: v})
		out.Sent[ev.EventID] = ev.OccurredAt
		out.Events++
	}
	return out, nil
}
