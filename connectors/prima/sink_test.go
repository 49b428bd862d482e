package prima_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// A 429 with Retry-After: 2 holds the token bucket for exactly two seconds
// of fake time; the batch then goes through, once.
func TestSinkHonoursRetryAfter(t *testing.T) {
	e := newSinkEnv(t, 1, "ST1/BLK/9")
	e.script.rule = func(typ string, n, _ int, _ []byte) action {
		if typ == "StockLevelUpdate" && n == 1 {
			return action{status: 429, retryAfter: "2"}
		}
		return action{}
	}
	e.produce(command("b1", "WH1", line("ST1/BLK/9", 5)))
	e.start()
	e.waitCommitted()

	if w := e.clock.Waits(); len(w) != 1 || w[0] != 2*time.Second {
		t.Fatalf("waits %v, want exactly [2s]", w)
	}
	if got, _ := e.sim.State().Level("ST1/BLK/9", "WH1"); got != 5 || e.script.Calls("StockLevelUpdate") != 2 || e.script.Calls("StockLevelUpdateStatus") != 0 {
		t.Fatalf("level %d after %d updates, %d lookups", got, e.script.Calls("StockLevelUpdate"), e.script.Calls("StockLevelUpdateStatus"))
	}
	if e.metric("lockstep_prima_sink_retries_total", "429") != 1 || e.metric("lockstep_prima_sink_rate_limited_waits_total") != 1 ||
		e.metric("lockstep_prima_sink_pushes_total", "applied") != 1 {
		t.Fatal("metrics disagree")
	}
}

// Three 503s, then OK: four sends, each after a lookup that found nothing
// (a 5xx may have applied the batch), with growing jittered backoff.
func TestSinkBacksOffOn5xx(t *testing.T) {
	e := newSinkEnv(t, 1, "ST1/BLK/9")
	e.script.rule = func(typ string, n, _ int, _ []byte) action {
		if typ == "StockLevelUpdate" && n <= 3 {
			return action{status: 503}
		}
		return action{}
	}
	e.produce(command("b1", "WH1", line("ST1/BLK/9", 5)))
	e.start()
	e.waitCommitted()

	if u, l := e.script.Calls("StockLevelUpdate"), e.script.Calls("StockLevelUpdateStatus"); u != 4 || l != 3 {
		t.Fatalf("%d updates, %d lookups; want 4 and 3", u, l)
	}
	w := e.clock.Waits()
	if len(w) != 3 {
		t.Fatalf("waits %v", w)
	}
	for i, b := 0, e.cfg.BackoffBase; i < len(w); i, b = i+1, 2*b {
		if w[i] < b/2 || w[i] >= b || (i > 0 && w[i] <= w[i-1]) {
			t.Fatalf("wait %d is %v, want in [%v, %v) and above the last: %v", i, w[i], b/2, b, w)
		}
	}
	if st := e.sim.State(); st.Counters.BatchesApplied != 1 || e.metric("lockstep_prima_sink_retries_total", "5xx") != 3 {
		t.Fatalf("applied %d, retries %v", st.Counters.BatchesApplied, e.metric("lockstep_prima_sink_retries_total", "5xx"))
	}
}

// The write succeeded but the answer was lost: the lookup finds the batch
// and it is never sent a second time.
func TestSinkLooksUpAfterTimeout(t *testing.T) {
	e := newSinkEnv(t, 1, "ST1/BLK/9")
	e.script.rule = func(typ string, n, _ int, _ []byte) action {
		return action{dropAfterWrite: typ == "StockLevelUpdate" && n == 1}
	}
	e.produce(command("b1", "WH1", line("ST1/BLK/9", 5)))
	e.start()
	e.waitCommitted()

	st := e.sim.State()
	if e.script.Calls("StockLevelUpdate") != 1 || e.script.Calls("StockLevelUpdateStatus") != 1 ||
		st.Counters.BatchesApplied != 1 || st.Counters.BatchRepeats != 0 {
		t.Fatalf("%d updates, %d lookups, counters %+v", e.script.Calls("StockLevelUpdate"), e.script.Calls("StockLevelUpdateStatus"), st.Counters)
	}
	if e.metric("lockstep_prima_sink_pushes_total", "already_applied") != 1 || e.metric("lockstep_prima_sink_retries_total", "timeout") != 1 {
		t.Fatal("metrics disagree")
	}
}

