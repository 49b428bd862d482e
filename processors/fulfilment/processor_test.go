package fulfilment_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/processors/fulfilment"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// rig runs the fulfilment processor on an in-process kfake cluster with an
// injected clock.
type rig struct {
	seeds []string
	serde *schemas.Serde
	prod  *kgo.Client
	now   atomic.Int64
	dir   string
}

var start = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

func newRig(t *testing.T) *rig {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	r := &rig{seeds: c.ListenAddrs(), serde: schemas.NewSerde(schemas.NewMemRegistry()), dir: t.TempDir()}
	r.now.Store(start.UnixMilli())
	if r.prod, err = kgo.NewClient(kgo.SeedBrokers(r.seeds...)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.prod.Close)
	adm := kadm.NewClient(r.prod)
	for _, topic := range []string{schemas.TopicSalesOrders, schemas.TopicCmdClarusOrders, schemas.TopicShipments, schemas.TopicDespatchNotes,
		schemas.TopicCmdPrimaDespatch, schemas.TopicFulfilment, schemas.TopicDrift, schemas.TopicDLQ} {
		if _, err := adm.CreateTopic(context.Background(), 2, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *rig) send(t *testing.T, topic, key string, ev schemas.Event) {
	t.Helper()
	v := []byte{0, 0, 0, 0, 99} // not Avro: a record the processor must dead-letter
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
	topo, err := fulfilment.Topology(fulfilment.Config{DespatchSLA: 30 * time.Minute, MatchGrace: 10 * time.Minute}, r.serde)
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

func meta(id string) schemas.Meta {
	return schemas.Meta{EventID: id, Source: schemas.SourceLockstep, OccurredAt: start, IngestedAt: start}
}

func released(ref string) *schemas.SalesOrder {
	return &schemas.SalesOrder{Meta: meta(ref + ":1"), OrderRef: ref, Version: 1, Status: schemas.SalesOrderReleased,
		Warehouse: "WH1", Currency: "GBP", Lines: []schemas.SalesOrderLine{
			{LineNo: 1, SKU: "BOOT/9", Quantity: 2, StockItem: true, UnitPrice: schemas.MustParseDecimal("40")},
			{LineNo: 2, SKU: "GIFT", Quantity: 1, UnitPrice: schemas.MustParseDecimal("25")}}}
}

func created(ref string) *schemas.ClarusOrderCommand {
	return &schemas.ClarusOrderCommand{Meta: meta(ref + ":create"), OrderRef: ref, OrderVersion: 1, Action: schemas.ClarusOrderCreate,
		Warehouse: "WH1", Lines: []schemas.ClarusLine{{LineNo: 1, SKU: "BOOT/9", ClarusCode: "SKU-1", Quantity: 2}}}
}

func shipped(ref, id string, qty int64, complete bool) *schemas.Shipment {
	return &schemas.Shipment{Meta: meta("clarus:shipment:" + id), ShipmentID: id, OrderRef: ref, Status: schemas.ShipmentConfirmed,
		Warehouse: "WH1", Lines: []schemas.ShipmentLine{{SKU: "SKU-1", Quantity: qty, Picked: qty}}, OrderComplete: complete}
}

func noted(ref, shipment, id string, qty int64) *schemas.DespatchNote {
	return &schemas.DespatchNote{Meta: meta("prima:despatch-note:" + id), OrderRef: ref, ShipmentID: shipment,
		Status: schemas.DespatchCreated, DespatchNoteID: &id, Lines: []schemas.Line{{SKU: "BOOT/9", Quantity: qty}, {SKU: "GIFT", Quantity: 1}}}
}

// TestShipmentNotedAndClosedOnKafka runs the join on kfake: a shipment
// asks once for its note (a repeated shipment does not ask again); Prima's
// note closes the order in Clarus; a shipment with no note opens
// missing_despatch when the SLA passes, across a restart that restores the
// state and its timer; an undecodable record goes to the DLQ.
func TestShipmentNotedAndClosedOnKafka(t *testing.T) {
	r := newRig(t)
	despatch, sent, closed, drift, dlq := r.reader(t, schemas.TopicCmdPrimaDespatch), r.reader(t, schemas.TopicCmdClarusOrders),
		r.reader(t, schemas.TopicFulfilment), r.reader(t, schemas.TopicDrift), r.reader(t, schemas.TopicDLQ)
	for _, ref := range []string{"SO-1", "SO-2"} {
		r.send(t, schemas.TopicSalesOrders, ref, released(ref))
		r.send(t, schemas.TopicCmdClarusOrders, ref, created(ref))
	}
	r.send(t, schemas.TopicShipments, "SO-1", shipped("SO-1", "S1", 2, true))
	r.send(t, schemas.TopicShipments, "SO-1", shipped("SO-1", "S1", 2, true)) // webhook and sweep
	r.send(t, schemas.TopicShipments, "SO-2", shipped("SO-2", "S2", 1, false))
	r.send(t, schemas.TopicShipments, "SO-9", nil)
	stop := r.start(t)

	got := despatch.wait(t, 2)
	byShipment := map[string]*schemas.DespatchCommand{}
	for _, rec := range got {
		c := decode[schemas.DespatchCommand](t, r.serde, rec)
		byShipment[c.ShipmentID] = c
	}
	if c := byShipment["S1"]; c == nil || c.OrderRef != "SO-1" || len(c.Lines) != 2 || c.Lines[0].SKU != "BOOT/9" || c.Lines[1].SKU != "GIFT" {
		t.Fatalf("despatch of S1 %+v: want BOOT/9 and the non-stock GIFT line", c)
	}
	if dl := dlq.wait(t, 1); string(dl[0].Key) != "SO-9" {
		t.Fatalf("DLQ key %q", dl[0].Key)
	}

	r.send(t, schemas.TopicDespatchNotes, "SO-1", noted("SO-1", "S1", "DN-1", 2))
	fc := decode[schemas.FulfilmentClosed](t, r.serde, closed.wait(t, 1)[0])
	if fc.OrderRef != "SO-1" || len(fc.DespatchNoteIDs) != 1 || fc.DespatchNoteIDs[0] != "DN-1" || fc.Units != 2 {
		t.Fatalf("closed %+v", fc)
	}
	var closes int
	for _, rec := range sent.wait(t, 3) { // two creates sent by the test, one close
		if c := decode[schemas.ClarusOrderCommand](t, r.serde, rec); c.Action == schemas.ClarusOrderClose {
			closes++
			if c.OrderRef != "SO-1" {
				t.Fatalf("close %+v", c)
			}
		}
	}
	if closes != 1 {
		t.Fatalf("%d close commands, want 1", closes)
	}

	// S2's note never comes. Restart, then let the SLA pass: the timer
	// survived in the changelog.
	stop()
	stop = r.start(t)
	defer stop()
	r.now.Add((31 * time.Minute).Milliseconds())
	d := decode[schemas.DriftEvent](t, r.serde, drift.wait(t, 1)[0])
	if d.Kind != schemas.DriftMissingDespatch || d.Status != schemas.DriftOpen || *d.ShipmentID != "S2" || *d.OrderRef != "SO-2" ||
		d.ValueDelta == nil || d.ValueDelta.String() != "-40.0000" || *d.Currency != "GBP" || d.Owner != schemas.OwnerFinance {
		t.Fatalf("drift %+v", d)
	}
	if n := len(despatch.wait(t, 2)); n != 2 {
		t.Fatalf("%d despatch commands after the restart, want still 2", n)
	}
}
