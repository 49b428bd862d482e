package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/schemas"
)

// ErrInvalid is wrapped by the errors of drift events that decode but
// cannot be a ledger row (no identity, a time ClickHouse's DateTime cannot
// hold). Like a decoding error, it sends the record to the DLQ.
var ErrInvalid = errors.New("ledger: invalid drift event")

// The range of ClickHouse's DateTime (seconds since the epoch in a UInt32).
// clickhouse-go wraps times outside it silently, so they are refused here.
var (
	minDateTime = time.Unix(0, 0).UTC()
	maxDateTime = time.Unix(1<<32-1, 0).UTC()
)

// permanent reports whether err comes from the record itself, so that the
// record goes to the DLQ; other errors (the registry unreachable) are
// retried.
func permanent(err error) bool {
	return schemas.IsPermanent(err) || errors.Is(err, ErrInvalid)
}

// decodeRecord turns one record of lockstep.drift into a ledger row that
// carries the record's coordinates.
func decodeRecord(ctx context.Context, serde *schemas.Serde, rec *kgo.Record) (analytics.DriftEvent, error) {
	var ev schemas.DriftEvent
	if err := serde.Decode(ctx, rec.Value, &ev); err != nil {
		return analytics.DriftEvent{}, err
	}
	return toRow(&ev, rec)
}

// toRow maps a drift event onto the ledger's columns: absent business keys
// and currency become empty strings, absent quantities and value stay NULL,
// times keep whole seconds (DateTime). ShipmentID and Source have no column
// in drift_events and are dropped.
func toRow(ev *schemas.DriftEvent, rec *kgo.Record) (analytics.DriftEvent, error) {
	for _, f := range []struct{ name, v string }{
		{"event_id", ev.EventID},
		{"discrepancy_id", ev.DiscrepancyID},
		{"kind", string(ev.Kind)},
		{"owner", string(ev.Owner)},
		{"status", string(ev.Status)},
	} {
		if f.v == "" {
			return analytics.DriftEvent{}, fmt.Errorf("%w: %s is empty (event %q)", ErrInvalid, f.name, ev.EventID)
		}
	}
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"occurred_at", ev.OccurredAt}, {"ingested_at", ev.IngestedAt}} {
		if f.t.Before(minDateTime) || f.t.After(maxDateTime) {
			return analytics.DriftEvent{}, fmt.Errorf("%w: %s %s is outside ClickHouse DateTime's range (event %s)",
				ErrInvalid, f.name, f.t.UTC().Format(time.RFC3339), ev.EventID)
		}
	}
	row := analytics.DriftEvent{
		EventID:        ev.EventID,
		DiscrepancyID:  ev.DiscrepancyID,
		Kind:           string(ev.Kind),
		Owner:          string(ev.Owner),
		Status:         string(ev.Status),
		SKU:            deref(ev.SKU),
		Warehouse:      deref(ev.Warehouse),
		OrderRef:       deref(ev.OrderRef),
		PORef:          deref(ev.PORef),
		ExpectedQty:    ev.ExpectedQty,
		ActualQty:      ev.ActualQty,
		DeltaQty:       ev.DeltaQty,
		Currency:       deref(ev.Currency),
		Detail:         ev.Detail,
		OccurredAt:     ev.OccurredAt.UTC().Truncate(time.Second),
		IngestedAt:     ev.IngestedAt.UTC().Truncate(time.Second),
		KafkaTopic:     rec.Topic,
		KafkaPartition: rec.Partition,
		KafkaOffset:    rec.Offset,
	}
	if v := ev.ValueDelta; v != nil {
		if !v.Valid() {
			return analytics.DriftEvent{}, fmt.Errorf("%w: value_delta %s is beyond Decimal(18,4) (event %s)", ErrInvalid, v, ev.EventID)
		}
		d := decimal.New(int64(*v), -schemas.DecimalScale)
		row.ValueDelta = &d
	}
	return row, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
