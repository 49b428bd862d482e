package stock

import (
	"fmt"
	"strconv"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// The events the processor emits, built from state alone (no I/O), with
// deterministic ids so that a replay emits the same ones. ingested is the
// processing clock; every other instant comes from the data.

// maxLines is the most lines in one PrimaStockCommand (about 100 KB): a
// larger batch is split, each part with its own batch reference.
const maxLines = 5000

// BatchRef is the reference of the push of one warehouse's keys of one
// partition, due at due: "stock:" + warehouse + ":p" + partition + ":" +
// due in Unix milliseconds. A batch split in parts adds "/2", "/3"... to
// the parts after the first.
func BatchRef(warehouse string, partition int32, due time.Time) string {
	return "stock:" + warehouse + ":p" + strconv.Itoa(int(partition)) + ":" + strconv.FormatInt(due.UnixMilli(), 10)
}

// GapDiscrepancyID is the discrepancy id of the wms_feed_gap found by
// snapshotID at sku@warehouse.
func GapDiscrepancyID(key, snapshotID string) string {
	return string(schemas.DriftWMSFeedGap) + ":" + key + ":" + snapshotID
}

// pushLine is one key's line in a push.
type pushLine struct {
	sku       string
	available int64
	asOf      time.Time
}

// stockCommands builds the commands of one warehouse's push, lines in the
// order given (sorted by key).
func stockCommands(warehouse string, partition int32, due, ingested time.Time, lines []pushLine) []*schemas.PrimaStockCommand {
	var out []*schemas.PrimaStockCommand
	for part := 0; len(lines) > 0; part++ {
		n := min(len(lines), maxLines)
		ref := BatchRef(warehouse, partition, due)
		if part > 0 {
			ref += "/" + strconv.Itoa(part+1)
		}
		cmd := &schemas.PrimaStockCommand{
			Meta:      schemas.Meta{EventID: ref, Source: schemas.SourceLockstep, OccurredAt: due, IngestedAt: ingested},
			BatchRef:  ref,
			Warehouse: warehouse,
			Lines:     make([]schemas.PrimaStockLine, 0, n),
		}
		for _, l := range lines[:n] {
			cmd.Lines = append(cmd.Lines, schemas.PrimaStockLine{SKU: l.sku, Available: l.available})
			if l.asOf.After(cmd.AsOf) {
				cmd.AsOf = l.asOf
			}
		}
		if cmd.AsOf.IsZero() {
			cmd.AsOf = due
		}
		out = append(out, cmd)
		lines = lines[n:]
	}
	return out
}

// levelEvent is the StockLevel of key as pushed at due.
func levelEvent(key string, l Level, due, ingested time.Time) *schemas.StockLevel {
	sku, warehouse, _ := schemas.SplitStockKey(key)
	ev := &schemas.StockLevel{
		Meta: schemas.Meta{
			EventID:    "stock-level:" + key + ":" + strconv.FormatInt(due.UnixMilli(), 10),
			Source:     schemas.SourceLockstep,
			OccurredAt: l.AsOf,
			IngestedAt: ingested,
		},
		SKU: sku, Warehouse: warehouse,
		OnHand: l.OnHand, Allocated: l.Allocated, Held: l.Held, Available: l.Available(), OpenGoodsOut: l.OpenGoodsOut,
		AsOf: l.AsOf,
	}
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt, ev.AsOf = due, due
	}
	if l.LastMovementID != "" {
		ev.LastMovementID = &l.LastMovementID
	}
	return ev
}

// gapEvent is the wms_feed_gap drift of a re-base, reported at the gap's
// deadline with what late movements left unexplained (g.Actual counts
// them). Its quantities are those of the first field that differs, in the
// order on hand, held, allocated; the detail gives all three.
func gapEvent(sku, warehouse string, g Gap, ingested time.Time) *schemas.DriftEvent {
	id := GapDiscrepancyID(schemas.StockKey(sku, warehouse), g.SnapshotID)
	d := g.Delta()
	field, expected, actual := "on hand", g.Expected.OnHand, g.Actual.OnHand
	switch {
	case d.OnHand != 0:
	case d.Held != 0:
		field, expected, actual = "held", g.Expected.Held, g.Actual.Held
	case d.Allocated != 0:
		field, expected, actual = "allocated", g.Expected.Allocated, g.Actual.Allocated
	}
	delta := actual - expected
	late := ""
	if g.Late > 0 {
		late = fmt.Sprintf(", counting %d late movement(s) that occurred before it", g.Late)
	}
	return &schemas.DriftEvent{
		Meta: schemas.Meta{
			EventID:    id + ":open",
			Source:     schemas.SourceLockstep,
			OccurredAt: g.AsOf,
			IngestedAt: ingested,
		},
		DiscrepancyID: id,
		Kind:          schemas.DriftWMSFeedGap,
		Owner:         schemas.OwnerOperations,
		Status:        schemas.DriftOpen,
		SKU:           &sku,
		Warehouse:     &warehouse,
		ExpectedQty:   &expected,
		ActualQty:     &actual,
		DeltaQty:      &delta,
		Detail: fmt.Sprintf("Clarus snapshot %s of %s@%s as of %s says on hand %d, allocated %d, held %d, "+
			"but the movement feed gave %d, %d, %d as of then%s (%s off by %+d): a movement was probably missed; "+
			"the level was re-based on the snapshot",
			g.SnapshotID, sku, warehouse, g.AsOf.UTC().Format(time.RFC3339Nano),
			g.Expected.OnHand, g.Expected.Allocated, g.Expected.Held,
			g.Actual.OnHand, g.Actual.Allocated, g.Actual.Held, late, field, delta),
	}
}
