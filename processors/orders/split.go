package orders

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/lockstep-dev/lockstep/processors/itemmaster"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Rules are the configurable parts of the split and the shield.
type Rules struct {
	// NonStockPatterns are path.Match patterns of SKUs that never go to
	// Clarus although Prima marks them stock (shipping, fees).
	NonStockPatterns []string
	// ForwardAmendments sends an amended order as cancel and re-create
	// while Clarus has not started picking, instead of an exception.
	ForwardAmendments bool
	// MaxLines bounds an order's lines; a larger one is refused.
	MaxLines int
}

// Split is an order's lines sorted by where they go.
type Split struct {
	Stock    []schemas.ClarusLine // to Clarus
	NonStock []int                // line numbers kept in Prima
	Unmapped []Unmapped           // stock lines that hold the order
}

// Unmapped is a stock line that cannot go to Clarus yet, and why.
type Unmapped struct {
	LineNo   int
	SKU      string
	Quantity int64
	Reason   string
}

// nonStock reports whether a line stays in Prima.
func (r Rules) nonStock(l schemas.SalesOrderLine, items itemmaster.Items) bool {
	if !l.StockItem {
		return true
	}
	for _, p := range r.NonStockPatterns {
		if ok, _ := path.Match(p, l.SKU); ok {
			return true
		}
	}
	if it, ok := items(l.SKU); ok && !it.StockItem {
		return true
	}
	return false
}

// SplitLines sorts an order's lines. Lines keep the order's line order.
func (r Rules) SplitLines(lines []schemas.SalesOrderLine, items itemmaster.Items) Split {
	var s Split
	for _, l := range lines {
		if r.nonStock(l, items) {
			s.NonStock = append(s.NonStock, l.LineNo)
			continue
		}
		_, code, reason := items.Mapping(l.SKU)
		if reason != "" {
			s.Unmapped = append(s.Unmapped, Unmapped{LineNo: l.LineNo, SKU: l.SKU, Quantity: l.Quantity, Reason: reason})
			continue
		}
		s.Stock = append(s.Stock, schemas.ClarusLine{LineNo: l.LineNo, SKU: l.SKU, ClarusCode: code, Quantity: l.Quantity})
	}
	return s
}

// ErrInvalid marks an order the processor refuses (to the DLQ).
var ErrInvalid = errors.New("orders: invalid order")

// Validate checks what the split relies on: a live order has lines, each
// with a positive quantity and a line number of its own, no more than
// MaxLines of them, and a warehouse.
func (r Rules) Validate(o *schemas.SalesOrder) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: order %s version %d: %s", ErrInvalid, o.OrderRef, o.Version, fmt.Sprintf(format, a...))
	}
	if strings.TrimSpace(o.OrderRef) == "" {
		return bad("no order reference")
	}
	if o.Status == schemas.SalesOrderCancelled {
		return nil // a cancellation needs only the reference
	}
	if o.Warehouse == "" {
		return bad("no warehouse")
	}
	if len(o.Lines) == 0 {
		return bad("no lines")
	}
	if r.MaxLines > 0 && len(o.Lines) > r.MaxLines {
		return bad("%d lines, more than the %d allowed (LOCKSTEP_ORDERS_MAX_LINES)", len(o.Lines), r.MaxLines)
	}
	seen := make(map[int]bool, len(o.Lines))
	for _, l := range o.Lines {
		if seen[l.LineNo] {
			return bad("line number %d appears twice", l.LineNo)
		}
		seen[l.LineNo] = true
		if l.Quantity <= 0 {
			return bad("line %d (%s): quantity %d is not positive", l.LineNo, l.SKU, l.Quantity)
		}
		if l.SKU == "" {
			return bad("line %d has no SKU", l.LineNo)
		}
	}
	return nil
}
