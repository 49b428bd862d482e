package stream_test

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestOutputWatcherWakesEveryWaiter is the regression test for issue 12's
// stall on the real broker: the rebalance test's producer and the test
// goroutine both wait on the output watcher, and the last batch of output
// must wake both. With a one-token wake-up, one of them slept forever while
// every processor sat idle for want of input.
func TestOutputWatcherWakesEveryWaiter(t *testing.T) {
	synctest.Test(t, testWakesEveryWaiter)
}

func testWakesEveryWaiter(t *testing.T) {
	w := newOutputWatcher()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for _, n := range []int{2, 3, 4} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- w.until(ctx, 30*time.Second, func() bool { return len(w.seen) >= n })
		}()
	}
	synctest.Wait() // every waiter is asleep
	// One update that satisfies every waiter at once, as the last output
	// of a run does; nothing is read after it.
	var recs []*kgo.Record
	for i := range 4 {
		v := binary.BigEndian.AppendUint32(nil, 0)
		v = binary.BigEndian.AppendUint64(v, uint64(i))
		recs = append(recs, &kgo.Record{Value: v})
	}
	w.add(recs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a waiter was not woken by the update that satisfied it: %v", err)
		}
	}
}
