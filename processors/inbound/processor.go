package inbound

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/processors/codec"
	"github.com/lockstep-dev/lockstep/processors/discrepancy"
	"github.com/lockstep-dev/lockstep/processors/itemmaster"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Name is the processor's name: its consumer group and changelog.
const Name = "inbound"

// StorePOs holds each PO ref's State (and each orphan:<receipt id>'s).
const StorePOs = "pos"

// Topology declares the inbound processor for the stream runtime: inputs
// prima.purchase-orders, clarus.receipts and clarus.receipt-acks
// (co-partitioned by PO ref), the global table prima.items, outputs
// lockstep.cmd.clarus-receipts and lockstep.drift, all with
// cfg.TopicPrefix.
func Topology(cfg Config, serde *schemas.Serde) (stream.Topology, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return stream.Topology{}, fmt.Errorf("inbound: %w", err)
	}
	if serde == nil {
		return stream.Topology{}, errors.New("inbound: no serde")
	}
	p := cfg.TopicPrefix
	h := &handler{rules: cfg.Rules(), codec: codec.Codec{Serde: serde, Stage: Name}, items: itemmaster.NewTable(p+schemas.TopicItems, serde),
		pos: p + schemas.TopicPurchaseOrders, receipts: p + schemas.TopicReceipts, acks: p + schemas.TopicReceiptAcks,
		commands: p + schemas.TopicCmdClarusReceipts, drift: p + schemas.TopicDrift,
	}
	return stream.Topology{
		Name:    Name,
		Inputs:  []string{h.pos, h.receipts, h.acks},
		Globals: []stream.GlobalTable{h.items.Global()},
		Stores:  []string{StorePOs},
		Outputs: []string{h.commands, h.drift},
		Handler: h,
	}, nil
}

// handler is the inbound processor's stream.Handler and TimerHandler.
type handler struct {
	rules               Rules
	codec               codec.Codec
	items               *itemmaster.Table
	pos, receipts, acks string
	commands, drift     string
}

func (h *handler) master(ctx *stream.Context) Master {
	return Master{Items: h.items.Items(ctx), Codes: h.items.Codes(ctx)}
}

// Handle folds a PO, a receipt or an ack; a record that cannot be decoded
// or breaks the rules goes to the DLQ.
func (h *handler) Handle(ctx *stream.Context, rec *kgo.Record) error {
	switch rec.Topic {
	case h.pos:
		var po schemas.PurchaseOrder
		if err := h.codec.Decode(ctx, rec, &po); err != nil {
			return err
		}
		if string(rec.Key) != po.PORef {
			return stream.Reject(fmt.Errorf("inbound: record key %q is not the PO ref %q", rec.Key, po.PORef))
		}
		if err := h.rules.ValidatePO(&po); err != nil {
			return stream.Reject(err)
		}
		st, err := h.load(ctx, po.PORef)
		if err != nil {
			return err
		}
		if po.Version <= st.Version {
			return nil // a repeat, or older than what was folded
		}
		next, eff := h.rules.PO(st, &po, h.master(ctx), ctx.Now())
		return h.apply(ctx, next, eff, po.OccurredAt)
	case h.receipts:
		var rc schemas.Receipt
		if err := h.codec.Decode(ctx, rec, &rc); err != nil {
			return err
		}
		if key := ReceiptKey(&rc); string(rec.Key) != key {
			return stream.Reject(fmt.Errorf("inbound: receipt %s: record key %q, want %q", rc.ReceiptID, rec.Key, key))
		}
		if err := h.rules.ValidateReceipt(&rc); err != nil {
			return stream.Reject(err)
		}
		st, err := h.load(ctx, string(rec.Key))
		if err != nil {
			return err
		}
		next, eff := h.rules.Receipt(st, &rc, h.master(ctx))
		return h.apply(ctx, next, eff, rc.OccurredAt)
	case h.acks:
		var a schemas.ReceiptAck
		if err := h.codec.Decode(ctx, rec, &a); err != nil {
			return err
		}
		st, err := h.load(ctx, a.PORef)
		if err != nil {
			return err
		}
		if st.CreateVersion == 0 {
			return stream.Reject(fmt.Errorf("inbound: ack of PO %s version %d, which this processor never sent", a.PORef, a.POVersion))
		}
		next, eff := h.rules.Ack(st, &a)
		return h.apply(ctx, next, eff, a.OccurredAt)
	}
	return stream.Reject(fmt.Errorf("inbound: record from unexpected topic %q", rec.Topic))
}

// OnTimer re-drives a held PO or checks that Clarus has it.
func (h *handler) OnTimer(ctx *stream.Context, key []byte, due time.Time) error {
	kind, ref, ok := strings.Cut(string(key), "/")
	if !ok {
		return nil
	}
	st, err := h.load(ctx, ref)
	if err != nil {
		return err
	}
	var eff Effects
	switch TimerKind(kind) {
	case TimerRedrive:
		st, eff = h.rules.Redrive(st, due, h.master(ctx), ctx.Now())
	case TimerCheck:
		st, eff = h.rules.Check(st, due)
	default:
		return nil // a timer of another version of the processor
	}
	return h.apply(ctx, st, eff, ctx.Now())
}

func (h *handler) load(ctx *stream.Context, ref string) (State, error) {
	v, ok, err := ctx.Get(StorePOs, []byte(ref))
	if err != nil || !ok {
		return State{Ref: ref}, err
	}
	return decodeState(v)
}

// apply emits a step's commands and drift, arms its timers and stores the
// state.
func (h *handler) apply(ctx *stream.Context, st State, eff Effects, occurred time.Time) error {
	now := ctx.Now().UTC()
	for i := range eff.Commands {
		c := eff.Commands[i]
		c.Meta = schemas.Meta{EventID: fmt.Sprintf("lockstep:clarus-receipt:%s:v%d:%s", c.PORef, c.POVersion, c.Action),
			Source: schemas.SourceLockstep, OccurredAt: occurred, IngestedAt: now}
		if err := h.codec.Emit(ctx, h.commands, c.PORef, &c); err != nil {
			return err
		}
	}
	for _, d := range eff.Drift {
		if err := h.codec.Emit(ctx, h.drift, d.ID, h.driftEvent(st, d, occurred, now)); err != nil {
			return err
		}
	}
	for _, t := range eff.Timers {
		ctx.Schedule(t.Due, []byte(string(t.Kind)+"/"+st.Ref))
	}
	v, err := encodeState(st)
	if err != nil {
		return err
	}
	ctx.Put(StorePOs, []byte(st.Ref), v)
	return nil
}

// driftEvent adds the PO's keys to a drift event: its ref (none for a
// receipt without one) and, unless the fold knew better, its warehouse.
func (h *handler) driftEvent(st State, d discrepancy.Drift, occurred, now time.Time) *schemas.DriftEvent {
	ev := d.Event(occurred, now)
	if !strings.HasPrefix(st.Ref, orphanPrefix) {
		ev.PORef = new(st.Ref)
	}
	if ev.Warehouse == nil && st.PO != nil {
		ev.Warehouse = new(st.PO.Warehouse)
	}
	return ev
}