// Failed lookups after an ambiguous failure back off but spend none of the
// batch's budget: with a budget of 2, one failed send and three failed
// lookups still end with the batch applied, nothing parked.
func TestSinkLookupsSpendNoAttempts(t *testing.T) {
	e := newSinkEnv(t, 1, "ST1/BLK/9")
	e.cfg.MaxAttempts = 2
	e.script.rule = func(typ string, n, _ int, _ []byte) action {
		if typ == "StockLevelUpdate" && n == 1 || typ == "StockLevelUpdateStatus" && n <= 3 {
			return action{status: 500}
		}
		return action{}
	}
	e.produce(command("b1", "WH1", line("ST1/BLK/9", 5)))
	e.start()
	e.waitCommitted()

	if got, _ := e.sim.State().Level("ST1/BLK/9", "WH1"); got != 5 || len(committed(t, e.kopts, schemas.TopicDLQ)) != 0 {
		t.Fatalf("level %d, or parked", got)
	}
	if u, l := e.script.Calls("StockLevelUpdate"), e.script.Calls("StockLevelUpdateStatus"); u != 2 || l != 4 {
		t.Fatalf("%d updates, %d lookups: want 2 and 4", u, l)
	}
}

// One push of the stock processor is one command per warehouse per
// processor partition, all keyed by warehouse: the sink sends Prima one
// call per warehouse, whose reference is derived from the commands', and
// commits them all.
func TestSinkMergesAWarehousesCommands(t *testing.T) {
	e := newSinkEnv(t, 1, "ST1/BLK/9", "ST1/BLK/10", "ST2/RED/8")
	e.pollPrima()
	e.produce(
		command("stock:WH1:p0:1000", "WH1", line("ST1/BLK/9", 1)),
		command("stock:WH2:p0:1000", "WH2", line("ST1/BLK/9", 2)),
		command("stock:WH1:p1:1000", "WH1", line("ST1/BLK/10", 3)),
		command("stock:WH1:p2:1000", "WH1", line("ST2/RED/8", 4)),
	)
	e.start()
	e.waitCommitted()

	st := e.sim.State()
	if n := e.script.Calls("StockLevelUpdate"); n != 2 || st.Counters.BatchesApplied != 2 {
		t.Fatalf("%d calls, %d batches applied: want one per warehouse", n, st.Counters.BatchesApplied)
	}
	for sku, want := range map[string]int64{"ST1/BLK/9@WH1": 1, "ST1/BLK/9@WH2": 2, "ST1/BLK/10@WH1": 3, "ST2/RED/8@WH1": 4} {
		s, wh, _ := strings.Cut(sku, "@")
		if got, _ := st.Level(s, wh); got != want {
			t.Fatalf("%s is %d, want %d", sku, got, want)
		}
	}
	pushed := latestState[pushedJSON](t, e, schemas.TopicStockPushed)
	ref := pushed["ST1/BLK/9@WH1"].BatchRef
	if !strings.HasPrefix(ref, "stock:WH1:merged:") || pushed["ST2/RED/8@WH1"].BatchRef != ref || pushed["ST1/BLK/9@WH2"].BatchRef != "stock:WH2:p0:1000" {
		t.Fatalf("pushed records %+v", pushed)
	}
}

