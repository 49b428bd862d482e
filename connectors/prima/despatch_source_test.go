package prima_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Every note Prima holds reaches prima.despatch-notes keyed by its order,
// named by its id, with its reference as the shipment: posted through the
// API or made by hand under a reference of a person's choosing. A note
// lockstep cannot read goes to the DLQ in the page's transaction, and the
// feed goes on. A restarted source resumes after its committed cursor:
// nothing twice. Options.Feeds can run this feed alone.
func TestSourceDespatchNotes(t *testing.T) {
	clock := newClock()
	ctx := context.Background()
	sim, _ := orderedSim(t, clock, primasim.Options{})
	srv := httptest.NewServer(spoilQuantity(sim))
	t.Cleanup(srv.Close)
	cfg := testConfig(srv.URL)
	cfg.PageSize = 2
	kopts := newDespatchKafka(t, 1)
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	api := newClient(t, cfg)
	poll := func() prima.PollStats {
		t.Helper()
		src, err := prima.NewSource(cfg, api, serde, prima.Options{Clock: clock, Feeds: []string{prima.CursorKeyDespatchNotes}}, kopts...)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		st, err := src.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c := src.Cursors()[prima.CursorKeyDespatchNotes]; st.DespatchNotes > 0 && c.Key == "" {
			t.Fatalf("cursor %+v", c)
		}
		return st
	}
	shipped := epoch.Add(-2 * time.Hour)
	post := func(ref, order string, lines ...schemas.Line) string {
		t.Helper()
		id, err := api.CreateDespatchNote(ctx, prima.DespatchNote{Reference: ref, OrderRef: order, DespatchDate: shipped, Lines: lines})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	post("GO-1", "SO1", schemas.Line{SKU: "ST1/BLK/9", Quantity: 3})
	post("GO-2", "SO2", schemas.Line{SKU: "ST1/BLK/9", Quantity: 1})
	mustApply(t, sim, primasim.Event{Type: "despatch_note", OrderRef: "SO1", Reference: "jo-1",
		Lines: []primasim.OrderLine{{SKU: "GIFTCARD", Quantity: 1}}})
	post("GO-3", "SO1", schemas.Line{SKU: "ST1/BLK/10", Quantity: 7}) // unreadable, through spoilQuantity
	if st := poll(); st.DespatchNotes != 3 || st.DeadLetters != 1 || st.Items != 0 || st.SalesOrders != 0 {
		t.Fatalf("first poll %+v", st)
	}
	clock.Advance(time.Minute)
	post("GO-4", "SO2", schemas.Line{SKU: "ST1/BLK/9", Quantity: 1})
	if st := poll(); st.DespatchNotes != 1 || st.DeadLetters != 0 {
		t.Fatalf("after a restart %+v", st)
	}
	if st := poll(); st.DespatchNotes != 0 || st.Pages != 0 {
		t.Fatalf("nothing new, yet %+v", st)
	}

	truth := sim.State()
	var got []string
	for _, r := range committed(t, kopts, schemas.TopicDespatchNotes) {
		var ev schemas.DespatchNote
		if err := serde.Decode(ctx, r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		n := truth.DespatchNotesFor(ev.ShipmentID)[0]
		wantAt := shipped
		if n.ByHand {
			wantAt = n.Created
		}
		if string(r.Key) != ev.OrderRef || ev.OrderRef != n.OrderRef || ev.Status != schemas.DespatchCreated ||
			*ev.DespatchNoteID != n.ID || ev.EventID != "prima:despatch-note:"+n.ID || ev.Source != schemas.SourcePrima ||
			!ev.OccurredAt.Equal(wantAt) || ev.Reason != nil || len(ev.Lines) != 1 || ev.Lines[0].Quantity != n.Lines[0].Quantity {
			t.Fatalf("event %+v keyed %q for note %+v", ev, r.Key, n)
		}
		got = append(got, fmt.Sprintf("%s:%s:%s", *ev.DespatchNoteID, ev.OrderRef, ev.ShipmentID))
	}
	want := "DN-000001:SO1:GO-1 DN-000002:SO2:GO-2 DN-000003:SO1:jo-1 DN-000005:SO2:GO-4"
	if strings.Join(got, " ") != want {
		t.Fatalf("events %s, want %s", strings.Join(got, " "), want)
	}
	dead := committed(t, kopts, schemas.TopicDLQ)
	var dl schemas.DeadLetter
	if len(dead) != 1 || serde.Decode(ctx, dead[0].Value, &dl) != nil || string(dead[0].Key) != "SO1" ||
		dl.OriginalTopic != schemas.TopicDespatchNotes || dl.Stage != "prima-source" ||
		!strings.Contains(dl.Reason, `prima despatch note "DN-000004" (reference "GO-3", order "SO1") is unreadable`) ||
		!strings.Contains(string(dl.OriginalValue), `Quantity="seven"`) {
		t.Fatalf("dead letters %v: %+v", dead, dl)
	}
	if n := len(committed(t, kopts, schemas.TopicItems)); n != 0 {
		t.Fatalf("%d items: the feed was not alone", n)
	}
}
