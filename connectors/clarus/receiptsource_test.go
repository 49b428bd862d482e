package clarus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// receiptSweepEnv is a sweepEnv whose receiver produces receipt events,
// on a simulator that serves what clarus.graphql assumes (the receipt
// source reads a receipt's lines).
func receiptSweepEnv(t *testing.T) *sweepEnv {
	t.Helper()
	return newSweepEnvWith(t, clarussim.Config{AllowAssumed: true}, nil, func(c *clarus.Config) { c.ReceiptEvents = true })
}

func (e *sweepEnv) receiptSource(txid string) *clarus.ReceiptSource {
	e.t.Helper()
	o := clarus.Options{Clock: e.clock, TransactionalID: txid}
	s, err := clarus.NewReceiptSource(e.cfg, clarus.NewClient(e.cfg, o), e.serde, o, e.opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(s.Close)
	return s
}

func (e *sweepEnv) receiptSweep(s *clarus.ReceiptSource) clarus.WindowStats {
	e.t.Helper()
	st, err := s.Sweep(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// receiptEvents returns the committed receipt events, checking their keys:
// the PO ref as recorded, or orphan:<receipt id>.
func (e *sweepEnv) receiptEvents() []schemas.Receipt {
	e.t.Helper()
	var out []schemas.Receipt
	for _, r := range committed(e.t, e.opts, schemas.TopicReceipts) {
		var ev schemas.Receipt
		if err := e.serde.Decode(context.Background(), r.Value, &ev); err != nil {
			e.t.Fatal(err)
		}
		want := "orphan:" + ev.ReceiptID
		if ev.PORef != nil {
			want = *ev.PORef
		}
		if string(r.Key) != want || clarus.ReceiptKey(&ev) != want {
			e.t.Fatalf("receipt %s keyed %q, want %q", ev.ReceiptID, r.Key, want)
		}
		out = append(out, ev)
	}
	return out
}

// preReceipt creates a pre-receipt of ref in WH1 through the client, as
// the receipt sink does.
func (e *sweepEnv) preReceipt(ref string, lines map[string]int64) {
	e.t.Helper()
	api := clarus.NewClient(e.cfg, clarus.Options{Clock: e.clock})
	var codes []string
	for c := range lines {
		codes = append(codes, c)
		if _, err := e.sim.DefineProduct(clarussim.Product{Code: c}); err != nil {
			e.t.Fatal(err)
		}
	}
	slices.Sort(codes)
	units, err := api.ReceivingUnits(context.Background(), codes)
	if err != nil || len(units) != len(codes) {
		e.t.Fatalf("units %v: %v", units, err)
	}
	g := clarus.NewGoodsInReceipt{Reference: ref, AccountID: "1", WarehouseID: "1"}
	for _, c := range codes {
		g.Lines = append(g.Lines, clarus.NewGoodsInLine{ProductID: units[c].ProductID, StorageUnitID: units[c].ID, Quantity: lines[c]})
	}
	if _, err := api.CreateGoodsInReceipt(context.Background(), g); err != nil {
		e.t.Fatal(err)
	}
}

// sameReceipt compares two copies of a receipt event, but for when each
// was written.
func sameReceipt(a, b schemas.Receipt) bool {
	a.IngestedAt, b.IngestedAt = time.Time{}, time.Time{}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// What the warehouse receives, against a pre-receipt (over on one line,
// short on another, a product it did not expect), without one, and under
// a mistyped reference, reaches clarus.receipts from the webhook and from
// the sweep as the same event under the same id, keyed by the reference
// as Clarus recorded it, or orphan:<id> without one.
func TestReceiptEventsFromWebhookAndSweep(t *testing.T) {
	e := receiptSweepEnv(t)
	src := e.receiptSource("test-receipts")
	if st := e.receiptSweep(src); st.Events != 0 || st.Pages != 1 {
		t.Fatalf("first sweep %+v", st)
	}
	e.preReceipt("PO-1", map[string]int64{"A": 10, "B": 5})
	e.clock.Advance(time.Minute)
	e.apply(clarussim.Event{Type: "receive", Reference: "PO-1", Lines: []clarussim.Line{{SKU: "A", Quantity: 12}, {SKU: "C", Quantity: 2}}},
		clarussim.Event{Type: "receive", Warehouse: "WH2", SKU: "A", Quantity: 3},
		clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: "B", Quantity: 4, Reference: "PO-1O"})
	e.deliver()
	if evs := e.receiptEvents(); len(evs) != 3 {
		t.Fatalf("%d receipt events from the webhooks", len(evs))
	}
	e.clock.Advance(time.Minute)
	if st := e.receiptSweep(src); st.Events != 3 || st.Known != 0 {
		t.Fatalf("sweep %+v", st)
	}
	byID := map[string][]schemas.Receipt{}
	for _, ev := range e.receiptEvents() {
		byID[ev.EventID] = append(byID[ev.EventID], ev)
	}
	gs := e.sim.GoodsIn()
	want := map[string]struct {
		key, wh string
		lines   []schemas.Line
		at      time.Time
	}{
		fmt.Sprint(gs[0].ID): {"PO-1", "WH1", []schemas.Line{{SKU: "A", Quantity: 12}, {SKU: "C", Quantity: 2}}, *gs[0].ReceivedAt},
		fmt.Sprint(gs[1].ID): {"orphan:" + fmt.Sprint(gs[1].ID), "WH2", []schemas.Line{{SKU: "A", Quantity: 3}}, *gs[1].ReceivedAt},
		fmt.Sprint(gs[2].ID): {"PO-1O", "WH1", []schemas.Line{{SKU: "B", Quantity: 4}}, *gs[2].ReceivedAt},
	}
	if len(byID) != 3 {
		t.Fatalf("%d receipts reported: %v", len(byID), byID)
	}
	for id, w := range want {
		evs := byID[clarus.ReceiptEventID(id)]
		if len(evs) != 2 || !sameReceipt(evs[0], evs[1]) {
			t.Fatalf("receipt %s: %d copies, differing: %+v", id, len(evs), evs)
		}
		ev := evs[0]
		if clarus.ReceiptKey(&ev) != w.key || ev.ReceiptID != id || ev.Warehouse != w.wh || !slices.Equal(ev.Lines, w.lines) ||
			ev.Source != schemas.SourceClarus || !ev.OccurredAt.Equal(w.at.Truncate(time.Millisecond)) {
			t.Errorf("receipt %s: %+v, want %+v", id, ev, w)
		}
	}
	if ev := byID[clarus.ReceiptEventID(fmt.Sprint(gs[1].ID))][0]; ev.PORef != nil {
		t.Fatalf("an orphan receipt with a PO ref %q", *ev.PORef)
	}
	if st := e.receiptSweep(src); st.Events != 0 || st.Known != 3 {
		t.Fatalf("sweep again at once %+v: receipts read again are produced again", st)
	}
}

// A receipt whose webhook never came (dropped) is found by the source;
// one received before a source ever ran, longer than its overlap ago, is
// the tenant's past and not reported.
func TestReceiptSourceFindsWhatWebhooksMissed(t *testing.T) {
	e := receiptSweepEnv(t)
	e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: "A", Quantity: 1, Reference: "PO-OLD"})
	e.deliver()
	e.clock.Advance(time.Hour)
	src := e.receiptSource("test-receipts")
	before := len(e.receiptEvents())
	if st := e.receiptSweep(src); st.Events != 0 || before != 1 {
		t.Fatalf("the first sweep reported the past: %+v (%d events before)", st, before)
	}
	e.sim.SetFaults(clarussim.Faults{WebhookDropRate: 1})
	e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: "A", Quantity: 7, Reference: "PO-2"})
	if st := e.sim.DeliverWebhooks(context.Background()); st.Dropped != 1 {
		t.Fatalf("webhooks %+v", st)
	}
	e.clock.Advance(time.Minute)
	if st := e.receiptSweep(src); st.Events != 1 {
		t.Fatalf("sweep %+v", st)
	}
	evs := e.receiptEvents()
	if len(evs) != 2 || deref(evs[1].PORef) != "PO-2" || !slices.Equal(evs[1].Lines, []schemas.Line{{SKU: "A", Quantity: 7}}) {
		t.Fatalf("events %+v", evs)
	}
}

