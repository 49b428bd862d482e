package prima

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Reading a SalesOrdersModifiedSince or PurchaseOrdersModifiedSince
// answer. Unlike items and stock levels, whose pages are all or nothing, a
// record that cannot be read is returned with its error for the source to
// dead-letter, and the page goes on: a record stuck in front of the cursor
// would hold back every record after it, and one broken order is a
// person's problem, not the feed's.

// ordersFrom reads the orders of resp after since (see pageFrom).
func ordersFrom(resp *wire.Response, since Cursor, limit int) (OrderPage, error) {
	if resp.Data == nil {
		return OrderPage{Next: since}, nil
	}
	recs, next, more, err := pageFrom(orderFeed, orderFeed.elems(resp.Data), resp.Data.More, since, limit)
	return OrderPage{Records: recs, Next: next, More: more}, err
}

// orderFeed reads sales order elements for pageFrom.
var orderFeed = elemFeed[wire.SalesOrder, OrderRecord]{
	kind: "sales order", keyAttr: "OrderNumber",
	elems: func(d *wire.ResponseData) []wire.SalesOrder { return d.SalesOrders },
	stamp: func(w *wire.SalesOrder) (string, string, string) { return w.Modified, w.OrderNumber, w.Raw() },
	read: func(w *wire.SalesOrder, mod time.Time, err error) OrderRecord {
		if err != nil {
			rec := OrderRecord{Raw: w.Raw(), Order: SalesOrder{Ref: w.OrderNumber}, Err: err}
			rec.Order.Version, _ = strconv.ParseInt(w.Version, 10, 64)
			return rec
		}
		o, err := salesOrderFrom(w, mod)
		return OrderRecord{Order: o, Raw: w.Raw(), Err: err}
	},
}

// elemFeed says how pageFrom reads the elements, of type W, of one feed
// whose records (R) the source dead-letters.
type elemFeed[W, R any] struct {
	// kind and keyAttr name an element and its key in errors ("sales
	// order", "OrderNumber").
	kind, keyAttr string
	// elems returns the feed's elements of an answer.
	elems func(*wire.ResponseData) []W
	// stamp returns an element's Modified and key, as sent, and its text.
	stamp func(*W) (modified, key, raw string)
	// read returns the record of an element modified at mod or, when err
	// is set, of one whose Modified cannot be read (mod is zero then),
	// with err as its error.
	read func(w *W, mod time.Time, err error) R
}

// pageFrom reads the records of elems, a page after since that Prima says
// has more after it when more is set. Records at or before since at the
// head of the page are dropped (a server whose ModifiedSince is inclusive
// repeats nothing downstream); a record out of cursor order after that
// fails the page, as the cursor could skip records. The page is full, and
// more is returned true, also when it holds limit records.
//
// A record whose Modified cannot be read has no place in the cursor
// order: it is returned once a readable record after it moves the cursor
// past it. When none does and the page is full, it is held back, as the
// next page starts with it again; when the page is the last, it is
// returned now and its digest kept in next.DeadLettered, so that the next
// poll, which meets it again, skips it.
func pageFrom[W, R any](f elemFeed[W, R], elems []W, more bool, since Cursor, limit int) (recs []R, next Cursor, _ bool, _ error) {
	type held struct {
		rec R
		raw string
	}
	more = more || limit > 0 && len(elems) >= limit
	done := strings.Fields(since.DeadLettered) // dead-lettered already, in front of since
	var pending []held                         // unreadable stamps since the last readable record
	moved := false                             // a readable record moved the cursor
	prev := since
	for i := range elems {
		w := &elems[i]
		modified, key, raw := f.stamp(w)
		mod, err := wire.ParseTime(modified)
		if err != nil {
			err = fmt.Errorf("Modified %q is not an xs:dateTime with a zone", cleanMessage(modified))
			pending = append(pending, held{f.read(w, time.Time{}, err), raw})
			continue
		}
		mod = mod.UTC()
		if c := mod.Compare(prev.Modified); c < 0 || c == 0 && key <= prev.Key {
			if !moved {
				continue // at or before the cursor: read before
			}
			return nil, since, false, fmt.Errorf("%s %d (%q): out of (Modified, %s) order after %q",
				f.kind, i+1, cleanMessage(key), f.keyAttr, cleanMessage(prev.Key))
		}
		// The unreadable records before this one are behind the cursor
		// from now on: their last chance to be dead-lettered. Those in
		// front of since were, if done lists them.
		for _, p := range pending {
			if moved || !contains(done, digest(p.raw)) {
				recs = append(recs, p.rec)
			}
		}
		pending, moved = nil, true
		prev = Cursor{Modified: mod, Key: key}
		recs = append(recs, f.read(w, mod, nil))
	}
	next = since
	if moved {
		next, done = Cursor{Modified: prev.Modified, Key: prev.Key}, nil
	}
	switch {
	case more && !moved && len(elems) > 0:
		// A full page of nothing the cursor can move past.
		return nil, since, false, errStuck
	case len(pending) == 0:
		next.DeadLettered = ""
	case more:
		// The next page starts with them again.
	default:
		digests := make([]string, len(pending))
		for i, p := range pending {
			digests[i] = digest(p.raw)
			if !contains(done, digests[i]) {
				recs = append(recs, p.rec)
			}
		}
		next.DeadLettered = strings.Join(digests, " ")
	}
	return recs, next, more, nil
}

