package prima_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Levels Prima refused are pushed again every RetryFailedAfter until Prima
// takes them, though no newer command for their keys ever comes: Prima
// ends with Clarus's levels, and the push_failed discrepancy, opened once,
// resolves.
func TestSinkRetriesRefusedLevels(t *testing.T) {
	e := newManualEnv(t, "ST1/BLK/9", "ST1/BLK/10")
	e.cfg.RatePerSecond, e.cfg.Burst = 1000, 1000
	e.pollPrima()
	var refuse atomic.Bool
	refuse.Store(true)
	e.script.rule = func(typ string, _, _ int, _ []byte) action {
		if typ == "StockLevelUpdate" && refuse.Load() {
			return action{status: 400} // refused at once: no backoff to step through
		}
		return action{}
	}
	e.produce(command("b1", "WH1", line("ST1/BLK/9", 5), line("ST1/BLK/10", 6)))
	stop := e.startSink()
	defer stop()
	e.waitCommitted()
	if n := len(committed(t, e.kopts, schemas.TopicDLQ)); n != 1 {
		t.Fatalf("%d parked, want b1", n)
	}

	// Due only once the interval has passed since the failure.
	retryAt := e.manual.Now().Add(e.cfg.RetryFailedAfter)
	waitFor(t, "the retry timer", func() bool { next, ok := e.manual.Next(); return ok && next.Equal(retryAt) })
	// Still refused: the lines stay failed, the discrepancy stays open.
	e.manual.Advance(e.cfg.RetryFailedAfter)
	waitFor(t, "a second refusal", func() bool { return e.script.Calls("StockLevelUpdate") == 2 })
	retryAt = retryAt.Add(e.cfg.RetryFailedAfter)
	waitFor(t, "the next retry timer", func() bool { next, ok := e.manual.Next(); return ok && next.Equal(retryAt) })
	if got := latestState[pushedJSON](t, e, schemas.TopicStockPushed); got["ST1/BLK/9@WH1"].State != "failed" || got["ST1/BLK/10@WH1"].State != "failed" {
		t.Fatalf("pushed records after a refused retry: %+v", got)
	}

	refuse.Store(false)
	e.manual.Advance(e.cfg.RetryFailedAfter)
	waitFor(t, "Prima to take the levels", func() bool {
		a, _ := e.sim.State().Level("ST1/BLK/9", "WH1")
		b, _ := e.sim.State().Level("ST1/BLK/10", "WH1")
		return a == 5 && b == 6
	})
	waitFor(t, "the discrepancy to resolve", func() bool { return len(committed(t, e.kopts, schemas.TopicDrift)) == 2 })
	drift := committed(t, e.kopts, schemas.TopicDrift)
	var opened, resolved schemas.DriftEvent
	if e.serde.Decode(context.Background(), drift[0].Value, &opened) != nil || e.serde.Decode(context.Background(), drift[1].Value, &resolved) != nil {
		t.Fatal("undecodable drift")
	}
	if opened.DiscrepancyID != "push_failed:prima-stock:b1" || opened.Status != schemas.DriftOpen ||
		resolved.DiscrepancyID != opened.DiscrepancyID || resolved.Status != schemas.DriftResolved {
		t.Fatalf("drift %+v then %+v", opened, resolved)
	}
	got := latestState[pushedJSON](t, e, schemas.TopicStockPushed)
	if got["ST1/BLK/9@WH1"].State != "pushed" || got["ST1/BLK/9@WH1"].BatchRef == "b1" || got["ST1/BLK/9@WH1"].BatchRef != got["ST1/BLK/10@WH1"].BatchRef {
		t.Fatalf("pushed records: %+v, want both pushed by one retry batch", got)
	}
	if n := e.script.Calls("StockLevelUpdate"); n != 3 {
		t.Fatalf("%d updates: want the refusal, one refused retry, one retry taken", n)
	}
}
