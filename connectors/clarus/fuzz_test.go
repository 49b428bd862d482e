package clarus_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// simBodies returns one webhook body of every trigger, as the simulator
// sends them: the seeds of the fuzz corpus.
func simBodies(t testing.TB) map[clarus.Trigger][]byte {
	bodies := map[clarus.Trigger][]byte{}
	sink := newCapture(t, func(trigger string, body []byte) { bodies[clarus.Trigger(trigger)] = body })
	sim, err := clarussim.New(clarussim.Config{ClientID: "c", ClientSecret: "s", Subdomain: "acme", WebhookURL: sink.URL},
		clarussim.WithClock(func() time.Time { return epoch }))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []clarussim.Event{
		{Type: "receive", Warehouse: "WH1", Lines: []clarussim.Line{{SKU: "A", Quantity: 9}, {SKU: "B", Quantity: 4}}},
		{Type: "adjust", SKU: "A", Warehouse: "WH1", Quantity: 2, Reason: "FOUND"},
		{Type: "adjust", SKU: "A", Warehouse: "WH1", Quantity: -1, Reason: "DAMAGED"},
		{Type: "hold", SKU: "A", Warehouse: "WH1", Quantity: 3, Reason: "QC"},
		{Type: "release", SKU: "A", Warehouse: "WH1"},
		{Type: "allocate", Warehouse: "WH1", Reference: "SO-1", Lines: []clarussim.Line{{SKU: "A", Quantity: 2}, {SKU: "B", Quantity: 1}}},
		{Type: "dispatch", Reference: "SO-1"},
	} {
		if _, err := sim.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	sim.DeliverWebhooks(context.Background())
	if len(bodies) != len(clarus.Triggers()) {
		t.Fatalf("captured %d triggers, want %d", len(bodies), len(clarus.Triggers()))
	}
	return bodies
}

func TestSimulatorBodiesDecode(t *testing.T) {
	want := map[clarus.Trigger][]int64{
		clarus.TriggerReceiptCompleted: {9, 4}, clarus.TriggerAdjustmentPositive: {2}, clarus.TriggerAdjustmentNegative: {-1},
		// A completed goods out gives no movement of its own: its picks are
		// its shipments', which the receiver reads from Clarus.
		clarus.TriggerStockHeld: {3}, clarus.TriggerStockReleased: {-3}, clarus.TriggerGoodsOutCompleted: {},
	}
	for trig, body := range simBodies(t) {
		ms, err := clarus.DecodeWebhook(trig, body, epoch)
		if err != nil {
			t.Fatalf("%s: %v", trig, err)
		}
		if len(ms) != len(want[trig]) {
			t.Fatalf("%s: %d movements", trig, len(ms))
		}
		for i, m := range ms {
			if m.Quantity != want[trig][i] {
				t.Fatalf("%s: movement %d quantity %d, want %d", trig, i, m.Quantity, want[trig][i])
			}
		}
	}
}

func FuzzDecodeWebhook(f *testing.F) {
	for trig, body := range simBodies(f) {
		f.Add(string(trig), body)
	}
	f.Add("stock.held", []byte(`{"data":{"id":"7","quantity":1,"product":{"code":"x"},"warehouse":{"code":"y"}}}`))
	f.Add("goods_out.completed", []byte(`{"data":{"id":1,"lines":[{"id":1,"product":{"code":"a"},"dispatch_quantity":-5}]}}`))
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	f.Fuzz(func(t *testing.T, trigger string, body []byte) {
		ms, err := clarus.DecodeWebhook(clarus.Trigger(trigger), body, epoch)
		if err != nil {
			if !errors.Is(err, clarus.ErrMalformed) && !errors.Is(err, clarus.ErrInvalid) && !errors.Is(err, clarus.ErrTooLarge) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		ids := map[string]bool{}
		for _, m := range ms {
			if m.SKU == "" || m.Warehouse == "" || m.MovementID == "" || ids[m.MovementID] || m.EventID != "clarus/"+m.MovementID ||
				m.Quantity == 0 || m.Quantity > 1e9 || m.Quantity < -1e9 || m.OccurredAt.IsZero() || m.OccurredAt.After(epoch.Add(5*time.Minute)) {
				t.Fatalf("decoded an unusable movement %+v", m)
			}
			for _, code := range []string{m.SKU, m.Warehouse} {
				if n, err := clarus.Identifier("code", code); err != nil || n != code {
					t.Fatalf("decoded an identifier lockstep refuses or has not normalised: %q (%v)", code, err)
				}
			}
			ids[m.MovementID] = true
			switch m.Kind {
			case schemas.MovementPick, schemas.MovementRelease:
				if m.Quantity > 0 {
					t.Fatalf("%s with a positive quantity %+v", m.Kind, m)
				}
			case schemas.MovementReceipt, schemas.MovementHold:
				if m.Quantity < 0 {
					t.Fatalf("%s with a negative quantity %+v", m.Kind, m)
				}
			}
			if _, err := serde.Encode(context.Background(), &m); err != nil {
				t.Fatalf("decoded movement does not encode: %v", err)
			}
		}
	})
}

// newCapture is a webhook endpoint that hands each body to got with the
// trigger of its automation.
func newCapture(t testing.TB, got func(trigger string, body []byte)) *httptest.Server {
	triggers := map[string]string{}
	for _, a := range clarussim.DefaultAutomations("") {
		triggers[strconv.FormatInt(a.ID, 10)] = a.Trigger()
	}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got(triggers[r.Header.Get("X-ClarusWMS-Automation-ID")], b)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv
}
