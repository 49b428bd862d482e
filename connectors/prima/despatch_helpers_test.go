package prima_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/connectors/metricstest"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// despatchEnv is a despatch sink on kfake in front of a simulator that
// holds orders SO1 and SO2 (orderedSim), behind a tamper and a script,
// on a fakeClock: every wait passes at once, and is recorded.
type despatchEnv struct {
	t      *testing.T
	clock  *fakeClock
	sim    *primasim.Server
	tamper *despatchTamper
	script *script
	cfg    prima.Config
	kopts  []kgo.Opt
	serde  *schemas.Serde
	reg    *prometheus.Registry
	met    *prima.Metrics
	ready  *readiness
	offset map[int32]int64 // next offset per partition, as produced
	prefix string          // of every topic, group and transactional id
	srv    *httptest.Server
	conns  atomic.Int32 // connections to srv the server has not closed
}

func newDespatchEnv(t *testing.T, partitions int32, opts primasim.Options) *despatchEnv {
	t.Helper()
	return newDespatchEnvOn(t, newDespatchKafka(t, partitions), "", opts)
}

// newDespatchEnvOn runs on the cluster kopts reach, whose topics, named
// after prefix, exist.
func newDespatchEnvOn(t *testing.T, kopts []kgo.Opt, prefix string, opts primasim.Options) *despatchEnv {
	t.Helper()
	e := &despatchEnv{t: t, clock: newClock(), kopts: kopts, serde: schemas.NewSerde(schemas.NewMemRegistry()),
		reg: prometheus.NewRegistry(), offset: map[int32]int64{}, prefix: prefix}
	e.met = prima.NewMetrics(e.reg)
	e.sim, _ = orderedSim(t, e.clock, opts)
	e.tamper = &despatchTamper{sim: e.sim, hung: make(chan struct{}, 1)}
	e.script = &script{sim: e.tamper, calls: map[string]int{}}
	e.srv = httptest.NewUnstartedServer(e.script)
	e.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			e.conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			e.conns.Add(-1)
		}
	}
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.cfg = testConfig(e.srv.URL)
	return e
}

// quiesce waits until Prima is done with every call a stopped sink made:
// a call it gave up on (its context ended) may still be in a handler, or
// unread on a connection, and be applied after the look-up of the sink
// that comes next, which no look-up can guard against. A real successor
// comes after a rebalance, seconds later; in a test it comes at once. So
// the server closes every connection and waits for each to end: what was
// read is applied, what was not never will be.
func (e *despatchEnv) quiesce() {
	e.t.Helper()
	e.srv.CloseClientConnections()
	waitFor(e.t, "Prima to finish the calls of the stopped sink", func() bool { return e.conns.Load() == 0 })
}

// despatchTamper breaks what a test asks of the simulator: look-ups that
// find nothing (the look-up disabled, to show what it guards against),
// and a create applied whose answer never comes until its caller gives up
// (a sink stopped in the middle of a call). It also counts the calls in
// flight, and can make each take a while, as a remote Prima does.
type despatchTamper struct {
	sim   http.Handler
	blind atomic.Bool
	// hangCreate, when above 0, is the number of the create (from 1)
	// to hang; hung is poked when it is applied.
	hangCreate atomic.Int32
	creates    atomic.Int32
	hung       chan struct{}
	// latency, when set, holds every call that long (real time) before
	// the simulator sees it: calls made at once then overlap.
	latency atomic.Int64
	// inFlight is the calls being served; mostInFlight the most at once.
	inFlight, mostInFlight atomic.Int32
}

func (d *despatchTamper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := d.inFlight.Add(1)
	defer d.inFlight.Add(-1)
	for m := d.mostInFlight.Load(); n > m; m = d.mostInFlight.Load() {
		if d.mostInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if l := time.Duration(d.latency.Load()); l > 0 {
		time.Sleep(l)
	}
	body := readBody(r)
	switch typ := requestType.FindSubmatch(body); {
	case typ != nil && string(typ[1]) == wire.TypeDespatchNotes && d.blind.Load():
		doc := `<Response RequestType="DespatchNotes" RequestStatus="OK"><Data/></Response>`
		w.Header().Set("Content-Type", wire.ContentType)
		_, _ = w.Write(wire.MarshalReturn(wire.OpHandler, wire.PartResponse, doc))
	case typ != nil && string(typ[1]) == wire.TypeNewDespatchNote && d.creates.Add(1) == d.hangCreate.Load():
		d.sim.ServeHTTP(httptest.NewRecorder(), r)
		d.hung <- struct{}{}
		<-r.Context().Done()
	default:
		d.sim.ServeHTTP(w, r)
	}
}

// despatchCmd is the command of shipment ref of order, dispatched two
// hours before epoch.
func despatchCmd(ref, order string, lines ...schemas.Line) *schemas.DespatchCommand {
	at := epoch.Add(-2 * time.Hour)
	return &schemas.DespatchCommand{
		Meta:     schemas.Meta{EventID: "fulfilment:despatch:" + ref, Source: schemas.SourceLockstep, OccurredAt: at, IngestedAt: epoch},
		OrderRef: order, ShipmentID: ref, Warehouse: "WH1", Carrier: ptr("DPD"), TrackingNumber: ptr("TRK-" + ref), Lines: lines,
	}
}

// send produces commands keyed by order ref, as the fulfilment processor
// does.
func (e *despatchEnv) send(cmds ...*schemas.DespatchCommand) []*kgo.Record {
	e.t.Helper()
	var recs []*kgo.Record
	for _, c := range cmds {
		v, err := e.serde.Encode(context.Background(), c)
		if err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: e.prefix + schemas.TopicCmdPrimaDespatch, Key: []byte(c.OrderRef), Value: v})
	}
	return e.produce(recs...)
}