// A batch that fails past its budget is parked in the DLQ with its reason
// and coordinates, a push_failed drift event opens for operations, its
// offset is committed, and the next command goes through.
func TestSinkParksAfterBudget(t *testing.T) {
	e := newSinkEnv(t, 1, "ST1/BLK/9")
	e.cfg.MaxAttempts = 3
	e.script.rule = func(typ string, _, _ int, body []byte) action {
		if typ == "StockLevelUpdate" && bytes.Contains(body, []byte(`BatchRef="b-bad"`)) {
			return action{status: 500}
		}
		return action{}
	}
	bad := e.produce(command("b-bad", "WH1", line("ST1/BLK/9", 5)))[0]
	e.produce(command("b-good", "WH1", line("ST1/BLK/9", 7)))
	e.start()
	e.waitCommitted()

	dlq := committed(t, e.kopts, schemas.TopicDLQ)
	if len(dlq) != 1 || string(dlq[0].Key) != "WH1" {
		t.Fatalf("DLQ %v", dlq)
	}
	h := headers(dlq[0])
	if !strings.Contains(h[deadletter.HeaderReason], "gave up after 3 failed attempts") || h[deadletter.HeaderStage] != "prima-stock-sink" ||
		h[deadletter.HeaderTopic] != schemas.TopicCmdPrimaStock || h[deadletter.HeaderPartition] != "0" || h[deadletter.HeaderOffset] != "0" {
		t.Fatalf("DLQ headers %v", h)
	}
	var dl schemas.DeadLetter
	if err := e.serde.Decode(context.Background(), dlq[0].Value, &dl); err != nil || dl.Attempts != 3 || !bytes.Equal(dl.OriginalValue, bad.Value) {
		t.Fatalf("dead letter %+v, %v", dl, err)
	}
	// Opened by the park, resolved by b-good: it pushed a newer level of
	// the only key b-bad failed to push.
	drift := committed(t, e.kopts, schemas.TopicDrift)
	var ev, healed schemas.DriftEvent
	if len(drift) != 2 || e.serde.Decode(context.Background(), drift[0].Value, &ev) != nil ||
		e.serde.Decode(context.Background(), drift[1].Value, &healed) != nil {
		t.Fatalf("drift %v", drift)
	}
	if ev.Kind != schemas.DriftPushFailed || ev.Owner != schemas.OwnerOperations || ev.Status != schemas.DriftOpen ||
		ev.Warehouse == nil || *ev.Warehouse != "WH1" || string(drift[0].Key) != "push_failed:prima-stock:b-bad" || ev.DiscrepancyID != string(drift[0].Key) {
		t.Fatalf("drift event %+v", ev)
	}
	if healed.Status != schemas.DriftResolved || healed.DiscrepancyID != ev.DiscrepancyID || healed.EventID != ev.DiscrepancyID+":resolved:b-good" {
		t.Fatalf("resolving event %+v", healed)
	}
	if got, _ := e.sim.State().Level("ST1/BLK/9", "WH1"); got != 7 || e.metric("lockstep_prima_sink_parked_total") != 1 {
		t.Fatalf("level %d, parked %v", got, e.metric("lockstep_prima_sink_parked_total"))
	}
}

