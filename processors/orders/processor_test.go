package orders_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/processors/orders"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// rig runs the orders processor on an in-process kfake cluster with an
// injected clock.
type rig struct {
	seeds []string
	serde *schemas.Serde
	prod  *kgo.Client
	now   atomic.Int64
	dir   string
}

func newRig(t *testing.T) *rig {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	r := &rig{seeds: c.ListenAddrs(), serde: schemas.NewSerde(schemas.NewMemRegistry()), dir: t.TempDir()}
	r.now.Store(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC).UnixMilli())
	if r.prod, err = kgo.NewClient(kgo.SeedBrokers(r.seeds...)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.prod.Close)
	adm := kadm.NewClient(r.prod)
	for _, topic := range []string{schemas.TopicSalesOrders, schemas.TopicOrderAcks, schemas.TopicShipments, schemas.TopicItems,
		schemas.TopicCmdClarusOrders, schemas.TopicDrift, schemas.TopicOpenGoodsOut, schemas.TopicDLQ} {
		if _, err := adm.CreateTopic(context.Background(), 2, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *rig) send(t *testing.T, topic, key string, ev schemas.Event) {
	t.Helper()
	var v []byte
	if ev != nil {
		var err error
		if v, err = r.serde.Encode(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.prod.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: []byte(key), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) start(t *testing.T) (stop func()) {
	t.Helper()
	topo, err := orders.Topology(orders.Config{RedriveInterval: 30 * time.Second}, r.serde)
	if err != nil {
		t.Fatal(err)
	}
	p, err := stream.New(stream.Config{Topology: topo, StateDir: r.dir, InstanceID: "a",
		EncodeDeadLetter: deadletter.Avro(r.serde), TimerTick: 20 * time.Millisecond,
		Clock:   func() time.Time { return time.UnixMilli(r.now.Load()).UTC() },
		Metrics: stream.NewMetrics(prometheus.NewRegistry()), Logger: slog.New(slog.DiscardHandler),
	}, kgo.SeedBrokers(r.seeds...), kgo.FetchMaxWait(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("processor: %v", err)
		}
	}
}

// reader reads a topic read-committed from the start, across calls.
type reader struct {
	cl  *kgo.Client
	got []*kgo.Record
}

func (r *rig) reader(t *testing.T, topic string) *reader {
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.seeds...), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &reader{cl: cl}
}

// wait reads until n records arrived in all, and returns them all.
func (rd *reader) wait(t *testing.T, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(rd.got) < n {
		fs := rd.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d records, want %d", len(rd.got), n)
		}
		fs.EachRecord(func(rec *kgo.Record) { rd.got = append(rd.got, rec) })
	}
	return rd.got
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

func decode[T any, P interface {
	*T
	schemas.Event
}](t *testing.T, s *schemas.Serde, rec *kgo.Record) *T {
	ev := P(new(T))
	if err := s.Decode(context.Background(), rec.Value, ev); err != nil {
		t.Fatal(err)
	}
	return (*T)(ev)
}

// TestHeldOrderRedrivenWhenItsMappingArrives runs the processor on kfake:
// the item master is a global table read before the first order; an
// order with an unmapped SKU is held and sent by its re-drive timer once
// the mapping arrives; bad orders go to the DLQ; a restart restores the
// orders' state.
func TestHeldOrderRedrivenWhenItsMappingArrives(t *testing.T) {
	r := newRig(t)
	r.send(t, schemas.TopicItems, "BOOT/9", item("BOOT/9", "SKU-1", true))
	r.send(t, schemas.TopicItems, "GIFT", item("GIFT", "", false))
	r.send(t, schemas.TopicItems, "NEW/7", item("NEW/7", "", true))
	cmds, drift, dlq := r.reader(t, schemas.TopicCmdClarusOrders), r.reader(t, schemas.TopicDrift), r.reader(t, schemas.TopicDLQ)
	// The orders are there before the processor starts: only a global
	// table read to its end first maps SO-1 at once.
	r.send(t, schemas.TopicSalesOrders, "SO-1", salesOrder("SO-1", 1, ln(1, "BOOT/9", 2), ln(2, "GIFT", 1)))
	r.send(t, schemas.TopicSalesOrders, "SO-2", salesOrder("SO-2", 1, ln(1, "BOOT/9", 1), ln(2, "NEW/7", 3)))
	r.send(t, schemas.TopicSalesOrders, "SO-3", salesOrder("SO-3", 1))                                       // no lines
	r.send(t, schemas.TopicSalesOrders, "SO-4", salesOrder("SO-4", 1, ln(1, "BOOT/9", 1), ln(1, "GIFT", 1))) // duplicate line 1
	r.send(t, schemas.TopicSalesOrders, "SO-1", salesOrder("SO-1", 1, ln(1, "BOOT/9", 2), ln(2, "GIFT", 1))) // a repeat
	stop := r.start(t)

	got := cmds.wait(t, 1)
	c := decode[schemas.ClarusOrderCommand](t, r.serde, got[0])
	if c.OrderRef != "SO-1" || c.Action != schemas.ClarusOrderCreate || len(c.Lines) != 1 || c.Lines[0].ClarusCode != "SKU-1" || c.Lines[0].Quantity != 2 {
		t.Fatalf("first command %+v", c)
	}
	d := decode[schemas.DriftEvent](t, r.serde, drift.wait(t, 1)[0])
	if d.Kind != schemas.DriftSKUUnmapped || d.Status != schemas.DriftOpen || *d.OrderRef != "SO-2" || *d.SKU != "NEW/7" || d.Owner != schemas.OwnerWarehouse {
		t.Fatalf("drift %+v", d)
	}
	dl := dlq.wait(t, 2)
	reasons := header(dl[0], "reason") + " | " + header(dl[1], "reason")
	for _, want := range []string{"SO-3 version 1: no lines", "SO-4 version 1: line number 1 appears twice"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("DLQ reasons %q lack %q", reasons, want)
		}
	}

	// The mapping arrives; the processor restarts in between, restoring
	// the held order (and its timer) from the changelog.
	stop()
	r.send(t, schemas.TopicItems, "NEW/7", item("NEW/7", "SKU-7", true))
	stop = r.start(t)
	defer stop()
	r.now.Add((31 * time.Second).Milliseconds())
	got = cmds.wait(t, 2)
	c = decode[schemas.ClarusOrderCommand](t, r.serde, got[1])
	if c.OrderRef != "SO-2" || len(c.Lines) != 2 || c.Lines[1].ClarusCode != "SKU-7" {
		t.Fatalf("re-driven command %+v", c)
	}
	d = decode[schemas.DriftEvent](t, r.serde, drift.wait(t, 2)[1])
	if d.Status != schemas.DriftResolved || d.DiscrepancyID != "sku_unmapped/order/SO-2/NEW/7" {
		t.Fatalf("drift %+v", d)
	}
	if len(cmds.got) != 2 {
		t.Fatalf("%d commands, want 2 (the repeat of SO-1 must not send again)", len(cmds.got))
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if strings.Contains(h.Key, key) {
			return string(h.Value)
		}
	}
	return ""
}
