package clarus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/schemas"
)

func (e *sweepEnv) shipSource(txid string) *clarus.ShipmentSource {
	e.t.Helper()
	o := clarus.Options{Clock: e.clock, TransactionalID: txid}
	s, err := clarus.NewShipmentSource(e.cfg, clarus.NewClient(e.cfg, o), e.serde, o, e.opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(s.Close)
	return s
}

func (e *sweepEnv) shipSweep(s *clarus.ShipmentSource) clarus.ShipmentSweepStats {
	e.t.Helper()
	st, err := s.Sweep(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// shipCursors returns the committed cursors of the shipment source.
func (e *sweepEnv) shipCursors() []clarus.ShipmentCursor {
	e.t.Helper()
	var out []clarus.ShipmentCursor
	for _, r := range committed(e.t, e.opts, schemas.TopicSourceCursors) {
		if string(r.Key) != clarus.ShipmentCursorKey {
			continue
		}
		var c clarus.ShipmentCursor
		if err := json.Unmarshal(r.Value, &c); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// A partial shipment is reported as it leaves, once: the source reads it
// again within its overlap, but does not produce it again. The last
// shipment comes from both the receiver and the source, under one event
// id.
func TestShipmentSourceReportsPartialShipments(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{AllowAssumed: true}, nil)
	src := e.shipSource("test-shipments")
	if st := e.shipSweep(src); st.Pages != 1 || st.Events != 0 || st.Resumed {
		t.Fatalf("first sweep %+v", st)
	}
	e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: "A", Quantity: 10},
		clarussim.Event{Type: "allocate", Warehouse: "WH1", Reference: "SO-1", SKU: "A", Quantity: 6})
	e.clock.Advance(time.Minute)
	e.apply(clarussim.Event{Type: "ship", Reference: "SO-1", SKU: "A", Quantity: 2, Carrier: "DPD", Tracking: "T-1"})
	e.deliver()
	e.clock.Advance(15 * time.Second)
	if st := e.shipSweep(src); st.Events != 1 || st.Known != 0 {
		t.Fatalf("sweep after the partial shipment %+v", st)
	}
	sh := e.sim.Shipments()[0]
	evs := e.shipmentEvents()
	if len(evs) != 1 || evs[0].EventID != clarus.ShipmentEventID(fmt.Sprint(sh.ID), schemas.ShipmentConfirmed) || evs[0].OrderComplete ||
		!evs[0].OccurredAt.Equal(sh.DispatchedAt) || len(evs[0].Lines) != 1 || evs[0].Lines[0] != (schemas.ShipmentLine{SKU: "A", Quantity: 2, Picked: 6}) ||
		deref(evs[0].Carrier) != "DPD" || deref(evs[0].TrackingNumber) != "T-1" || evs[0].OrderRef != "SO-1" || evs[0].Warehouse != "WH1" {
		t.Fatalf("events %+v", evs)
	}
	// The partial shipment raises no webhook: the source's pick, dated
	// when it left, is what the stock fold learns it from.
	if p := e.picks(); len(p) != 1 || p[0].Quantity != -2 || !p[0].OccurredAt.Equal(sh.DispatchedAt) ||
		!strings.HasPrefix(p[0].MovementID, fmt.Sprintf("shipment/%d/", sh.ID)) {
		t.Fatalf("the source's picks %+v: want one of -2, dated at the dispatch", p)
	}
	if st := e.shipSweep(src); st.Events != 0 || st.Known != 1 {
		t.Fatalf("sweep again at once %+v: the shipment read again is produced again", st)
	}

	e.clock.Advance(time.Minute)
	e.apply(clarussim.Event{Type: "dispatch", Reference: "SO-1"})
	e.deliver() // the receiver: both shipments, the goods out complete
	e.clock.Advance(15 * time.Second)
	if st := e.shipSweep(src); st.Events != 1 || st.Known != 1 {
		t.Fatalf("sweep after the last shipment %+v", st)
	}
	byID := map[string][]schemas.Shipment{}
	for _, ev := range e.shipmentEvents() {
		byID[ev.EventID] = append(byID[ev.EventID], ev)
	}
	if len(byID) != 2 {
		t.Fatalf("%d shipments reported", len(byID))
	}
	for id, evs := range byID {
		if len(evs) != 2 || evs[0].ShipmentID != evs[1].ShipmentID || !evs[0].OccurredAt.Equal(evs[1].OccurredAt) ||
			fmt.Sprint(evs[0].Lines) != fmt.Sprint(evs[1].Lines) {
			t.Fatalf("%s reported %d times, differently: %+v", id, len(evs), evs)
		}
	}
	// Every page committed its cursor; the last completed the sweep.
	curs := e.shipCursors()
	if len(curs) != 4 || curs[3].InProgress || curs[3].Since.IsZero() || len(curs[3].Sent) != 2 || src.Cursor().Since != curs[3].Since {
		t.Fatalf("cursors %+v", curs)
	}
}

// A shipment whose webhook never came (dropped) is found by the source;
// one dispatched before a source ever ran, longer than its overlap ago,
// is the tenant's past and not reported.
func TestShipmentSourceFindsWhatWebhooksMissed(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{AllowAssumed: true}, nil)
	e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: "A", Quantity: 10},
		clarussim.Event{Type: "allocate", Warehouse: "WH1", Reference: "OLD", SKU: "A", Quantity: 1},
		clarussim.Event{Type: "dispatch", Reference: "OLD"})
	e.deliver()
	e.clock.Advance(10 * time.Minute)
	src := e.shipSource("test-shipments")
	before := len(e.shipmentEvents()) // the receiver's, of OLD
	if st := e.shipSweep(src); st.Events != 0 {
		t.Fatalf("the first sweep reported the past: %+v", st)
	}

	e.sim.SetFaults(clarussim.Faults{WebhookDropRate: 1})
	e.apply(clarussim.Event{Type: "allocate", Warehouse: "WH1", Reference: "SO-1", SKU: "A", Quantity: 3},
		clarussim.Event{Type: "dispatch", Reference: "SO-1", Tracking: "T-9"})
	if st := e.sim.DeliverWebhooks(context.Background()); st.Dropped != 1 {
		t.Fatalf("webhooks %+v", st)
	}
	e.clock.Advance(15 * time.Second)
	if st := e.shipSweep(src); st.Events != 1 {
		t.Fatalf("sweep %+v", st)
	}
	evs := e.shipmentEvents()
	var got []schemas.Shipment
	for _, ev := range evs {
		if ev.OrderRef == "SO-1" {
			got = append(got, ev)
		}
	}
	if len(evs) != before+1 || len(got) != 1 || !got[0].OrderComplete || deref(got[0].TrackingNumber) != "T-9" ||
		got[0].Lines[0] != (schemas.ShipmentLine{SKU: "A", Quantity: 3, Picked: 3}) {
		t.Fatalf("events %+v", evs)
	}
}

