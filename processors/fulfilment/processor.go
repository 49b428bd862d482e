package fulfilment

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Name is the processor's name: its consumer group and changelog.
const Name = "fulfilment"

// StoreFulfilment holds each order's State, by order ref.
const StoreFulfilment = "fulfilment"

// Topology declares the fulfilment processor for the stream runtime: inputs
// prima.sales-orders, lockstep.cmd.clarus-orders, clarus.shipments and
// prima.despatch-notes (co-partitioned by order ref), outputs
// lockstep.cmd.prima-despatch, lockstep.cmd.clarus-orders,
// lockstep.fulfilment and lockstep.drift, all with cfg.TopicPrefix.
func Topology(cfg Config, serde *schemas.Serde) (stream.Topology, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return stream.Topology{}, fmt.Errorf("fulfilment: %w", err)
	}
	if serde == nil {
		return stream.Topology{}, errors.New("fulfilment: no serde")
	}
	p := cfg.TopicPrefix
	h := &handler{rules: cfg.Rules(), serde: serde,
		orders: p + schemas.TopicSalesOrders, sent: p + schemas.TopicCmdClarusOrders,
		shipments: p + schemas.TopicShipments, notes: p + schemas.TopicDespatchNotes,
		despatch: p + schemas.TopicCmdPrimaDespatch, fulfilment: p + schemas.TopicFulfilment, drift: p + schemas.TopicDrift,
	}
	return stream.Topology{
		Name:    Name,
		Inputs:  []string{h.orders, h.sent, h.shipments, h.notes},
		Stores:  []string{StoreFulfilment},
		Outputs: []string{h.despatch, h.sent, h.fulfilment, h.drift},
		Handler: h,
	}, nil
}

// handler is the processor's stream.Handler and TimerHandler.
type handler struct {
	rules                                                       Rules
	serde                                                       *schemas.Serde
	orders, sent, shipments, notes, despatch, fulfilment, drift string
}

// Handle folds one input record; one that cannot be decoded or is not
// keyed by its order ref goes to the DLQ.
func (h *handler) Handle(ctx *stream.Context, rec *kgo.Record) error {
	var (
		ev  schemas.Event
		ref *string
	)
	switch rec.Topic {
	case h.orders:
		o := new(schemas.SalesOrder)
		ev, ref = o, &o.OrderRef
	case h.sent:
		c := new(schemas.ClarusOrderCommand)
		ev, ref = c, &c.OrderRef
	case h.shipments:
		s := new(schemas.Shipment)
		ev, ref = s, &s.OrderRef
	case h.notes:
		n := new(schemas.DespatchNote)
		ev, ref = n, &n.OrderRef
	default:
		return stream.Reject(fmt.Errorf("fulfilment: record from unexpected topic %q", rec.Topic))
	}
	if err := h.decode(ctx, rec, ev); err != nil {
		return err
	}
	if string(rec.Key) != *ref || *ref == "" {
		return stream.Reject(fmt.Errorf("fulfilment: record key %q is not the order ref %q", rec.Key, *ref))
	}
	st, err := h.load(ctx, *ref)
	if err != nil {
		return err
	}
	now := ctx.Now().UTC()
	var eff Effects
	switch e := ev.(type) {
	case *schemas.SalesOrder:
		eff = h.rules.Order(&st, e)
	case *schemas.ClarusOrderCommand:
		eff = h.rules.Sent(&st, e)
	case *schemas.Shipment:
		eff = h.rules.Shipment(&st, e, now)
	case *schemas.DespatchNote:
		eff = h.rules.Note(&st, e, now)
	}
	return h.apply(ctx, st, eff, ev.EventMeta().OccurredAt)
}

// timerKey is the key of one deadline: kind, order ref and id, separated
// by a byte no reference holds.
func timerKey(kind TimerKind, ref, id string) []byte {
	return []byte(string(kind) + "\x1f" + ref + "\x1f" + id)
}

// OnTimer fires a deadline.
func (h *handler) OnTimer(ctx *stream.Context, key []byte, due time.Time) error {
	parts := strings.SplitN(string(key), "\x1f", 3)
	if len(parts) != 3 {
		return nil
	}
	st, err := h.load(ctx, parts[1])
	if err != nil {
		return err
	}
	eff := h.rules.Timer(&st, Timer{Kind: TimerKind(parts[0]), ID: parts[2], Due: due})
	return h.apply(ctx, st, eff, due)
}

func (h *handler) decode(ctx *stream.Context, rec *kgo.Record, ev schemas.Event) error {
	err := h.serde.Decode(ctx.Context(), rec.Value, ev)
	switch {
	case err == nil:
		return nil
	case schemas.IsPermanent(err):
		return stream.Reject(fmt.Errorf("fulfilment: decode %s: %w", rec.Topic, err))
	default: // the registry is unreachable: retrying the batch can help
		return fmt.Errorf("fulfilment: decode %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
	}
}

func (h *handler) load(ctx *stream.Context, ref string) (State, error) {
	v, ok, err := ctx.Get(StoreFulfilment, []byte(ref))
	if err != nil || !ok {
		return State{Ref: ref}, err
	}
	return decodeState(v)
}
