package orders

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/processors/codec"
	"github.com/lockstep-dev/lockstep/processors/discrepancy"
	"github.com/lockstep-dev/lockstep/processors/itemmaster"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Name is the processor's name: its consumer group and changelog.
const Name = "orders"

// StoreOrders holds each order's State, by order ref.
const StoreOrders = "orders"

// redrivePrefix starts the key of a held order's re-drive timer.
const redrivePrefix = "redrive/"

// Topology declares the orders processor for the stream runtime: inputs
// prima.sales-orders, clarus.order-acks and clarus.shipments
// (co-partitioned by order ref), the global table prima.items, outputs
// lockstep.cmd.clarus-orders, lockstep.drift and lockstep.open-goods-out,
// all with cfg.TopicPrefix.
func Topology(cfg Config, serde *schemas.Serde) (stream.Topology, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return stream.Topology{}, fmt.Errorf("orders: %w", err)
	}
	if serde == nil {
		return stream.Topology{}, errors.New("orders: no serde")
	}
	p := cfg.TopicPrefix
	h := &handler{cfg: cfg, rules: cfg.Rules(), codec: codec.Codec{Serde: serde, Stage: Name}, items: itemmaster.NewTable(p+schemas.TopicItems, serde),
		orders: p + schemas.TopicSalesOrders, acks: p + schemas.TopicOrderAcks, shipments: p + schemas.TopicShipments,
		commands: p + schemas.TopicCmdClarusOrders, drift: p + schemas.TopicDrift, open: p + schemas.TopicOpenGoodsOut,
	}
	return stream.Topology{
		Name:    Name,
		Inputs:  []string{h.orders, h.acks, h.shipments},
		Globals: []stream.GlobalTable{h.items.Global()},
		Stores:  []string{StoreOrders},
		Outputs: []string{h.commands, h.drift, h.open},
		Handler: h,
	}, nil
}

// handler is the orders processor's stream.Handler and TimerHandler.
type handler struct {
	cfg                     Config
	rules                   Rules
	codec                   codec.Codec
	items                   *itemmaster.Table
	orders, acks, shipments string
	commands, drift, open   string
}

// Handle folds a sales order or an ack; a record that cannot be decoded
// or breaks the order rules goes to the DLQ.
func (h *handler) Handle(ctx *stream.Context, rec *kgo.Record) error {
	switch rec.Topic {
	case h.orders:
		var o schemas.SalesOrder
		if err := h.codec.Decode(ctx, rec, &o); err != nil {
			return err
		}
		if string(rec.Key) != o.OrderRef {
			return stream.Reject(fmt.Errorf("orders: record key %q is not the order ref %q", rec.Key, o.OrderRef))
		}
		if err := h.rules.Validate(&o); err != nil {
			return stream.Reject(err)
		}
		st, err := h.load(ctx, o.OrderRef)
		if err != nil {
			return err
		}
		if o.Version <= st.Version {
			return nil // a repeat, or older than what was folded
		}
		next, eff := h.rules.Order(st, &o, h.items.Items(ctx))
		return h.apply(ctx, next, eff, o.OccurredAt)
	case h.acks:
		var a schemas.OrderAck
		if err := h.codec.Decode(ctx, rec, &a); err != nil {
			return err
		}
		st, err := h.load(ctx, a.OrderRef)
		if err != nil {
			return err
		}
		if st.Phase == PhaseNew {
			return stream.Reject(fmt.Errorf("orders: ack of order %s version %d, which this processor never sent", a.OrderRef, a.OrderVersion))
		}
		next, eff := h.rules.Ack(st, &a)
		return h.apply(ctx, next, eff, a.OccurredAt)
	case h.shipments:
		var s schemas.Shipment
		if err := h.codec.Decode(ctx, rec, &s); err != nil {
			return err
		}
		st, err := h.load(ctx, s.OrderRef)
		if err != nil || st.Sent == nil {
			// Not a goods-out this processor sent (one made in Clarus, or
			// one it no longer has): the fulfilment flow judges those.
			return err
		}
		return h.apply(ctx, h.rules.Shipment(st, &s), Effects{}, s.OccurredAt)
	}
	return stream.Reject(fmt.Errorf("orders: record from unexpected topic %q", rec.Topic))
}

