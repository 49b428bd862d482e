package prima

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
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

// laneSink is a despatch sink of four lanes in front of h, on the wall
// clock, with the commands of refs (of order SO1) encoded as polled
// records, and its registry.
func laneSink(t *testing.T, h http.Handler, refs ...string) (*DespatchSink, []*kgo.Record, *failingRegistry) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := DefaultConfig()
	cfg.BaseURL, cfg.DespatchConcurrency = srv.URL, 4
	api, err := NewClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := &failingRegistry{Registry: schemas.NewMemRegistry()}
	serde := schemas.NewSerde(reg)
	s, err := NewDespatchSink(cfg, api, serde, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i, ref := range refs {
		v, err := serde.Encode(context.Background(), &schemas.DespatchCommand{
			Meta:     schemas.Meta{EventID: "e-" + ref, Source: schemas.SourceLockstep, OccurredAt: time.Now(), IngestedAt: time.Now()},
			OrderRef: "SO1", ShipmentID: ref, Warehouse: "WH1", Lines: []schemas.Line{{SKU: "ST1/BLK/9", Quantity: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: s.cmdTopic, Value: v, Offset: int64(i)})
	}
	return s, recs, reg
}

// releaseAtCleanup closes release, if the test has not, before the
// server's Close (registered earlier, so run later) waits for handlers
// that wait on it.
func releaseAtCleanup(t *testing.T, release chan struct{}) {
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
}

// failingRegistry refuses every registration once fail is set: the sink
// cannot encode what it produces, which stops it.
type failingRegistry struct {
	schemas.Registry
	fail   atomic.Bool
	failed atomic.Int32
}

func (r *failingRegistry) Register(ctx context.Context, subject, schema string) (int, error) {
	if r.fail.Load() {
		r.failed.Add(1)
		return 0, errors.New("registry down")
	}
	return r.Registry.Register(ctx, subject, schema)
}

// A revoke waits for every call in flight, of every lane, and stops each
// lane at its next call: once it returns, Prima sees nothing more from
// the batch, which ends with errDespatchRevoked. Four lanes each hold a
// look-up open in Prima; the revoke, pending meanwhile, returns only
// when all four are answered, and neither their creates nor the look-ups
// of the commands still waiting are sent.
func TestDespatchRevokeWaitsForEveryLane(t *testing.T) {
	entered, release := make(chan struct{}, 16), make(chan struct{})
	var requests atomic.Int32
	empty := noteDoc(t, false) // a look-up that finds nothing
	s, recs, _ := laneSink(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		requests.Add(1)
		entered <- struct{}{}
		<-release
		w.Header().Set("Content-Type", wire.ContentType)
		_, _ = w.Write(empty)
	}), "GO-0", "GO-1", "GO-2", "GO-3", "GO-4", "GO-5")
	releaseAtCleanup(t, release)
	ctx := context.Background()

	batch := make(chan error, 1)
	go func() {
		_, err := s.handleAll(ctx, recs)
		batch <- err
	}()
	for range 4 {
		<-entered
	}
	revoked := make(chan struct{})
	go func() {
		s.revoke(ctx, nil, nil)
		close(revoked)
	}()
	// A writer waiting for calls holds back new readers: TryRLock fails
	// once the revoke is pending behind the four calls in flight.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if !s.calls.TryRLock() {
			break
		}
		s.calls.RUnlock()
		if time.Now().After(deadline) {
			t.Fatal("the revoke never waited for the calls in flight")
		}
	}
	select {
	case <-revoked:
		t.Fatal("the revoke returned with four calls in flight")
	case <-batch:
		t.Fatal("the batch ended with four calls in flight")
	default:
	}
	close(release)
	<-revoked
	if err := <-batch; !errors.Is(err, errDespatchRevoked) {
		t.Fatalf("the batch ended with %v", err)
	}
	if n := requests.Load(); n != 4 {
		t.Fatalf("%d calls reached Prima, want the 4 in flight at the revoke", n)
	}
	if !s.isRevoked() {
		t.Fatal("not revoked")
	}
}

// A lane that cannot encode what it produces (Kafka failing the sink)
// stops the batch with its error, but does not cut another lane's call
// short: a create abandoned in flight may be applied after the look-up of
// whoever handles it again. The batch returns once that call is answered,
// and the lane stops there, before its create. The refusal is answered
// only once the other lane's look-up is in flight.
func TestDespatchKafkaErrorLetsCallsFinish(t *testing.T) {
	slow, release := make(chan struct{}), make(chan struct{})
	var requests atomic.Int32
	cut := make(chan bool, 1)
	empty := noteDoc(t, false)
	refused := answerWith(`<Response RequestType="NewDespatchNote" RequestStatus="ERROR" RequestError="Unknown order SO1"/>`)
	s, recs, reg := laneSink(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		requests.Add(1)
		w.Header().Set("Content-Type", wire.ContentType)
		switch {
		case strings.Contains(string(b), "GO-SLOW"):
			close(slow) // once: the lane stops before another call
			<-release
			cut <- r.Context().Err() != nil // the client gave up on it
			_, _ = w.Write(empty)
		case strings.Contains(string(b), wire.TypeNewDespatchNote):
			select {
			case <-slow:
			case <-release: // the test gave up
			}
			_, _ = w.Write(refused)
		default:
			_, _ = w.Write(empty)
		}
	}), "GO-SLOW", "GO-REFUSED")
	releaseAtCleanup(t, release)
	reg.fail.Store(true) // the commands are encoded: nothing more is

	batch := make(chan error, 1)
	go func() {
		_, err := s.handleAll(context.Background(), recs)
		batch <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); reg.failed.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the refused command's failed note was never encoded")
		}
	}
	select {
	case err := <-batch:
		t.Fatalf("the batch ended (%v) with a call in flight", err)
	case <-time.After(100 * time.Millisecond): // for a batch that would not wait
	}
	close(release)
	if <-cut {
		t.Fatal("the call in flight was cut short")
	}
	if err := <-batch; err == nil || !strings.Contains(err.Error(), "registry down") {
		t.Fatalf("the batch ended with %v", err)
	}
	if n := requests.Load(); n != 3 {
		t.Fatalf("%d calls, want 3: the slow look-up, the other's look-up and create", n)
	}
}
