package orders_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/orders"
	"github.com/lockstep-dev/lockstep/processors/streamtest"
	"github.com/lockstep-dev/lockstep/schemas"
)

func start(t *testing.T, r *streamtest.Rig) (stop func()) {
	topo, err := orders.Topology(orders.Config{RedriveInterval: 30 * time.Second}, r.Serde)
	if err != nil {
		t.Fatal(err)
	}
	return r.Start(t, topo)
}

func item(sku, code string, stock bool) *schemas.Item {
	it := &schemas.Item{Meta: schemas.Meta{EventID: "item:" + sku + ":" + code, Source: schemas.SourcePrima},
		SKU: sku, Description: sku, StockItem: stock, Active: true, UnitCost: schemas.MustParseDecimal("5"), Currency: "GBP"}
	if code != "" {
		it.ClarusCode = &code
	}
	return it
}

func salesOrder(ref string, v int64, lines ...schemas.SalesOrderLine) *schemas.SalesOrder {
	return &schemas.SalesOrder{Meta: schemas.Meta{EventID: ref + ":" + string(rune('0'+v)), Source: schemas.SourcePrima},
		OrderRef: ref, Version: v, Status: schemas.SalesOrderReleased, Warehouse: "WH1", Currency: "GBP", Lines: lines}
}

func ln(no int, sku string, qty int64) schemas.SalesOrderLine {
	return schemas.SalesOrderLine{LineNo: no, SKU: sku, Quantity: qty, StockItem: true, UnitPrice: schemas.MustParseDecimal("1")}
}

// TestHeldOrderRedrivenWhenItsMappingArrives runs the processor on kfake:
// the item master is a global table read before the first order; an
// order with an unmapped SKU is held and sent by its re-drive timer once
// the mapping arrives; bad orders go to the DLQ; a restart restores the
// orders' state.
func TestHeldOrderRedrivenWhenItsMappingArrives(t *testing.T) {
	r := streamtest.New(t, time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), schemas.TopicSalesOrders, schemas.TopicOrderAcks, schemas.TopicShipments,
		schemas.TopicItems, schemas.TopicCmdClarusOrders, schemas.TopicDrift, schemas.TopicOpenGoodsOut, schemas.TopicDLQ)
	r.Send(t, schemas.TopicItems, "BOOT/9", item("BOOT/9", "SKU-1", true))
	r.Send(t, schemas.TopicItems, "GIFT", item("GIFT", "", false))
	r.Send(t, schemas.TopicItems, "NEW/7", item("NEW/7", "", true))
	cmds, drift, dlq := r.Reader(t, schemas.TopicCmdClarusOrders), r.Reader(t, schemas.TopicDrift), r.Reader(t, schemas.TopicDLQ)
	// The orders are there before the processor starts: only a global
	// table read to its end first maps SO-1 at once.
	r.Send(t, schemas.TopicSalesOrders, "SO-1", salesOrder("SO-1", 1, ln(1, "BOOT/9", 2), ln(2, "GIFT", 1)))
	r.Send(t, schemas.TopicSalesOrders, "SO-2", salesOrder("SO-2", 1, ln(1, "BOOT/9", 1), ln(2, "NEW/7", 3)))
	r.Send(t, schemas.TopicSalesOrders, "SO-3", salesOrder("SO-3", 1))                                       // no lines
	r.Send(t, schemas.TopicSalesOrders, "SO-4", salesOrder("SO-4", 1, ln(1, "BOOT/9", 1), ln(1, "GIFT", 1))) // duplicate line 1
	r.Send(t, schemas.TopicSalesOrders, "SO-1", salesOrder("SO-1", 1, ln(1, "BOOT/9", 2), ln(2, "GIFT", 1))) // a repeat
	stop := start(t, r)

	got := cmds.Wait(t, 1)
	c := streamtest.Decode[schemas.ClarusOrderCommand](t, r.Serde, got[0])
	if c.OrderRef != "SO-1" || c.Action != schemas.ClarusOrderCreate || len(c.Lines) != 1 || c.Lines[0].ClarusCode != "SKU-1" || c.Lines[0].Quantity != 2 {
		t.Fatalf("first command %+v", c)
	}
	d := streamtest.Decode[schemas.DriftEvent](t, r.Serde, drift.Wait(t, 1)[0])
	if d.Kind != schemas.DriftSKUUnmapped || d.Status != schemas.DriftOpen || *d.OrderRef != "SO-2" || *d.SKU != "NEW/7" || d.Owner != schemas.OwnerWarehouse {
		t.Fatalf("drift %+v", d)
	}
	dl := dlq.Wait(t, 2)
	reasons := streamtest.Header(dl[0], "reason") + " | " + streamtest.Header(dl[1], "reason")
	for _, want := range []string{"SO-3 version 1: no lines", "SO-4 version 1: line number 1 appears twice"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("DLQ reasons %q lack %q", reasons, want)
		}
	}

	// The mapping arrives; the processor restarts in between, restoring
	// the held order (and its timer) from the changelog.
	stop()
	r.Send(t, schemas.TopicItems, "NEW/7", item("NEW/7", "SKU-7", true))
	stop = start(t, r)
	defer stop()
	r.Advance(31 * time.Second)
	got = cmds.Wait(t, 2)
	c = streamtest.Decode[schemas.ClarusOrderCommand](t, r.Serde, got[1])
	if c.OrderRef != "SO-2" || len(c.Lines) != 2 || c.Lines[1].ClarusCode != "SKU-7" {
		t.Fatalf("re-driven command %+v", c)
	}
	d = streamtest.Decode[schemas.DriftEvent](t, r.Serde, drift.Wait(t, 2)[1])
	if d.Status != schemas.DriftResolved || d.DiscrepancyID != "sku_unmapped/order/SO-2/NEW/7" {
		t.Fatalf("drift %+v", d)
	}
	if len(cmds.Got) != 2 {
		t.Fatalf("%d commands, want 2 (the repeat of SO-1 must not send again)", len(cmds.Got))
	}
}
