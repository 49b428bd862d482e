package inbound_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/processors/inbound"
	"github.com/lockstep-dev/lockstep/processors/streamtest"
	"github.com/lockstep-dev/lockstep/schemas"
)

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func start(t *testing.T, r *streamtest.Rig) (stop func()) {
	topo, err := inbound.Topology(inbound.Config{}, r.Serde)
	if err != nil {
		t.Fatal(err)
	}
	return r.Start(t, topo)
}

// since waits for n records in all and returns those after the first from.
func since(t *testing.T, rd *streamtest.Reader, from, n int) []*kgo.Record {
	return rd.Wait(t, n)[from:]
}

func item(sku, code string) *schemas.Item {
	it := &schemas.Item{Meta: schemas.Meta{EventID: "item:" + sku + ":" + code, Source: schemas.SourcePrima},
		SKU: sku, Description: sku, StockItem: true, Active: true, UnitCost: schemas.MustParseDecimal("5"), Currency: "GBP"}
	if code != "" {
		it.ClarusCode = &code
	}
	return it
}

func purchaseOrder(ref string, lines ...schemas.PurchaseOrderLine) *schemas.PurchaseOrder {
	return &schemas.PurchaseOrder{Meta: schemas.Meta{EventID: ref + ":1", Source: schemas.SourcePrima},
		PORef: ref, Version: 1, Status: schemas.PurchaseOrderApproved, SupplierRef: "SUP-1", Warehouse: "WH1", Currency: "GBP", Lines: lines}
}

func pl(no int, sku string, qty int64) schemas.PurchaseOrderLine {
	return schemas.PurchaseOrderLine{LineNo: no, SKU: sku, Quantity: qty, UnitCost: schemas.MustParseDecimal("5")}
}

func receipt(id, ref, code string, qty int64) *schemas.Receipt {
	return &schemas.Receipt{Meta: schemas.Meta{EventID: "receipt:" + id, Source: schemas.SourceClarus},
		ReceiptID: id, PORef: &ref, Warehouse: "WH1", Lines: []schemas.Line{{SKU: code, Quantity: qty}}}
}

// drift renders drift records as "id:status" (with actual quantity and
// value when they have them), sorted: records of different keys may
// arrive in any order.
func drift(t *testing.T, s *schemas.Serde, recs []*kgo.Record) string {
	var out []string
	for _, rec := range recs {
		d := streamtest.Decode[schemas.DriftEvent](t, s, rec)
		if string(rec.Key) != d.DiscrepancyID || d.Owner == "" || d.Detail == "" {
			t.Errorf("drift record key %q, event %+v", rec.Key, d)
		}
		x := d.DiscrepancyID + ":" + string(d.Status)
		if d.ActualQty != nil {
			x += "=" + itoa(*d.ActualQty)
		}
		if d.ValueDelta != nil {
			x += " " + d.ValueDelta.String() + *d.Currency
		}
		out = append(out, x)
	}
	slices.Sort(out)
	return strings.Join(out, " | ")
}

