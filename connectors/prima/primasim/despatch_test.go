package primasim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
)

// despatchSim has order SO1 (two lines of ST1/BLK/9, a gift card) and
// order SO2, cancelled.
func despatchSim(t *testing.T, opts primasim.Options) (*primasim.Server, string) {
	t.Helper()
	sim, srv, _ := newSim(t, opts)
	mustApply(t, sim,
		primasim.Event{Type: "add_item", SKU: "ST1/BLK/9"},
		primasim.Event{Type: "add_item", SKU: "ST1/BLK/10"},
		primasim.Event{Type: "add_item", SKU: "GIFTCARD", StockItem: ptr(false)},
		primasim.Event{Type: "release_order", OrderRef: "SO1", Warehouse: "WH1", Lines: []primasim.OrderLine{
			{SKU: "ST1/BLK/9", Quantity: 2}, {SKU: "GIFTCARD", Quantity: 1}}},
		primasim.Event{Type: "release_order", OrderRef: "SO2", Warehouse: "WH1", Lines: []primasim.OrderLine{{SKU: "ST1/BLK/9", Quantity: 1}}},
		primasim.Event{Type: "cancel_order", OrderRef: "SO2"},
	)
	return sim, srv.URL
}

// newNote is a NewDespatchNote request of order with lines of "sku=qty".
func newNote(ref, order string, lines ...string) wire.Request {
	d := wire.RequestData{Reference: ref, OrderNumber: order, Warehouse: "WH1", DespatchDate: "2026-03-02T08:30:00.000Z",
		Carrier: "DPD", TrackingNumber: "TRK-" + ref}
	for _, l := range lines {
		sku, qty, _ := strings.Cut(l, "=")
		m, _ := wire.ParseSKU(sku)
		d.DespatchLines = append(d.DespatchLines, wire.DespatchLine{Matrix: m, Quantity: qty})
	}
	return wire.Request{RequestType: wire.TypeNewDespatchNote, Data: d}
}

func byRef(ref string) wire.Request {
	return wire.Request{RequestType: wire.TypeDespatchNotes, Data: wire.RequestData{Reference: ref}}
}

// Prima keeps no idempotency: the same note posted twice is two notes,
// both found by their reference, and counted as a duplicate. A note
// stands as made: amending the order after it changes nothing in it.
func TestDespatchNoteRepeatedIsCreatedAgain(t *testing.T) {
	sim, url := despatchSim(t, primasim.Options{})
	var ids []string
	for range 2 {
		_, _, resp := request(t, url, newNote("S1", "SO1", "ST1/BLK/9=2"))
		if resp.RequestStatus != wire.StatusOK || resp.Data == nil || resp.Data.DespatchNoteID == "" {
			t.Fatalf("%+v", resp)
		}
		ids = append(ids, resp.Data.DespatchNoteID)
	}
	if ids[0] != "DN-000001" || ids[1] != "DN-000002" {
		t.Fatalf("ids %v", ids)
	}
	_, _, resp := request(t, url, byRef("S1"))
	if resp.RequestStatus != wire.StatusOK || len(resp.Data.DespatchNotes) != 2 {
		t.Fatalf("look-up %+v", resp)
	}
	n := resp.Data.DespatchNotes[0]
	if n.DespatchNoteID != "DN-000001" || n.OrderNumber != "SO1" || n.Carrier != "DPD" || n.TrackingNumber != "TRK-S1" ||
		n.DespatchDate != "2026-03-02T08:30:00.000Z" || len(n.Lines) != 1 || n.Lines[0].Product != "ST1" || n.Lines[0].Quantity != "2" {
		t.Fatalf("note %+v", n)
	}
	if _, _, none := request(t, url, byRef("S-NONE")); none.RequestStatus != wire.StatusOK || none.Data == nil || len(none.Data.DespatchNotes) != 0 {
		t.Fatalf("look-up of nothing %+v", none)
	}
	mustApply(t, sim, primasim.Event{Type: "amend_order", OrderRef: "SO1", Lines: []primasim.OrderLine{{SKU: "ST1/BLK/10", Quantity: 5}}})
	st := sim.State()
	if st.Counters.DespatchNotesCreated != 2 || st.Counters.DespatchDuplicates != 1 || len(st.DespatchNotesFor("S1")) != 2 {
		t.Fatalf("counters %+v", st.Counters)
	}
	if l := st.DespatchNotes[0].Lines; len(l) != 1 || l[0].SKU != "ST1/BLK/9" || l[0].Quantity != 2 {
		t.Fatalf("the note changed with its order: %+v", l)
	}
}