// Each page and its cursor commit in one transaction: a sweep stopped
// after a page resumes after it under a restarted source, and a page
// whose transaction fails leaves neither its events nor its cursor.
func TestReceiptSourceResumesAndCommitsWithItsCursor(t *testing.T) {
	var fail atomic.Bool
	e := newSweepEnvWith(t, clarussim.Config{AllowAssumed: true}, failingPages(&fail, "LockstepGoodsInReceipts"), nil)
	e.cfg.PageSize = 1
	e.receiptSweep(e.receiptSource("test-receipts"))
	for i := range 3 {
		e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: "A", Quantity: int64(i + 1), Reference: fmt.Sprintf("PO-%d", i)})
	}
	e.deliver() // the receiver makes none: receipt events are off
	e.clock.Advance(time.Minute)

	fail.Store(true)
	if _, err := e.receiptSource("test-receipts").Sweep(context.Background()); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("sweep with its second page failing: %v", err)
	}
	curs := e.windowCursors(clarus.ReceiptCursorKey)
	if c := curs[len(curs)-1]; !c.InProgress || c.After == "" || c.Pages != 1 || len(e.receiptEvents()) != 1 {
		t.Fatalf("after a page: cursor %+v, %d events", c, len(e.receiptEvents()))
	}

	fail.Store(false)
	var off atomic.Bool
	off.Store(true)
	failProduce(e.kafka, &off)
	src := e.receiptSource("test-receipts") // a restart: fences the one before
	if _, err := src.Sweep(context.Background()); err == nil {
		t.Fatal("a sweep whose transactions fail succeeded")
	}
	if n, c := len(e.receiptEvents()), len(e.windowCursors(clarus.ReceiptCursorKey)); n != 1 || c != len(curs) {
		t.Fatalf("a failed transaction left %d events and %d cursors (want 1 and %d)", n, c, len(curs))
	}
	off.Store(false)
	st := e.receiptSweep(src)
	ids := map[string]int{}
	for _, ev := range e.receiptEvents() {
		ids[ev.ReceiptID]++
	}
	if !st.Resumed || st.Events != 2 || len(ids) != 3 || len(e.receiptEvents()) != 3 || src.Cursor().InProgress {
		t.Fatalf("resumed sweep %+v: events by receipt %v", st, ids)
	}
}

