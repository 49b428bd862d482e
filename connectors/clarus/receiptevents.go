package clarus

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// From Clarus goods-in receipts to lockstep's events on clarus.receipts,
// the same for the receiver (goods_in_receipt.completed) and the receipt
// source (the GraphQL sweep), so that both say the same thing under the
// same id and consumers keep one: event id clarus:receipt:<receipt id>,
// dated when the goods were received, keyed by the reference exactly as
// Clarus recorded it (the PO ref the warehouse received against, or typed:
// mistyped ones included, never mapped), or orphan:<receipt id> when the
// receipt has none; lines are Clarus product codes with the units received
// of each, summed over the receipt's lines and sorted by code.

// ReceiptEventID is the event id of a receipt's event on clarus.receipts:
// the receiver and the receipt source produce the same one, and consumers
// drop the second by it.
func ReceiptEventID(receiptID string) string { return "clarus:receipt:" + receiptID }

// OrphanPrefix starts the key of a receipt without a reference.
const OrphanPrefix = "orphan:"

// ReceiptKey is the key of r on clarus.receipts: its PO ref as Clarus
// recorded it, or OrphanPrefix and its receipt id when it has none.
func ReceiptKey(r *schemas.Receipt) string {
	if r.PORef == nil || *r.PORef == "" {
		return OrphanPrefix + r.ReceiptID
	}
	return *r.PORef
}

// receiptEvent is the event of receipt id, received in warehouse at at
// under reference ref ("" for none), of units by product code.
func receiptEvent(id, ref, warehouse string, at time.Time, units map[string]int64) schemas.Receipt {
	ev := schemas.Receipt{
		// Avro keeps milliseconds: both copies are cut there, so they are
		// equal before encoding too.
		Meta:      schemas.Meta{EventID: ReceiptEventID(id), Source: schemas.SourceClarus, OccurredAt: at.UTC().Truncate(time.Millisecond)},
		ReceiptID: id, Warehouse: warehouse, Lines: []schemas.Line{},
	}
	if ref != "" {
		ev.PORef = &ref
	}
	for _, code := range slices.Sorted(maps.Keys(units)) {
		if units[code] > 0 {
			ev.Lines = append(ev.Lines, schemas.Line{SKU: code, Quantity: units[code]})
		}
	}
	return ev
}

// completedReceipt is what a goods_in_receipt.completed webhook says was
// received: what the receiver needs for the receipt's event.
type completedReceipt struct {
	ID, Reference, Warehouse string
	// ReceivedAt is actual_date_of_receipt; zero when the record has none,
	// and the receipt source, which reads it dated, reports the receipt.
	ReceivedAt time.Time
	Units      map[string]int64 // by product code (NFC)
}

// event is c's receipt event; false when c gives no time to date it by.
func (c *completedReceipt) event() (schemas.Receipt, bool) {
	if c == nil || c.ReceivedAt.IsZero() {
		return schemas.Receipt{}, false
	}
	return receiptEvent(c.ID, c.Reference, c.Warehouse, c.ReceivedAt, c.Units), true
}

// receiptMapper reads receipts under a configuration: the warehouses and
// account lockstep keeps in step.
type receiptMapper struct {
	warehouses map[string]string // Clarus id -> code
	account    string
}

func newReceiptMapper(cfg Config) receiptMapper {
	return receiptMapper{warehouses: cfg.warehouseCodes(), account: cfg.AccountID}
}

// read checks a receipt the sweep read and builds its event. skip says why
// a receipt lockstep does not report is left out (not completed, another
// warehouse's or account's); an error is a receipt lockstep cannot read,
// refused for the reasons a webhook of it would be.
func (m receiptMapper) read(g GoodsInReceipt) (schemas.Receipt, string, error) {
	if !strings.EqualFold(g.Status, GoodsInCompleted) {
		return schemas.Receipt{}, fmt.Sprintf("status %q", g.Status), nil
	}
	wh, ok := m.warehouses[g.WarehouseID]
	if !ok {
		return schemas.Receipt{}, "warehouse " + g.WarehouseID + " is not one lockstep keeps in step", nil
	}
	if m.account != "" && g.AccountID != "" && g.AccountID != m.account {
		return schemas.Receipt{}, "account " + g.AccountID + " is not lockstep's", nil
	}
	ref, err := optionalIdentifier("reference", g.Reference)
	if err != nil {
		return schemas.Receipt{}, "", fmt.Errorf("receipt %s: %w", g.ID, err)
	}
	if g.ReceivedAt.IsZero() {
		return schemas.Receipt{}, "", fmt.Errorf("receipt %s is completed but has no actual_date_of_receipt", g.ID)
	}
	units := map[string]int64{}
	for i, l := range g.Lines {
		code, err := Identifier(fmt.Sprintf("lines[%d].product.code", i), l.ProductCode)
		if err != nil {
			return schemas.Receipt{}, "", fmt.Errorf("receipt %s: %w", g.ID, err)
		}
		units[code] += l.Received
	}
	return receiptEvent(g.ID, ref, wh, g.ReceivedAt, units), "", nil
}
