package prima_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// newParityEnv is a sink and a parity check on a clock that moves only
// when the test moves it, with a token bucket that never makes a call wait
// on that clock.
func newParityEnv(t *testing.T, skus ...string) *sinkEnv {
	e := newManualEnv(t, skus...)
	e.cfg.RatePerSecond, e.cfg.Burst = 1000, 1000
	return e
}

// waitKeys waits until the parity check counts n keys in state.
func (e *sinkEnv) waitKeys(state string, n int) {
	e.t.Helper()
	waitFor(e.t, "parity keys "+state, func() bool { return e.metric("lockstep_prima_parity_keys", state) == float64(n) })
}

// waitChecked waits until the parity check has made a pass at the
// clock's current time, having read every stock level the source wrote.
func (e *sinkEnv) waitChecked() {
	e.t.Helper()
	now := float64(e.manual.Now().UnixMilli()) / 1000
	checked := func() float64 { return e.metric("lockstep_prima_parity_checked_timestamp_seconds") }
	levels := func() float64 { return e.metric("lockstep_prima_parity_records_total", schemas.TopicPrimaStockLevels) }
	deadline := time.Now().Add(30 * time.Second)
	for checked() < now || levels() != float64(e.levels) {
		if time.Now().After(deadline) {
			e.t.Fatalf("no parity pass at %v: last pass at %v, %v of %d stock levels read", now, checked(), levels(), e.levels)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A level overwritten by hand in Prima, long after lockstep pushed it,
// raises exactly one stock_parity discrepancy for finance, valued at unit
// cost, updated when Prima's figure changes again, and resolved once it is
// corrected, by a parity check that restarted meanwhile. The other key,
// untouched, raises nothing.
func TestParityFlagsHandOverwrite(t *testing.T) {
	e := newParityEnv(t, "ST1/BLK/9", "ST1/BLK/10")
	mustApply(t, e.sim, primasim.Event{Type: "set_item_cost", SKU: "ST1/BLK/9", UnitCost: ptr(schemas.MustParseDecimal("12.3400"))})
	e.produce(command("b1", "WH1", line("ST1/BLK/9", 5), line("ST1/BLK/10", 7)))
	e.start()
	e.waitCommitted()
	e.pollPrima()
	stop := e.startParity()
	e.waitKeys("settling", 2)
	e.manual.Advance(e.cfg.ParitySettle)
	e.waitKeys("agree", 2)

	e.manual.Advance(time.Hour)
	mustApply(t, e.sim, primasim.Event{Type: "set_stock", SKU: "ST1/BLK/9", Warehouse: "WH1", Available: ptr[int64](9)})
	e.pollPrima()
	e.waitKeys("differ", 1)
	evs := driftEvents(t, e, schemas.DriftStockParity)
	if len(evs) != 1 {
		t.Fatalf("%d stock_parity events, want 1: %+v", len(evs), evs)
	}
	ev := evs[0]
	if ev.DiscrepancyID != "stock_parity/ST1/BLK/9@WH1" || ev.Status != schemas.DriftOpen || ev.Owner != schemas.OwnerFinance ||
		*ev.SKU != "ST1/BLK/9" || *ev.Warehouse != "WH1" || *ev.ExpectedQty != 5 || *ev.ActualQty != 9 || *ev.DeltaQty != 4 ||
		*ev.ValueDelta != schemas.MustParseDecimal("49.3600") || *ev.Currency != "GBP" {
		t.Fatalf("event %+v", ev)
	}

	mustApply(t, e.sim, primasim.Event{Type: "set_stock", SKU: "ST1/BLK/9", Warehouse: "WH1", Available: ptr[int64](11)})
	e.pollPrima()
	waitFor(t, "the discrepancy to update", func() bool { return e.metric("lockstep_prima_parity_drift_events_total", "updated") == 1 })

	// Corrected while no parity check runs: the next one resolves it.
	stop()
	mustApply(t, e.sim, primasim.Event{Type: "set_stock", SKU: "ST1/BLK/9", Warehouse: "WH1", Available: ptr[int64](5)})
	e.pollPrima()
	e.startParity()
	waitFor(t, "the discrepancy to resolve", func() bool { return e.metric("lockstep_prima_parity_drift_events_total", "resolved") == 1 })
	evs = driftEvents(t, e, schemas.DriftStockParity)
	want := []schemas.DriftStatus{schemas.DriftOpen, schemas.DriftUpdated, schemas.DriftResolved}
	if got := statuses(evs, "stock_parity/ST1/BLK/9@WH1"); len(evs) != 3 || !slices.Equal(got, want) {
		t.Fatalf("stock_parity events %v (%d in all), want %v", got, len(evs), want)
	}
	if *evs[1].ActualQty != 11 || *evs[1].DeltaQty != 6 {
		t.Fatalf("updated event %+v", evs[1])
	}
}

// A Prima level that differs only because lockstep's push is in flight
// (Prima failing, retried over several settle windows) or not yet settled
// (applied, but the source has not polled it back) raises nothing.
func TestParityWaitsForPushInFlight(t *testing.T) {
	e := newParityEnv(t, "ST1/BLK/9")
	mustApply(t, e.sim, primasim.Event{Type: "set_stock", SKU: "ST1/BLK/9", Warehouse: "WH1", Available: ptr[int64](10)})
	var down atomic.Bool
	down.Store(true)
	e.script.rule = func(typ string, _, _ int, _ []byte) action {
		if typ == "StockLevelUpdate" && down.Load() {
			return action{status: 503}
		}
		return action{}
	}
	e.start() // Prima's own level, 10, reaches prima.stock-levels
	e.startParity()
	e.produce(command("b1", "WH1", line("ST1/BLK/9", 5)))
	waitFor(t, "the parity check to read the push's mark", func() bool {
		return e.metric("lockstep_prima_parity_records_total", schemas.TopicStockPushed) == 1
	})
	noDrift := func(when string) {
		t.Helper()
		if evs := driftEvents(t, e, schemas.DriftStockParity); len(evs) != 0 {
			t.Fatalf("stock_parity drift %s: %+v", when, evs)
		}
	}
	backingOff := func() bool { return sleeping(e.manual, 10*time.Second) }
	for range 3 {
		waitFor(t, "the sink to back off", backingOff)
		e.manual.Advance(e.cfg.ParitySettle)
		e.waitChecked()
		noDrift("while the push is in flight")
	}
	waitFor(t, "the sink to back off", backingOff)
	if n := e.script.Calls("StockLevelUpdate"); n != 4 {
		t.Fatalf("%d sends, want 4: one, then one after each wait", n)
	}
	e.waitKeys("in_flight", 1)
	down.Store(false)
	e.manual.Advance(e.cfg.BackoffMax)
	e.waitCommitted()
	waitFor(t, "the parity check to read the push's outcome", func() bool {
		return e.metric("lockstep_prima_parity_records_total", schemas.TopicStockPushed) == 2
	})
	noDrift("before the pushed level was polled back") // Prima's stale 10 against 5
	e.pollPrima()
	e.waitChecked()
	noDrift("within the settle window")
	e.manual.Advance(e.cfg.ParitySettle)
	e.waitKeys("agree", 1)
	if n, _ := e.sim.State().Level("ST1/BLK/9", "WH1"); n != 5 {
		t.Fatalf("Prima holds %d", n)
	}
	noDrift("once settled")
}
