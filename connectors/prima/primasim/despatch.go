package primasim

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
)

// Despatch notes: what left a warehouse for a sales order, which Prima
// invoices from. The request types are assumed (prima.xsd). Prima
// documents no idempotency, so the simulator keeps none: a second
// NewDespatchNote with a reference makes a second note, and a note is
// never changed once made. Only the writer's look-up (DespatchNotes by
// reference) keeps a shipment to one note, and the duplicate counter lets
// tests see when it did not.

// DespatchNote is a despatch note of the simulated Prima.
type DespatchNote struct {
	ID             string         `json:"despatch_note_id"` // DN-000001...
	Reference      string         `json:"reference"`        // lockstep's: the Clarus shipment id
	OrderRef       string         `json:"order_ref"`
	Warehouse      string         `json:"warehouse,omitempty"`
	DespatchDate   time.Time      `json:"despatch_date,omitzero"`
	Carrier        string         `json:"carrier,omitempty"`
	TrackingNumber string         `json:"tracking_number,omitempty"`
	Lines          []DespatchLine `json:"lines"`
	Created        time.Time      `json:"created"`
	// ByHand marks a note made in Prima's screens (the despatch_note
	// event), not through NewDespatchNote.
	ByHand bool `json:"by_hand,omitempty"`
}

// DespatchLine is one line of a despatch note.
type DespatchLine struct {
	SKU      string `json:"sku"` // product code plus matrix codes, wire.SKUSeparator between
	Quantity int64  `json:"quantity"`
}

// despatchStore is the notes part of the ground truth.
type despatchStore struct {
	notes   map[string]*DespatchNote // by id
	byRef   map[string][]string      // reference -> ids, in creation order
	seq     int                      // the last id number handed out
	dropped map[string]int           // reference -> posts answered OK and dropped
}

func newDespatchStore() despatchStore {
	return despatchStore{notes: map[string]*DespatchNote{}, byRef: map[string][]string{}, dropped: map[string]int{}}
}

// nextID hands out the next note id. Zero-padded, so that ids sort as
// they were made, as the feed's AfterKey compares them.
func (d *despatchStore) nextID() string {
	d.seq++
	return fmt.Sprintf("DN-%06d", d.seq)
}

// checkNote refuses a note as Prima would, and fills in its lines' SKUs
// from their product and matrix codes. Callers hold s.mu.
func (s *Server) checkNote(n *DespatchNote, lines []wire.DespatchLine) string {
	if n.Reference == "" || n.OrderRef == "" {
		return "Reference and OrderNumber are required"
	}
	o := s.st.orders[n.OrderRef]
	switch {
	case o == nil:
		return fmt.Sprintf("Unknown order %s", n.OrderRef)
	case o.Status == OrderCancelled:
		return fmt.Sprintf("Order %s is cancelled", n.OrderRef)
	case len(lines) == 0:
		return "A despatch note needs at least one DespatchLine"
	}
	n.Lines = make([]DespatchLine, len(lines))
	for i, l := range lines {
		sku, err := l.SKU()
		if err != nil {
			return fmt.Sprintf("Line %d: %v", i+1, err)
		}
		if !slices.ContainsFunc(o.Lines, func(ol OrderLine) bool { return ol.SKU == sku }) {
			return fmt.Sprintf("Line %d: %s is not on order %s", i+1, sku, n.OrderRef)
		}
		q, err := strconv.ParseInt(l.Quantity, 10, 64)
		if err != nil || q <= 0 {
			return fmt.Sprintf("Line %d: Quantity %q is not a positive integer", i+1, l.Quantity)
		}
		n.Lines[i] = DespatchLine{SKU: sku, Quantity: q}
	}
	return ""
}

// store keeps a checked note under a new id, counting a reference used
// before as a duplicate. Callers hold s.mu.
func (s *Server) storeNote(n *DespatchNote) {
	d := &s.st.despatch
	n.ID, n.Created = d.nextID(), s.tick()
	if len(d.byRef[n.Reference]) > 0 {
		s.counts.DespatchDuplicates++
		s.log.Warn("prima simulator: a second despatch note with one reference", "reference", n.Reference,
			"notes", append(slices.Clone(d.byRef[n.Reference]), n.ID))
	}
	d.notes[n.ID] = n
	d.byRef[n.Reference] = append(d.byRef[n.Reference], n.ID)
	s.counts.DespatchNotesCreated++
}