// What can never succeed is parked at once: a record that is not a
// command, and a batch Prima refuses (the item became non-stock in Prima
// after the source last polled it, so the sink still maps it).
func TestSinkParksPoisonAtOnce(t *testing.T) {
	e := newSinkEnv(t, 1, "ST1/BLK/9", "GC/50")
	e.pollPrima()
	mustApply(t, e.sim, primasim.Event{Type: "add_item", SKU: "GC/50", StockItem: ptr(false)})
	e.produceRaw(&kgo.Record{Topic: schemas.TopicCmdPrimaStock, Key: []byte("WH1"), Value: []byte("not a command")})
	e.produce(command("b-refused", "WH1", line("GC/50", 1)))
	stop := e.startSink()
	e.waitCommitted()
	stop()

	dlq := committed(t, e.kopts, schemas.TopicDLQ)
	drift := committed(t, e.kopts, schemas.TopicDrift)
	if len(dlq) != 2 || len(drift) != 2 || !strings.HasPrefix(headers(dlq[0])[deadletter.HeaderReason], "decode:") ||
		!strings.Contains(headers(dlq[1])[deadletter.HeaderReason], "GC/50 is a non-stock item") {
		t.Fatalf("DLQ %v, drift %v", dlq, drift)
	}
	if k := string(drift[0].Key); k != "push_failed:prima-stock:"+schemas.TopicCmdPrimaStock+"/0@0" {
		t.Fatalf("undecodable command's discrepancy %q", k)
	}
	// Refused at the first call, with no backoff: the only waits are the
	// retry interval of the refused line, pushed again (and refused again)
	// until the sink stopped.
	if e.script.Calls("StockLevelUpdate") < 1 {
		t.Fatal("no update sent")
	}
	for _, w := range e.clock.Waits() {
		if w != e.cfg.RetryFailedAfter {
			t.Fatalf("waits %v, want only the retry interval %v", e.clock.Waits(), e.cfg.RetryFailedAfter)
		}
	}
	// Failed, or being retried when the sink stopped: either way it names
	// the discrepancy that covers it.
	if got := latestState[pushedJSON](t, e, schemas.TopicStockPushed)["GC/50@WH1"]; got.State == "pushed" || got.FailedRef != "b-refused" {
		t.Fatalf("pushed record of the refused line: %+v", got)
	}
}

// While Prima is down the sink pauses fetching and probes instead of
// spending the command's budget: six failures in a row park nothing with a
// budget of five, and the pause lifts when a probe answers.
func TestSinkPausesWhileDown(t *testing.T) {
	e := newSinkEnv(t, 1, "ST1/BLK/9")
	e.cfg.DownAfter, e.cfg.MaxAttempts = 2, 5
	e.script.rule = func(_ string, _, total int, _ []byte) action {
		if total <= 6 {
			return action{status: 503}
		}
		return action{}
	}
	var sawPaused atomic.Bool
	e.clock.setOnWait(func(time.Duration) {
		if e.metric("lockstep_prima_sink_paused") == 1 {
			sawPaused.Store(true)
		}
	})
	e.produce(command("b1", "WH1", line("ST1/BLK/9", 5)))
	e.start()
	e.waitCommitted()

	if !sawPaused.Load() || e.metric("lockstep_prima_sink_paused") != 0 {
		t.Fatal("the sink did not pause while down, or did not resume")
	}
	if h := e.ready["sink"].history(); !slices.Equal(h, []bool{true, false, true}) {
		t.Fatalf("readiness %v: want ready once joined, not while Prima is down, ready again", h)
	}
	// One send and one lookup failed (2 attempts), four probes failed,
	// the fifth answered, then the send.
	if u, l := e.script.Calls("StockLevelUpdate"), e.script.Calls("StockLevelUpdateStatus"); u != 2 || l != 6 {
		t.Fatalf("%d updates, %d lookups", u, l)
	}
	if got, _ := e.sim.State().Level("ST1/BLK/9", "WH1"); got != 5 || len(committed(t, e.kopts, schemas.TopicDLQ)) != 0 {
		t.Fatalf("level %d, or parked", got)
	}
	w := e.clock.Waits()
	for i := 1; i < len(w); i++ {
		if w[i] <= w[i-1] && w[i] < e.cfg.BackoffMax/2 {
			t.Fatalf("probe waits do not grow: %v", w)
		}
	}
}

