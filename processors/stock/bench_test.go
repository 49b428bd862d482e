package stock_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/processors/stock"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// benchMovements is a repeating mix of movements over keys sku@warehouse,
// occurred_at a millisecond apart.
func benchMovements(n, keys int) []schemas.StockMovement {
	kinds := []struct {
		kind schemas.StockMovementKind
		qty  int64
	}{
		{schemas.MovementReceipt, 20}, {schemas.MovementAllocation, 3}, {schemas.MovementPick, -3},
		{schemas.MovementAdjustment, -1}, {schemas.MovementHold, 2}, {schemas.MovementRelease, -2},
		{schemas.MovementDeallocation, -1}, {schemas.MovementCount, 40},
	}
	out := make([]schemas.StockMovement, n)
	for i := range out {
		k := kinds[i%len(kinds)]
		key := i % keys
		out[i] = schemas.StockMovement{
			Meta:       schemas.Meta{EventID: fmt.Sprintf("clarus/m%d", i), Source: schemas.SourceClarus, OccurredAt: t0.Add(time.Duration(i) * time.Millisecond), IngestedAt: t0},
			MovementID: fmt.Sprintf("m%d", i), SKU: fmt.Sprintf("SKU-%05d", key/2), Warehouse: []string{lon, man}[key%2],
			Kind: k.kind, Quantity: k.qty,
		}
	}
	return out
}

// BenchmarkFold is the pure fold, one event per op: the events/s figure is
// per core (the goal is 150k, under 6.6us an event).
func BenchmarkFold(b *testing.B) {
	ms := benchMovements(1024, 1)
	var l stock.Level
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		l, _ = stock.Fold(l, ms[i&1023])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkHandle runs b.N movements over 10,000 keys through the stream
// runtime on kfake (6 partitions, exactly-once, batches of 1000): Avro
// decode, dedupe, fold, state, changelog and transaction. Run it with
// -benchtime=200000x or so: setup produces the records first.
func BenchmarkHandle(b *testing.B) {
	r := newRig(b, 6, "", stock.Config{})
	r.batch = 1000
	r.setClock(t0)
	ms := benchMovements(b.N, 10_000)
	var wg sync.WaitGroup
	var perr error
	var mu sync.Mutex
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.seeds...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	for i := range ms {
		v, err := r.serde.Encode(context.Background(), &ms[i])
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Topic: r.movements, Key: []byte(schemas.StockKey(ms[i].SKU, ms[i].Warehouse)), Value: v},
			func(_ *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					mu.Lock()
					perr = err
					mu.Unlock()
				}
			})
	}
	wg.Wait()
	if perr != nil {
		b.Fatal(perr)
	}
	b.ResetTimer()
	in := r.start(b)
	in.waitHandled(b, b.N)
	in.stop(b) // the last batch is counted before its commit: stop waits for it
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(counter(b, in.reg, "lockstep_transactions_total"), "txns")
	ends, err := r.adm.ListEndOffsets(context.Background(), stream.ChangelogTopic(r.prefix, stock.Name))
	if err != nil {
		b.Fatal(err)
	}
	var changelog int64
	ends.Each(func(o kadm.ListedOffset) { changelog += o.Offset })
	b.ReportMetric(float64(changelog)/float64(b.N), "changelog/event") // control records included
}