// OnTimer re-drives a held order.
func (h *handler) OnTimer(ctx *stream.Context, key []byte, due time.Time) error {
	k := string(key)
	if len(k) <= len(redrivePrefix) || k[:len(redrivePrefix)] != redrivePrefix {
		return nil
	}
	st, err := h.load(ctx, k[len(redrivePrefix):])
	if err != nil || st.RedriveAt != due.UnixMilli() {
		return err // gone, or a timer replaced by a later one
	}
	st.RedriveAt = 0
	next, eff := h.rules.Redrive(st, h.items.Items(ctx), fmt.Sprintf("redrive-%d", due.UnixMilli()))
	return h.apply(ctx, next, eff, ctx.Now())
}

func (h *handler) load(ctx *stream.Context, ref string) (State, error) {
	v, ok, err := ctx.Get(StoreOrders, []byte(ref))
	if err != nil || !ok {
		return State{Ref: ref}, err
	}
	return decodeState(v)
}

// apply emits a step's commands and drift, arms the re-drive timer and
// stores the state.
func (h *handler) apply(ctx *stream.Context, st State, eff Effects, occurred time.Time) error {
	now := ctx.Now().UTC()
	for i := range eff.Commands {
		c := eff.Commands[i]
		c.Meta = schemas.Meta{EventID: fmt.Sprintf("lockstep:clarus-order:%s:v%d:%s", c.OrderRef, c.OrderVersion, c.Action),
			Source: schemas.SourceLockstep, OccurredAt: occurred, IngestedAt: now}
		if err := h.codec.Emit(ctx, h.commands, c.OrderRef, &c); err != nil {
			return err
		}
	}
	for _, d := range eff.Drift {
		if err := h.codec.Emit(ctx, h.drift, d.ID, h.driftEvent(st, d, occurred, now)); err != nil {
			return err
		}
	}
	for _, c := range OpenChanges(&st) {
		if err := h.codec.Emit(ctx, h.open, c.Key, h.openEvent(st, c, occurred, now)); err != nil {
			return err
		}
	}
	if eff.Redrive && st.RedriveAt == 0 {
		due := now.Add(h.cfg.RedriveInterval)
		st.RedriveAt = due.UnixMilli()
		ctx.Schedule(time.UnixMilli(st.RedriveAt), []byte(redrivePrefix+st.Ref))
	}
	v, err := encodeState(st)
	if err != nil {
		return err
	}
	ctx.Put(StoreOrders, []byte(st.Ref), v)
	return nil
}

// openEvent is the OpenGoodsOut of one change; its id counts the order's
// publications, so a replay of the same inputs gives the same ids.
func (h *handler) openEvent(st State, c OpenChange, occurred, now time.Time) *schemas.OpenGoodsOut {
	sku, warehouse, _ := schemas.SplitStockKey(c.Key)
	return &schemas.OpenGoodsOut{
		Meta: schemas.Meta{EventID: fmt.Sprintf("lockstep:open-goods-out:%s:%s:%d", st.Ref, c.Key, st.OpenSeq),
			Source: schemas.SourceLockstep, OccurredAt: occurred, IngestedAt: now},
		OrderRef: st.Ref, SKU: sku, Warehouse: warehouse, Open: c.Open,
	}
}

// driftEvent adds the order's keys to a drift event: its ref and
// warehouse.
func (h *handler) driftEvent(st State, d discrepancy.Drift, occurred, now time.Time) *schemas.DriftEvent {
	ev := d.Event(occurred, now)
	ev.OrderRef = new(st.Ref)
	if st.Order != nil {
		ev.Warehouse = new(st.Order.Warehouse)
	}
	return ev
}