func headers(r *kgo.Record) map[string]string {
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

// Commands in, through Kafka, the sink and a Prima that answers a fifth of
// its calls with 500, 503 or 429, and cuts off some more after applying
// them (timeouts after the write, answers cut short): Prima
// ends with exactly the commanded absolute levels, the last command per
// warehouse winning, every batch applied once and none parked.
func TestSinkEndToEndUnderFaults(t *testing.T) {
	e := newSinkEnv(t, 3)
	if _, err := e.sim.RunScenario(primasim.Scenario{Seed: 8, Items: 120}); err != nil {
		t.Fatal(err)
	}
	var items []primasim.Item
	for _, it := range e.sim.State().Items {
		items = append(items, it)
	}
	e.pollPrima() // the item master reaches Kafka before the faults start
	e.sim.SetFaults(primasim.Faults{Seed: 99, ErrorRate: 0.07, UnavailableRate: 0.05, ThrottleRate: 0.08,
		TimeoutAfterWriteRate: 0.03, MalformedRate: 0.02, RetryAfterSeconds: 1})
	e.cfg.MaxAttempts, e.cfg.DownAfter = 30, 6

	const commands = 150
	rng := rand.New(rand.NewPCG(3, 3))
	want := map[string]int64{}
	var cmds []schemas.PrimaStockCommand
	for i := range commands {
		wh := fmt.Sprintf("WH%d", i%3+1)
		var lines []schemas.PrimaStockLine
		for _, j := range rng.Perm(len(items))[:15] {
			n := rng.Int64N(200)
			lines = append(lines, cline(items[j].ClarusCode, n))
			want[schemas.StockKey(items[j].SKU, wh)] = n
		}
		cmds = append(cmds, command(fmt.Sprintf("%s-%04d", wh, i), wh, lines...))
	}
	e.produce(cmds...)
	e.startSink()
	e.waitCommitted()

	st := e.sim.State()
	if len(st.Stock) != len(want) {
		t.Fatalf("Prima holds %d levels, %d commanded", len(st.Stock), len(want))
	}
	for _, l := range st.Stock {
		if w, ok := want[schemas.StockKey(l.SKU, l.Warehouse)]; !ok || l.Available != w {
			t.Fatalf("%s@%s is %d, commanded %d", l.SKU, l.Warehouse, l.Available, w)
		}
	}
	f := st.Counters.Faults
	calls := f["429"] + f["500"] + f["503"] // answered before reaching the handler
	for _, n := range st.Counters.Requests {
		calls += n
	}
	t.Logf("%d calls; faults %v", calls, f)
	if rejected := f["429"] + f["500"] + f["503"]; rejected*100 < 15*calls || f["timeout_after_write"] == 0 || f["malformed"] == 0 {
		t.Fatalf("too few faults to mean anything: %d calls, %v", calls, f)
	}
	// Commands of one warehouse that touch different codes share a call,
	// so fewer batches than commands, each applied once.
	if n := st.Counters.BatchesApplied; n >= commands || n == 0 || st.Counters.BatchRepeats != 0 || len(committed(t, e.kopts, schemas.TopicDLQ)) != 0 {
		t.Fatalf("applied %d of %d commands, repeats %d", n, commands, st.Counters.BatchRepeats)
	}
}

// Prima applies whatever it is sent, an old batch after a new one too: a
// stale command coming after a newer one (a replay, a producer retry) is
// not sent, and Prima keeps the newer level.
func TestSinkStaleCommandDoesNotWin(t *testing.T) {
	e := newSinkEnv(t, 1, "ST1/BLK/9")
	e.pollPrima()
	e.produce(
		commandAt("new", "WH1", epoch.Add(time.Minute), line("ST1/BLK/9", 7)),
		commandAt("old", "WH1", epoch, line("ST1/BLK/9", 3)),
	)
	e.start()
	e.waitCommitted()
	if got, _ := e.sim.State().Level("ST1/BLK/9", "WH1"); got != 7 {
		t.Fatalf("Prima holds %d: the stale command won over the newer 7", got)
	}
	if n := e.script.Calls("StockLevelUpdate"); n != 1 || e.metric("lockstep_prima_sink_stale_lines_total") != 1 {
		t.Fatalf("%d updates, stale lines %v: want the newer sent, the stale one counted and dropped", n, e.metric("lockstep_prima_sink_stale_lines_total"))
	}
}
