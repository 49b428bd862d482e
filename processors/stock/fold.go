package stock

import (
	"errors"
	"fmt"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// The fold is pure: no I/O, no clock, no globals. Its rules:
//
//   - receipt: + quantity on hand.
//   - pick: - quantity on hand AND - quantity allocated: a pick is the
//     dispatch of a goods-out order, and dispatching consumes the order's
//     allocation. Allocated is clamped at 0, so a pick of stock lockstep
//     never saw allocated (allocations reach it through snapshots only)
//     cannot make it negative.
//   - adjustment: the signed quantity on hand.
//   - count: the counted quantity becomes on hand (absolute).
//   - allocation / deallocation: + / - quantity allocated (clamped at 0).
//   - hold / release: + / - quantity held (clamped at 0).
//
// For every kind but adjustment and count the direction comes from the kind
// and the sign of the quantity is ignored: Clarus's connector writes picks
// and releases as negative deltas, and an unsigned producer means the same.
//
// Movements are applied in arrival order; duplicates are dropped by
// movement id before they reach Fold (the processor's dedupe). A movement
// that occurred at or before the as_of of the last snapshot applied to the
// level is already counted in that snapshot: Fold drops it (Superseded),
// and the processor counts it against the snapshot's pending feed gap, if
// any (gaps.go).

// maxQuantity bounds a movement's quantity, so that sums cannot overflow.
const maxQuantity = 1_000_000_000_000

// Stock is the quantities of one sku@warehouse, in units.
type Stock struct {
	OnHand    int64
	Allocated int64
	Held      int64
}

// Available is what Clarus can sell: on hand - allocated - held. It is
// negative when more is allocated or held than is on hand.
func (s Stock) Available() int64 { return s.OnHand - s.Allocated - s.Held }

// Add returns s + o, field by field.
func (s Stock) Add(o Stock) Stock {
	return Stock{s.OnHand + o.OnHand, s.Allocated + o.Allocated, s.Held + o.Held}
}

// Sub returns s - o, field by field.
func (s Stock) Sub(o Stock) Stock {
	return Stock{s.OnHand - o.OnHand, s.Allocated - o.Allocated, s.Held - o.Held}
}

// IsZero reports whether every quantity is 0.
func (s Stock) IsZero() bool { return s == Stock{} }

// clamped returns s with allocated and held at least 0.
func (s Stock) clamped() Stock {
	s.Allocated, s.Held = max(s.Allocated, 0), max(s.Held, 0)
	return s
}

// Level is the folded stock of one sku@warehouse, with the bookkeeping of
// its push to Prima.
type Level struct {
	Stock
	// LastMovementID is the last movement folded in; empty right after a
	// re-base changed the level.
	LastMovementID string
	// LastMovementAt is the latest occurred_at among the folded movements.
	LastMovementAt time.Time
	// AsOf is the latest occurred_at or as_of of anything folded in; zero
	// for a level that has seen nothing.
	AsOf time.Time
	// BaseAsOf is the as_of of the last snapshot checked against the
	// level: every movement that occurred at or before it is counted.
	BaseAsOf time.Time

	// The push bookkeeping, which Fold and Rebase carry unchanged: Dirty
	// says the key is in its partition's dirty index (it changed since the
	// last push); Pushed and PushedAvailable are the last available level
	// (clamped at 0) sent to Prima.
	Dirty           bool
	Pushed          bool
	PushedAvailable int64

	// OpenGoodsOut is what goods-outs lockstep sent still have to dispatch
	// at this key, summed over the orders (lockstep.open-goods-out). Not
	// Clarus's: Rebase and Fold carry it unchanged.
	OpenGoodsOut int64
}

// Promisable is what the push offers Prima: on hand - held - the larger
// of allocated and the open goods-out quantity. Clarus allocates a
// goods-out some time after it is created, and until then its units still
// count as available there; its allocations include those of lockstep's
// goods-outs, so adding the two would count an allocated order twice. The
// larger of the two is exact when every goods-out comes through lockstep,
// and with goods-outs made in Clarus too it never counts one twice.
func (l Level) Promisable() int64 {
	return l.OnHand - l.Held - max(l.Allocated, l.OpenGoodsOut)
}

// Known reports whether the level has folded anything: a movement or a
// snapshot.
func (l Level) Known() bool { return !l.AsOf.IsZero() }

// ErrInvalidMovement is wrapped by Check for a movement the fold cannot
// apply.
var ErrInvalidMovement = errors.New("stock: invalid movement")

// Check reports why m cannot be folded, or nil.
func Check(m *schemas.StockMovement) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidMovement, m.MovementID, fmt.Sprintf(format, args...))
	}
	switch {
	case m.MovementID == "":
		return bad("no movement id")
	case m.SKU == "" || m.Warehouse == "":
		return bad("sku %q and warehouse %q must both be set", m.SKU, m.Warehouse)
	case m.OccurredAt.IsZero():
		return bad("no occurred_at")
	case m.Quantity > maxQuantity || m.Quantity < -maxQuantity:
		return bad("quantity %d out of range", m.Quantity)
	}
	switch m.Kind {
	case schemas.MovementReceipt, schemas.MovementPick, schemas.MovementAdjustment,
		schemas.MovementAllocation, schemas.MovementDeallocation, schemas.MovementHold, schemas.MovementRelease:
	case schemas.MovementCount:
		if m.Quantity < 0 {
			return bad("count of %d: a count is an absolute quantity on hand", m.Quantity)
		}
	default:
		return bad("unknown kind %q", m.Kind)
	}
	return nil
}