// Prima refuses what it could not despatch: an unknown or cancelled
// order, a SKU not on the order, no lines, a quantity that is not
// positive, a note without reference. Nothing is stored for them.
func TestDespatchNoteValidation(t *testing.T) {
	sim, url := despatchSim(t, primasim.Options{})
	for _, tc := range []struct {
		req  wire.Request
		want string
	}{
		{newNote("S1", "SO-NOPE", "ST1/BLK/9=1"), "Unknown order SO-NOPE"},
		{newNote("S1", "SO2", "ST1/BLK/9=1"), "Order SO2 is cancelled"},
		{newNote("S1", "SO1", "ST1/BLK/9=1", "ST1/BLK/10=1"), "Line 2: ST1/BLK/10 is not on order SO1"},
		{newNote("S1", "SO1"), "at least one DespatchLine"},
		{newNote("S1", "SO1", "ST1/BLK/9=0"), `Line 1: Quantity "0" is not a positive integer`},
		{newNote("", "SO1", "ST1/BLK/9=1"), "Reference and OrderNumber are required"},
		{byRef(""), "Reference is required"},
	} {
		_, _, resp := request(t, url, tc.req)
		if resp.RequestStatus != wire.StatusError || !strings.Contains(resp.RequestError, tc.want) {
			t.Errorf("%s %+v: %+v, want %q", tc.req.RequestType, tc.req.Data, resp, tc.want)
		}
	}
	if st := sim.State(); len(st.DespatchNotes) != 0 || st.Counters.DespatchNotesCreated != 0 {
		t.Fatalf("refused notes stored: %+v", st.DespatchNotes)
	}
}

