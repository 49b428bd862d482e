package primasim

import (
	"cmp"
	"fmt"
	"strconv"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// SalesOrder is a sales order of the simulated Prima, as released and
// changed since: the ground truth SalesOrdersModifiedSince serves.
type SalesOrder struct {
	Ref         string      `json:"order_ref"`
	Version     int64       `json:"version"` // 1 at release, one more on every change
	Status      string      `json:"status"`  // OrderReleased or OrderCancelled
	Warehouse   string      `json:"warehouse"`
	Currency    string      `json:"currency"`
	CustomerRef string      `json:"customer_ref,omitempty"`
	Channel     string      `json:"channel,omitempty"`
	Delivery    *Address    `json:"delivery,omitempty"`
	Lines       []OrderLine `json:"lines"`
	Modified    time.Time   `json:"modified"`
}

// Prima's order statuses on the feed.
const (
	OrderReleased  = wire.OrderReleased
	OrderCancelled = wire.OrderCancelled
)

// Order line stock types, as Prima marks them.
const (
	StockTypeStock    = wire.StockTypeStock
	StockTypeNonStock = wire.StockTypeNonStock
)

// OrderLine is one line of a sales order.
type OrderLine struct {
	LineNo    int             `json:"line_no"`
	SKU       string          `json:"sku"` // product code plus matrix codes, wire.SKUSeparator between
	Quantity  int64           `json:"quantity"`
	UnitPrice schemas.Decimal `json:"unit_price"`
	// StockType is what Prima says of the line: StockTypeStock or
	// StockTypeNonStock, or whatever the event said (the simulator
	// applies what it is told; lockstep dead-letters what it cannot read).
	StockType   string `json:"stock_type"`
	Description string `json:"description,omitempty"`
}

// Address is an order's delivery address.
type Address struct {
	Name        string `json:"name"`
	Line1       string `json:"line1"`
	Line2       string `json:"line2,omitempty"`
	City        string `json:"city"`
	Region      string `json:"region,omitempty"`
	Postcode    string `json:"postcode"`
	CountryCode string `json:"country_code"` // ISO 3166-1 alpha-2
}

// applyOrder makes an order event (release_order, amend_order,
// cancel_order) under s.mu. It applies what it is told, as Prima does:
// an amendment that changes nothing is a new version all the same. It
// refuses what Prima itself would: a second order with a ref, a change
// to an unknown or cancelled order, a line whose SKU is not spelt as
// product and matrix codes.
func (s *Server) applyOrder(ev Event) error {
	o, err := changed(s.st.orders, ev.Type, "release_order", "order_ref", ev.OrderRef, "order",
		func(o *SalesOrder) bool { return o.Status == OrderCancelled })
	if err != nil {
		return err
	}
	var lines []OrderLine
	if ev.Lines != nil {
		if lines, err = s.orderLines(ev.Type, ev.Lines); err != nil {
			return err
		}
	}
	switch ev.Type {
	case "release_order":
		o = &SalesOrder{Ref: ev.OrderRef, Version: 1, Status: OrderReleased, Warehouse: ev.Warehouse,
			Currency: cmp.Or(ev.Currency, s.opts.Currency), CustomerRef: ev.CustomerRef, Channel: ev.Channel,
			Delivery: cloneAddress(ev.Delivery), Lines: lines}
		if o.Lines == nil {
			o.Lines = []OrderLine{}
		}
		s.st.orders[o.Ref] = o
	case "amend_order":
		if ev.Lines == nil && ev.Delivery == nil {
			return &EventError{"amend_order: lines or delivery is required"}
		}
		if ev.Lines != nil {
			o.Lines = lines // a new slice: State snapshots share the old one
		}
		if ev.Delivery != nil {
			o.Delivery = cloneAddress(ev.Delivery)
		}
		o.Version++
	case "cancel_order":
		o.Status = OrderCancelled
		o.Version++
	}
	o.Modified = s.tick()
	return nil
}

// orderLines copies an event's lines, filling what was left out: the line
// number (its place), the stock type and description (the item's).
func (s *Server) orderLines(typ string, in []OrderLine) ([]OrderLine, error) {
	out := make([]OrderLine, len(in))
	for i, l := range in {
		if _, err := wire.ParseSKU(l.SKU); err != nil {
			return nil, &EventError{fmt.Sprintf("%s: line %d: %v", typ, i+1, err)}
		}
		it := s.st.items[l.SKU]
		if l.LineNo == 0 {
			l.LineNo = i + 1
		}
		if l.StockType == "" {
			l.StockType = StockTypeStock
			if it != nil && !it.StockItem {
				l.StockType = StockTypeNonStock
			}
		}
		if l.Description == "" && it != nil {
			l.Description = it.Description
		}
		out[i] = l
	}
	return out, nil
}

// changed checks an event of type typ on the record ref (named refField
// in the event) of recs: the event type create makes one, refused when
// the ref is taken, as Prima keeps refs unique; every other type changes
// one, refused when it is unknown or cancelled. It returns the record
// changed, nil for create.
func changed[T any](recs map[string]*T, typ, create, refField, ref, noun string, cancelled func(*T) bool) (*T, error) {
	if ref == "" {
		return nil, &EventError{typ + ": " + refField + " is required"}
	}
	o := recs[ref]
	switch {
	case typ == create && o != nil:
		return nil, &EventError{fmt.Sprintf("%s: %s %s exists", typ, noun, ref)}
	case typ != create && o == nil:
		return nil, &EventError{fmt.Sprintf("%s: unknown %s %s", typ, noun, ref)}
	case typ != create && cancelled(o):
		return nil, &EventError{fmt.Sprintf("%s: %s %s is cancelled", typ, noun, ref)}
	}
	return o, nil
}

func cloneAddress(a *Address) *Address {
	if a == nil {
		return nil
	}
	c := *a
	return &c
}

func orderStamp(o *SalesOrder) (time.Time, string) { return o.Modified, o.Ref }

// wireOrder is o as SalesOrdersModifiedSince answers it.
func wireOrder(o *SalesOrder) wire.SalesOrder {
	w := wire.SalesOrder{OrderNumber: o.Ref, Version: strconv.FormatInt(o.Version, 10), Status: o.Status,
		Warehouse: o.Warehouse, Currency: o.Currency, CustomerRef: o.CustomerRef, Channel: o.Channel,
		Modified: wire.FormatTime(o.Modified), Lines: make([]wire.OrderLine, len(o.Lines))}
	if a := o.Delivery; a != nil {
		w.DelName, w.AddrLine1, w.AddrLine2, w.Town, w.Region, w.PostCode, w.Country =
			a.Name, a.Line1, a.Line2, a.City, a.Region, a.Postcode, a.CountryCode
	}
	for i, l := range o.Lines {
		m, _ := wire.ParseSKU(l.SKU) // checked when the line was made
		w.Lines[i] = wire.OrderLine{OrderLine: strconv.Itoa(l.LineNo), Matrix: m,
			Quantity: strconv.FormatInt(l.Quantity, 10), Price: l.UnitPrice.String(),
			StockType: l.StockType, Description: l.Description}
	}
	return w
}