// Effect is the change m asks of prev, before clamping: what the journal
// records, so that a level can be taken back to an earlier time.
func Effect(prev Stock, m *schemas.StockMovement) Stock {
	q := m.Quantity
	if q < 0 {
		q = -q
	}
	switch m.Kind {
	case schemas.MovementReceipt:
		return Stock{OnHand: q}
	case schemas.MovementPick:
		return Stock{OnHand: -q, Allocated: -q}
	case schemas.MovementAdjustment:
		return Stock{OnHand: m.Quantity}
	case schemas.MovementCount:
		return Stock{OnHand: m.Quantity - prev.OnHand}
	case schemas.MovementAllocation:
		return Stock{Allocated: q}
	case schemas.MovementDeallocation:
		return Stock{Allocated: -q}
	case schemas.MovementHold:
		return Stock{Held: q}
	case schemas.MovementRelease:
		return Stock{Held: -q}
	}
	return Stock{}
}

// Superseded reports whether m occurred at or before the as_of of the last
// snapshot checked against l, and so is already counted in l.
func Superseded(l Level, m *schemas.StockMovement) bool {
	return !l.BaseAsOf.IsZero() && !m.OccurredAt.After(l.BaseAsOf)
}

// Apply is the quantities of s with m folded in: its effect, with
// allocated and held clamped at 0. Fold and the feed-gap accounting
// (Pending.Explain) share it, so a late movement counts against a gap
// exactly as it would have counted in the fold.
func Apply(s Stock, m *schemas.StockMovement) Stock {
	return s.Add(Effect(s, m)).clamped()
}

// Fold applies m to prev. changed reports whether the quantities changed;
// next also records m as the last movement. A superseded movement leaves
// prev as it is. m must pass Check.
func Fold(prev Level, m schemas.StockMovement) (next Level, changed bool) {
	if Superseded(prev, &m) {
		return prev, false
	}
	next = prev
	next.Stock = Apply(prev.Stock, &m)
	next.LastMovementID = m.MovementID
	if m.OccurredAt.After(next.LastMovementAt) {
		next.LastMovementAt = m.OccurredAt
	}
	if m.OccurredAt.After(next.AsOf) {
		next.AsOf = m.OccurredAt
	}
	return next, next.Stock != prev.Stock
}