func (e *despatchEnv) produce(recs ...*kgo.Record) []*kgo.Record {
	e.t.Helper()
	return produceTo(e.t, e.kopts, e.offset, recs...)
}

// start runs a despatch sink until the test ends or stop is called.
func (e *despatchEnv) start() (stop func()) {
	e.t.Helper()
	e.ready = &readiness{}
	sink, err := prima.NewDespatchSink(e.cfg, newClient(e.t, e.cfg), e.serde, prima.Options{Clock: e.clock, Metrics: e.met,
		Seed: 1, SetReady: e.ready.set, TransactionalID: e.prefix + "test-despatch", TopicPrefix: e.prefix}, e.kopts...)
	if err != nil {
		e.t.Fatal(err)
	}
	return runComponent(e.t, "despatch sink", e.ready, sink.Run)
}

// waitCommitted waits until the group has committed every command sent,
// and their outcomes are counted, which the sink does just after the
// commit.
func (e *despatchEnv) waitCommitted() {
	e.t.Helper()
	waitGroupCommitted(e.t, e.kopts, e.prefix+prima.DespatchSinkGroup, e.prefix+schemas.TopicCmdPrimaDespatch, e.offset)
	var sent float64
	for _, next := range e.offset {
		sent += float64(next)
	}
	waitFor(e.t, "the outcomes of every command counted", func() bool {
		var n float64
		for _, o := range []string{"created", "found_existing", "rejected", "dead_lettered"} {
			n += e.metric("lockstep_prima_despatch_commands_total", o)
		}
		return n == sent
	})
}

// notes returns the notes Prima holds per reference.
func (e *despatchEnv) notes() map[string][]primasim.DespatchNote {
	out := map[string][]primasim.DespatchNote{}
	for _, n := range e.sim.State().DespatchNotes {
		out[n.Reference] = append(out[n.Reference], n)
	}
	return out
}

// failed reads the committed failed notes, by shipment.
func (e *despatchEnv) failed() map[string]schemas.DespatchNote {
	e.t.Helper()
	out := map[string]schemas.DespatchNote{}
	for _, r := range committed(e.t, e.kopts, e.prefix+schemas.TopicDespatchNotes) {
		var ev schemas.DespatchNote
		if err := e.serde.Decode(context.Background(), r.Value, &ev); err != nil {
			e.t.Fatal(err)
		}
		if string(r.Key) != ev.OrderRef || ev.Status != schemas.DespatchFailed {
			e.t.Fatalf("%+v keyed %q", ev, r.Key)
		}
		if _, dup := out[ev.ShipmentID]; dup {
			e.t.Fatalf("%s failed twice", ev.ShipmentID)
		}
		out[ev.ShipmentID] = ev
	}
	return out
}

// dead reads the committed dead letters, by "partition@offset" of the
// command, with their headers.
func (e *despatchEnv) dead() map[string]schemas.DeadLetter {
	e.t.Helper()
	out := map[string]schemas.DeadLetter{}
	for _, r := range committed(e.t, e.kopts, e.prefix+schemas.TopicDLQ) {
		var dl schemas.DeadLetter
		if err := e.serde.Decode(context.Background(), r.Value, &dl); err != nil {
			e.t.Fatal(err)
		}
		h := headers(r)
		at := fmt.Sprintf("%d@%d", dl.OriginalPartition, dl.OriginalOffset)
		if h[deadletter.HeaderReason] != dl.Reason || h[deadletter.HeaderStage] != "prima-despatch-sink" ||
			h[deadletter.HeaderTopic] != e.prefix+schemas.TopicCmdPrimaDespatch || at != h[deadletter.HeaderPartition]+"@"+h[deadletter.HeaderOffset] {
			e.t.Fatalf("dead letter %+v with headers %v", dl, h)
		}
		out[at] = dl
	}
	return out
}

func (e *despatchEnv) metric(name string, labels ...string) float64 {
	e.t.Helper()
	return metricstest.Value(e.t, e.reg, name, labels...)
}

// duplicates lists the references Prima holds more than one note for.
func (e *despatchEnv) duplicates() []string {
	var out []string
	for ref, ns := range e.notes() {
		if len(ns) > 1 {
			ids := make([]string, len(ns))
			for i, n := range ns {
				ids[i] = n.ID
			}
			out = append(out, ref+"="+strings.Join(ids, ","))
		}
	}
	return out
}

// readBody reads a request's body and puts it back for the next handler.
func readBody(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}