// digest names a record element by its text, for Cursor.DeadLettered.
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
	var err error
	o.Version, err = readHead(w.Oversize(), wire.MaxSalesOrderBytes, "OrderNumber", w.OrderNumber, w.Version, w.Currency, w.Warehouse)
	if err != nil {
		return o, err
	}
	if w.DelName != "" || w.AddrLine1 != "" || w.AddrLine2 != "" || w.Town != "" || w.Region != "" ||
		w.PostCode != "" || w.Country != "" {
		o.Delivery = &schemas.DeliveryAddress{Name: w.DelName, Line1: w.AddrLine1, City: w.Town,
			Postcode: w.PostCode, CountryCode: w.Country, Line2: optional(w.AddrLine2), Region: optional(w.Region)}
	}
	o.Lines, err = readLines(w.Lines, orderLineFrom)
	return o, err
}

// readHead reads what a sales order and a purchase order element both
// carry before their lines: it returns the Version (0 when unreadable:
// the record is named by it either way) and what keeps the record from
// being an event: the element larger than limit, no ref (refAttr names
// it), a Version, Currency or Warehouse it cannot read.
func readHead(oversize bool, limit int, refAttr, ref, version, currency, warehouse string) (int64, error) {
	v, verr := strconv.ParseInt(version, 10, 64)
	if verr != nil {
		v = 0
	}
	switch {
	case oversize:
		return v, fmt.Errorf("the element is larger than %d bytes; its lines were not read", limit)
	case ref == "":
		return v, fmt.Errorf("no %s", refAttr)
	case verr != nil || v < 1:
		return v, fmt.Errorf("Version %q is not a positive integer", cleanMessage(version))
	case !validCurrency(currency):
		return v, fmt.Errorf("Currency %q is not an ISO 4217 code", cleanMessage(currency))
	}
	return v, checkWarehouse(warehouse)
}

// readLines reads the line elements ws with read, naming the first it
// cannot read by its place.
func readLines[W, L any](ws []W, read func(*W) (L, error)) ([]L, error) {
	out := make([]L, 0, len(ws))
	for i := range ws {
		l, err := read(&ws[i])
		if err != nil {
			return out, fmt.Errorf("line %d: %w", i+1, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// orderLineFrom reads one OrderLine. What makes a line wrong for the
// business (no lines, a negative quantity, a line number twice) is not
// refused here: the orders processor judges those, with the order in
// hand, and says so to the warehouse team.
func orderLineFrom(w *wire.OrderLine) (SalesOrderLine, error) {
	var l SalesOrderLine
	var err error
	if l.LineNo, l.SKU, l.Quantity, l.UnitPrice, err = readLine("OrderLine", w.OrderLine, w.Matrix, w.Quantity, "Price", w.Price); err != nil {
		return l, err
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

// readLine reads what an order line and a purchase order line both
// carry: the line number (the attribute noAttr), the SKU, the quantity
// and a decimal amount of at most four places (the attribute amountAttr:
// a price or a cost). A quantity that is zero or negative is read as it
// is: the business's to refuse, not the source's.
func readLine(noAttr, no string, m wire.Matrix, quantity, amountAttr, amount string) (lineNo int, sku string, qty int64, d schemas.Decimal, err error) {
	n, err := strconv.ParseInt(no, 10, 32)
	if err != nil {
		return 0, "", 0, 0, fmt.Errorf("%s %q is not an integer", noAttr, cleanMessage(no))
	}
	if sku, err = m.SKU(); err != nil {
		return int(n), "", 0, 0, err
	}
	if qty, err = strconv.ParseInt(quantity, 10, 64); err != nil {
		return int(n), sku, 0, 0, fmt.Errorf("%s: Quantity %q is not an integer", sku, cleanMessage(quantity))
	}
	if d, err = schemas.ParseDecimal(amount); err != nil {
		return int(n), sku, qty, 0, fmt.Errorf("%s: %s %q is not a decimal of at most four places", sku, amountAttr, cleanMessage(amount))
	}
	return int(n), sku, qty, d, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