// failingPages makes every query of operation op for a page after the
// first answer a GraphQL error (which is not retried) while on is set.
func failingPages(on *atomic.Bool, op string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			if on.Load() && strings.Contains(string(body), op) && !strings.Contains(string(body), `"after":null`) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"errors":[{"message":"boom"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Each page and its cursor commit in one transaction: a sweep stopped
// after a page resumes after it under a restarted source, and a page
// whose transaction fails leaves neither its events nor its cursor.
func TestShipmentSourceResumesAndCommitsWithItsCursor(t *testing.T) {
	var fail atomic.Bool
	e := newSweepEnv(t, clarussim.Config{AllowAssumed: true}, failingPages(&fail, "LockstepShipments"))
	e.cfg.PageSize = 1
	e.shipSweep(e.shipSource("test-shipments"))
	e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: "A", Quantity: 10},
		clarussim.Event{Type: "allocate", Warehouse: "WH1", Reference: "SO-1", SKU: "A", Quantity: 6})
	for range 3 {
		e.apply(clarussim.Event{Type: "ship", Reference: "SO-1", SKU: "A", Quantity: 1})
	}
	e.deliver()
	e.clock.Advance(15 * time.Second)

	fail.Store(true)
	if _, err := e.shipSource("test-shipments").Sweep(context.Background()); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("sweep with its second page failing: %v", err)
	}
	curs := e.shipCursors()
	if c := curs[len(curs)-1]; !c.InProgress || c.After == "" || c.Pages != 1 || len(e.shipmentEvents()) != 1 {
		t.Fatalf("after a page: cursor %+v, %d events", c, len(e.shipmentEvents()))
	}

	fail.Store(false)
	var off atomic.Bool
	off.Store(true)
	failProduce(e.kafka, &off)
	src := e.shipSource("test-shipments") // a restart: fences the one before
	if _, err := src.Sweep(context.Background()); err == nil {
		t.Fatal("a sweep whose transactions fail succeeded")
	}
	if n, c := len(e.shipmentEvents()), len(e.shipCursors()); n != 1 || c != len(curs) {
		t.Fatalf("a failed transaction left %d events and %d cursors (want 1 and %d)", n, c, len(curs))
	}
	off.Store(false)
	st := e.shipSweep(src)
	ids := map[string]int{}
	for _, ev := range e.shipmentEvents() {
		ids[ev.ShipmentID]++
	}
	if !st.Resumed || st.Events != 2 || len(ids) != 3 || len(e.shipmentEvents()) != 3 || src.Cursor().InProgress {
		t.Fatalf("resumed sweep %+v: events by shipment %v", st, ids)
	}
}

