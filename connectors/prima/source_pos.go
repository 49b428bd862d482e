package prima

import (
	"context"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// The purchase-order feed: each PO Prima shows becomes a
// schemas.PurchaseOrder on prima.purchase-orders, keyed by its ref, for
// the inbound flow to pre-receipt in Clarus before the delivery date; one
// the source cannot turn into an event goes to lockstep.dlq with why, in
// the same transaction as the page and its cursor, and the feed goes on.
// It is one more feed of the one Source, polled in the same loop as the
// others under its own cursor.

// CursorKeyPurchaseOrders is the purchase-order feed's cursor key, the
// name Options.Feeds turns the feed on by.
const CursorKeyPurchaseOrders = "prima/purchase-orders"

func (s *Source) posPage(ctx context.Context, since Cursor) (page, error) {
	pp, err := s.api.PurchaseOrders(ctx, since, s.cfg.PageSize)
	if err != nil {
		return page{}, err
	}
	return recordsPage(ctx, s, s.posTopic, poEvents, pp.Records, pp.Next, pp.More)
}

// poEvents turns purchase order records into events for recordsPage.
var poEvents = deadLettering[PORecord]{
	kind: "purchase order", probe: poProbe,
	record: func(r PORecord) (string, int64, time.Time, string, error) {
		return r.PO.Ref, r.PO.Version, r.PO.Modified, r.Raw, r.Err
	},
	event: func(r PORecord, now time.Time) (schemas.Event, int, error) {
		ev, err := purchaseOrderEvent(r.PO, now)
		if err != nil {
			return nil, 0, err
		}
		return ev, len(ev.Lines), nil
	},
}

// poProbe is a valid purchase order event, encoded to check the schema
// registry answers.
var poProbe = &schemas.PurchaseOrder{Meta: schemas.Meta{EventID: "probe", Source: schemas.SourcePrima},
	Status: schemas.PurchaseOrderApproved}
