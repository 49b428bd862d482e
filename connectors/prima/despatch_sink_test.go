package prima_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Each command becomes one note, looked up first (the price: a look-up
// per note), with the command's shipment as its reference, its dispatch
// time, carrier and lines. A note posted produces nothing on Kafka: the
// source reading it back is its confirmation.
func TestDespatchSinkPostsOnce(t *testing.T) {
	e := newDespatchEnv(t, 2, primasim.Options{})
	e.send(despatchCmd("GO-1", "SO1", schemas.Line{SKU: "ST1/BLK/9", Quantity: 3}, schemas.Line{SKU: "GIFTCARD", Quantity: 1}),
		despatchCmd("GO-2", "SO2", schemas.Line{SKU: "ST1/BLK/9", Quantity: 1}),
		despatchCmd("GO-3", "SO1", schemas.Line{SKU: "ST1/BLK/10", Quantity: 2}))
	e.start()
	e.waitCommitted()

	notes := e.notes()
	if len(notes) != 3 || len(e.duplicates()) != 0 {
		t.Fatalf("notes %+v", notes)
	}
	n := notes["GO-1"][0]
	if n.OrderRef != "SO1" || n.Warehouse != "WH1" || n.Carrier != "DPD" || n.TrackingNumber != "TRK-GO-1" ||
		!n.DespatchDate.Equal(epoch.Add(-2*time.Hour)) || len(n.Lines) != 2 || n.Lines[1].SKU != "GIFTCARD" {
		t.Fatalf("note %+v", n)
	}
	if l, c := e.script.Calls("DespatchNotes"), e.script.Calls("NewDespatchNote"); l != 3 || c != 3 {
		t.Fatalf("%d look-ups, %d creates", l, c)
	}
	if len(committed(t, e.kopts, schemas.TopicDespatchNotes)) != 0 || len(committed(t, e.kopts, schemas.TopicDLQ)) != 0 {
		t.Fatal("a note posted produced a record")
	}
	if e.metric("lockstep_prima_despatch_commands_total", "created") != 3 ||
		e.metric("lockstep_prima_despatch_calls_total", "lookup", "ok") != 3 ||
		e.metric("lockstep_prima_despatch_calls_total", "create", "ok") != 3 || !e.ready.ready() {
		t.Fatalf("metrics, or readiness %v", e.ready.history())
	}
}

// Prima applied the create and the answer was lost: the sink looks the
// reference up before creating again, and finds the note. A 429 waits out
// its Retry-After in the bucket and is not looked up after: it applied
// nothing. One command at a time, so that the scripted call numbers are
// GO-1's then GO-2's, and no other lane's wait moves the fake clock
// between the 429 and the wait for its Retry-After.
func TestDespatchSinkLooksUpAfterLostAnswer(t *testing.T) {
	e := newDespatchEnv(t, 1, primasim.Options{})
	e.cfg.DespatchConcurrency = 1
	e.script.rule = func(typ string, n, _ int, _ []byte) action {
		switch {
		case typ == "NewDespatchNote" && n == 1:
			return action{dropAfterWrite: true}
		case typ == "NewDespatchNote" && n == 2:
			return action{status: 429, retryAfter: "3"}
		}
		return action{}
	}
	e.send(despatchCmd("GO-1", "SO1", schemas.Line{SKU: "ST1/BLK/9", Quantity: 3}),
		despatchCmd("GO-2", "SO1", schemas.Line{SKU: "ST1/BLK/9", Quantity: 1}))
	e.start()
	e.waitCommitted()

	if d := e.duplicates(); len(d) != 0 || len(e.notes()) != 2 {
		t.Fatalf("duplicates %v, notes %+v", d, e.notes())
	}
	// GO-1: look-up, create (lost), look-up (found). GO-2: look-up,
	// create (429), create.
	if l, c := e.script.Calls("DespatchNotes"), e.script.Calls("NewDespatchNote"); l != 3 || c != 3 {
		t.Fatalf("%d look-ups, %d creates", l, c)
	}
	if !slices.Contains(e.clock.Waits(), 3*time.Second) {
		t.Fatalf("Retry-After 3 not honoured: %v", e.clock.Waits())
	}
	if e.metric("lockstep_prima_despatch_commands_total", "found_existing") != 1 ||
		e.metric("lockstep_prima_despatch_commands_total", "created") != 1 ||
		e.metric("lockstep_prima_despatch_retries_total", "timeout") != 1 || e.metric("lockstep_prima_despatch_retries_total", "429") != 1 {
		t.Fatal("metrics disagree")
	}
}

// Without the look-up the same lost answer makes a second note: Prima
// keeps no idempotency, and the look-up is all that prevents it.
func TestDespatchSinkWithoutLookupDuplicates(t *testing.T) {
	e := newDespatchEnv(t, 1, primasim.Options{})
	e.tamper.blind.Store(true)
	e.script.rule = func(typ string, n, _ int, _ []byte) action {
		return action{dropAfterWrite: typ == "NewDespatchNote" && n == 1}
	}
	e.send(despatchCmd("GO-1", "SO1", schemas.Line{SKU: "ST1/BLK/9", Quantity: 3}))
	e.start()
	e.waitCommitted()
	if d := e.duplicates(); len(d) != 1 || e.sim.State().Counters.DespatchDuplicates != 1 {
		t.Fatalf("duplicates %v: the blinded look-up should have let one through", d)
	}
}

// Under server errors and answers lost after the write (20% each), on
// look-ups and creates alike, each of many commands on several
// partitions makes exactly one note: none missing, none twice, none
// reported failed.
func TestDespatchSinkUnderFaults(t *testing.T) {
	e := newDespatchEnv(t, 3, primasim.Options{})
	e.sim.SetFaults(primasim.Faults{Seed: 9, ErrorRate: 0.2, TimeoutAfterWriteRate: 0.2})
	const n = 40
	var cmds []*schemas.DespatchCommand
	for i := range n {
		cmds = append(cmds, despatchCmd(fmt.Sprintf("GO-%02d", i), []string{"SO1", "SO2"}[i%2], schemas.Line{SKU: "ST1/BLK/9", Quantity: int64(i%3 + 1)}))
	}
	e.send(cmds...)
	e.start()
	e.waitCommitted()

	notes, st := e.notes(), e.sim.State()
	if d := e.duplicates(); len(d) != 0 || st.Counters.DespatchDuplicates != 0 {
		t.Fatalf("duplicate notes: %v", d)
	}
	for _, c := range cmds {
		if ns := notes[c.ShipmentID]; len(ns) != 1 || ns[0].OrderRef != c.OrderRef || ns[0].Lines[0].Quantity != c.Lines[0].Quantity {
			t.Fatalf("%s: %+v", c.ShipmentID, ns)
		}
	}
	if f := e.failed(); len(f) != 0 {
		t.Fatalf("failed under transient faults: %+v", f)
	}
	if st.Counters.Faults["timeout_after_write"] < 5 || st.Counters.Faults["500"] < 5 {
		t.Fatalf("faults %v: too few to prove anything", st.Counters.Faults)
	}
	found, created := e.metric("lockstep_prima_despatch_commands_total", "found_existing"), e.metric("lockstep_prima_despatch_commands_total", "created")
	if found+created != n || found == 0 {
		t.Fatalf("%v created, %v found existing", created, found)
	}
	t.Logf("%d commands: %v look-ups, %v creates; %v found after a lost answer; faults %v", n,
		e.script.Calls("DespatchNotes"), e.script.Calls("NewDespatchNote"), found, st.Counters.Faults)
}

// What Prima refuses (an unknown order, a SKU not on the order), and a
// reference another order's note has taken, become a failed note on
// prima.despatch-notes with the reason, and a dead letter with the
// command's coordinates, in the transaction with the offsets; a record
// that is no command, a dead letter alone. The commands around them go
// on.
func TestDespatchSinkRejects(t *testing.T) {
	e := newDespatchEnv(t, 1, primasim.Options{})
	mustApply(t, e.sim, primasim.Event{Type: "despatch_note", OrderRef: "SO2", Reference: "GO-TAKEN",
		Lines: []primasim.OrderLine{{SKU: "ST1/BLK/9", Quantity: 1}}})
	line := schemas.Line{SKU: "ST1/BLK/9", Quantity: 1}
	e.send(despatchCmd("GO-1", "SO-NOPE", line), despatchCmd("GO-2", "SO2", schemas.Line{SKU: "ST1/BLK/10", Quantity: 1}))
	e.produce(&kgo.Record{Topic: schemas.TopicCmdPrimaDespatch, Key: []byte("SO1"), Value: []byte("not avro")})
	e.send(despatchCmd("GO-TAKEN", "SO1", line), despatchCmd("GO-OK", "SO1", line))
	e.start()
	e.waitCommitted()

	failed, dead := e.failed(), e.dead()
	if len(failed) != 3 || len(dead) != 4 {
		t.Fatalf("failed %+v, dead %+v", failed, dead)
	}
	for at, want := range map[string]struct{ ref, reason string }{
		"0@0": {"GO-1", "Prima refused the despatch note: Unknown order SO-NOPE"},
		"0@1": {"GO-2", "Prima refused the despatch note: Line 1: ST1/BLK/10 is not on order SO2"},
		"0@3": {"GO-TAKEN", "reference GO-TAKEN is taken by despatch note DN-000001 (order SO2)"},
	} {
		f := failed[want.ref]
		if f.Reason == nil || !strings.Contains(*f.Reason, want.reason) || f.EventID != "prima:despatch-post:"+want.ref+":failed" ||
			f.DespatchNoteID != nil || len(f.Lines) != 1 || dead[at].Reason != *f.Reason || dead[at].OriginalOffset != int64(at[2]-'0') {
			t.Errorf("%s: failed %+v, dead %+v", want.ref, f, dead[at])
		}
	}
	if failed["GO-1"].Source != schemas.SourcePrima || failed["GO-TAKEN"].Source != schemas.SourceLockstep {
		t.Errorf("sources %s, %s", failed["GO-1"].Source, failed["GO-TAKEN"].Source)
	}
	if dl := dead["0@2"]; !strings.HasPrefix(dl.Reason, "cannot decode the command") || string(dl.OriginalValue) != "not avro" {
		t.Errorf("undecodable: %+v", dl)
	}
	if ns := e.notes(); len(ns["GO-OK"]) != 1 || len(ns["GO-TAKEN"]) != 1 || len(ns) != 2 {
		t.Fatalf("notes %+v", ns)
	}
	if e.metric("lockstep_prima_despatch_commands_total", "rejected") != 3 || e.metric("lockstep_prima_despatch_commands_total", "dead_lettered") != 1 {
		t.Fatal("metrics disagree")
	}
}

// A sink stopped in the middle of a create Prima applied leaves its
// transaction uncommitted; the next one handles every command of it
// again, looking up first, and finds the notes already made: one note per
// shipment, however the run was cut. The other lanes go on while the
// fourth create hangs, so once Prima is done with the stopped sink's
// calls there are at least four notes.
func TestDespatchSinkRestartMidway(t *testing.T) {
	e := newDespatchEnv(t, 1, primasim.Options{})
	e.tamper.hangCreate.Store(4)
	var cmds []*schemas.DespatchCommand
	for i := range 10 {
		cmds = append(cmds, despatchCmd(fmt.Sprintf("GO-%d", i), "SO1", schemas.Line{SKU: "ST1/BLK/9", Quantity: 1}))
	}
	e.send(cmds...)
	stop := e.start()
	select {
	case <-e.tamper.hung:
	case <-time.After(30 * time.Second):
		t.Fatal("the fourth create never came")
	}
	stop()
	e.quiesce()
	if n := len(e.notes()); n < 4 {
		t.Fatalf("%d notes when the sink stopped", n)
	}
	e.start()
	e.waitCommitted()
	if d := e.duplicates(); len(d) != 0 || len(e.notes()) != 10 {
		t.Fatalf("duplicates %v, %d notes", d, len(e.notes()))
	}
	if found := e.metric("lockstep_prima_despatch_commands_total", "found_existing"); found < 1 ||
		found+e.metric("lockstep_prima_despatch_commands_total", "created") != 10 {
		t.Fatalf("%v found existing", found)
	}
}

// A post Prima answers OK and does not keep (the drop fault) produces
// nothing either: the sink cannot tell, and the read-back that never
// comes is what tells. The simulator names what it dropped.
func TestDespatchSinkDroppedPost(t *testing.T) {
	e := newDespatchEnv(t, 1, primasim.Options{DropDespatchFraction: 1})
	e.send(despatchCmd("GO-1", "SO1", schemas.Line{SKU: "ST1/BLK/9", Quantity: 1}))
	e.start()
	e.waitCommitted()
	if len(e.notes()) != 0 || !slices.Equal(e.sim.DroppedDespatchPosts(), []string{"GO-1"}) ||
		len(committed(t, e.kopts, schemas.TopicDespatchNotes)) != 0 || e.metric("lockstep_prima_despatch_commands_total", "created") != 1 {
		t.Fatalf("notes %+v, dropped %v", e.notes(), e.sim.DroppedDespatchPosts())
	}
}

// The constructor only validates.
func TestNewDespatchSinkValidates(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1")
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	if _, err := prima.NewDespatchSink(cfg, nil, serde, prima.Options{}); err == nil {
		t.Fatal("no client accepted")
	}
	cfg.DespatchRatePerSecond = -1
	if _, err := prima.NewDespatchSink(cfg, newClient(t, cfg), serde, prima.Options{}); err == nil ||
		!strings.Contains(err.Error(), "LOCKSTEP_PRIMA_DESPATCH_RATE_PER_SECOND") {
		t.Fatalf("a negative rate: %v", err)
	}
	cfg.DespatchRatePerSecond = 0 // the default
	cfg.DespatchConcurrency = -1
	if _, err := prima.NewDespatchSink(cfg, newClient(t, cfg), serde, prima.Options{}); err == nil ||
		!strings.Contains(err.Error(), "LOCKSTEP_PRIMA_DESPATCH_CONCURRENCY") {
		t.Fatalf("a negative concurrency: %v", err)
	}
	cfg.DespatchConcurrency = 0 // the default
	if _, err := prima.NewDespatchSink(cfg, newClient(t, cfg), serde, prima.Options{}, kgo.SeedBrokers("127.0.0.1:1")); err != nil {
		t.Fatal(err)
	}
}

// While Prima is down the sink waits on the command in hand, honouring
// Retry-After, and says it is not ready; when Prima is back the note is
// posted once, and the sink is ready again. Prima being down never makes
// a shipment's post fail.
func TestDespatchSinkRidesOutAnOutage(t *testing.T) {
	e := newDespatchEnv(t, 1, primasim.Options{})
	e.sim.SetFaults(primasim.Faults{UnavailableRate: 1, RetryAfterSeconds: 7})
	e.send(despatchCmd("GO-1", "SO1", schemas.Line{SKU: "ST1/BLK/9", Quantity: 1}))
	e.start()
	waitFor(t, "20 calls refused", func() bool { return e.sim.State().Counters.Faults["503"] >= 20 })
	if h := e.ready.history(); len(h) < 2 || h[len(h)-1] || e.metric("lockstep_prima_despatch_paused") != 1 {
		t.Fatalf("during the outage: readiness %v", h)
	}
	if !slices.Contains(e.clock.Waits(), 7*time.Second) {
		t.Fatalf("Retry-After 7 not honoured: %v", e.clock.Waits())
	}
	e.sim.SetFaults(primasim.Faults{})
	e.waitCommitted()
	if ns := e.notes(); len(ns["GO-1"]) != 1 || len(e.failed()) != 0 {
		t.Fatalf("notes %+v", ns)
	}
	if h := e.ready.history(); !h[len(h)-1] || e.metric("lockstep_prima_despatch_paused") != 0 {
		t.Fatalf("after the outage: readiness %v", h)
	}
}
