package ledger

import (
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/schemas"
)

// ErrInvalid is wrapped by the errors of events that decode but cannot be
// ledger rows (no identity, a time ClickHouse's DateTime cannot
// hold). Like a decoding error, it sends the record to the DLQ.
var ErrInvalid = errors.New("ledger: invalid event")

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

// decodeDrift turns one record of lockstep.drift into its drift_events row,
// which carries the record's coordinates.
var decodeDrift = decoded(oneRow(toRow))

// toRow maps a drift event onto the ledger's columns: absent business keys
// and currency become empty strings, absent quantities and value stay NULL,
// times keep whole seconds (DateTime). Source has no column in drift_events
// and is dropped.
func toRow(ev *schemas.DriftEvent, rec *kgo.Record) (analytics.DriftEvent, error) {
	if err := required(ev.EventID, field{"event_id", ev.EventID}, field{"discrepancy_id", ev.DiscrepancyID},
		field{"kind", string(ev.Kind)}, field{"owner", string(ev.Owner)}, field{"status", string(ev.Status)}); err != nil {
		return analytics.DriftEvent{}, err
	}
	if err := inDateTime(ev.EventID, stamp{"occurred_at", ev.OccurredAt}, stamp{"ingested_at", ev.IngestedAt}); err != nil {
		return analytics.DriftEvent{}, err
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
		ShipmentID:     deref(ev.ShipmentID),
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
		d, err := money(ev.EventID, "value_delta", *v)
		if err != nil {
			return analytics.DriftEvent{}, err
		}
		row.ValueDelta = &d
	}
	return row, nil
}

// field is a named string of an event, for required.
type field struct{ name, v string }

// required refuses an event whose identity fields are empty.
func required(eventID string, fields ...field) error {
	for _, f := range fields {
		if f.v == "" {
			return fmt.Errorf("%w: %s is empty (event %q)", ErrInvalid, f.name, eventID)
		}
	}
	return nil
}

// stamp is a named time of an event, for inDateTime.
type stamp struct {
	name string
	t    time.Time
}

// inDateTime refuses times that ClickHouse's DateTime cannot hold.
func inDateTime(eventID string, stamps ...stamp) error {
	for _, s := range stamps {
		if s.t.Before(minDateTime) || s.t.After(maxDateTime) {
			return fmt.Errorf("%w: %s %s is outside ClickHouse DateTime's range (event %s)",
				ErrInvalid, s.name, s.t.UTC().Format(time.RFC3339), eventID)
		}
	}
	return nil
}

// money converts an amount to the ledger's decimal, refusing one beyond
// Decimal(18,4).
func money(eventID, name string, v schemas.Decimal) (decimal.Decimal, error) {
	if !v.Valid() {
		return decimal.Decimal{}, fmt.Errorf("%w: %s %s is beyond Decimal(18,4) (event %s)", ErrInvalid, name, v, eventID)
	}
	return decimal.New(int64(v), -schemas.DecimalScale), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
