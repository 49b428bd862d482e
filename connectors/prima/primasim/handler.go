package primasim

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
)

// dispatch answers one request against the ground truth. Callers hold s.mu.
func (s *Server) dispatch(req wire.Request) wire.Response {
	d := req.Data
	switch req.RequestType {
	case wire.TypeItemsModifiedSince, wire.TypeStockLevelsModifiedSince, wire.TypeSalesOrdersModifiedSince,
		wire.TypeDespatchNotesModifiedSince, wire.TypePurchaseOrdersModifiedSince:
		return s.modifiedSince(req.RequestType, d)
	case wire.TypeStockLevelUpdate:
		return s.stockUpdate(d)
	case wire.TypeStockLevelUpdateStatus:
		if d.BatchRef == "" {
			return errorResponse(req.RequestType, "BatchRef is required")
		}
		b := s.st.batches[d.BatchRef]
		if b == nil {
			return okResponse(&wire.ResponseData{BatchRef: d.BatchRef})
		}
		return okResponse(&wire.ResponseData{BatchRef: b.Ref, Found: true, AppliedAt: wire.FormatTime(b.AppliedAt), Lines: b.Lines})
	case wire.TypeNewDespatchNote:
		return s.newDespatchNote(d)
	case wire.TypeDespatchNotes:
		return s.despatchNotes(d)
	case wire.TypeMultiAvailableToSell, wire.TypeProductAvailableToSell:
		return s.availableToSell(req.RequestType, d)
	case wire.TypeNewOrder, wire.TypeMultiNewOrder, wire.TypeOrderStatus:
		return errorResponse(req.RequestType, req.RequestType+" is not supported by this simulator yet")
	}
	return errorResponse(req.RequestType, fmt.Sprintf("Unknown RequestType %q", req.RequestType))
}

func (s *Server) modifiedSince(typ string, d wire.RequestData) wire.Response {
	var since time.Time
	if d.ModifiedSince != "" {
		t, err := wire.ParseTime(d.ModifiedSince)
		if err != nil {
			return errorResponse(typ, "Invalid ModifiedSince: "+d.ModifiedSince)
		}
		since = t
	}
	limit := d.PageSize
	if limit <= 0 || limit > s.opts.MaxPageSize {
		limit = s.opts.MaxPageSize
	}
	out := &wire.ResponseData{}
	switch typ {
	case wire.TypeDespatchNotesModifiedSince:
		out.DespatchNotes, out.More = feedPage(s.st.despatch.notes, noteStamp, wireNote, since, d.AfterKey, limit)
	case wire.TypeSalesOrdersModifiedSince:
		out.SalesOrders, out.More = feedPage(s.st.orders, orderStamp, wireOrder, since, d.AfterKey, limit)
	case wire.TypePurchaseOrdersModifiedSince:
		out.PurchaseOrders, out.More = feedPage(s.st.pos, poStamp, wirePO, since, d.AfterKey, limit)
	case wire.TypeItemsModifiedSince:
		out.Items, out.More = feedPage(s.st.items, itemStamp, func(it *Item) wire.Item {
			return wire.Item{Matrix: it.Matrix, Description: it.Description, ClarusCode: it.ClarusCode,
				StockItem: it.StockItem, Active: it.Active, UnitCost: it.UnitCost.String(),
				Currency: it.Currency, Modified: wire.FormatTime(it.Modified)}
		}, since, d.AfterKey, limit)
	default:
		out.StockLevels, out.More = feedPage(s.st.stock, levelStamp, func(l *StockLevel) wire.StockLevel {
			return wire.StockLevel{Matrix: s.st.items[l.SKU].Matrix, Warehouse: l.Warehouse, Available: l.Available,
				Modified: wire.FormatTime(l.Modified)}
		}, since, d.AfterKey, limit)
	}
	return okResponse(out)
}

