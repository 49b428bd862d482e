package prima

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Reading a SalesOrdersModifiedSince answer. Unlike items and stock levels,
// whose pages are all or nothing, an order that cannot be read is returned
// with its error for the source to dead-letter, and the page goes on: an
// order stuck in front of the cursor would hold back every order after it,
// and one broken order is a person's problem, not the feed's.

// ordersFrom reads the orders of resp after since. Records at or before
// since at the head of the page are dropped (a server whose ModifiedSince
// is inclusive repeats nothing downstream); a record out of cursor order
// after that fails the page, as the cursor could skip records.
//
// An order whose Modified cannot be read has no place in the cursor
// order: it is returned once a readable order after it moves the cursor
// past it. When none does and the page is full, it is held back, as the
// next page starts with it again; when the page is the last, it is
// returned now and its digest kept in Next.DeadLettered, so that the next
// poll, which meets it again, skips it.
func ordersFrom(resp *wire.Response, since Cursor, limit int) (OrderPage, error) {
	page := OrderPage{Next: since}
	if resp.Data == nil {
		return page, nil
	}
	elems := resp.Data.SalesOrders
	page.More = resp.Data.More || limit > 0 && len(elems) >= limit
	done := strings.Fields(since.DeadLettered) // dead-lettered already, in front of since
	var pending []OrderRecord                  // unreadable stamps since the last readable order
	moved := false                             // a readable order moved the cursor
	prev := since
	for i := range elems {
		w := &elems[i]
		mod, err := wire.ParseTime(w.Modified)
		if err != nil {
			rec := OrderRecord{Raw: w.Raw(), Order: SalesOrder{Ref: w.OrderNumber},
				Err: fmt.Errorf("Modified %q is not an xs:dateTime with a zone", cleanMessage(w.Modified))}
			rec.Order.Version, _ = strconv.ParseInt(w.Version, 10, 64)
			pending = append(pending, rec)
			continue
		}
		mod = mod.UTC()
		if c := mod.Compare(prev.Modified); c < 0 || c == 0 && w.OrderNumber <= prev.Key {
			if !moved {
				continue // at or before the cursor: read before
			}
			return OrderPage{Next: since}, fmt.Errorf("sales order %d (%q): out of (Modified, OrderNumber) order after %q",
				i+1, cleanMessage(w.OrderNumber), cleanMessage(prev.Key))
		}
		// The unreadable orders before this one are behind the cursor
		// from now on: their last chance to be dead-lettered. Those
		// in front of since were, if done lists them.
		for _, p := range pending {
			if moved || !contains(done, digest(p.Raw)) {
				page.Records = append(page.Records, p)
			}
		}
		pending, moved = nil, true
		prev = Cursor{Modified: mod, Key: w.OrderNumber}
		o, err := salesOrderFrom(w, mod)
		page.Records = append(page.Records, OrderRecord{Order: o, Raw: w.Raw(), Err: err})
	}
	if moved {
		page.Next, done = Cursor{Modified: prev.Modified, Key: prev.Key}, nil
	}
	switch {
	case page.More && !moved && len(elems) > 0:
		// A full page of nothing the cursor can move past.
		return OrderPage{Next: since}, errStuck
	case len(pending) == 0:
		page.Next.DeadLettered = ""
	case page.More:
		// The next page starts with them again.
	default:
		digests := make([]string, len(pending))
		for i, p := range pending {
			digests[i] = digest(p.Raw)
			if !contains(done, digests[i]) {
				page.Records = append(page.Records, p)
			}
		}
		page.Next.DeadLettered = strings.Join(digests, " ")
	}
	return page, nil
}

// digest names an order element by its text, for Cursor.DeadLettered.
func digest(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:12])
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// salesOrderFrom reads one order element modified at mod. On error the
// order holds what was read before it (Ref, Version, Modified), so the
// dead letter can name it.
func salesOrderFrom(w *wire.SalesOrder, mod time.Time) (SalesOrder, error) {
	o := SalesOrder{Ref: w.OrderNumber, Modified: mod, Status: w.Status, Warehouse: w.Warehouse,
		Currency: w.Currency, CustomerRef: w.CustomerRef, Channel: w.Channel}
	v, verr := strconv.ParseInt(w.Version, 10, 64)
	if verr == nil {
		o.Version = v
	}
	switch {
	case w.Oversize():
		return o, fmt.Errorf("the element is larger than %d bytes; its lines were not read", wire.MaxSalesOrderBytes)
	case w.OrderNumber == "":
		return o, errors.New("no OrderNumber")
	case verr != nil || v < 1:
		return o, fmt.Errorf("Version %q is not a positive integer", cleanMessage(w.Version))
	case !validCurrency(w.Currency):
		return o, fmt.Errorf("Currency %q is not an ISO 4217 code", cleanMessage(w.Currency))
	}
	if err := checkWarehouse(w.Warehouse); err != nil {
		return o, err
	}
	if w.DelName != "" || w.AddrLine1 != "" || w.AddrLine2 != "" || w.Town != "" || w.Region != "" ||
		w.PostCode != "" || w.Country != "" {
		o.Delivery = &schemas.DeliveryAddress{Name: w.DelName, Line1: w.AddrLine1, City: w.Town,
			Postcode: w.PostCode, CountryCode: w.Country, Line2: optional(w.AddrLine2), Region: optional(w.Region)}
	}
	o.Lines = make([]SalesOrderLine, 0, len(w.Lines))
	for i := range w.Lines {
		l, err := orderLineFrom(&w.Lines[i])
		if err != nil {
			return o, fmt.Errorf("line %d: %w", i+1, err)
		}
		o.Lines = append(o.Lines, l)
	}
	return o, nil
}

// orderLineFrom reads one OrderLine. What makes a line wrong for the
// business (no lines, a negative quantity, a line number twice) is not
// refused here: the orders processor judges those, with the order in
// hand, and says so to the warehouse team.
func orderLineFrom(w *wire.OrderLine) (SalesOrderLine, error) {
	var l SalesOrderLine
	no, err := strconv.ParseInt(w.OrderLine, 10, 32)
	if err != nil {
		return l, fmt.Errorf("OrderLine %q is not an integer", cleanMessage(w.OrderLine))
	}
	l.LineNo = int(no)
	if l.SKU, err = w.SKU(); err != nil {
		return l, err
	}
	if l.Quantity, err = strconv.ParseInt(w.Quantity, 10, 64); err != nil {
		return l, fmt.Errorf("%s: Quantity %q is not an integer", l.SKU, cleanMessage(w.Quantity))
	}
	if l.UnitPrice, err = schemas.ParseDecimal(w.Price); err != nil {
		return l, fmt.Errorf("%s: Price %q is not a decimal of at most four places", l.SKU, cleanMessage(w.Price))
	}
	switch w.StockType {
	case wire.StockTypeStock:
		l.StockItem = true
	case wire.StockTypeNonStock:
	default:
		return l, fmt.Errorf("%s: StockType %q is neither %s nor %s", l.SKU, cleanMessage(w.StockType),
			wire.StockTypeStock, wire.StockTypeNonStock)
	}
	l.Description = w.Description
	return l, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
