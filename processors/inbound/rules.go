package inbound

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/processors/discrepancy"
	"github.com/lockstep-dev/lockstep/processors/itemmaster"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Rules are the configurable parts of the fold.
type Rules struct {
	LeadTime        time.Duration // pre-receipt due this long before delivery
	AckGrace        time.Duration // the sink's least time to create it
	RedriveInterval time.Duration // a held PO looks at the item master again
	MaxLines        int           // of a PO or a receipt
	// ToleranceBP is how far receipts may exceed a PO line, in basis
	// points (1/100 of a percent) of its quantity, edge included.
	ToleranceBP int64
}

// Master is the item master as the fold sees it: by Prima SKU for PO
// lines, by Clarus code for receipt lines.
type Master struct {
	Items itemmaster.Items
	Codes itemmaster.Codes
}

// ErrInvalid marks a PO or receipt the processor refuses (to the DLQ).
var ErrInvalid = errors.New("inbound: invalid record")

// ValidatePO checks what the fold relies on: a live PO has a warehouse
// and lines, each with a SKU, a positive quantity, a cost that is not
// negative and a line number of its own, no more than MaxLines of them.
// A cancellation needs only its reference.
func (r Rules) ValidatePO(po *schemas.PurchaseOrder) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: PO %s version %d: %s", ErrInvalid, po.PORef, po.Version, fmt.Sprintf(format, a...))
	}
	switch {
	case strings.TrimSpace(po.PORef) == "":
		return bad("no PO reference")
	case strings.HasPrefix(po.PORef, orphanPrefix):
		return bad("a PO reference may not start with %q, the key of receipts without one", orphanPrefix)
	case po.Status == schemas.PurchaseOrderCancelled:
		return nil
	case po.Status != schemas.PurchaseOrderApproved && po.Status != schemas.PurchaseOrderAmended:
		return bad("unknown status %q", po.Status)
	case po.Warehouse == "":
		return bad("no warehouse")
	case len(po.Lines) == 0:
		return bad("no lines")
	case r.MaxLines > 0 && len(po.Lines) > r.MaxLines:
		return bad("%d lines, more than the %d allowed (LOCKSTEP_INBOUND_MAX_LINES)", len(po.Lines), r.MaxLines)
	}
	seen := make(map[int]bool, len(po.Lines))
	for _, l := range po.Lines {
		switch {
		case seen[l.LineNo]:
			return bad("line number %d appears twice", l.LineNo)
		case l.SKU == "":
			return bad("line %d has no SKU", l.LineNo)
		case l.Quantity <= 0:
			return bad("line %d (%s): quantity %d is not positive", l.LineNo, l.SKU, l.Quantity)
		case l.UnitCost < 0:
			return bad("line %d (%s): unit cost %s is negative", l.LineNo, l.SKU, l.UnitCost)
		}
		seen[l.LineNo] = true
	}
	return nil
}

// orphanPrefix starts the key of a receipt Clarus recorded without a PO.
const orphanPrefix = "orphan:"

// ReceiptKey is the key a receipt must have: its PO ref, or
// orphan:<receipt id> without one.
func ReceiptKey(rc *schemas.Receipt) string {
	if rc.PORef == nil || *rc.PORef == "" {
		return orphanPrefix + rc.ReceiptID
	}
	return *rc.PORef
}

// ValidateReceipt checks a receipt: an id, lines (no more than MaxLines),
// each with a product code and no negative quantity. A zero line is
// allowed: it receives nothing.
func (r Rules) ValidateReceipt(rc *schemas.Receipt) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: receipt %s: %s", ErrInvalid, rc.ReceiptID, fmt.Sprintf(format, a...))
	}
	switch {
	case strings.TrimSpace(rc.ReceiptID) == "":
		return bad("no receipt id")
	case len(rc.Lines) == 0:
		return bad("no lines")
	case r.MaxLines > 0 && len(rc.Lines) > r.MaxLines:
		return bad("%d lines, more than the %d allowed (LOCKSTEP_INBOUND_MAX_LINES)", len(rc.Lines), r.MaxLines)
	}
	for i, l := range rc.Lines {
		switch {
		case l.SKU == "":
			return bad("line %d has no product code", i+1)
		case l.Quantity < 0:
			return bad("line %d (%s): quantity %d is negative", i+1, l.SKU, l.Quantity)
		}
	}
	return nil
}

// unmapped is a PO line that cannot go to Clarus yet, and why.
type unmapped struct {
	LineNo   int
	SKU      string
	Quantity int64
	Reason   string
}

// mapLines gives each PO line its Clarus code ("" when it has none) and
// lists the lines that hold the PO: unknown, discontinued, unmapped, or
// not a stock item (a PO brings goods into the warehouse: a non-stock
// line on it is a mistake in Prima or in the item master).
func mapLines(po *schemas.PurchaseOrder, items itemmaster.Items) ([]schemas.ClarusLine, []unmapped) {
	lines := make([]schemas.ClarusLine, 0, len(po.Lines))
	var held []unmapped
	for _, l := range po.Lines {
		it, code, reason := items.Mapping(l.SKU)
		if reason == "" && !it.StockItem {
			code, reason = "", "not a stock item in Prima's item master"
		}
		if reason != "" {
			held = append(held, unmapped{LineNo: l.LineNo, SKU: l.SKU, Quantity: l.Quantity, Reason: reason})
		}
		lines = append(lines, schemas.ClarusLine{LineNo: l.LineNo, SKU: l.SKU, ClarusCode: code, Quantity: l.Quantity})
	}
	return lines, held
}

// sentOf is the pre-receipt of po with its mapped lines.
func sentOf(po *schemas.PurchaseOrder, lines []schemas.ClarusLine) *Sent {
	return &Sent{Version: po.Version, Warehouse: po.Warehouse, SupplierRef: po.SupplierRef, ExpectedAt: po.ExpectedAt, Lines: lines}
}

// Diff describes how a pre-receipt differs from one sent: its header,
// then line by line; nil when Clarus would see no difference (a change of
// cost alone).
func Diff(was, now *Sent) []string {
	var out []string
	if was.Warehouse != now.Warehouse {
		out = append(out, fmt.Sprintf("warehouse %s -> %s", was.Warehouse, now.Warehouse))
	}
	if was.SupplierRef != now.SupplierRef {
		out = append(out, fmt.Sprintf("supplier %s -> %s", was.SupplierRef, now.SupplierRef))
	}
	if day(was.ExpectedAt) != day(now.ExpectedAt) {
		out = append(out, fmt.Sprintf("expected %s -> %s", day(was.ExpectedAt), day(now.ExpectedAt)))
	}
	return append(out, discrepancy.LineChanges(was.Lines, now.Lines)...)
}

// day formats an expected time for a person; "none" when there is none.
func day(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return t.UTC().Format(time.RFC3339)
}
