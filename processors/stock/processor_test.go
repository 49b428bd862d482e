package stock_test

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/processors/stock"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

const (
	lon = "LON1"
	man = "MAN2"
)

// Movements for a few SKUs in two warehouses, with repeats, are pushed once
// the clock passes the push interval: one command per warehouse with the
// absolute available levels; after a restart on the same state, the next
// push carries only the keys whose available changed.
func TestPushPerWarehouse(t *testing.T) {
	r := newRig(t, 1, "", stock.Config{PushInterval: 5 * time.Minute})
	r.setClock(at(60)) // 09:01: the first push is due at 09:05
	w := r.watch(t, r.commands)
	in := r.start(t)

	r.send(t,
		move("lon-a1", "A", lon, schemas.MovementReceipt, 100, -60),
		move("lon-a2", "A", lon, schemas.MovementAllocation, 10, -50),
		move("lon-a3", "A", lon, schemas.MovementPick, -4, -40), // 96 on hand, 6 allocated
		move("lon-a4", "A", lon, schemas.MovementHold, 5, -30),  // available 85
		move("lon-b1", "B", lon, schemas.MovementReceipt, 50, -60),
		move("lon-b2", "B", lon, schemas.MovementAdjustment, -3, -50), // 47
		move("lon-c1", "C", lon, schemas.MovementReceipt, 20, -60),
		move("lon-c2", "C", lon, schemas.MovementCount, 18, -50), // 18
		move("man-a1", "A", man, schemas.MovementReceipt, 30, -60),
		move("man-a2", "A", man, schemas.MovementHold, 2, -50),
		move("man-a3", "A", man, schemas.MovementRelease, -1, -40), // 29
		move("man-b1", "B", man, schemas.MovementReceipt, 7, -60),
		move("man-b2", "B", man, schemas.MovementAllocation, 9, -50), // -2: pushed as 0
	)
	// Repeats, as webhooks are delivered at least once: same movement ids.
	dupA, dupB := move("lon-a1", "A", lon, schemas.MovementReceipt, 100, -60), move("man-b1", "B", man, schemas.MovementReceipt, 7, -60)
	dupA.EventID, dupB.EventID = "clarus/lon-a1#2", "clarus/man-b1#2"
	r.send(t, dupA, dupB)
	in.waitHandled(t, 15)
	if got := r.readAll(t, r.commands); len(got) != 0 {
		t.Fatalf("%d commands before the push was due", len(got))
	}

	due := at(300)
	r.setClock(due)
	w.waitCount(t, r.commands, 2)
	cmds := decodeAll[schemas.PrimaStockCommand](t, r.serde, r.readAll(t, r.commands))
	want := map[string]map[string]int64{lon: {"A": 85, "B": 47, "C": 18}, man: {"A": 29, "B": 0}}
	if len(cmds) != 2 || !reflect.DeepEqual(linesOf(cmds), want) {
		t.Fatalf("commands %s, want %s (%d commands)", fmtLines(linesOf(cmds)), fmtLines(want), len(cmds))
	}
	for _, c := range cmds {
		ref := fmt.Sprintf("stock:%s:p0:%d", c.Warehouse, due.UnixMilli())
		if c.BatchRef != ref || c.EventID != ref || c.Source != schemas.SourceLockstep || !c.OccurredAt.Equal(due) || !c.IngestedAt.Equal(due) {
			t.Errorf("command %+v: want batch ref and event id %s", c.Meta, ref)
		}
		if !slices.IsSortedFunc(c.Lines, func(a, b schemas.PrimaStockLine) int { return strings.Compare(a.SKU, b.SKU) }) {
			t.Errorf("lines not sorted by SKU: %+v", c.Lines)
		}
	}
	levels := latestLevels(t, r)
	if a := levels["A@"+lon]; a.OnHand != 96 || a.Allocated != 6 || a.Held != 5 || a.Available != 85 || a.LastMovementID == nil || *a.LastMovementID != "lon-a4" {
		t.Fatalf("A@LON1 level %+v", a)
	}
	if b := levels["B@"+man]; b.Available != -2 || len(levels) != 5 {
		t.Fatalf("B@MAN2 level %+v; %d levels", b, len(levels))
	}
	in.stop(t)

	// Restart on the same state: repeats of pushed movements stay dropped,
	// and keys whose available came back to what was pushed are not pushed.
	dupB2 := move("lon-b2", "B", lon, schemas.MovementAdjustment, -3, -50)
	dupB2.EventID = "clarus/lon-b2#2"
	r.send(t,
		move("lon-b3", "B", lon, schemas.MovementAdjustment, -2, 310), // 45
		dupB2,
		move("lon-c3", "C", lon, schemas.MovementHold, 1, 320),
		move("lon-c4", "C", lon, schemas.MovementRelease, -1, 330), // back to 18
		move("man-a4", "A", man, schemas.MovementAllocation, 3, 320),
		move("man-a5", "A", man, schemas.MovementDeallocation, -3, 330), // back to 29
	)
	in = r.start(t)
	in.waitHandled(t, 6)
	due2 := at(600)
	r.setClock(due2)
	w.waitCount(t, r.commands, 3)
	in.stop(t)
	cmds = decodeAll[schemas.PrimaStockCommand](t, r.serde, r.readAll(t, r.commands))
	if len(cmds) != 3 {
		t.Fatalf("%d commands after the second push, want 3", len(cmds))
	}
	c := cmds[2]
	if c.Warehouse != lon || c.BatchRef != fmt.Sprintf("stock:%s:p0:%d", lon, due2.UnixMilli()) ||
		!reflect.DeepEqual(c.Lines, []schemas.PrimaStockLine{{SKU: "B", Available: 45}}) {
		t.Fatalf("second push: %s %+v", c.BatchRef, c.Lines)
	}
	// Every key that changed got its level, available changed or not.
	levels = latestLevels(t, r)
	if n := len(r.readAll(t, r.levels)); n != 8 {
		t.Errorf("%d stock levels, want 5 + 3", n)
	}
	if c := levels["C@"+lon]; c.OnHand != 18 || c.Held != 0 || *c.LastMovementID != "lon-c4" {
		t.Errorf("C@LON1 level %+v", c)
	}
	if dl := r.readAll(t, r.dlq); len(dl) != 0 {
		t.Errorf("%d records in the DLQ", len(dl))
	}
}

