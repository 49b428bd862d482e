package inbound

import (
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/schemas"
)

func TestReceipts(t *testing.T) {
	boots := []schemas.PurchaseOrderLine{pl(1, "BOOT/9", 10, "5"), pl(2, "BOOT/8", 5, "4")}
	create := "create v1 [1:SKU-1=10 2:SKU-2=5]; " + check48
	created := step{ack: ack(schemas.ClarusReceiptCreate, 1, schemas.ReceiptCreated, ""), phase: PhaseSent}
	for _, tc := range []struct {
		name  string
		pct   float64
		ref   string
		steps []step
	}{
		{name: "partial receipts add up per line; beyond the PO they are over, at PO cost", steps: []step{
			{po: approved(boots...), want: create, phase: PhaseSent}, created,
			{rc: receipt("R1", rl("SKU-1", 6), rl("SKU-2", 5)), want: "", phase: PhaseSent},
			{rc: receipt("R2", rl("SKU-1", 4)), want: "", phase: PhaseSent},
			{rc: receipt("R3", rl("SKU-1", 1)), want: "receipt_over_po/PO-1/1:open(10/11) 5.0000GBP", phase: PhaseSent,
				detail: "received 11 units of SKU-1 (Prima BOOT/9) on PO PO-1 line 1, which orders 10 (tolerance 0.00%): 1 over, worth 5.0000 GBP"},
			{rc: receipt("R4", rl("SKU-1", 2)), want: "receipt_over_po/PO-1/1:updated(10/13) 15.0000GBP", phase: PhaseSent},
		}},
		{name: "the webhook's and the sweep's copies of a receipt count once", steps: []step{
			{po: approved(boots...), want: create, phase: PhaseSent},
			{rc: receipt("R1", rl("SKU-1", 12)), want: "receipt_over_po/PO-1/1:open(10/12) 10.0000GBP", phase: PhaseSent},
			{rc: receipt("R1", rl("SKU-1", 12)), want: "", phase: PhaseSent},
			{rc: receipt("R2", rl("SKU-2", 1)), want: "", phase: PhaseSent},
			{rc: receipt("R1", rl("SKU-1", 12)), want: "", phase: PhaseSent},
		}},
		{name: "tolerance 10%: the edge is within it", pct: 10, steps: []step{
			{po: approved(boots...), want: create, phase: PhaseSent},
			{rc: receipt("R1", rl("SKU-1", 11)), want: "", phase: PhaseSent},
			{rc: receipt("R2", rl("SKU-1", 1)), want: "receipt_over_po/PO-1/1:open(10/12) 10.0000GBP", phase: PhaseSent, detail: "(tolerance 10.00%): 2 over"},
		}},
		{name: "tolerance 2.5% of 40: 41 is within, 42 over", pct: 2.5, steps: []step{
			{po: approved(pl(1, "BOOT/9", 40, "5")), want: "create v1 [1:SKU-1=40]; " + check48, phase: PhaseSent},
			{rc: receipt("R1", rl("SKU-1", 41)), want: "", phase: PhaseSent},
			{rc: receipt("R2", rl("SKU-1", 1)), want: "receipt_over_po/PO-1/1:open(40/42) 10.0000GBP", phase: PhaseSent},
		}},
		{name: "tolerance 0: exactly the PO is within, one more is over", steps: []step{
			{po: approved(boots...), want: create, phase: PhaseSent},
			{rc: receipt("R1", rl("SKU-1", 10), rl("SKU-2", 5)), want: "", phase: PhaseSent},
			{rc: receipt("R2", rl("SKU-2", 1)), want: "receipt_over_po/PO-1/2:open(5/6) 4.0000GBP", phase: PhaseSent},
		}},
		{name: "a product on two lines fills them in line order", steps: []step{
			{po: approved(pl(1, "BOOT/9", 4, "5"), pl(2, "BOOT/9", 6, "6")), want: "create v1 [1:SKU-1=4 2:SKU-1=6]; " + check48, phase: PhaseSent},
			{rc: receipt("R1", rl("SKU-1", 9)), want: "", phase: PhaseSent},
			{rc: receipt("R2", rl("SKU-1", 2)), want: "receipt_over_po/PO-1/2:open(6/7) 6.0000GBP", phase: PhaseSent},
		}},
		{name: "a product the PO does not order, at item cost; unknown to the item master, with no value", steps: []step{
			{po: approved(boots...), want: create, phase: PhaseSent},
			{rc: receipt("R1", rl("SKU-1", 10), rl("SKU-3", 4)), want: "receipt_sku_not_on_po/PO-1/SKU-3:open(0/4) 10.0000GBP", phase: PhaseSent,
				detail: "4 units of SKU-3 (Prima SCARF, worth 10.0000 GBP at item cost)"},
			{rc: receipt("R2", rl("SKU-404", 1)), want: "receipt_sku_not_on_po/PO-1/SKU-404:open(0/1)", phase: PhaseSent, detail: "unknown to Prima's item master"},
			{rc: receipt("R3", rl("SKU-3", 1)), want: "receipt_sku_not_on_po/PO-1/SKU-3:updated(0/5) 12.5000GBP", phase: PhaseSent},
		}},
		{name: "a receipt before its PO is an orphan at item cost, matched when the PO arrives", steps: []step{
			{rc: receipt("R1", rl("SKU-1", 6), rl("SKU-3", 2)), want: "orphan_receipt/R1:open(0/8) 35.0000GBP", phase: PhaseNew,
				detail: "against PO PO-1, which Prima has not sent lockstep"},
			{rc: receipt("R1", rl("SKU-1", 6), rl("SKU-3", 2)), want: "", phase: PhaseNew},
			{rc: receipt("R2", rl("SKU-1", 6)), want: "orphan_receipt/R2:open(0/6) 30.0000GBP", phase: PhaseNew},
			{po: approved(boots...), phase: PhaseSent,
				want: "create v1 [1:SKU-1=10 2:SKU-2=5]; orphan_receipt/R1:resolved; orphan_receipt/R2:resolved; receipt_over_po/PO-1/1:open(10/12) 10.0000GBP; receipt_sku_not_on_po/PO-1/SKU-3:open(0/2) 5.0000GBP; " + check48},
			{po: amended(2, pl(1, "BOOT/9", 12, "5"), pl(2, "BOOT/8", 5, "4")),
				want: "po_amended_after_receipt/PO-1:open(15/17); receipt_over_po/PO-1/1:resolved", phase: PhaseSent},
		}},
		{name: "a receipt without a PO reference stays an orphan; a code unknown to the item master adds no value", ref: "orphan:R9", steps: []step{
			{rc: &schemas.Receipt{ReceiptID: "R9", Warehouse: "WH2", Lines: []schemas.Line{rl("SKU-2", 3), rl("SKU-404", 1)}},
				want: "orphan_receipt/R9:open(0/4) 12.0000GBP", phase: PhaseNew, detail: "except SKU-404 (unknown to the item master)) with no PO reference"},
		}},
		{name: "receipts booked in at another warehouse, at PO cost (item cost off the PO); the PO moved there resolves it", steps: []step{
			{po: approved(boots...), want: create, phase: PhaseSent}, created,
			{rc: receipt("R1", rl("SKU-1", 4)), want: "", phase: PhaseSent},
			{rc: at("WH2", receipt("R2", rl("SKU-1", 6))), want: "receipt_wrong_warehouse/PO-1/WH2:open(0/6) 30.0000GBP", phase: PhaseSent,
				detail: "Clarus booked 6 units of PO PO-1 in at WH2 (receipts R2, worth 30.0000 GBP), but the PO delivers to WH1"},
			{rc: at("WH2", receipt("R3", rl("SKU-2", 1), rl("SKU-3", 2))), phase: PhaseSent,
				want: "receipt_sku_not_on_po/PO-1/SKU-3:open(0/2) 5.0000GBP; receipt_wrong_warehouse/PO-1/WH2:updated(0/9) 39.0000GBP"},
			{rc: at("WH3", receipt("R4", rl("SKU-404", 1))), phase: PhaseSent,
				want: "receipt_sku_not_on_po/PO-1/SKU-404:open(0/1); receipt_wrong_warehouse/PO-1/WH3:open(0/1)", detail: "of no value lockstep can compute"},
			// Moving a PO after receipts is an amendment after receipt too.
			{po: poAt("WH2", amended(2, boots...)), phase: PhaseSent,
				want: "po_amended_after_receipt/PO-1:open(15/15); receipt_wrong_warehouse/PO-1/WH2:resolved; receipt_wrong_warehouse/PO-1/WH1:open(0/4) 20.0000GBP"},
		}},
		{name: "a receipt of nothing is no orphan", steps: []step{
			{rc: receipt("R1", rl("SKU-1", 0)), want: "", phase: PhaseNew},
		}},
		{name: "an amendment after a partial receipt is an exception, resolved when taken back", steps: []step{
			{po: approved(boots...), want: create, phase: PhaseSent}, created,
			{rc: receipt("R1", rl("SKU-1", 4)), want: "", phase: PhaseSent},
			{po: amended(2, pl(1, "BOOT/9", 8, "5"), pl(2, "BOOT/8", 5, "4")), want: "po_amended_after_receipt/PO-1:open(15/13)", phase: PhaseSent,
				detail: "after Clarus received 4 units against version 1: line 1 (BOOT/9) quantity 10 -> 8"},
			{po: amended(3, pl(1, "BOOT/9", 8, "5"), pl(2, "BOOT/8", 5, "4"), pl(3, "NEW/7", 1, "1")), want: "po_amended_after_receipt/PO-1:updated(15/14)", phase: PhaseSent,
				detail: "line 3 (NEW/7) is without a Clarus product code"},
			{po: amended(4, pl(1, "BOOT/9", 10, "5.5"), pl(2, "BOOT/8", 5, "4")), want: "po_amended_after_receipt/PO-1:resolved", phase: PhaseSent},
		}},
		{name: "an amendment that adds the product received resolves not-on-PO", steps: []step{
			{po: approved(boots...), want: create, phase: PhaseSent},
			{rc: receipt("R1", rl("SKU-3", 2)), want: "receipt_sku_not_on_po/PO-1/SKU-3:open(0/2) 5.0000GBP", phase: PhaseSent},
			{po: amended(2, append(boots, pl(3, "SCARF", 2, "2"))...),
				want: "po_amended_after_receipt/PO-1:open(15/17); receipt_sku_not_on_po/PO-1/SKU-3:resolved", phase: PhaseSent},
		}},
		{name: "a cancellation after a receipt is an exception; a later receipt updates it", steps: []step{
			{po: approved(boots...), want: create, phase: PhaseSent}, created,
			{rc: receipt("R1", rl("SKU-1", 4)), want: "", phase: PhaseSent},
			{po: cancelled(2), want: "po_cancelled_after_receipt/PO-1:open(0/4) 20.0000GBP", phase: PhaseSent, detail: "Clarus has received 4 units against it"},
			{rc: receipt("R2", rl("SKU-2", 1)), want: "po_cancelled_after_receipt/PO-1:updated(0/5) 24.0000GBP", phase: PhaseSent},
		}},
		{name: "a cancel Clarus refuses is an exception", steps: []step{
			{po: approved(boots...), want: create, phase: PhaseSent},
			{po: cancelled(2), want: "cancel v2 []", phase: PhaseCancelling},
			{ack: ack(schemas.ClarusReceiptCancel, 2, schemas.ReceiptRejected, "receipt in progress"),
				want: "po_cancelled_after_receipt/PO-1:open(0/0)", phase: PhaseSent, detail: "refused to cancel its pre-receipt: receipt in progress"},
			{rc: receipt("R1", rl("SKU-1", 3)), want: "po_cancelled_after_receipt/PO-1:updated(0/3) 15.0000GBP", phase: PhaseSent},
		}},
		{name: "goods received after a cancelled pre-receipt are an exception", steps: []step{
			{po: approved(boots...), want: create, phase: PhaseSent},
			{po: cancelled(2), want: "cancel v2 []", phase: PhaseCancelling},
			{ack: ack(schemas.ClarusReceiptCancel, 2, schemas.ReceiptCancelled, ""), want: "", phase: PhaseCancelled},
			{rc: receipt("R1", rl("SKU-2", 2)), want: "po_cancelled_after_receipt/PO-1:open(0/2) 8.0000GBP", phase: PhaseCancelled},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rules
			r.ToleranceBP = Config{ReceiptTolerancePct: tc.pct}.Rules().ToleranceBP
			run(t, r, cmpOr(tc.ref, "PO-1"), tc.steps)
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestOver(t *testing.T) {
	for _, tc := range []struct {
		bp, got, ordered int64
		over             bool
	}{
		{0, 10, 10, false}, {0, 11, 10, true},
		{1000, 11, 10, false}, {1000, 12, 10, true},
		{250, 41, 40, false}, {250, 42, 40, true},
		{250, 10, 10, false}, {250, 11, 10, true}, // 2.5% of 10 is 0.25: no whole unit
		{1, 1_000_001, 100_000_000, false}, // far beyond 10000: no overflow in the split
		{1, 100_010_001, 100_000_000, true},
	} {
		if got := (Rules{ToleranceBP: tc.bp}).over(tc.got, tc.ordered); got != tc.over {
			t.Errorf("over(%d of %d at %d bp) = %v, want %v", tc.got, tc.ordered, tc.bp, got, tc.over)
		}
	}
}

// TestEventIDs: a drift event's id is its discrepancy, status and cause,
// so the same input folded again (a replay) gives the same ids.
func TestEventIDs(t *testing.T) {
	fold := func() []string {
		st, _ := rules.PO(State{Ref: "PO-1"}, approved(pl(1, "BOOT/9", 1, "5")), master(catalog), t0)
		_, e := rules.Receipt(st, receipt("R1", rl("SKU-1", 3)), master(catalog))
		var ids []string
		for _, d := range e.Drift {
			ids = append(ids, d.Event(t0, t0).EventID)
		}
		return ids
	}
	a, b := fold(), fold()
	if strings.Join(a, ",") != "receipt_over_po/PO-1/1:open:receipt-R1" || strings.Join(a, ",") != strings.Join(b, ",") {
		t.Fatalf("event ids %v and %v", a, b)
	}
}

// at books a receipt in at warehouse wh.
func at(wh string, rc *schemas.Receipt) *schemas.Receipt {
	rc.Warehouse = wh
	return rc
}

// poAt makes a PO deliver to warehouse wh.
func poAt(wh string, po *schemas.PurchaseOrder) *schemas.PurchaseOrder {
	po.Warehouse = wh
	return po
}