// A person makes a note by hand, under a reference of their choosing; it
// is on the modified-since feed with the others, in (Modified, id) order,
// page by page.
func TestDespatchNoteByHandAndFeed(t *testing.T) {
	sim, url := despatchSim(t, primasim.Options{})
	for i := range 3 {
		request(t, url, newNote(fmt.Sprintf("S%d", i), "SO1", "ST1/BLK/9=1"))
	}
	status, b := control(t, "POST", url+"/_sim/events", map[string]any{"type": "despatch_note", "order_ref": "SO1",
		"reference": "by-hand-1", "lines": []map[string]any{{"sku": "GIFTCARD", "quantity": 1}}})
	if status != 200 {
		t.Fatalf("event: %d %s", status, b)
	}
	for _, bad := range []primasim.Event{
		{Type: "despatch_note", OrderRef: "SO-NOPE", Reference: "x", Lines: []primasim.OrderLine{{SKU: "ST1/BLK/9", Quantity: 1}}},
		{Type: "despatch_note", OrderRef: "SO1", Reference: "x", Lines: []primasim.OrderLine{{SKU: "bad//", Quantity: 1}}},
		{Type: "despatch_note", OrderRef: "SO1", Reference: "x"},
	} {
		if err := sim.Apply(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	var got []string
	var since, after string
	for pages := 0; ; pages++ {
		_, _, resp := request(t, url, wire.Request{RequestType: wire.TypeDespatchNotesModifiedSince,
			Data: wire.RequestData{ModifiedSince: since, AfterKey: after, PageSize: 3}})
		for _, n := range resp.Data.DespatchNotes {
			got = append(got, n.DespatchNoteID+":"+n.Reference)
			since, after = n.Modified, n.DespatchNoteID
		}
		if !resp.Data.More {
			break
		}
		if pages > 3 {
			t.Fatal("the feed does not end")
		}
	}
	want := []string{"DN-000001:S0", "DN-000002:S1", "DN-000003:S2", "DN-000004:by-hand-1"}
	if !slices.Equal(got, want) {
		t.Fatalf("feed %v, want %v", got, want)
	}
	hand := sim.State().DespatchNotesFor("by-hand-1")
	if len(hand) != 1 || !hand[0].ByHand || hand[0].DespatchDate.IsZero() || hand[0].Lines[0].SKU != "GIFTCARD" {
		t.Fatalf("hand-made note %+v", hand)
	}
}

// The drop fault picks references by a seeded hash: each post of a picked
// one is answered OK with an id and stores nothing, every time; the
// others are kept. DroppedDespatchPosts names exactly the references
// dropped, and the same seed picks the same references in any order.
func TestDropDespatchFault(t *testing.T) {
	sim, url := despatchSim(t, primasim.Options{Seed: 3})
	if status, b := control(t, "POST", url+"/_sim/faults/despatch", map[string]any{"drop_fraction": 1.5}); status != 400 {
		t.Fatalf("fraction 1.5: %d %s", status, b)
	}
	if status, b := control(t, "POST", url+"/_sim/faults/despatch", map[string]any{"drop_fraction": 0.3, "seed": 11}); status != 200 {
		t.Fatalf("faults: %d %s", status, b)
	}
	var dropped []string
	for i := range 40 {
		ref := fmt.Sprintf("S%02d", i)
		for range 2 {
			_, _, resp := request(t, url, newNote(ref, "SO1", "ST1/BLK/9=1"))
			if resp.RequestStatus != wire.StatusOK || resp.Data.DespatchNoteID == "" {
				t.Fatalf("%s: %+v", ref, resp)
			}
		}
		_, _, found := request(t, url, byRef(ref))
		if sim.DropsDespatch(ref) {
			dropped = append(dropped, ref)
			if len(found.Data.DespatchNotes) != 0 {
				t.Fatalf("%s dropped, yet stored", ref)
			}
		} else if len(found.Data.DespatchNotes) != 2 {
			t.Fatalf("%s: %d notes", ref, len(found.Data.DespatchNotes))
		}
	}
	st := sim.State()
	if len(dropped) < 4 || len(dropped) > 20 || !slices.Equal(sim.DroppedDespatchPosts(), dropped) ||
		!slices.Equal(st.DroppedDespatchPosts, dropped) || st.Counters.DespatchDropped != 2*len(dropped) ||
		st.DespatchFaults.DropFraction != 0.3 {
		t.Fatalf("dropped %v; truth %v; counters %+v", dropped, sim.DroppedDespatchPosts(), st.Counters)
	}
	// The same seed, from the environment, picks the same references.
	var o primasim.Options
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &o,
		Lookuper: envconfig.MapLookuper(map[string]string{"SEED": "11", "DROP_DESPATCH_FRACTION": "0.3"})}); err != nil {
		t.Fatal(err)
	}
	other := primasim.New(o)
	var again []string
	for i := 39; i >= 0; i-- {
		if ref := fmt.Sprintf("S%02d", i); other.DropsDespatch(ref) {
			again = append(again, ref)
		}
	}
	slices.Sort(again)
	if !reflect.DeepEqual(again, dropped) {
		t.Fatalf("seed 11 picks %v, then %v", dropped, again)
	}
	status, b := control(t, "GET", url+"/_sim/state", nil)
	var js map[string]json.RawMessage
	if err := json.Unmarshal(b, &js); status != 200 || err != nil || !strings.Contains(string(js["despatch_notes"]), `"reference":"S`) {
		t.Fatalf("state %d: %v", status, err)
	}
}