// The source's transactional id is its own: the stock sweep's would fence
// it, and it fence the sweep.
func TestNewShipmentSourceValidates(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1")
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	for _, id := range []string{"lockstep-clarus-sweep-" + testSubdomain, "prefix.lockstep-clarus-sweep-" + testSubdomain} {
		o := clarus.Options{TransactionalID: id}
		if _, err := clarus.NewShipmentSource(cfg, clarus.NewClient(cfg, o), serde, o); err == nil || !strings.Contains(err.Error(), "stock sweep's") {
			t.Errorf("%s: %v", id, err)
		}
	}
	if _, err := clarus.NewShipmentSource(cfg, nil, serde, clarus.Options{}); err == nil {
		t.Error("no API client accepted")
	}
	if _, err := clarus.NewShipmentSource(cfg, clarus.NewClient(cfg, clarus.Options{}), serde, clarus.Options{}); err != nil {
		t.Errorf("default transactional id: %v", err)
	}
}

// Run opens its client, says it is ready once it has read its cursor,
// sweeps on its schedule, and stops, no longer ready, when ctx ends.
func TestShipmentSourceRun(t *testing.T) {
	e := newSweepEnv(t, clarussim.Config{AllowAssumed: true}, nil)
	e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: "A", Quantity: 10},
		clarussim.Event{Type: "allocate", Warehouse: "WH1", Reference: "SO-1", SKU: "A", Quantity: 3},
		clarussim.Event{Type: "ship", Reference: "SO-1", SKU: "A", Quantity: 1})
	ready := &readyLog{}
	o := clarus.Options{Clock: e.clock, TransactionalID: "test-shipments", SetReady: ready.set}
	src, err := clarus.NewShipmentSource(e.cfg, clarus.NewClient(e.cfg, o), e.serde, o, e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()

	wait, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	cl, err := kgo.NewClient(append(slices.Clone(e.opts), kgo.ConsumeTopics(schemas.TopicShipments),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for n := 0; n == 0; {
		fs := cl.PollFetches(wait)
		if wait.Err() != nil {
			t.Fatal("no shipment event from Run within 20s")
		}
		n = fs.NumRecords()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if h := ready.history(); len(h) < 2 || !h[0] || h[len(h)-1] {
		t.Fatalf("readiness %v", h)
	}
}
