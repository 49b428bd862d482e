package fulfilment

import (
	"fmt"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// apply emits a step's commands, events and drift, arms its timers and
// stores the state, all inside the batch's transaction.
func (h *handler) apply(ctx *stream.Context, st State, eff Effects, occurred time.Time) error {
	now := ctx.Now().UTC()
	meta := func(id string, at time.Time) schemas.Meta {
		return schemas.Meta{EventID: id, Source: schemas.SourceLockstep, OccurredAt: at, IngestedAt: now}
	}
	for i := range eff.Despatch {
		c := eff.Despatch[i]
		c.Meta = meta("lockstep:despatch:"+c.ShipmentID, c.OccurredAt)
		if err := h.emit(ctx, h.despatch, c.OrderRef, &c); err != nil {
			return err
		}
	}
	if c := eff.Close; c != nil {
		c.Meta = meta(fmt.Sprintf("lockstep:clarus-order:%s:v%d:close", c.OrderRef, c.OrderVersion), occurred)
		if err := h.emit(ctx, h.sent, c.OrderRef, c); err != nil {
			return err
		}
	}
	if c := eff.Closed; c != nil {
		c.Meta = meta("lockstep:fulfilment-closed:"+c.OrderRef, occurred)
		if err := h.emit(ctx, h.fulfilment, c.OrderRef, c); err != nil {
			return err
		}
	}
	for _, d := range eff.Drift {
		if err := h.emit(ctx, h.drift, d.ID, h.driftEvent(st, d, occurred, now)); err != nil {
			return err
		}
	}
	for _, t := range eff.Timers {
		ctx.Schedule(t.Due, timerKey(t.Kind, st.Ref, t.ID))
	}
	v, err := encodeState(st)
	if err != nil {
		return err
	}
	ctx.Put(StoreFulfilment, []byte(st.Ref), v)
	return nil
}

func (h *handler) driftEvent(st State, d Drift, occurred, now time.Time) *schemas.DriftEvent {
	ref := st.Ref
	ev := &schemas.DriftEvent{
		Meta: schemas.Meta{EventID: d.ID + ":" + string(d.Status) + ":" + d.Cause,
			Source: schemas.SourceLockstep, OccurredAt: occurred, IngestedAt: now},
		DiscrepancyID: d.ID, Kind: d.Kind, Owner: d.Owner, Status: d.Status,
		OrderRef: &ref, ExpectedQty: d.Expected, ActualQty: d.Actual, ValueDelta: d.Value, Detail: d.Detail,
	}
	if d.ShipmentID != "" {
		id := d.ShipmentID
		ev.ShipmentID = &id
	}
	if d.Currency != "" {
		c := d.Currency
		ev.Currency = &c
	}
	if wh := warehouse(st); wh != "" {
		ev.Warehouse = &wh
	}
	if d.Expected != nil && d.Actual != nil {
		delta := *d.Actual - *d.Expected
		ev.DeltaQty = &delta
	}
	if d.Value != nil && d.Expected != nil && d.Actual != nil && *d.Actual < *d.Expected {
		neg := -*d.Value // units Prima does not know of: value missing from Prima
		ev.ValueDelta = &neg
	}
	return ev
}

func warehouse(st State) string {
	switch {
	case st.Sent != nil:
		return st.Sent.Warehouse
	case st.Order != nil:
		return st.Order.Warehouse
	}
	return ""
}

func (h *handler) emit(ctx *stream.Context, topic, key string, ev schemas.Event) error {
	v, err := h.serde.Encode(ctx.Context(), ev)
	if err != nil {
		return fmt.Errorf("fulfilment: encode %s: %w", ev.SchemaName(), err)
	}
	ctx.Emit(topic, []byte(key), v)
	return nil
}