// latestLevels is the compacted view of lockstep.stock-levels.
func latestLevels(t *testing.T, r *rig) map[string]*schemas.StockLevel {
	t.Helper()
	out := map[string]*schemas.StockLevel{}
	for _, l := range decodeAll[schemas.StockLevel](t, r.serde, r.readAll(t, r.levels)) {
		out[schemas.StockKey(l.SKU, l.Warehouse)] = l
	}
	return out
}

// A missed movement then a snapshot yields one wms_feed_gap, at its
// deadline; movements after the as_of, a correction of allocated only, a
// key's first snapshot, a missed movement arriving late and a repeated
// snapshot yield none.
func TestSnapshotRebase(t *testing.T) {
	r := newRig(t, 3, "t1.", stock.Config{})
	r.setClock(at(60))
	w := r.watch(t, r.commands, r.drift)
	in := r.start(t)
	// Movements and snapshots are on two topics, consumed in no particular
	// order: each step waits for the previous one to be handled.
	r.send(t,
		move("a1", "A", lon, schemas.MovementReceipt, 10, 10),
		// a2, a receipt of 5 at 20s, is missed.
		move("b1", "B", lon, schemas.MovementReceipt, 10, 10),
		move("b2", "B", lon, schemas.MovementPick, -3, 40), // after the snapshot: in flight
		move("c1", "C", man, schemas.MovementReceipt, 8, 10),
		move("e1", "E", lon, schemas.MovementReceipt, 10, 10),
		// e2, a receipt of 2 at 20s, is missed and never comes.
	)
	in.waitHandled(t, 5)
	r.send(t,
		snapshot("s1", "A", lon, 15, 0, 0, 30),
		snapshot("s1", "B", lon, 10, 3, 0, 30), // the pick at 40s consumed the 3 allocated
		snapshot("s1", "C", man, 8, 2, 0, 30),  // allocations come through snapshots
		snapshot("s1", "D", man, 42, 0, 0, 30), // a key's first news
		snapshot("s1", "E", lon, 12, 0, 0, 30),
	)
	in.waitHandled(t, 10)
	r.send(t,
		move("a2", "A", lon, schemas.MovementReceipt, 5, 20), // late: counted in s1 already
		snapshot("s1", "A", lon, 15, 0, 0, 30),               // delivered again
	)
	in.waitHandled(t, 12)
	r.send(t, move("a3", "A", lon, schemas.MovementReceipt, 1, 50))
	in.waitHandled(t, 13)

	due := at(300) // past the gaps' deadline too: 60s + 2m
	r.setClock(due)
	// Two warehouses over three partitions: at least two commands.
	w.waitCount(t, r.commands, 2)
	w.waitCount(t, r.drift, 1)
	in.stop(t)
	cmds := decodeAll[schemas.PrimaStockCommand](t, r.serde, r.readAll(t, r.commands))
	want := map[string]map[string]int64{lon: {"A": 16, "B": 7, "E": 12}, man: {"C": 6, "D": 42}}
	if got := linesOf(cmds); !reflect.DeepEqual(got, want) {
		t.Fatalf("pushed %s, want %s", fmtLines(got), fmtLines(want))
	}
	refs := map[string]bool{}
	lines := 0
	for _, c := range cmds {
		if refs[c.BatchRef] || !strings.HasPrefix(c.BatchRef, "stock:"+c.Warehouse+":p") || !strings.HasSuffix(c.BatchRef, fmt.Sprint(":", due.UnixMilli())) {
			t.Errorf("batch ref %q repeated or malformed", c.BatchRef)
		}
		refs[c.BatchRef] = true
		lines += len(c.Lines)
	}
	if lines != 5 {
		t.Errorf("%d lines over %d commands, want 5", lines, len(cmds))
	}

	drift := decodeAll[schemas.DriftEvent](t, r.serde, r.readAll(t, r.drift))
	if len(drift) != 1 {
		t.Fatalf("%d drift events, want 1: %+v", len(drift), drift)
	}
	d := drift[0]
	id := "wms_feed_gap:E@LON1:s1"
	if d.DiscrepancyID != id || d.EventID != id+":open" || d.Kind != schemas.DriftWMSFeedGap || d.Owner != schemas.OwnerOperations ||
		d.Status != schemas.DriftOpen || *d.SKU != "E" || *d.Warehouse != lon ||
		*d.ExpectedQty != 12 || *d.ActualQty != 10 || *d.DeltaQty != -2 || !d.OccurredAt.Equal(at(30)) || !d.IngestedAt.Equal(due) {
		t.Fatalf("drift %+v", d)
	}
	recs := r.readAll(t, r.drift)
	if string(recs[0].Key) != id {
		t.Fatalf("drift keyed %q", recs[0].Key)
	}
	levels := latestLevels(t, r)
	if a := levels["A@"+lon]; a.OnHand != 16 || *a.LastMovementID != "a3" {
		t.Fatalf("A@LON1 level %+v", a)
	}
	if b := levels["B@"+lon]; b.OnHand != 7 || b.Allocated != 0 {
		t.Fatalf("B@LON1 level %+v", b)
	}
}

