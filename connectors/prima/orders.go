package prima

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// SalesOrder is a Prima sales order as the feed shows it: the whole order
// as it stands, at one version.
type SalesOrder struct {
	Ref         string
	Version     int64  // 1 when released, one more on every change
	Status      string // Prima's: Released or Cancelled (wire.OrderReleased...)
	Warehouse   string
	Currency    string
	CustomerRef string
	Channel     string
	Delivery    *schemas.DeliveryAddress // nil when the order has none
	Lines       []SalesOrderLine
	Modified    time.Time
}

// SalesOrderLine is one line of a SalesOrder.
type SalesOrderLine struct {
	LineNo      int
	SKU         string // product code plus matrix codes, "/" between
	Quantity    int64
	UnitPrice   schemas.Decimal
	StockItem   bool // StockType "stock"; false for non_stock
	Description string
}

// OrderRecord is one SalesOrder element of a page: the order read from
// it, or, when Err is set, why it is no order lockstep can use, with as
// much of Order as could be read (Ref, Version, Modified) to name it.
type OrderRecord struct {
	Order SalesOrder
	// Raw is the element's text (wire.SalesOrder.Raw), what a dead
	// letter carries.
	Raw string
	Err error
}

// OrderPage is one SalesOrdersModifiedSince answer, read.
type OrderPage struct {
	Records []OrderRecord
	// Next is the cursor after the records; the page's own when none
	// moved it.
	Next Cursor
	// More is true when Prima holds more after Next: the page was full.
	More bool
}

// SalesOrders returns up to limit sales orders modified after since, in
// (Modified, order number) order, and the cursor after them. An order
// element the client cannot read is returned with its Err, not as an
// error of the page: one broken order must not stop the feed. The page
// fails only as a whole (an error) when Prima's answer breaks the feed's
// contract: longer than limit, or out of cursor order.
func (c *Client) SalesOrders(ctx context.Context, since Cursor, limit int) (OrderPage, error) {
	recs, next, more, err := feedCall(ctx, c, wire.TypeSalesOrdersModifiedSince, orderFeed, since, limit)
	return OrderPage{Records: recs, Next: next, More: more}, err
}

// feedCall asks op for up to limit records of f after since and reads
// them (pageFrom). It fails, with next at since, when Prima fails or its
// answer breaks the feed's contract: longer than limit, or out of cursor
// order.
func feedCall[W, R any](ctx context.Context, c *Client, op string, f elemFeed[W, R], since Cursor, limit int) (recs []R, next Cursor, more bool, _ error) {
	resp, err := c.call(ctx, op, sinceData(since, limit))
	if err != nil || resp.Data == nil {
		return nil, since, false, err
	}
	elems := f.elems(resp.Data)
	if limit > 0 && len(elems) > limit {
		return nil, since, false, &APIError{Op: op, Status: 200, Message: "refused page",
			Err: fmt.Errorf("%w: %d %ss for PageSize %d", ErrPageTooLong, len(elems), f.kind, limit)}
	}
	recs, next, more, err = pageFrom(f, elems, resp.Data.More, since, limit)
	if err != nil {
		return nil, since, false, &APIError{Op: op, Status: 200, Message: err.Error()}
	}
	return recs, next, more, nil
}

// errUnknownStatus is a Status the feed does not document.
var errUnknownStatus = errors.New("unknown Status")

// eventStatus maps an order's Prima status and version to the event's.
// It reads the record alone, never what the source saw before, so a
// source that restarts (or a feed that skipped a version because Prima
// changed the order twice between polls) maps the same record the same
// way: Released at version 1 is the release, Released later an
// amendment. An order released at version 1 and amended before the first
// poll therefore reaches Kafka as amended, with no released event
// before it; consumers take an amendment of an order they never saw as
// its release.
func eventStatus(status string, version int64) (schemas.SalesOrderStatus, error) {
	return versionStatus(status, version, statuses[schemas.SalesOrderStatus]{
		live: wire.OrderReleased, cancelled: wire.OrderCancelled,
		first: schemas.SalesOrderReleased, amended: schemas.SalesOrderAmended, cancelledAs: schemas.SalesOrderCancelled})
}

// statuses maps the two statuses of a versioned Prima record on its feed
// (sales order, purchase order) to its event's three.
type statuses[S ~string] struct {
	live, cancelled             string // Prima's: Released or Purchase; Cancelled
	first, amended, cancelledAs S      // the event's: live at version 1, live later, cancelled
}

// versionStatus maps a record's Prima status and version to its event's
// status through m, from the record alone (see eventStatus).
func versionStatus[S ~string](status string, version int64, m statuses[S]) (S, error) {
	if version < 1 {
		return "", fmt.Errorf("Version %d is not positive", version)
	}
	switch status {
	case m.cancelled:
		return m.cancelledAs, nil
	case m.live:
		if version == 1 {
			return m.first, nil
		}
		return m.amended, nil
	}
	return "", fmt.Errorf("%w %q: want %s or %s", errUnknownStatus, cleanMessage(status), m.live, m.cancelled)
}

// salesOrderEvent is o as the event prima.sales-orders carries.
func salesOrderEvent(o SalesOrder, now time.Time) (*schemas.SalesOrder, error) {
	status, err := eventStatus(o.Status, o.Version)
	if err != nil {
		return nil, err
	}
	ev := &schemas.SalesOrder{
		Meta: schemas.Meta{EventID: salesOrderEventID(o.Ref, o.Version), Source: schemas.SourcePrima,
			OccurredAt: o.Modified, IngestedAt: now},
		OrderRef: o.Ref, Version: o.Version, Status: status, Warehouse: o.Warehouse, Currency: o.Currency,
		Delivery: o.Delivery, Lines: make([]schemas.SalesOrderLine, len(o.Lines)),
	}
	if o.CustomerRef != "" {
		ev.CustomerRef = &o.CustomerRef
	}
	if o.Channel != "" {
		ev.Channel = &o.Channel
	}
	for i, l := range o.Lines {
		ev.Lines[i] = schemas.SalesOrderLine{LineNo: l.LineNo, SKU: l.SKU, Quantity: l.Quantity,
			StockItem: l.StockItem, UnitPrice: l.UnitPrice}
		if l.Description != "" {
			ev.Lines[i].Description = &l.Description
		}
	}
	return ev, nil
}

// salesOrderEventID identifies one version of an order: the same version
// read twice (a replayed poll) is the same event.
func salesOrderEventID(ref string, version int64) string {
	return fmt.Sprintf("prima:sales-order:%s:%d", ref, version)
}
