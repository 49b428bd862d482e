package primasim

import (
	"cmp"
	"fmt"
	"strconv"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// PurchaseOrder is a purchase order of the simulated Prima, as placed with
// its supplier and changed since: the ground truth
// PurchaseOrdersModifiedSince serves.
type PurchaseOrder struct {
	Ref         string `json:"po_ref"`
	Version     int64  `json:"version"` // 1 when approved, one more on every change
	Status      string `json:"status"`  // POApproved ("Purchase") or POCancelled
	SupplierRef string `json:"supplier_ref"`
	Warehouse   string `json:"warehouse"` // the receiving depot
	Currency    string `json:"currency"`
	// ExpectedDate is the expected delivery date as Prima shows it,
	// wire.DateLayout; or whatever the event said, as the simulator
	// applies what it is told and lockstep dead-letters what it cannot
	// read (the bad-input hook, as StockType is on order lines).
	ExpectedDate string    `json:"expected_date,omitempty"`
	Lines        []POLine  `json:"lines"`
	Modified     time.Time `json:"modified"`
}

// POLine is one line of a purchase order.
type POLine struct {
	LineNo   int             `json:"line_no"`
	SKU      string          `json:"sku"` // product code plus matrix codes, wire.SKUSeparator between
	Quantity int64           `json:"quantity"`
	UnitCost schemas.Decimal `json:"unit_cost"`
}

// Prima's PO statuses on the feed: Purchase is Prima's word for a PO
// placed with its supplier, what lockstep calls approved.
const (
	POApproved  = wire.POPurchase
	POCancelled = wire.POCancelled
)

// applyPO makes a purchase order event (approve_po, amend_po, cancel_po)
// under s.mu, as applyOrder does an order's: it applies what it is told,
// an amendment that changes nothing is a new version all the same, and it
// refuses what Prima itself would: a second PO with a ref, a change to an
// unknown or cancelled PO, a line whose SKU is not spelt as product and
// matrix codes. It refuses too an event that carries a sales order's
// lines or address, a slip of the caller's, not of Prima's.
func (s *Server) applyPO(ev Event) error {
	o, err := changed(s.st.pos, ev.Type, "approve_po", "po_ref", ev.PORef, "purchase order",
		func(o *PurchaseOrder) bool { return o.Status == POCancelled })
	if err != nil {
		return err
	}
	if ev.Lines != nil || ev.Delivery != nil {
		// A sales order's fields: taken for a PO's, they would make a
		// PO without the lines meant for it.
		return &EventError{ev.Type + ": lines and delivery are a sales order's; a PO has po_lines"}
	}
	lines, err := poLines(ev.Type, ev.POLines)
	if err != nil {
		return err
	}
	switch ev.Type {
	case "approve_po":
		o = &PurchaseOrder{Ref: ev.PORef, Version: 1, Status: POApproved, SupplierRef: ev.SupplierRef,
			Warehouse: ev.Warehouse, Currency: cmp.Or(ev.Currency, s.opts.Currency), ExpectedDate: ev.ExpectedDate,
			Lines: lines}
		if o.Lines == nil {
			o.Lines = []POLine{}
		}
		s.st.pos[o.Ref] = o
	case "amend_po":
		if ev.POLines == nil && ev.ExpectedDate == "" {
			return &EventError{"amend_po: po_lines or expected_date is required"}
		}
		if ev.POLines != nil {
			o.Lines = lines // a new slice: State snapshots share the old one
		}
		if ev.ExpectedDate != "" {
			o.ExpectedDate = ev.ExpectedDate
		}
		o.Version++
	case "cancel_po":
		o.Status = POCancelled
		o.Version++
	}
	o.Modified = s.tick()
	return nil
}

// poLines copies an event's lines, numbering those left unnumbered by
// their place; nil (the event changes no lines) stays nil.
func poLines(typ string, in []POLine) ([]POLine, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]POLine, len(in))
	for i, l := range in {
		if _, err := wire.ParseSKU(l.SKU); err != nil {
			return nil, &EventError{fmt.Sprintf("%s: line %d: %v", typ, i+1, err)}
		}
		if l.LineNo == 0 {
			l.LineNo = i + 1
		}
		out[i] = l
	}
	return out, nil
}

func poStamp(o *PurchaseOrder) (time.Time, string) { return o.Modified, o.Ref }

// wirePO is o as PurchaseOrdersModifiedSince answers it.
func wirePO(o *PurchaseOrder) wire.PurchaseOrder {
	w := wire.PurchaseOrder{PONumber: o.Ref, Version: strconv.FormatInt(o.Version, 10), Status: o.Status,
		SupplierRef: o.SupplierRef, Warehouse: o.Warehouse, Currency: o.Currency, ExpectedDate: o.ExpectedDate,
		Modified: wire.FormatTime(o.Modified), Lines: make([]wire.POLine, len(o.Lines))}
	for i, l := range o.Lines {
		m, _ := wire.ParseSKU(l.SKU) // checked when the line was made
		w.Lines[i] = wire.POLine{LineNo: strconv.Itoa(l.LineNo), Matrix: m,
			Quantity: strconv.FormatInt(l.Quantity, 10), UnitCost: l.UnitCost.String()}
	}
	return w
}
