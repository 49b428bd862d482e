package prima_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The commands of one shipment in one poll go one after the other, in
// offset order, while other shipments' go beside them. Eight shipments
// are sent three times each (a command repeated, as after a crash or a
// replay), the three side by side so that lanes free to take them would
// take them together, with a shipment sent once after each: 32 commands,
// one poll. Under answers lost after the write, each shipment still gets
// exactly one note, the first command's (its quantity is the one sent
// first): two of its commands in flight together would both look the
// reference up before either created, and both create.
func TestDespatchSinkOneReferenceOneLane(t *testing.T) {
	e := newDespatchEnv(t, 1, primasim.Options{})
	e.cfg.DespatchConcurrency = 4
	e.sim.SetFaults(primasim.Faults{Seed: 5, TimeoutAfterWriteRate: 0.3})
	var cmds []*schemas.DespatchCommand
	first := map[string]int64{} // quantity of each shipment's first command
	for i := range 8 {
		ref, order := fmt.Sprintf("GO-%d", i), []string{"SO1", "SO2"}[i%2]
		for n := range 3 {
			cmds = append(cmds, despatchCmd(ref, order, schemas.Line{SKU: "ST1/BLK/9", Quantity: int64(n + 1)}))
		}
		once := fmt.Sprintf("ONCE-%d", i)
		cmds = append(cmds, despatchCmd(once, order, schemas.Line{SKU: "ST1/BLK/9", Quantity: 7}))
		first[ref], first[once] = 1, 7
	}
	e.send(cmds...)
	e.start()
	e.waitCommitted()

	notes, st := e.notes(), e.sim.State()
	if d := e.duplicates(); len(d) != 0 || st.Counters.DespatchDuplicates != 0 {
		t.Fatalf("duplicate notes: %v", d)
	}
	for ref, q := range first {
		if ns := notes[ref]; len(ns) != 1 || ns[0].Lines[0].Quantity != q {
			t.Errorf("%s: %+v, want one note of quantity %d", ref, ns, q)
		}
	}
	if len(notes) != len(first) || len(e.failed()) != 0 {
		t.Fatalf("%d notes, failed %+v", len(notes), e.failed())
	}
	if st.Counters.Faults["timeout_after_write"] < 5 {
		t.Fatalf("faults %v: too few to prove anything", st.Counters.Faults)
	}
	// The repeats find their shipment's note, as does a command whose
	// create's answer was lost.
	found, created := e.metric("lockstep_prima_despatch_commands_total", "found_existing"), e.metric("lockstep_prima_despatch_commands_total", "created")
	if found+created != float64(len(cmds)) || found < 16 {
		t.Fatalf("%v created, %v found existing", created, found)
	}
}

// The sink has as many calls in flight as DespatchConcurrency allows, and
// no more: with Prima taking its time over each call, four lanes overlap
// theirs, and one lane never does.
func TestDespatchSinkConcurrency(t *testing.T) {
	for _, lanes := range []int{1, 4} {
		t.Run(fmt.Sprintf("concurrency=%d", lanes), func(t *testing.T) {
			e := newDespatchEnv(t, 2, primasim.Options{})
			e.cfg.DespatchConcurrency = lanes
			e.tamper.latency.Store(int64(10 * time.Millisecond))
			var cmds []*schemas.DespatchCommand
			for i := range 12 {
				cmds = append(cmds, despatchCmd(fmt.Sprintf("GO-%02d", i), []string{"SO1", "SO2"}[i%2], schemas.Line{SKU: "ST1/BLK/9", Quantity: 1}))
			}
			e.send(cmds...)
			e.start()
			e.waitCommitted()
			if d := e.duplicates(); len(d) != 0 || len(e.notes()) != len(cmds) {
				t.Fatalf("duplicates %v, %d notes", d, len(e.notes()))
			}
			most := int(e.tamper.mostInFlight.Load())
			if lanes == 1 && most != 1 || lanes > 1 && (most < 2 || most > lanes) {
				t.Fatalf("at most %d calls in flight with %d lanes", most, lanes)
			}
			t.Logf("%d lanes: at most %d calls in flight", lanes, most)
		})
	}
}
