package prima

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima/internal/wire"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Despatch notes through the assumed request types NewDespatchNote,
// DespatchNotes and DespatchNotesModifiedSince (prima.xsd). Prima
// documents no idempotency: CreateDespatchNote sent twice makes two notes
// (two invoices), so a writer calls DespatchNotesByReference before it
// sends again after any failure that may have reached Prima.

// DespatchNote is a Prima despatch note: what CreateDespatchNote sends
// (ID and Modified empty) and what the look-up and the feed read back.
type DespatchNote struct {
	ID        string // Prima's, e.g. DN-000042
	Reference string // lockstep's: the Clarus shipment id; a person's for a note made by hand
	OrderRef  string
	Warehouse string
	// DespatchDate is when the goods left; zero when the note has none.
	DespatchDate   time.Time
	Carrier        string
	TrackingNumber string
	Lines          []schemas.Line // Prima SKUs
	// Modified is the note's instant on the feed: its creation, as a
	// note does not change once made.
	Modified time.Time
}

// DespatchRecord is one note of a feed page: the note read from it, or,
// when Err is set, why it is no note lockstep can use, with what could
// be read of it (ID, Reference, OrderRef, Modified) to name it.
type DespatchRecord struct {
	Note DespatchNote
	Raw  string // the element re-encoded, what a dead letter carries
	Err  error
}

// DespatchPage is one DespatchNotesModifiedSince answer, read.
type DespatchPage struct {
	Records []DespatchRecord
	Next    Cursor // after the records; since when none
	More    bool   // the page was full: ask again at once
}

// CreateDespatchNote creates the note n and returns Prima's id for it.
// A SKU that cannot be spelt as product and matrix codes, or a quantity
// that is not positive, is refused before anything is sent (an error that
// is not an *APIError): Prima would refuse it too.
func (c *Client) CreateDespatchNote(ctx context.Context, n DespatchNote) (string, error) {
	const op = wire.TypeNewDespatchNote
	d := wire.RequestData{Reference: n.Reference, OrderNumber: n.OrderRef, Warehouse: n.Warehouse, Carrier: n.Carrier,
		TrackingNumber: n.TrackingNumber, DespatchLines: make([]wire.DespatchLine, len(n.Lines))}
	if n.Warehouse != "" {
		if err := checkWarehouse(n.Warehouse); err != nil {
			return "", fmt.Errorf("prima: %s %s: %w", op, n.Reference, err)
		}
	}
	if !n.DespatchDate.IsZero() {
		d.DespatchDate = wire.FormatTime(n.DespatchDate)
	}
	for i, l := range n.Lines {
		m, err := wire.ParseSKU(l.SKU)
		if err == nil && l.Quantity <= 0 {
			err = fmt.Errorf("%w: %q at %d", ErrBadDespatchQuantity, l.SKU, l.Quantity)
		}
		if err != nil {
			return "", fmt.Errorf("prima: %s %s line %d: %w", op, n.Reference, i+1, err)
		}
		d.DespatchLines[i] = wire.DespatchLine{Matrix: m, Quantity: strconv.FormatInt(l.Quantity, 10)}
	}
	resp, err := c.call(ctx, op, d)
	if err != nil {
		return "", err
	}
	if resp.Data == nil || resp.Data.DespatchNoteID == "" {
		// Prima said OK and named no note: it may have made one.
		return "", &APIError{Op: op, Status: 200, Message: "the answer names no DespatchNoteID", Retryable: true, Ambiguous: true}
	}
	return resp.Data.DespatchNoteID, nil
}

// ErrBadDespatchQuantity reports a despatch line whose quantity is not
// positive.
var ErrBadDespatchQuantity = errors.New("prima: despatch quantity is not positive")

// DespatchNotesByReference returns every note with reference ref: none,
// one, or several when a duplicate was made (by hand, or by a writer that
// did not look first). A note it cannot read fails the call: a writer
// deciding whether to create must not take an unreadable note for none.
func (c *Client) DespatchNotesByReference(ctx context.Context, ref string) ([]DespatchNote, error) {
	const op = wire.TypeDespatchNotes
	resp, err := c.call(ctx, op, wire.RequestData{Reference: ref})
	if err != nil {
		return nil, err
	}
	if resp.Data == nil {
		return nil, nil
	}
	out := make([]DespatchNote, 0, len(resp.Data.DespatchNotes))
	for i := range resp.Data.DespatchNotes {
		n, err := noteFrom(&resp.Data.DespatchNotes[i])
		if err == nil && n.Reference != ref {
			err = fmt.Errorf("Reference %q is not the one asked for", cleanMessage(n.Reference))
		}
		if err != nil {
			return nil, &APIError{Op: op, Status: 200, Message: fmt.Sprintf("despatch note %d", i+1), Err: err}
		}
		out = append(out, n)
	}
	return out, nil
}

