package prima

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// What the sink and the parity check write besides the DLQ: their state
// records, then their drift events.
//
// Their durable memory lives in compacted topics keyed like the tables
// they hold. Values are JSON, as the source cursors are: this is
// lockstep's private state, not events that another system or the ledger
// reads, so it needs no schema in the registry.

// heldLevel is a Clarus level the sink could not push because its code maps
// to no Prima stock item (lockstep.stock-held, key clarus-code@warehouse).
// A newer level for the same key replaces it: levels are absolute.
type heldLevel struct {
	ClarusCode string    `json:"clarus_code"`
	Warehouse  string    `json:"warehouse"`
	Available  int64     `json:"available"`
	AsOf       time.Time `json:"as_of"`
	BatchRef   string    `json:"batch_ref"` // the command that held it
	// Partition is the command's partition: the sink that owns it
	// re-drives the level, so no two sinks push it.
	Partition int32  `json:"partition"`
	Reason    string `json:"reason"`
}

func (h heldLevel) key() string { return schemas.StockKey(h.ClarusCode, h.Warehouse) }

// Push states of a pushedLevel.
const (
	statePushing = "pushing" // about to be sent or being sent: Prima may hold either level
	statePushed  = "pushed"  // Prima acknowledged it
	stateFailed  = "failed"  // Prima would not take it: it kept whatever it had, and the sink retries
)

// pushedLevel is the last level the sink pushed, or is pushing, for a Prima
// SKU in a warehouse (lockstep.stock-pushed, key sku@warehouse).
type pushedLevel struct {
	SKU        string    `json:"sku"`
	ClarusCode string    `json:"clarus_code"`
	Warehouse  string    `json:"warehouse"`
	Available  int64     `json:"available"` // Clarus's available level
	AsOf       time.Time `json:"as_of"`     // instant of that level in Clarus
	BatchRef   string    `json:"batch_ref"`
	Partition  int32     `json:"partition"`
	State      string    `json:"state"`
	At         time.Time `json:"at"` // when State was reached, on lockstep's clock
	// AppliedAsOf is the AsOf of the last level Prima acknowledged for the
	// key, kept across failed pushes: a line older than it is never sent.
	AppliedAsOf time.Time `json:"applied_as_of,omitzero"`
	// FailedRef is the batch whose push_failed discrepancy covers this
	// key: set when a push of it fails, kept through retries, cleared
	// when a push of the key succeeds. The discrepancy resolves once no
	// key names it any more.
	FailedRef string `json:"failed_ref,omitempty"`
}

func (p pushedLevel) key() string { return schemas.StockKey(p.SKU, p.Warehouse) }

// parityOpen is an open stock_parity discrepancy as last reported
// (lockstep.stock-parity, key sku@warehouse; a tombstone once resolved).
type parityOpen struct {
	SKU       string `json:"sku"`
	Warehouse string `json:"warehouse"`
	Expected  int64  `json:"expected"`
	Actual    int64  `json:"actual"`
}

// stateRecord is v as JSON under key, or a tombstone when v is nil.
func stateRecord(topic, key string, v any) (*kgo.Record, error) {
	r := &kgo.Record{Topic: topic, Key: []byte(key)}
	if v == nil {
		return r, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", topic, key, err)
	}
	r.Value = b
	return r, nil
}

