package prima

import (
	"context"
	"fmt"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Purchase orders through the assumed PurchaseOrdersModifiedSince
// (prima.xsd), read exactly as sales orders are: the same paging, the
// same cursor, and a PO that cannot be read returned with its error for
// the source to dead-letter while the page goes on.

// PurchaseOrder is a Prima purchase order as the feed shows it: the whole
// PO as it stands, at one version.
type PurchaseOrder struct {
	Ref         string
	Version     int64  // 1 when placed, one more on every change
	Status      string // Prima's: Purchase or Cancelled (wire.POPurchase...)
	SupplierRef string
	Warehouse   string // the receiving depot
	Currency    string // of the line costs
	// Expected is the expected delivery date, at midnight UTC of the
	// day Prima gives; zero when the PO has none.
	Expected time.Time
	Lines    []PurchaseOrderLine
	Modified time.Time
}

// PurchaseOrderLine is one line of a PurchaseOrder.
type PurchaseOrderLine struct {
	LineNo   int
	SKU      string // product code plus matrix codes, "/" between
	Quantity int64
	UnitCost schemas.Decimal
}

// PORecord is one PurchaseOrder element of a page: the PO read from it,
// or, when Err is set, why it is no PO lockstep can use, with as much of
// PO as could be read (Ref, Version, Modified) to name it.
type PORecord struct {
	PO  PurchaseOrder
	Raw string // the element's text (wire.PurchaseOrder.Raw), what a dead letter carries
	Err error
}

// POPage is one PurchaseOrdersModifiedSince answer, read.
type POPage struct {
	Records []PORecord
	Next    Cursor // after the records; since when none moved it
	More    bool   // Prima holds more after Next: the page was full
}

// PurchaseOrders returns up to limit purchase orders modified after
// since, in (Modified, PO number) order, and the cursor after them. A PO
// element the client cannot read is returned with its Err, not as an
// error of the page: one broken PO must not stop the feed. The page fails
// only as a whole when Prima's answer breaks the feed's contract: longer
// than limit, or out of cursor order.
func (c *Client) PurchaseOrders(ctx context.Context, since Cursor, limit int) (POPage, error) {
	recs, next, more, err := feedCall(ctx, c, wire.TypePurchaseOrdersModifiedSince, poFeed, since, limit)
	return POPage{Records: recs, Next: next, More: more}, err
}

// poStatuses maps a PO's Prima status and version to the event's, from
// the record alone as eventStatus does for sales orders: Purchase (placed
// with the supplier) at version 1 is the approval, Purchase later an
// amendment, so a PO changed before the first poll reaches Kafka as
// amended, and consumers take an amendment of a PO they never saw as its
// approval.
var poStatuses = statuses[schemas.PurchaseOrderStatus]{
	live: wire.POPurchase, cancelled: wire.POCancelled,
	first: schemas.PurchaseOrderApproved, amended: schemas.PurchaseOrderAmended, cancelledAs: schemas.PurchaseOrderCancelled,
}

// purchaseOrderEvent is o as prima.purchase-orders carries it.
func purchaseOrderEvent(o PurchaseOrder, now time.Time) (*schemas.PurchaseOrder, error) {
	status, err := versionStatus(o.Status, o.Version, poStatuses)
	if err != nil {
		return nil, err
	}
	ev := &schemas.PurchaseOrder{
		Meta: schemas.Meta{EventID: purchaseOrderEventID(o.Ref, o.Version), Source: schemas.SourcePrima,
			OccurredAt: o.Modified, IngestedAt: now},
		PORef: o.Ref, Version: o.Version, Status: status, SupplierRef: o.SupplierRef, Warehouse: o.Warehouse,
		Currency: o.Currency, Lines: make([]schemas.PurchaseOrderLine, len(o.Lines)),
	}
	if !o.Expected.IsZero() {
		ev.ExpectedAt = &o.Expected
	}
	for i, l := range o.Lines {
		ev.Lines[i] = schemas.PurchaseOrderLine{LineNo: l.LineNo, SKU: l.SKU, Quantity: l.Quantity, UnitCost: l.UnitCost}
	}
	return ev, nil
}

// purchaseOrderEventID identifies one version of a PO: the same version
// read twice (a replayed poll) is the same event.
func purchaseOrderEventID(ref string, version int64) string {
	return fmt.Sprintf("prima:purchase-order:%s:%d", ref, version)
}