// feedPage is up to limit of recs after the cursor (since, afterKey), in
// feed order (modifiedAfter), as the answer's elements, and whether more
// remain.
func feedPage[T, W any](recs map[string]*T, stamp func(*T) (time.Time, string), toWire func(*T) W,
	since time.Time, afterKey string, limit int) ([]W, bool) {
	page, more := modifiedAfter(maps.Values(recs), stamp, since, afterKey, limit)
	var out []W
	for _, r := range page {
		out = append(out, toWire(r))
	}
	return out, more
}

// stockUpdate applies a batch of absolute levels, all lines or none. Prima
// documents no idempotency, so a batch reference seen before is applied
// again, like any write (DESIGN.md section 10): it is only counted, and
// the status request still finds the first application. Whatever keeps an
// older batch from overwriting a newer level is the sink's job.
func (s *Server) stockUpdate(d wire.RequestData) wire.Response {
	const typ = wire.TypeStockLevelUpdate
	if d.BatchRef == "" || d.Warehouse == "" {
		return errorResponse(typ, "BatchRef and Warehouse are required")
	}
	skus := make([]string, len(d.Lines))
	for i, l := range d.Lines {
		sku, err := l.SKU()
		if err != nil {
			return errorResponse(typ, fmt.Sprintf("Line %d: %v", i+1, err))
		}
		it := s.st.items[sku]
		switch {
		case it == nil:
			return errorResponse(typ, fmt.Sprintf("Line %d: unknown product %s", i+1, sku))
		case !it.StockItem:
			return errorResponse(typ, fmt.Sprintf("Line %d: %s is a non-stock item", i+1, sku))
		}
		skus[i] = sku
	}
	at := s.tick()
	for i, l := range d.Lines {
		s.st.setLevel(skus[i], d.Warehouse, l.Available, d.BatchRef, at)
	}
	if b := s.st.batches[d.BatchRef]; b != nil {
		b.Repeats++
		s.counts.BatchRepeats++
		return okResponse(&wire.ResponseData{BatchRef: b.Ref, AppliedAt: wire.FormatTime(at), Lines: len(d.Lines)})
	}
	b := &Batch{Ref: d.BatchRef, Warehouse: d.Warehouse, Lines: len(d.Lines), AppliedAt: at}
	if d.AsOf != "" {
		if t, err := wire.ParseTime(d.AsOf); err == nil {
			b.AsOf = t
		}
	}
	s.st.batches[b.Ref] = b
	s.counts.BatchesApplied++
	return okResponse(&wire.ResponseData{BatchRef: b.Ref, AppliedAt: wire.FormatTime(b.AppliedAt), Lines: b.Lines})
}

// availableToSell answers both documented availability requests: named
// SKUs (MultiAvailableToSell) or a product code range
// (ProductAvailableToSell), in one warehouse or summed over all.
func (s *Server) availableToSell(typ string, d wire.RequestData) wire.Response {
	var skus []string
	if typ == wire.TypeMultiAvailableToSell {
		for _, m := range d.SKUs {
			if sku, err := m.SKU(); err == nil && s.st.items[sku] != nil {
				skus = append(skus, sku)
			}
		}
	} else {
		for sku, it := range s.st.items {
			if it.Matrix.Product >= d.ProductFrom && (d.ProductTo == "" || it.Matrix.Product <= d.ProductTo) {
				skus = append(skus, sku)
			}
		}
		slices.Sort(skus)
	}
	today := s.opts.Clock().UTC().Format(time.DateOnly)
	out := &wire.ResponseData{}
	for _, sku := range skus {
		var qty int64
		for _, l := range s.st.stock {
			if l.SKU == sku && (d.Warehouse == "" || l.Warehouse == d.Warehouse) {
				qty += l.Available
			}
		}
		out.SKUs = append(out.SKUs, wire.Available{Matrix: s.st.items[sku].Matrix, Warehouse: d.Warehouse,
			AvailableQuantity: qty, AvailableDate: today})
	}
	return okResponse(out)
}

func okResponse(d *wire.ResponseData) wire.Response {
	return wire.Response{RequestStatus: wire.StatusOK, Data: d}
}

func errorResponse(typ, msg string) wire.Response {
	return wire.Response{RequestType: typ, RequestStatus: wire.StatusError, RequestError: msg}
}