// DespatchNotes returns up to limit notes modified after since, in
// (Modified, id) order, and the cursor after them. A note the client
// cannot read is returned with its Err, for the source to dead-letter,
// and the page goes on; only a Modified stamp it cannot read, or a page
// out of cursor order or longer than limit, fails the page, as the
// cursor could not move past it safely.
func (c *Client) DespatchNotes(ctx context.Context, since Cursor, limit int) (DespatchPage, error) {
	const op = wire.TypeDespatchNotesModifiedSince
	resp, err := c.call(ctx, op, sinceData(since, limit))
	if err != nil {
		return DespatchPage{Next: since}, err
	}
	page, err := notesFrom(resp, since, limit)
	if err != nil {
		return DespatchPage{Next: since}, &APIError{Op: op, Status: 200, Message: "refused page", Err: err}
	}
	return page, nil
}

// notesFrom reads a DespatchNotesModifiedSince answer after since. Notes
// at or before since at the head of the page are dropped (a server whose
// ModifiedSince is inclusive repeats nothing downstream).
func notesFrom(resp *wire.Response, since Cursor, limit int) (DespatchPage, error) {
	page := DespatchPage{Next: since}
	if resp.Data == nil {
		return page, nil
	}
	elems := resp.Data.DespatchNotes
	if limit > 0 && len(elems) > limit {
		return page, fmt.Errorf("%w: %d notes for PageSize %d", ErrPageTooLong, len(elems), limit)
	}
	page.More = resp.Data.More || limit > 0 && len(elems) >= limit
	for i := range elems {
		w := &elems[i]
		mod, keep, err := modified(w.Modified, page.Next, w.DespatchNoteID, len(page.Records) == 0)
		if err != nil {
			return DespatchPage{Next: since}, fmt.Errorf("despatch note %d (%q): %w", i+1, cleanMessage(w.DespatchNoteID), err)
		}
		if !keep {
			continue
		}
		page.Next = Cursor{Modified: mod, Key: w.DespatchNoteID}
		n, err := noteFrom(w)
		raw, _ := xml.Marshal(w)
		page.Records = append(page.Records, DespatchRecord{Note: n, Raw: string(raw), Err: err})
	}
	if page.More && len(page.Records) == 0 && len(elems) > 0 {
		return DespatchPage{Next: since}, errStuck
	}
	return page, nil
}

// noteFrom reads one note element. On error the note holds what was read
// before it, to name it.
func noteFrom(w *wire.DespatchNote) (DespatchNote, error) {
	n := DespatchNote{ID: w.DespatchNoteID, Reference: w.Reference, OrderRef: w.OrderNumber, Warehouse: w.Warehouse,
		Carrier: w.Carrier, TrackingNumber: w.TrackingNumber}
	var err error
	if n.Modified, err = wire.ParseTime(w.Modified); err != nil {
		return n, fmt.Errorf("Modified %q is not an xs:dateTime with a zone", cleanMessage(w.Modified))
	}
	n.Modified = n.Modified.UTC()
	switch {
	case n.ID == "":
		return n, errors.New("no DespatchNoteID")
	case n.OrderRef == "":
		return n, errors.New("no OrderNumber")
	case n.Warehouse != "" && checkWarehouse(n.Warehouse) != nil:
		return n, checkWarehouse(n.Warehouse)
	}
	if w.DespatchDate != "" {
		t, err := wire.ParseTime(w.DespatchDate)
		if err != nil {
			return n, fmt.Errorf("DespatchDate %q is not an xs:dateTime with a zone", cleanMessage(w.DespatchDate))
		}
		n.DespatchDate = t.UTC()
	}
	n.Lines = make([]schemas.Line, 0, len(w.Lines))
	for i, l := range w.Lines {
		sku, err := l.SKU()
		if err != nil {
			return n, fmt.Errorf("line %d: %w", i+1, err)
		}
		q, err := strconv.ParseInt(l.Quantity, 10, 64)
		if err != nil || q <= 0 {
			return n, fmt.Errorf("line %d (%s): Quantity %q is not a positive integer", i+1, sku, cleanMessage(l.Quantity))
		}
		n.Lines = append(n.Lines, schemas.Line{SKU: sku, Quantity: q})
	}
	return n, nil
}
