package stock

import (
	"fmt"
	"testing"

	"github.com/lockstep-dev/lockstep/schemas"
)

func TestStockCommands(t *testing.T) {
	due := at(300)
	if got := BatchRef("LON1", 2, due); got != fmt.Sprintf("stock:LON1:p2:%d", due.UnixMilli()) {
		t.Fatalf("batch ref %q", got)
	}
	lines := make([]pushLine, maxLines+3)
	for i := range lines {
		lines[i] = pushLine{sku: fmt.Sprintf("S%05d", i), available: int64(i), asOf: at(i % 200)}
	}
	cmds := stockCommands("LON1", 2, due, at(301), lines)
	if len(cmds) != 2 || len(cmds[0].Lines) != maxLines || len(cmds[1].Lines) != 3 {
		t.Fatalf("split into %d commands", len(cmds))
	}
	ref := BatchRef("LON1", 2, due)
	if cmds[0].BatchRef != ref || cmds[0].EventID != ref || cmds[1].BatchRef != ref+"/2" {
		t.Fatalf("refs %q %q", cmds[0].BatchRef, cmds[1].BatchRef)
	}
	c := cmds[1]
	if c.Source != schemas.SourceLockstep || !c.OccurredAt.Equal(due) || !c.IngestedAt.Equal(at(301)) || c.Warehouse != "LON1" ||
		!c.AsOf.Equal(at((maxLines+2)%200)) || c.Lines[2] != (schemas.PrimaStockLine{SKU: fmt.Sprintf("S%05d", maxLines+2), Available: maxLines + 2}) {
		t.Fatalf("command %+v", c.Meta)
	}
}

func TestGapEvent(t *testing.T) {
	g := Gap{SnapshotID: "clarus-20261126T090030", AsOf: at(30), Expected: Stock{15, 0, 2}, Actual: Stock{10, 0, 2}}
	ev := gapEvent("TSHIRT", "LON1", g, at(40))
	id := "wms_feed_gap:TSHIRT@LON1:clarus-20261126T090030"
	if ev.DiscrepancyID != id || ev.EventID != id+":open" || ev.Kind != schemas.DriftWMSFeedGap ||
		ev.Owner != schemas.OwnerOperations || ev.Status != schemas.DriftOpen || *ev.SKU != "TSHIRT" || *ev.Warehouse != "LON1" ||
		*ev.ExpectedQty != 15 || *ev.ActualQty != 10 || *ev.DeltaQty != -5 || !ev.OccurredAt.Equal(at(30)) || ev.Detail == "" {
		t.Fatalf("%+v", ev)
	}
	held := gapEvent("TSHIRT", "LON1", Gap{SnapshotID: "s", AsOf: at(30), Expected: Stock{10, 0, 3}, Actual: Stock{10, 0, 1}}, at(40))
	if *held.ExpectedQty != 3 || *held.ActualQty != 1 || *held.DeltaQty != -2 {
		t.Fatalf("held gap: %d %d %d", *held.ExpectedQty, *held.ActualQty, *held.DeltaQty)
	}
}

func TestLevelEvent(t *testing.T) {
	l := Level{Stock: Stock{OnHand: 10, Allocated: 3, Held: 1}, AsOf: at(20)}
	ev := levelEvent("TSHIRT@LON1", l, at(300), at(301))
	if ev.SKU != "TSHIRT" || ev.Warehouse != "LON1" || ev.Available != 6 || ev.LastMovementID != nil ||
		!ev.AsOf.Equal(at(20)) || ev.EventID != fmt.Sprintf("stock-level:TSHIRT@LON1:%d", at(300).UnixMilli()) {
		t.Fatalf("%+v", ev)
	}
	l.LastMovementID = "m1"
	if ev := levelEvent("TSHIRT@LON1", l, at(300), at(301)); ev.LastMovementID == nil || *ev.LastMovementID != "m1" {
		t.Fatal("last movement id lost")
	}
}
