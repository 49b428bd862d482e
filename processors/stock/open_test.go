package stock_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stock"
	"github.com/lockstep-dev/lockstep/schemas"
)

func open(order, sku, warehouse string, q int64, seq int) *schemas.OpenGoodsOut {
	return &schemas.OpenGoodsOut{Meta: schemas.Meta{EventID: fmt.Sprintf("ogo:%s:%s:%d", order, sku, seq), Source: schemas.SourceLockstep,
		OccurredAt: at(-10), IngestedAt: at(-10)}, OrderRef: order, SKU: sku, Warehouse: warehouse, Open: q}
}

// TestPromisable is the rule: the larger of Clarus's allocations and
// lockstep's open goods-outs is promised, never their sum.
func TestPromisable(t *testing.T) {
	for _, tc := range []struct {
		onHand, allocated, held, open, want int64
	}{
		{100, 0, 0, 0, 100},
		{100, 0, 0, 30, 70},  // sent, not allocated yet
		{100, 30, 0, 30, 70}, // allocated now: the same 30, not 60
		{100, 40, 5, 30, 55}, // 10 allocated to an order made in Clarus
		{100, 10, 0, 30, 70}, // part allocated
		{10, 0, 0, 30, -20},  // promised more than on hand: pushed as 0
	} {
		l := stock.Level{Stock: stock.Stock{OnHand: tc.onHand, Allocated: tc.allocated, Held: tc.held}, OpenGoodsOut: tc.open}
		if got := l.Promisable(); got != tc.want {
			t.Errorf("%+v: promisable %d, want %d", tc, got, tc.want)
		}
	}
}

// TestOpenGoodsOutLowersThePush: open quantities per order are absolute,
// summed per key; a repeat counts once, an update replaces, 0 removes;
// the push offers Prima on hand - held - max(allocated, open); the state
// survives a restart; a bad one goes to the DLQ.
func TestOpenGoodsOutLowersThePush(t *testing.T) {
	r := newRig(t, 1, "", stock.Config{PushInterval: 5 * time.Minute})
	r.setClock(at(60))
	w := r.watch(t, r.commands)
	in := r.start(t)
	r.send(t,
		move("a1", "A", lon, schemas.MovementReceipt, 100, -60),
		move("b1", "B", lon, schemas.MovementReceipt, 50, -60),
		move("b2", "B", lon, schemas.MovementAllocation, 20, -50), // an order Clarus allocated
		open("SO-1", "A", lon, 10, 1),
		open("SO-2", "A", lon, 5, 1),
		open("SO-2", "A", lon, 5, 1),  // a repeat
		open("SO-3", "B", lon, 15, 1), // under what is allocated
		open("SO-4", "C", lon, 3, 1),  // a product that never moved
	)
	bad := open("", "A", lon, 1, 9)
	r.send(t, bad)
	in.waitHandled(t, 9)
	r.setClock(at(300))
	w.waitCount(t, r.commands, 1)
	got := linesOf(decodeAll[schemas.PrimaStockCommand](t, r.serde, r.readAll(t, r.commands)))
	if want := (map[string]map[string]int64{lon: {"A": 85, "B": 30, "C": 0}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("pushed %s, want %s", fmtLines(got), fmtLines(want))
	}
	if l := latestLevels(t, r)["A@"+lon]; l.OpenGoodsOut != 15 || l.Available != 100 {
		t.Fatalf("A@LON1 level %+v: want open 15, available (Clarus's) 100", l)
	}
	if dlq := r.readAll(t, r.dlq); len(dlq) != 1 {
		t.Fatalf("%d dead letters, want the open goods-out without an order", len(dlq))
	}
	in.stop(t)

	// After a restart: SO-1 part shipped (absolute 4), SO-2 done (0), and
	// SO-3 grows past what Clarus allocated.
	in = r.start(t)
	r.send(t, open("SO-1", "A", lon, 4, 2), open("SO-2", "A", lon, 0, 2), open("SO-3", "B", lon, 25, 2))
	in.waitHandled(t, 3)
	r.setClock(at(600))
	w.waitCount(t, r.commands, 2)
	in.stop(t)
	cmds := decodeAll[schemas.PrimaStockCommand](t, r.serde, r.readAll(t, r.commands))
	if got, want := linesOf(cmds[1:]), (map[string]map[string]int64{lon: {"A": 96, "B": 25}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("second push %s, want %s", fmtLines(got), fmtLines(want))
	}
}
