package inbound

import (
	"fmt"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/processors/discrepancy"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Drift kinds of this processor that the design does not name (the kind
// is a free string in the schema, so a new one needs no schema change).
const (
	// DriftAmendedAfterReceipt: Prima changed a PO after Clarus received
	// goods against it, or Clarus refused to apply a change.
	DriftAmendedAfterReceipt schemas.DriftKind = "po_amended_after_receipt"
	// DriftCancelledAfterReceipt: Prima cancelled a PO that Clarus has
	// received goods against (before or after the cancellation).
	DriftCancelledAfterReceipt schemas.DriftKind = "po_cancelled_after_receipt"
)

// owners: the warehouse maps SKUs and sorts out what it received (orphans,
// products the PO does not order); finance settles a supplier's excess
// with the supplier at PO cost; operations makes Prima and Clarus agree on
// the PO itself.
var owners = discrepancy.Owners{
	schemas.DriftSKUUnmapped:       schemas.OwnerWarehouse,
	schemas.DriftPONotInWMS:        schemas.OwnerOperations,
	schemas.DriftOrphanReceipt:     schemas.OwnerWarehouse,
	schemas.DriftReceiptOverPO:     schemas.OwnerFinance,
	schemas.DriftReceiptSKUNotOnPO: schemas.OwnerWarehouse,
	// Stock booked in at a warehouse the PO does not deliver to: the
	// warehouse moves it, or has operations change the PO.
	schemas.DriftReceiptWrongWarehouse: schemas.OwnerWarehouse,
	DriftAmendedAfterReceipt:           schemas.OwnerOperations,
	DriftCancelledAfterReceipt:         schemas.OwnerOperations,
}

// Discrepancy ids: one per PO (and SKU, line, product code or receipt
// where a PO has several), so every copy and replay of an input speaks of
// the same discrepancy.
func unmappedID(ref, sku string) string {
	return discrepancy.ID(schemas.DriftSKUUnmapped, "po", ref, sku)
}
func notInWMSID(ref string) string   { return discrepancy.ID(schemas.DriftPONotInWMS, ref) }
func amendedID(ref string) string    { return discrepancy.ID(DriftAmendedAfterReceipt, ref) }
func cancelledID(ref string) string  { return discrepancy.ID(DriftCancelledAfterReceipt, ref) }
func orphanID(receipt string) string { return discrepancy.ID(schemas.DriftOrphanReceipt, receipt) }
func overID(ref string, line int) string {
	return discrepancy.ID(schemas.DriftReceiptOverPO, ref, fmt.Sprint(line))
}
func notOnPOID(ref, code string) string {
	return discrepancy.ID(schemas.DriftReceiptSKUNotOnPO, ref, code)
}
func wrongWarehouseID(ref, warehouse string) string {
	return discrepancy.ID(schemas.DriftReceiptWrongWarehouse, ref, warehouse)
}

// Effects are what one step asks the wiring to do.
type Effects struct {
	Commands []schemas.ClarusReceiptCommand // Meta is filled by the wiring
	Drift    []discrepancy.Drift
	Timers   []Timer
}

// Timer is a timer to arm; its due time is in State too, so a timer that
// fires for a superseded time is recognised and does nothing.
type Timer struct {
	Kind TimerKind
	Due  time.Time
}

// TimerKind says what a timer is for.
type TimerKind string

// Timer kinds.
const (
	TimerRedrive TimerKind = "redrive" // a held PO looks at the item master again
	TimerCheck   TimerKind = "check"   // po_not_in_wms falls due
)

func (e *Effects) open(st *State, d discrepancy.Drift) {
	e.Drift = append(e.Drift, owners.Open(&st.Open, d))
}

func (e *Effects) resolve(st *State, id, cause, detail string) {
	if d, ok := owners.Resolve(st.Open, id, cause, detail); ok {
		e.Drift = append(e.Drift, d)
	}
}

func vcause(v int64) string { return fmt.Sprintf("v%d", v) }

// PO folds a new version of a Prima PO (po.Version > st.Version; the PO
// passed ValidatePO) at now.
func (r Rules) PO(st State, po *schemas.PurchaseOrder, m Master, now time.Time) (State, Effects) {
	var e Effects
	st.Ref, st.Version = po.PORef, po.Version
	cause := vcause(po.Version)
	if st.Cancelled != 0 {
		return st, e // Prima does not revive a cancelled PO
	}
	if po.Status == schemas.PurchaseOrderCancelled {
		r.cancel(&st, po.Version, cause, &e)
		return st, e
	}
	prev := st.PO
	st.PO = po
	if st.Sent != nil && received(st) > 0 {
		r.amendAfterReceipt(&st, m, cause, &e)
	} else {
		r.evaluate(&st, m, cause, now, &e)
	}
	r.arm(&st, prev, now, &e)
	r.match(&st, m, cause, &e)
	return st, e
}

// evaluate brings Clarus to st.PO while it has received nothing against
// it: the PO is held on unmapped SKUs, or its pre-receipt created, or
// updated.
func (r Rules) evaluate(st *State, m Master, cause string, now time.Time, e *Effects) {
	po := st.PO
	lines, held := mapLines(po, m.Items)
	st.Lines = lines
	r.hold(st, held, cause, e)
	if len(held) > 0 {
		if st.Sent == nil {
			st.Phase = PhaseHeld
		}
		if st.RedriveAt == 0 {
			due := now.Add(r.RedriveInterval)
			st.RedriveAt = due.UnixMilli()
			e.Timers = append(e.Timers, Timer{Kind: TimerRedrive, Due: due})
		}
		return
	}
	want := sentOf(po, lines)
	switch {
	case st.Sent == nil:
		st.Sent, st.Phase, st.CreateVersion = want, PhaseSent, po.Version
		e.Commands = append(e.Commands, command(st.Ref, schemas.ClarusReceiptCreate, want))
	case len(Diff(st.target(), want)) > 0:
		st.Pending = want
		e.Commands = append(e.Commands, command(st.Ref, schemas.ClarusReceiptUpdate, want))
	}
}

// hold makes the open sku_unmapped discrepancies those of held: the ones
// mapped (or gone from the PO) resolve, new ones open, the rest say
// nothing new.
func (r Rules) hold(st *State, held []unmapped, cause string, e *Effects) {
	units := map[string]int64{}
	for _, u := range held {
		units[u.SKU] += u.Quantity
	}
	for _, id := range st.Open.IDs(schemas.DriftSKUUnmapped) {
		sku := strings.TrimPrefix(id, unmappedID(st.Ref, ""))
		if _, still := units[sku]; !still {
			e.resolve(st, id, cause, fmt.Sprintf("%s on PO %s no longer holds it (it maps now, or the line left the PO).", sku, st.Ref))
		}
	}
	for _, u := range held {
		id := unmappedID(st.Ref, u.SKU)
		if _, ok := st.Open[id]; ok {
			continue // still held for the same SKU: nothing new to say
		}
		q := units[u.SKU]
		e.open(st, discrepancy.Drift{ID: id, Kind: schemas.DriftSKUUnmapped, Cause: cause, SKU: u.SKU, Expected: &q,
			Detail: fmt.Sprintf("PO %s (version %d, %s) is held: SKU %s (line %d, %d units) is %s. Map it in Prima's item master; the PO goes to Clarus then, by itself.",
				st.Ref, st.PO.Version, st.PO.Warehouse, u.SKU, u.LineNo, u.Quantity, u.Reason)})
	}
}

// amendAfterReceipt folds a new version of a PO Clarus has received goods
// against: nothing is forwarded (the warehouse is working to what it
// has); a change Clarus would see is an exception, resolved when Prima
// takes it back. Receipts are checked against the new version: Prima is
// the master of what was ordered.
func (r Rules) amendAfterReceipt(st *State, m Master, cause string, e *Effects) {
	lines, held := mapLines(st.PO, m.Items)
	st.Lines = lines
	target := st.target()
	diff := Diff(target, sentOf(st.PO, lines))
	for _, u := range held {
		diff = append(diff, fmt.Sprintf("line %d (%s) is %s", u.LineNo, u.SKU, u.Reason))
	}
	if len(diff) == 0 {
		e.resolve(st, amendedID(st.Ref), cause, fmt.Sprintf("Version %d of PO %s asks Clarus for what it has: the earlier change was taken back.", st.PO.Version, st.Ref))
		return
	}
	was, now := units(target.Lines), units(lines)
	e.open(st, discrepancy.Drift{ID: amendedID(st.Ref), Kind: DriftAmendedAfterReceipt, Cause: cause, Expected: &was, Actual: &now,
		Detail: fmt.Sprintf("PO %s was changed in Prima (version %d) after Clarus received %d units against version %d: %s. Clarus still expects version %d; change the pre-receipt in Clarus or take the change back in Prima.",
			st.Ref, st.PO.Version, received(*st), target.Version, strings.Join(diff, "; "), target.Version)})
}

// cancel folds Prima's cancellation: forwarded while Clarus has received
// nothing against the PO, an exception after.
func (r Rules) cancel(st *State, version int64, cause string, e *Effects) {
	st.Cancelled, st.Pending, st.RedriveAt = version, nil, 0
	for _, id := range st.Open.IDs(schemas.DriftSKUUnmapped, schemas.DriftPONotInWMS) {
		e.resolve(st, id, cause, fmt.Sprintf("PO %s was cancelled in Prima (version %d): it need not reach Clarus.", st.Ref, version))
	}
	got := received(*st)
	switch {
	case st.Phase == PhaseSent && got == 0:
		st.Phase, st.CancelVersion = PhaseCancelling, version
		e.Commands = append(e.Commands, schemas.ClarusReceiptCommand{PORef: st.Ref, POVersion: version, Action: schemas.ClarusReceiptCancel,
			Warehouse: st.Sent.Warehouse, SupplierRef: st.Sent.SupplierRef, Lines: []schemas.ClarusLine{}})
	case st.Phase != PhaseSent:
		st.Phase = PhaseCancelled // Clarus has no pre-receipt, and gets none
	}
	// A PO never seen live has no lines to check receipts against: its
	// receipts stay orphans, and are not counted twice here.
	if got > 0 && st.PO != nil {
		r.cancelledAfterReceipt(st, cause, "", e)
	}
}

// cancelledAfterReceipt opens, or updates with the units received so
// far, the exception of goods received against a cancelled PO. refused is
// Clarus's reason when it refused the cancel.
func (r Rules) cancelledAfterReceipt(st *State, cause, refused string, e *Effects) {
	got := received(*st)
	what := fmt.Sprintf("Clarus has received %d units against it", got)
	if refused != "" {
		what = "Clarus refused to cancel its pre-receipt: " + refused
	}
	zero := int64(0)
	d := discrepancy.Drift{ID: cancelledID(st.Ref), Kind: DriftCancelledAfterReceipt, Cause: cause, Expected: &zero, Actual: &got,
		Detail: fmt.Sprintf("PO %s was cancelled in Prima (version %d) but %s. The goods are (or will be) in the warehouse: return them to the supplier, or reinstate the PO in Prima.",
			st.Ref, st.Cancelled, what)}
	if st.PO != nil {
		d.Value, d.Currency = r.receivedValue(st), st.PO.Currency
	}
	e.open(st, d)
}

// Ack folds Clarus's answer to a command.
func (r Rules) Ack(st State, a *schemas.ReceiptAck) (State, Effects) {
	var e Effects
	cause := fmt.Sprintf("ack-%s-v%d-%s", a.Action, a.POVersion, a.Status)
	reason := "no reason given"
	if a.Reason != nil && *a.Reason != "" {
		reason = *a.Reason
	}
	switch a.Action {
	case schemas.ClarusReceiptCreate:
		switch {
		case a.Status == schemas.ReceiptCreated && !st.Created:
			st.Created = true
			if a.ClarusID != nil {
				st.ClarusID = *a.ClarusID
			}
			e.resolve(&st, notInWMSID(st.Ref), cause, fmt.Sprintf("Clarus has the pre-receipt of PO %s (version %d).", st.Ref, a.POVersion))
		case a.Status == schemas.ReceiptRejected && !st.Created && a.POVersion == st.CreateVersion && st.Sent != nil:
			q := units(st.Sent.Lines)
			st.Sent, st.Pending = nil, nil
			if st.Phase == PhaseCancelling { // Prima cancelled it anyway: nothing is missing
				st.Phase, st.CancelVersion = PhaseCancelled, 0
				break
			}
			st.Phase = PhaseRejected
			e.open(&st, discrepancy.Drift{ID: notInWMSID(st.Ref), Kind: schemas.DriftPONotInWMS, Cause: cause, Expected: &q,
				Detail: fmt.Sprintf("Clarus refused the pre-receipt of PO %s version %d: %s. Fix the product or PO in Clarus or Prima; the next version of the PO is sent again.",
					st.Ref, a.POVersion, reason)})
		}
	case schemas.ClarusReceiptUpdate:
		if st.Pending == nil || a.POVersion != st.Pending.Version {
			return st, e // stale or repeated
		}
		next := st.Pending
		st.Pending = nil
		switch a.Status {
		case schemas.ReceiptUpdated:
			st.Sent = next
			e.resolve(&st, amendedID(st.Ref), cause, fmt.Sprintf("Clarus took version %d of PO %s.", a.POVersion, st.Ref))
		case schemas.ReceiptRejected:
			was, now := units(st.Sent.Lines), units(next.Lines)
			e.open(&st, discrepancy.Drift{ID: amendedID(st.Ref), Kind: DriftAmendedAfterReceipt, Cause: cause, Expected: &was, Actual: &now,
				Detail: fmt.Sprintf("Clarus refused to change the pre-receipt of PO %s to version %d (%s): %s. Clarus still expects version %d; change it in Clarus or take the change back in Prima.",
					st.Ref, a.POVersion, strings.Join(Diff(st.Sent, next), "; "), reason, st.Sent.Version)})
		}
	case schemas.ClarusReceiptCancel:
		if st.CancelVersion == 0 || a.POVersion != st.CancelVersion {
			return st, e // stale: no cancel of that version in flight
		}
		st.CancelVersion = 0
		switch a.Status {
		case schemas.ReceiptCancelled:
			st.Phase = PhaseCancelled
			for _, id := range st.Open.IDs(DriftAmendedAfterReceipt) {
				e.resolve(&st, id, cause, fmt.Sprintf("PO %s is cancelled in Clarus as in Prima.", st.Ref))
			}
		case schemas.ReceiptRejected:
			st.Phase = PhaseSent
			r.cancelledAfterReceipt(&st, cause, reason, &e)
		}
	}
	return st, e
}

// Redrive looks at a held PO (or a held update) again when its timer
// falls due: the item master may map it now.
func (r Rules) Redrive(st State, due time.Time, m Master, now time.Time) (State, Effects) {
	var e Effects
	if st.RedriveAt != due.UnixMilli() {
		return st, e // superseded
	}
	st.RedriveAt = 0
	if st.PO == nil || st.Cancelled != 0 || (st.Sent != nil && received(st) > 0) || len(st.Open.IDs(schemas.DriftSKUUnmapped)) == 0 {
		return st, e
	}
	cause := fmt.Sprintf("redrive-%d", due.UnixMilli())
	r.evaluate(&st, m, cause, now, &e)
	r.match(&st, m, cause, &e)
	return st, e
}

// arm sets the po_not_in_wms check of a live PO Clarus has not confirmed:
// at ExpectedAt - LeadTime, but no sooner than AckGrace from now; without
// an expected date, AckGrace from now. It is set once, and again only
// when the expected date moves, so a stream of amendments does not push
// it away.
func (r Rules) arm(st *State, prev *schemas.PurchaseOrder, now time.Time, e *Effects) {
	if st.Created || st.Cancelled != 0 || st.PO == nil {
		return
	}
	if st.CheckAt != 0 && prev != nil && day(prev.ExpectedAt) == day(st.PO.ExpectedAt) {
		return
	}
	at := now.Add(r.AckGrace)
	if x := st.PO.ExpectedAt; x != nil && x.Add(-r.LeadTime).After(at) {
		at = x.Add(-r.LeadTime)
	}
	if at.UnixMilli() == st.CheckAt {
		return
	}
	st.CheckAt = at.UnixMilli()
	e.Timers = append(e.Timers, Timer{Kind: TimerCheck, Due: time.UnixMilli(st.CheckAt).UTC()})
}

// Check folds the po_not_in_wms check falling due: a live PO that Clarus
// has not confirmed by now is an exception, until the created ack.
func (r Rules) Check(st State, due time.Time) (State, Effects) {
	var e Effects
	if st.CheckAt != due.UnixMilli() || st.Created || st.Cancelled != 0 || st.PO == nil {
		return st, e // superseded, or nothing to check
	}
	if _, ok := st.Open[notInWMSID(st.Ref)]; ok {
		return st, e // Clarus refused it: said already
	}
	var why string
	switch {
	case st.Phase == PhaseHeld:
		var skus []string
		for _, id := range st.Open.IDs(schemas.DriftSKUUnmapped) {
			skus = append(skus, strings.TrimPrefix(id, unmappedID(st.Ref, "")))
		}
		why = "it is held until Prima's item master maps " + strings.Join(skus, ", ")
	case st.Sent != nil:
		why = fmt.Sprintf("version %d was sent and Clarus has not confirmed it; look at the goods-in sink and the DLQ", st.Sent.Version)
	default:
		why = "nothing could be sent yet"
	}
	q := units(st.Lines)
	e.open(&st, discrepancy.Drift{ID: notInWMSID(st.Ref), Kind: schemas.DriftPONotInWMS, Cause: fmt.Sprintf("check-%d", st.CheckAt), Expected: &q,
		Detail: fmt.Sprintf("PO %s (%s, supplier %s, expected %s) is not in Clarus %s before delivery: %s.",
			st.Ref, st.PO.Warehouse, st.PO.SupplierRef, day(st.PO.ExpectedAt), r.LeadTime, why)})
	return st, e
}

// target is what Clarus has or will have once the update in flight lands.
func (st State) target() *Sent {
	if st.Pending != nil {
		return st.Pending
	}
	return st.Sent
}

func units(lines []schemas.ClarusLine) int64 {
	var n int64
	for _, l := range lines {
		n += l.Quantity
	}
	return n
}

func command(ref string, action schemas.ClarusReceiptAction, s *Sent) schemas.ClarusReceiptCommand {
	return schemas.ClarusReceiptCommand{PORef: ref, POVersion: s.Version, Action: action, Warehouse: s.Warehouse,
		SupplierRef: s.SupplierRef, ExpectedAt: s.ExpectedAt, Lines: append([]schemas.ClarusLine(nil), s.Lines...)}
}
