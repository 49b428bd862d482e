package prima_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// orderedSim is a simulator with items ST1/BLK/9, ST1/BLK/10 and a gift
// card, and released orders of them: SO1 (all three) and SO2.
func orderedSim(t testing.TB, clock *fakeClock, opts primasim.Options) (*primasim.Server, string) {
	t.Helper()
	sim, srv := newSim(t, clock, opts)
	lines := []primasim.OrderLine{{SKU: "ST1/BLK/9", Quantity: 3}, {SKU: "ST1/BLK/10", Quantity: 2}, {SKU: "GIFTCARD", Quantity: 1}}
	mustApply(t, sim,
		primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"}, primasim.Event{Type: "add_item", SKU: "ST1/BLK/10"},
		primasim.Event{Type: "add_item", SKU: "GIFTCARD", StockItem: ptr(false)},
		primasim.Event{Type: "release_order", OrderRef: "SO1", Warehouse: "WH1", Lines: lines},
		primasim.Event{Type: "release_order", OrderRef: "SO2", Warehouse: "WH1", Lines: lines[:1]},
	)
	return sim, srv.URL
}

// A note goes to Prima with its lines as product and matrix codes, and
// reads back by reference and on the feed as it went. Prima keeps no
// idempotency: the same note sent twice is two notes under one reference.
func TestClientDespatchNotes(t *testing.T) {
	clock := newClock()
	sim, url := orderedSim(t, clock, primasim.Options{})
	api := newClient(t, testConfig(url))
	ctx := context.Background()
	note := prima.DespatchNote{Reference: "GO-1", OrderRef: "SO1", Warehouse: "WH1", DespatchDate: epoch.Add(-time.Hour),
		Carrier: "DPD", TrackingNumber: "TRK1", Lines: []schemas.Line{{SKU: "ST1/BLK/9", Quantity: 3}, {SKU: "GIFTCARD", Quantity: 1}}}
	id1, err := api.CreateDespatchNote(ctx, note)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := api.CreateDespatchNote(ctx, note)
	if err != nil || id1 == id2 {
		t.Fatalf("second post: %q %v (first %q)", id2, err, id1)
	}
	got, err := api.DespatchNotesByReference(ctx, "GO-1")
	if err != nil || len(got) != 2 || got[0].ID != id1 || got[1].ID != id2 {
		t.Fatalf("by reference: %+v, %v", got, err)
	}
	n := got[0]
	if n.OrderRef != "SO1" || n.Warehouse != "WH1" || !n.DespatchDate.Equal(note.DespatchDate) || n.Carrier != "DPD" ||
		n.TrackingNumber != "TRK1" || fmt.Sprint(n.Lines) != fmt.Sprint(note.Lines) || n.Modified.IsZero() {
		t.Fatalf("read back %+v", n)
	}
	if none, err := api.DespatchNotesByReference(ctx, "GO-NONE"); err != nil || len(none) != 0 {
		t.Fatalf("nothing: %+v %v", none, err)
	}
	if sim.State().Counters.DespatchDuplicates != 1 {
		t.Fatal("the simulator did not count the duplicate")
	}

	// Refusals: Prima's are final *APIErrors; what cannot be spelt never
	// leaves the client.
	_, err = api.CreateDespatchNote(ctx, prima.DespatchNote{Reference: "GO-2", OrderRef: "SO-NOPE", Lines: note.Lines})
	var ae *prima.APIError
	if !errors.As(err, &ae) || ae.Retryable || ae.Ambiguous || !strings.Contains(ae.Message, "Unknown order SO-NOPE") {
		t.Fatalf("unknown order: %#v", err)
	}
	before := sim.State().Counters.Requests["NewDespatchNote"]
	for _, bad := range []schemas.Line{{SKU: "ST1/BLK@X", Quantity: 1}, {SKU: "ST1/BLK/9", Quantity: 0}} {
		_, err := api.CreateDespatchNote(ctx, prima.DespatchNote{Reference: "GO-3", OrderRef: "SO1", Lines: []schemas.Line{bad}})
		if err == nil || errors.As(err, &ae) || !(errors.Is(err, prima.ErrBadSKU) || errors.Is(err, prima.ErrBadDespatchQuantity)) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if sim.State().Counters.Requests["NewDespatchNote"] != before {
		t.Fatal("a note that cannot be spelt was sent")
	}

	// The feed: every note, the hand-made one too, page by page.
	clock.Advance(time.Minute)
	mustApply(t, sim, primasim.Event{Type: "despatch_note", OrderRef: "SO2", Reference: "typed by Jo",
		Lines: []primasim.OrderLine{{SKU: "ST1/BLK/9", Quantity: 1}}})
	var seen []string
	var cur prima.Cursor
	for range 5 {
		p, err := api.DespatchNotes(ctx, cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			if r.Err != nil {
				t.Fatalf("%+v", r)
			}
			seen = append(seen, r.Note.ID+"="+r.Note.Reference)
		}
		cur = p.Next
		if !p.More {
			break
		}
	}
	if want := fmt.Sprintf("[%s=GO-1 %s=GO-1 DN-000003=typed by Jo]", id1, id2); fmt.Sprint(seen) != want {
		t.Fatalf("feed %v, want %s", seen, want)
	}
	if p, err := api.DespatchNotes(ctx, cur, 2); err != nil || len(p.Records) != 0 || p.Next != cur {
		t.Fatalf("after the end: %+v %v", p, err)
	}
}