// windowCursors returns the committed cursors under key.
func (e *sweepEnv) windowCursors(key string) []clarus.WindowCursor {
	e.t.Helper()
	var out []clarus.WindowCursor
	for _, r := range committed(e.t, e.opts, schemas.TopicSourceCursors) {
		if string(r.Key) != key {
			continue
		}
		var c clarus.WindowCursor
		if err := json.Unmarshal(r.Value, &c); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// The receiver's receipt events: the reference as recorded, an empty one
// keyed orphan:<id>, a receipt without actual_date_of_receipt left to the
// sweep (its movements still produced), and none at all when receipt
// events are off.
func TestReceiverReceiptEvents(t *testing.T) {
	on := newProbeEnv(t, func(c *clarus.Config) { c.ReceiptEvents = true })
	createTopic(t, on, schemas.TopicReceipts)
	for name, c := range map[string]struct {
		body, answer string
	}{
		"as recorded": {receipt(func(r map[string]any) { r["reference"] = "po-1" }), `{"movements":2,"receipts":1}`},
		"no reference": {receipt(func(r map[string]any) {
			r["id"] = 56
			r["reference"] = ""
		}), `{"movements":2,"receipts":1}`},
		"undated": {receipt(func(r map[string]any) {
			r["id"] = 57
			delete(r, "actual_date_of_receipt")
		}), `{"movements":2,"receipts":0}`},
	} {
		if status, body := on.send(t, validHook(c.body, "102")); status != 200 || body != c.answer+"\n" {
			t.Errorf("%s: %d %q", name, status, body)
		}
	}
	var got []string
	for _, r := range committed(t, on.opts, schemas.TopicReceipts) {
		var ev schemas.Receipt
		if err := on.serde.Decode(context.Background(), r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %s %v %s", r.Key, ev.EventID, ev.Warehouse, ev.Lines, ev.OccurredAt.Format(time.RFC3339)))
	}
	slices.Sort(got)
	want := []string{
		"orphan:56 clarus:receipt:56 WH2 [{SKU-1 1} {SKU-2 1}] 2026-03-02T08:00:00Z",
		"po-1 clarus:receipt:55 WH2 [{SKU-1 1} {SKU-2 1}] 2026-03-02T08:00:00Z",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("receipt events\n got %q\nwant %q", got, want)
	}
	off := newProbeEnv(t, nil)
	createTopic(t, off, schemas.TopicReceipts)
	if status, body := off.send(t, validHook(receipt(nil), "102")); status != 200 || body != "{\"movements\":2}\n" {
		t.Fatalf("receipt events off: %d %q", status, body)
	}
	if n := len(committed(t, off.opts, schemas.TopicReceipts)); n != 0 {
		t.Fatalf("%d receipt events with receipt events off", n)
	}
}

func createTopic(t *testing.T, e *probeEnv, topic string) {
	t.Helper()
	if _, err := e.adm.CreateTopic(context.Background(), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
}

func TestNewReceiptSourceValidates(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1")
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	o := clarus.Options{TransactionalID: "lockstep-clarus-sweep-" + testSubdomain}
	if _, err := clarus.NewReceiptSource(cfg, clarus.NewClient(cfg, o), serde, o); err == nil || !strings.Contains(err.Error(), "stock sweep's") {
		t.Errorf("the stock sweep's transactional id: %v", err)
	}
	if _, err := clarus.NewReceiptSource(cfg, nil, serde, clarus.Options{}); err == nil {
		t.Error("no API client accepted")
	}
	if _, err := clarus.NewReceiptSource(cfg, clarus.NewClient(cfg, clarus.Options{}), serde, clarus.Options{}); err != nil {
		t.Errorf("default transactional id: %v", err)
	}
}
