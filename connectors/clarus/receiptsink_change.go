package clarus

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Updating and cancelling a pre-receipt: only while nothing was received
// against it (draft or pending). Once receiving started the warehouse's
// work stands: the command is acked rejected, and what was received
// reaches lockstep as a receipt.

// update makes the pre-receipt of cmd's PO what cmd says: warehouse,
// expected date and lines. Each attempt sends only what differs from what
// stands, read just before it, so after an ambiguous failure the next
// read finds what was applied and sends nothing twice (a repeated ADD
// would add a second line).
func (s *ReceiptSink) update(ctx context.Context, cmd *schemas.ClarusReceiptCommand) (answer, error) {
	p, reason, err := s.plan(ctx, cmd)
	if err != nil || reason != "" {
		return rejected("%s", reason), err
	}
	var u GoodsInUpdate
	reads := 0
	done, a, err := s.writeAll(ctx, "update", false, func(ctx context.Context, _ []string) ([]string, *answer, error) {
		reads++
		all, err := s.lookup(ctx, cmd.PORef)
		if err != nil {
			return nil, nil, err
		}
		var g *GoodsInReceipt
		for i := range all {
			if all[i].Active() {
				g = &all[i]
				break
			}
		}
		switch {
		case g == nil && len(all) > 0:
			a := rejected("pre-receipt %s with reference %s was cancelled in Clarus: nothing to update", all[0].ID, cmd.PORef)
			return nil, &a, nil
		case g == nil:
			a := rejected("no pre-receipt with reference %s in Clarus: nothing to update", cmd.PORef)
			return nil, &a, nil
		case !g.Unreceived():
			a := rejected("receiving started: pre-receipt %s is %s", g.ID, g.Status)
			return nil, &a, nil
		}
		var same bool
		u, same = p.changes(*g)
		if same {
			a := answer{status: string(schemas.ReceiptUpdated), clarusID: g.ID}
			if reads == 1 {
				a.reason = fmt.Sprintf("pre-receipt %s already holds what the command says: not changed again", g.ID)
			}
			return nil, &a, nil
		}
		return []string{g.ID}, nil, nil
	}, func(ctx context.Context, id string) error { return s.api.UpdateGoodsInReceipt(ctx, id, u) },
		func(id, reason string) answer {
			s.api.forgetProducts(p.codes...)
			return rejected("Clarus refused the update of pre-receipt %s: %s", id, reason)
		})
	if err != nil || a != nil {
		return deref(a), err
	}
	return answer{status: string(schemas.ReceiptUpdated), clarusID: done[0]}, nil
}

// changes returns the update that makes g what p asks for, and whether g
// is that already. Lines are compared per product: the first line of a
// product takes the quantity p expects of it (UPDATE), its other lines and
// the lines of products p does not name go (DESTROY), and products g has
// no line of are added (ADD). The version and references go with any
// change: they cannot be read back (the documentation shows no such
// GraphQL field), so they alone never make a change.
func (p plannedReceipt) changes(g GoodsInReceipt) (GoodsInUpdate, bool) {
	u := GoodsInUpdate{ExternalRefs: p.g.ExternalRefs, Strings: p.g.Strings}
	same := true
	if g.WarehouseID != p.g.WarehouseID {
		u.WarehouseID, same = p.g.WarehouseID, false
	}
	// The date is compared by day: Clarus's documented example of
	// expected_date_of_receipt is a date, and the REST write takes a time.
	if e := p.g.ExpectedArrival; e != nil && (g.ExpectedAt.IsZero() || !sameDay(g.ExpectedAt, *e)) {
		u.ExpectedArrival, same = e, false
	}
	seen := map[string]bool{}
	for _, l := range g.Lines {
		code := norm.NFC.String(l.ProductCode)
		want, named := p.want[code]
		switch {
		case !named || seen[code]:
			u.Changes = append(u.Changes, GoodsInLineChange{Type: LineDestroy, ID: l.ID})
		case l.Expected != want:
			u.Changes = append(u.Changes, GoodsInLineChange{Type: LineUpdate, ID: l.ID, Line: NewGoodsInLine{Quantity: want}})
		}
		seen[code] = true
	}
	for _, code := range slices.Sorted(maps.Keys(p.lines)) {
		if !seen[code] {
			u.Changes = append(u.Changes, GoodsInLineChange{Type: LineAdd, Line: p.lines[code]})
		}
	}
	if len(u.Changes) > 0 {
		same = false
	}
	return u, same
}

func sameDay(a, b time.Time) bool {
	a, b = a.UTC(), b.UTC()
	return a.Year() == b.Year() && a.YearDay() == b.YearDay()
}

// cancel cancels every pre-receipt that stands with cmd's reference,
// unless receiving started on one of them.
func (s *ReceiptSink) cancel(ctx context.Context, cmd *schemas.ClarusReceiptCommand) (answer, error) {
	return s.cancelAll(ctx, cmd.PORef, "pre-receipt", string(schemas.ReceiptCancelled), func(ctx context.Context) ([]standingRecord, error) {
		all, err := s.lookup(ctx, cmd.PORef)
		out := make([]standingRecord, 0, len(all))
		for _, g := range all {
			r := standingRecord{id: g.ID, active: g.Active()}
			if !g.Unreceived() {
				r.locked = fmt.Sprintf("receiving started: pre-receipt %s is %s", g.ID, g.Status)
			}
			out = append(out, r)
		}
		return out, err
	}, s.api.CancelGoodsInReceipt, func(reason string) answer { return rejected("%s", reason) })
}