// decodeState reads a state record into v; it reports false for a
// tombstone.
func decodeState(r *kgo.Record, v any) (bool, error) {
	if r.Value == nil {
		return false, nil
	}
	if err := json.Unmarshal(r.Value, v); err != nil {
		return false, fmt.Errorf("%s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	return true, nil
}

// Drift events the sink and the parity check write. Discrepancy ids are
// deterministic, so every event about one discrepancy carries the same id;
// event ids add the status and what caused the event, so an event written
// again after a crash or by a second instance collapses in the ledger.

// unmappedID names the discrepancy of a held Clarus code in a warehouse.
func unmappedID(code, warehouse string) string { return "sku_unmapped/" + code + "@" + warehouse }

// parityID names the discrepancy of a Prima SKU in a warehouse.
func parityID(sku, warehouse string) string { return "stock_parity/" + sku + "@" + warehouse }

// unmappedEvent reports a held level: open when first held, updated when a
// newer level replaced it, resolved when it was pushed. cause is the batch
// that held it or the batch that pushed it.
func unmappedEvent(h heldLevel, status schemas.DriftStatus, cause string, now time.Time) *schemas.DriftEvent {
	id := unmappedID(h.ClarusCode, h.Warehouse)
	code, wh, qty := h.ClarusCode, h.Warehouse, h.Available
	ev := &schemas.DriftEvent{
		Meta:          schemas.Meta{EventID: id + ":" + string(status) + ":" + cause, Source: schemas.SourceLockstep, OccurredAt: h.AsOf, IngestedAt: now},
		DiscrepancyID: id, Kind: schemas.DriftSKUUnmapped, Owner: schemas.OwnerWarehouse, Status: status,
		SKU: &code, Warehouse: &wh, ExpectedQty: &qty,
	}
	switch status {
	case schemas.DriftResolved:
		ev.OccurredAt = now
		ev.Detail = fmt.Sprintf("Clarus product %s now maps to a Prima stock item: its held level %d in %s is released by batch %s, which pushed it or a newer level.", code, qty, wh, cause)
	default:
		ev.Detail = fmt.Sprintf("Clarus product %s has no Prima stock item (%s): its level %d in %s is held, not pushed; map it in Prima's item master and it is pushed then.",
			code, h.Reason, qty, wh)
	}
	return ev
}

// parityEvent reports a difference between the level lockstep pushed and
// the level Prima holds, valued at the item's unit cost when known.
func parityEvent(k *parityKey, status schemas.DriftStatus, it *itemInfo, now time.Time) *schemas.DriftEvent {
	id := parityID(k.SKU, k.Warehouse)
	sku, wh := k.SKU, k.Warehouse
	expected, actual := k.pushed.Available, k.prima.Available
	delta := actual - expected
	occurred := k.pushed.At
	if k.prima.AsOf.After(occurred) {
		occurred = k.prima.AsOf
	}
	ev := &schemas.DriftEvent{
		Meta: schemas.Meta{EventID: fmt.Sprintf("%s:%s:%s:%d", id, status, k.pushed.BatchRef, k.prima.AsOf.UnixMilli()),
			Source: schemas.SourceLockstep, OccurredAt: occurred, IngestedAt: now},
		DiscrepancyID: id, Kind: schemas.DriftStockParity, Owner: schemas.OwnerFinance, Status: status,
		SKU: &sku, Warehouse: &wh, ExpectedQty: &expected, ActualQty: &actual, DeltaQty: &delta,
	}
	value := ""
	if it != nil {
		if v, err := it.UnitCost.Mul(delta); err == nil {
			cur := it.Currency
			ev.ValueDelta, ev.Currency = &v, &cur
			value = fmt.Sprintf(", %s %s at unit cost", v, cur)
		}
	}
	if status == schemas.DriftResolved {
		ev.Detail = fmt.Sprintf("Prima's %s in %s agrees again with the level lockstep pushed (%d).", sku, wh, expected)
		return ev
	}
	ev.Detail = fmt.Sprintf("Prima holds %d of %s in %s but lockstep pushed %d (Clarus available, batch %s): a difference of %d%s; check for a change made by hand in Prima.",
		actual, sku, wh, expected, k.pushed.BatchRef, delta, value)
	return ev
}

// driftRecord encodes a drift event keyed by its discrepancy id.
func driftRecord(ctx context.Context, serde *schemas.Serde, topic string, ev *schemas.DriftEvent) (*kgo.Record, error) {
	v, err := serde.Encode(ctx, ev)
	if err != nil {
		return nil, fmt.Errorf("encode drift event %s: %w", ev.EventID, err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(ev.DiscrepancyID), Value: v}, nil
}