// An undecodable record, a movement under the wrong key and an unusable
// snapshot go to the DLQ with their reason; the rest is processed.
func TestRejectsToDLQ(t *testing.T) {
	r := newRig(t, 1, "", stock.Config{PushInterval: time.Minute})
	r.setClock(at(0))
	w := r.watch(t, r.commands)
	in := r.start(t)
	wrongKey, _ := r.serde.Encode(context.Background(), move("k1", "A", lon, schemas.MovementReceipt, 1, -5))
	badSnap := snapshot("", "A", lon, 1, 0, 0, -5)
	badSnapBytes, _ := r.serde.Encode(context.Background(), badSnap)
	r.sendRaw(t,
		&kgo.Record{Topic: r.movements, Key: []byte("A@" + lon), Value: []byte("not avro")},
		&kgo.Record{Topic: r.movements, Key: []byte("B@" + lon), Value: wrongKey},
		&kgo.Record{Topic: r.snapshots, Key: []byte("A@" + lon), Value: badSnapBytes},
	)
	r.send(t, move("ok1", "A", lon, schemas.MovementReceipt, 12, -5))
	in.waitHandled(t, 4)
	r.setClock(at(60))
	w.waitCount(t, r.commands, 1)
	in.stop(t)

	cmds := decodeAll[schemas.PrimaStockCommand](t, r.serde, r.readAll(t, r.commands))
	if got := linesOf(cmds); len(cmds) != 1 || !reflect.DeepEqual(got, map[string]map[string]int64{lon: {"A": 12}}) {
		t.Fatalf("pushed %s", fmtLines(got))
	}
	dlq := r.readAll(t, r.dlq)
	letters := decodeAll[schemas.DeadLetter](t, r.serde, dlq)
	if len(letters) != 3 {
		t.Fatalf("%d dead letters, want 3", len(letters))
	}
	reasons := map[string]string{}
	for i, dl := range letters {
		if dl.Stage != stock.Name || (dl.OriginalTopic != r.movements && dl.OriginalTopic != r.snapshots) {
			t.Errorf("dead letter %+v", dl)
		}
		reasons[string(dl.OriginalValue)] = dl.Reason
		if !slices.ContainsFunc(dlq[i].Headers, func(h kgo.RecordHeader) bool { return h.Key == deadletter.HeaderReason && len(h.Value) > 0 }) {
			t.Errorf("dead letter %d has no reason header", i)
		}
	}
	for value, want := range map[string]string{"not avro": "bad magic", string(wrongKey): "is not the movement's sku@warehouse", string(badSnapBytes): "no snapshot id"} {
		if !strings.Contains(reasons[value], want) {
			t.Errorf("reason %q, want it to mention %q (reasons %v)", reasons[value], want, slices.Collect(maps.Values(reasons)))
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	var c stock.Config
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{
		Target: &c, Lookuper: envconfig.PrefixLookuper("LOCKSTEP_", envconfig.MapLookuper(map[string]string{"LOCKSTEP_STOCK_PUSH_INTERVAL": "90s"})),
	}); err != nil {
		t.Fatal(err)
	}
	want := stock.Config{PushInterval: 90 * time.Second, DedupeTTL: 7 * 24 * time.Hour, JournalWindow: 15 * time.Minute, FeedGapGrace: 2 * time.Minute}
	if c != want {
		t.Fatalf("config %+v, want %+v", c, want)
	}
	if err := (stock.Config{PushInterval: time.Millisecond, DedupeTTL: time.Hour, JournalWindow: time.Minute, FeedGapGrace: time.Minute}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "LOCKSTEP_STOCK_PUSH_INTERVAL") {
		t.Fatalf("validate: %v", err)
	}
	for _, grace := range []time.Duration{-time.Minute, time.Millisecond, 25 * time.Hour} {
		if err := (stock.Config{PushInterval: time.Minute, DedupeTTL: time.Hour, JournalWindow: time.Minute, FeedGapGrace: grace}).Validate(); err == nil ||
			!strings.Contains(err.Error(), "LOCKSTEP_STOCK_FEED_GAP_GRACE") {
			t.Fatalf("validate a grace of %s: %v", grace, err)
		}
	}
	if _, err := stock.Topology(stock.Config{}, nil); err == nil {
		t.Fatal("topology without a serde")
	}
	topo, err := stock.Topology(stock.Config{TopicPrefix: "x."}, schemas.NewSerde(schemas.NewMemRegistry()))
	if err != nil || topo.Name != "stock" || !slices.Equal(topo.Inputs, []string{"x.clarus.stock-movements", "x.clarus.stock-snapshots", "x.lockstep.open-goods-out"}) ||
		!slices.Equal(topo.Outputs, []string{"x.lockstep.stock-levels", "x.lockstep.cmd.prima-stock", "x.lockstep.drift"}) {
		t.Fatalf("topology %+v %v", topo, err)
	}
	if _, ok := topo.Handler.(stream.TimerHandler); !ok {
		t.Fatal("the handler does not fire timers")
	}
}
