package stock

import (
	"fmt"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// BenchmarkFoldState is what the handler does with state per movement,
// without the runtime and Avro: decode the level, fold, append the effect
// to the encoded journal (trimming it when due), encode the level; over
// 1000 keys with movements spaced by gap in data time, so that a key's
// journal holds (15m window x 1.25) / (1000 x gap) entries at most.
func BenchmarkFoldState(b *testing.B) {
	for _, gap := range []time.Duration{time.Millisecond, 100 * time.Millisecond} {
		b.Run(fmt.Sprintf("gap=%s", gap), func(b *testing.B) {
			const keys = 1000
			kinds := []schemas.StockMovementKind{schemas.MovementReceipt, schemas.MovementAllocation, schemas.MovementPick, schemas.MovementHold, schemas.MovementRelease}
			levels, journals := make([][]byte, keys), make([][]byte, keys)
			for i := range levels {
				levels[i] = AppendLevel(nil, Level{})
			}
			m := schemas.StockMovement{MovementID: "goods_out/1234567/89", SKU: "S", Warehouse: "W", Quantity: 2}
			window := 15 * time.Minute
			var buf []byte
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				k := i % keys
				m.Kind, m.OccurredAt = kinds[i%len(kinds)], t0.Add(time.Duration(i)*gap)
				prev, err := DecodeLevel(levels[k])
				if err != nil {
					b.Fatal(err)
				}
				e := Effect(prev.Stock, &m)
				next, _ := Fold(prev, m)
				buf, err = journalAdd(buf[:0], journals[k], m.OccurredAt, e, next.AsOf.Add(-window), window/4)
				if err != nil {
					b.Fatal(err)
				}
				journals[k] = append(journals[k][:0], buf...)
				buf = AppendLevel(buf[:0], next)
				levels[k] = append(levels[k][:0], buf...)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
