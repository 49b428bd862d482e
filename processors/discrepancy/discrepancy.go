// Package discrepancy is the drift bookkeeping the processors share: the
// discrepancies a keyed state has open, the open, update and resolve events
// that keep the ledger's view of them right, and their deterministic ids.
package discrepancy

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Drift is one drift event before the wiring makes it a
// schemas.DriftEvent: the fold says what happened, the wiring adds the
// business keys and the times. Its event id is ID, Status and Cause, so a
// replay of the same inputs repeats the same ids and the ledger collapses
// them.
type Drift struct {
	ID     string
	Kind   schemas.DriftKind
	Owner  schemas.DriftOwner
	Status schemas.DriftStatus
	Cause  string // what caused this event: unique per discrepancy and status
	SKU    string
	// Warehouse is where it is, when the fold knows better than the
	// wiring (a receipt's warehouse, not its PO's).
	Warehouse string
	Expected  *int64 // quantity the master system says, when there is one
	Actual    *int64 // quantity the other system says
	Value     *schemas.Decimal
	Currency  string // of Value
	Detail    string // one sentence a person can act on
}

// ID is a discrepancy id: the kind, then the business keys that make it
// one discrepancy, joined by slashes. Every event about it carries it.
func ID(kind schemas.DriftKind, keys ...string) string {
	return strings.Join(append([]string{string(kind)}, keys...), "/")
}

// Owners says which team acts on each kind.
type Owners map[schemas.DriftKind]schemas.DriftOwner

// Set is the discrepancies a state has open, by id, with their kind. It
// is part of a processor's persisted state (a JSON object id -> kind).
type Set map[string]schemas.DriftKind

// Open records d as open in *s and returns its event: open, or updated
// when it was open already. Its owner comes from owners.
func (o Owners) Open(s *Set, d Drift) Drift {
	d.Status = schemas.DriftOpen
	if _, ok := (*s)[d.ID]; ok {
		d.Status = schemas.DriftUpdated
	}
	d.Owner = o[d.Kind]
	if *s == nil {
		*s = Set{}
	}
	(*s)[d.ID] = d.Kind
	return d
}

// Resolve removes id from s and returns its resolved event; ok is false
// when it was not open, so a resolve is never said twice.
func (o Owners) Resolve(s Set, id, cause, detail string) (d Drift, ok bool) {
	kind, ok := s[id]
	if !ok {
		return Drift{}, false
	}
	delete(s, id)
	return Drift{ID: id, Kind: kind, Owner: o[kind], Status: schemas.DriftResolved, Cause: cause, Detail: detail}, true
}

// IDs are the open ids of the kinds given (all with none), sorted: the
// order in which a fold speaks of them, so its output is deterministic.
func (s Set) IDs(kinds ...schemas.DriftKind) []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(s)) {
		if len(kinds) == 0 || slices.Contains(kinds, s[id]) {
			out = append(out, id)
		}
	}
	return out
}

// Event is d as a drift event, with the quantities' delta; the caller
// adds the business keys (order or PO ref, warehouse) it knows.
func (d Drift) Event(occurred, now time.Time) *schemas.DriftEvent {
	ev := &schemas.DriftEvent{
		Meta: schemas.Meta{EventID: d.ID + ":" + string(d.Status) + ":" + d.Cause,
			Source: schemas.SourceLockstep, OccurredAt: occurred, IngestedAt: now},
		DiscrepancyID: d.ID, Kind: d.Kind, Owner: d.Owner, Status: d.Status,
		ExpectedQty: d.Expected, ActualQty: d.Actual, ValueDelta: d.Value, Detail: d.Detail,
	}
	if d.SKU != "" {
		ev.SKU = new(d.SKU)
	}
	if d.Warehouse != "" {
		ev.Warehouse = new(d.Warehouse)
	}
	if d.Expected != nil && d.Actual != nil {
		ev.DeltaQty = new(*d.Actual - *d.Expected)
	}
	if d.Value != nil && d.Currency != "" {
		ev.Currency = new(d.Currency)
	}
	return ev
}