// newDespatchNote answers NewDespatchNote: checked, then stored, or, for a
// reference the drop fault picks, answered OK with an id and not stored.
func (s *Server) newDespatchNote(d wire.RequestData) wire.Response {
	const typ = wire.TypeNewDespatchNote
	n := &DespatchNote{Reference: d.Reference, OrderRef: d.OrderNumber, Warehouse: d.Warehouse, Carrier: d.Carrier,
		TrackingNumber: d.TrackingNumber}
	if d.DespatchDate != "" {
		t, err := wire.ParseTime(d.DespatchDate)
		if err != nil {
			return errorResponse(typ, "Invalid DespatchDate: "+d.DespatchDate)
		}
		n.DespatchDate = t.UTC()
	}
	if msg := s.checkNote(n, d.DespatchLines); msg != "" {
		return errorResponse(typ, msg)
	}
	if s.dropsDespatch(n.Reference) {
		s.st.despatch.dropped[n.Reference]++
		s.counts.DespatchDropped++
		return okResponse(&wire.ResponseData{DespatchNoteID: s.st.despatch.nextID()})
	}
	s.storeNote(n)
	return okResponse(&wire.ResponseData{DespatchNoteID: n.ID})
}

// despatchNotes answers DespatchNotes: every note with the reference.
func (s *Server) despatchNotes(d wire.RequestData) wire.Response {
	if d.Reference == "" {
		return errorResponse(wire.TypeDespatchNotes, "Reference is required")
	}
	out := &wire.ResponseData{}
	for _, id := range s.st.despatch.byRef[d.Reference] {
		out.DespatchNotes = append(out.DespatchNotes, wireNote(s.st.despatch.notes[id]))
	}
	return okResponse(out)
}

func noteStamp(n *DespatchNote) (time.Time, string) { return n.Created, n.ID }

// wireNote is n as the despatch note answers carry it.
func wireNote(n *DespatchNote) wire.DespatchNote {
	w := wire.DespatchNote{DespatchNoteID: n.ID, Reference: n.Reference, OrderNumber: n.OrderRef, Warehouse: n.Warehouse,
		Carrier: n.Carrier, TrackingNumber: n.TrackingNumber, Modified: wire.FormatTime(n.Created),
		Lines: make([]wire.DespatchLine, len(n.Lines))}
	if !n.DespatchDate.IsZero() {
		w.DespatchDate = wire.FormatTime(n.DespatchDate)
	}
	for i, l := range n.Lines {
		m, _ := wire.ParseSKU(l.SKU) // checked when the note was made
		w.Lines[i] = wire.DespatchLine{Matrix: m, Quantity: strconv.FormatInt(l.Quantity, 10)}
	}
	return w
}

// applyDespatchNote makes a note by hand (the despatch_note event), as a
// person at a Prima screen would: any reference they choose, checked as
// NewDespatchNote is, never dropped. Callers hold s.mu.
func (s *Server) applyDespatchNote(ev Event) error {
	n := &DespatchNote{Reference: ev.Reference, OrderRef: ev.OrderRef, Warehouse: ev.Warehouse, ByHand: true}
	lines := make([]wire.DespatchLine, len(ev.Lines))
	for i, l := range ev.Lines {
		m, err := wire.ParseSKU(l.SKU)
		if err != nil {
			return &EventError{fmt.Sprintf("despatch_note: line %d: %v", i+1, err)}
		}
		lines[i] = wire.DespatchLine{Matrix: m, Quantity: strconv.FormatInt(l.Quantity, 10)}
	}
	if msg := s.checkNote(n, lines); msg != "" {
		return &EventError{"despatch_note: " + msg}
	}
	s.storeNote(n)
	n.DespatchDate = n.Created
	return nil
}
