package prima

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
)

// noteDoc is a Response carrying notes, as Prima might send them.
func noteDoc(t testing.TB, more bool, notes ...wire.DespatchNote) []byte {
	t.Helper()
	doc, err := wire.MarshalString(wire.Response{RequestStatus: wire.StatusOK, Data: &wire.ResponseData{More: more, DespatchNotes: notes}})
	if err != nil {
		t.Fatal(err)
	}
	return answerWith(doc)
}

func wireNote(id, mod, qty string) wire.DespatchNote {
	return wire.DespatchNote{DespatchNoteID: id, Reference: "GO-" + id, OrderNumber: "SO1", Modified: mod,
		Lines: []wire.DespatchLine{{Matrix: wire.Matrix{Product: "ST1", MtrxCode1: "BLK"}, Quantity: qty}}}
}

// A note the client cannot read comes back with its error, for the source
// to dead-letter, and the feed moves past it; a stamp it cannot read, or
// notes out of cursor order, fail the page, as the cursor could skip.
func TestDespatchFeedReadsWhatItCan(t *testing.T) {
	ctx := context.Background()
	c := scriptedClient(t, &scripted{status: 200, body: noteDoc(t, false,
		wireNote("DN-1", "2026-03-02T09:00:00.000Z", "2"),
		wireNote("DN-2", "2026-03-02T09:00:00.001Z", "two"),
		wire.DespatchNote{DespatchNoteID: "DN-3", Reference: "GO-3", Modified: "2026-03-02T09:00:00.002Z"},
		wireNote("DN-4", "2026-03-02T09:00:00.003Z", "1"),
	)})
	p, err := c.DespatchNotes(ctx, Cursor{}, 10)
	if err != nil || len(p.Records) != 4 || p.More || p.Next.Key != "DN-4" {
		t.Fatalf("%+v %v", p, err)
	}
	for i, want := range []string{"", `Quantity "two" is not a positive integer`, "no OrderNumber", ""} {
		r := p.Records[i]
		if (r.Err == nil) != (want == "") || r.Err != nil && !strings.Contains(r.Err.Error(), want) {
			t.Errorf("record %d: %v, want %q", i, r.Err, want)
		}
	}
	if !strings.Contains(p.Records[1].Raw, `Quantity="two"`) || p.Records[1].Note.ID != "DN-2" {
		t.Errorf("the dead letter's text %q", p.Records[1].Raw)
	}
	if l := p.Records[3].Note.Lines; len(l) != 1 || l[0].SKU != "ST1/BLK" || l[0].Quantity != 1 {
		t.Errorf("lines %+v", l)
	}

	for name, notes := range map[string][]wire.DespatchNote{
		"unreadable stamp": {wireNote("DN-1", "yesterday", "1")},
		"out of order":     {wireNote("DN-2", "2026-03-02T09:00:00.001Z", "1"), wireNote("DN-1", "2026-03-02T09:00:00.000Z", "1")},
	} {
		c := scriptedClient(t, &scripted{status: 200, body: noteDoc(t, false, notes...)})
		var ae *APIError
		if _, err := c.DespatchNotes(ctx, Cursor{}, 10); !errors.As(err, &ae) || ae.Retryable {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A look-up answered with a note it did not ask for, or one it cannot
	// read, is an error: the sink must not take it for no note.
	c = scriptedClient(t, &scripted{status: 200, body: noteDoc(t, false, wireNote("DN-1", "2026-03-02T09:00:00.000Z", "1"))})
	if _, err := c.DespatchNotesByReference(ctx, "GO-OTHER"); err == nil || !strings.Contains(err.Error(), "not the one asked for") {
		t.Errorf("another reference: %v", err)
	}
	c = scriptedClient(t, &scripted{status: 200, body: answerWith(`<Response RequestStatus="OK"/>`)})
	var ae *APIError
	if _, err := c.CreateDespatchNote(ctx, DespatchNote{Reference: "GO-1", OrderRef: "SO1"}); !errors.As(err, &ae) || !ae.Ambiguous {
		t.Errorf("an OK naming no note: %v", err)
	}
}

// FuzzDecodeDespatchNotes drives the decoder of DespatchNotesModifiedSince
// answers, outside bytes, with the reading after it: whatever the bytes,
// no panic; each note comes back at most once, as a note or with why it
// is none, with its text; what is accepted is what an event can carry,
// in cursor order, and the cursor stops at the last of them.
func FuzzDecodeDespatchNotes(f *testing.F) {
	for _, notes := range [][]wire.DespatchNote{
		{wireNote("DN-1", "2026-03-02T09:00:00.000Z", "2"), wireNote("DN-2", "2026-03-02T09:00:00.001+01:00", "x")},
		{{DespatchNoteID: "DN-3", Reference: "Café – €", OrderNumber: "SO1", Warehouse: "W H", Modified: "2026-03-02T09:00:00Z",
			DespatchDate: "2026-03-02"}},
	} {
		b := noteDoc(f, true, notes...)
		f.Add(b, wire.ContentType, 3)
		f.Add(b[:len(b)/2], wire.ContentType, 3)
	}
	f.Fuzz(func(t *testing.T, raw []byte, contentType string, limit int) {
		resp, fault, err := decodeAnswer(raw, contentType, wire.OpHandler)
		if err != nil || fault != nil {
			return
		}
		p, err := notesFrom(resp, Cursor{}, limit)
		if err != nil || resp.Data == nil {
			return
		}
		if len(p.Records) > len(resp.Data.DespatchNotes) {
			t.Fatalf("%d records from %d elements", len(p.Records), len(resp.Data.DespatchNotes))
		}
		var prev Cursor
		for _, r := range p.Records {
			if !strings.HasPrefix(r.Raw, "<DespatchNote") {
				t.Fatalf("record without its text: %+v", r)
			}
			n := r.Note
			if c := n.Modified.Compare(prev.Modified); c < 0 || c == 0 && n.ID <= prev.Key {
				t.Fatalf("notes out of order: %+v after %+v", n, prev)
			}
			prev = Cursor{Modified: n.Modified, Key: n.ID}
			if r.Err != nil {
				continue
			}
			if n.ID == "" || n.OrderRef == "" || n.Modified.IsZero() {
				t.Fatalf("accepted note %+v", n)
			}
			for _, l := range n.Lines {
				if _, err := wire.ParseSKU(l.SKU); err != nil || l.Quantity <= 0 {
					t.Fatalf("accepted line %+v", l)
				}
			}
			if ev := despatchNoteEvent(n, time.Now()); ev.EventID != "prima:despatch-note:"+n.ID || ev.OccurredAt.IsZero() {
				t.Fatalf("event %+v", ev)
			}
		}
		if p.Next != prev && len(p.Records) > 0 {
			t.Fatalf("cursor %+v, last note %+v", p.Next, prev)
		}
	})
}