func commands(t *testing.T, s *schemas.Serde, recs []*kgo.Record) string {
	var out []string
	for _, rec := range recs {
		c := streamtest.Decode[schemas.ClarusReceiptCommand](t, s, rec)
		var ls []string
		for _, l := range c.Lines {
			ls = append(ls, l.ClarusCode+"="+itoa(l.Quantity))
		}
		out = append(out, c.PORef+":"+string(c.Action)+"["+strings.Join(ls, " ")+"]")
	}
	slices.Sort(out)
	return strings.Join(out, " | ")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestInboundOnKafka runs the processor on kfake: POs become pre-receipt
// commands (a held one once its mapping arrives, by its re-drive timer),
// receipts become drift (over the PO; an orphan matched when its PO
// arrives; a second copy counts once), bad records go to the DLQ, a
// restart restores the state and its timers, and the po_not_in_wms
// check fires through the runtime's clock.
func TestInboundOnKafka(t *testing.T) {
	r := streamtest.New(t, t0, schemas.TopicPurchaseOrders, schemas.TopicReceipts, schemas.TopicReceiptAcks, schemas.TopicItems,
		schemas.TopicCmdClarusReceipts, schemas.TopicDrift, schemas.TopicDLQ)
	r.Send(t, schemas.TopicItems, "BOOT/9", item("BOOT/9", "SKU-1"))
	r.Send(t, schemas.TopicItems, "NEW/7", item("NEW/7", ""))
	cmds, drifts, dlq := r.Reader(t, schemas.TopicCmdClarusReceipts), r.Reader(t, schemas.TopicDrift), r.Reader(t, schemas.TopicDLQ)
	r.Send(t, schemas.TopicPurchaseOrders, "PO-1", purchaseOrder("PO-1", pl(1, "BOOT/9", 10)))
	r.Send(t, schemas.TopicPurchaseOrders, "PO-2", purchaseOrder("PO-2", pl(1, "NEW/7", 3)))
	r.Send(t, schemas.TopicPurchaseOrders, "PO-3", purchaseOrder("PO-3")) // no lines
	r.Send(t, schemas.TopicPurchaseOrders, "PO-4", nil)                   // no value: not an event
	stop := start(t, r)

	if got, want := commands(t, r.Serde, since(t, cmds, 0, 1)), "PO-1:create[SKU-1=10]"; got != want {
		t.Fatalf("commands %s, want %s", got, want)
	}
	if got, want := drift(t, r.Serde, since(t, drifts, 0, 1)), "sku_unmapped/po/PO-2/NEW/7:open"; got != want {
		t.Fatalf("drift %s, want %s", got, want)
	}
	var reasons []string
	for _, rec := range since(t, dlq, 0, 2) {
		reasons = append(reasons, streamtest.Header(rec, "reason"))
	}
	for _, want := range []string{"PO PO-3 version 1: no lines", "inbound: decode prima.purchase-orders"} {
		if !strings.Contains(strings.Join(reasons, " | "), want) {
			t.Errorf("DLQ reasons %q lack %q", reasons, want)
		}
	}

	r.Send(t, schemas.TopicReceiptAcks, "PO-1", &schemas.ReceiptAck{Meta: schemas.Meta{EventID: "ack:PO-1", Source: schemas.SourceClarus},
		PORef: "PO-1", POVersion: 1, Action: schemas.ClarusReceiptCreate, Status: schemas.ReceiptCreated, ClarusID: new("GR-1")})
	r.Send(t, schemas.TopicReceipts, "PO-1", receipt("R3", "PO-1", "SKU-1", 12))
	r.Send(t, schemas.TopicReceipts, "PO-1", receipt("R3", "PO-1", "SKU-1", 12)) // the sweep's copy
	r.Send(t, schemas.TopicReceipts, "PO-1", receipt("R2", "PO-1", "SKU-1", -1))
	r.Send(t, schemas.TopicReceipts, "PO-1", receipt("R5", "PO-1", "SKU-1", 2))
	r.Send(t, schemas.TopicReceipts, "PO-9", receipt("R1", "PO-9", "SKU-1", 4))
	r.Send(t, schemas.TopicReceiptAcks, "PO-77", &schemas.ReceiptAck{Meta: schemas.Meta{EventID: "ack:PO-77", Source: schemas.SourceClarus},
		PORef: "PO-77", POVersion: 1, Action: schemas.ClarusReceiptCreate, Status: schemas.ReceiptCreated})
	if got, want := drift(t, r.Serde, since(t, drifts, 1, 4)),
		"orphan_receipt/R1:open=4 20.0000GBP | receipt_over_po/PO-1/1:open=12 10.0000GBP | receipt_over_po/PO-1/1:updated=14 20.0000GBP"; got != want {
		t.Fatalf("drift %s, want %s", got, want)
	}
	over := streamtest.Decode[schemas.DriftEvent](t, r.Serde, drifts.Got[slices.IndexFunc(drifts.Got, func(rec *kgo.Record) bool { return string(rec.Key) == "receipt_over_po/PO-1/1" })])
	if *over.PORef != "PO-1" || *over.Warehouse != "WH1" || *over.SKU != "BOOT/9" || *over.DeltaQty != 2 || over.Owner != schemas.OwnerFinance {
		t.Errorf("over-PO event %+v", over)
	}
	reasons = nil
	for _, rec := range since(t, dlq, 2, 4) {
		reasons = append(reasons, streamtest.Header(rec, "reason"))
	}
	for _, want := range []string{"receipt R2: line 1 (SKU-1): quantity -1 is negative", "ack of PO PO-77 version 1, which this processor never sent"} {
		if !strings.Contains(strings.Join(reasons, " | "), want) {
			t.Errorf("DLQ reasons %q lack %q", reasons, want)
		}
	}

	// The mapping and the orphan's PO arrive while the processor is down;
	// it restarts from the changelog: the held PO's timer, the receipts
	// folded (14 units; a third copy of R3 still counts once: 15 with R4,
	// where a lost state would say 13).
	stop()
	r.Send(t, schemas.TopicItems, "NEW/7", item("NEW/7", "SKU-7"))
	r.Send(t, schemas.TopicPurchaseOrders, "PO-9", purchaseOrder("PO-9", pl(1, "BOOT/9", 4)))
	r.Send(t, schemas.TopicReceipts, "PO-1", receipt("R3", "PO-1", "SKU-1", 12))
	r.Send(t, schemas.TopicReceipts, "PO-1", receipt("R4", "PO-1", "SKU-1", 1))
	stop = start(t, r)
	defer stop()
	r.Advance(31 * time.Second)
	if got, want := commands(t, r.Serde, since(t, cmds, 1, 3)), "PO-2:create[SKU-7=3] | PO-9:create[SKU-1=4]"; got != want {
		t.Fatalf("commands %s, want %s", got, want)
	}
	if got, want := drift(t, r.Serde, since(t, drifts, 4, 7)),
		"orphan_receipt/R1:resolved | receipt_over_po/PO-1/1:updated=15 25.0000GBP | sku_unmapped/po/PO-2/NEW/7:resolved"; got != want {
		t.Fatalf("drift %s, want %s", got, want)
	}

	// 20 minutes on, the POs Clarus has not confirmed are not in the WMS;
	// PO-1 is.
	r.Set(t0.Add(20 * time.Minute))
	if got, want := drift(t, r.Serde, since(t, drifts, 7, 9)), "po_not_in_wms/PO-2:open | po_not_in_wms/PO-9:open"; got != want {
		t.Fatalf("drift %s, want %s", got, want)
	}
	if len(cmds.Got) != 3 {
		t.Fatalf("%d commands, want 3", len(cmds.Got))
	}
}
