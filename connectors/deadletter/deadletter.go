// Package deadletter builds the records that go to lockstep.dlq, in the one
// format every stage writes: the original key, the original headers followed
// by the lockstep.dlq.* headers, and the lockstep.v1.DeadLetter envelope as
// the value (or the original bytes when the envelope cannot be encoded).
//
// It builds records only: each writer produces them with its own client, the
// stream runtime inside its transaction, the sinks synchronously before they
// commit the offset.
package deadletter

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Headers present on every dead-lettered record, whatever its value's
// encoding, so kcat and Redpanda Console show why and from where a record is
// there. They follow the original record's headers, in this order.
const (
	HeaderReason    = "lockstep.dlq.reason"
	HeaderStage     = "lockstep.dlq.stage"
	HeaderTopic     = "lockstep.dlq.topic"
	HeaderPartition = "lockstep.dlq.partition"
	HeaderOffset    = "lockstep.dlq.offset"
)

// Letter is a record the pipeline could not process, with why and where.
type Letter struct {
	Record *kgo.Record
	Reason string
	// Stage is the processor (or sink, or source) that gave up on it.
	Stage    string
	FailedAt time.Time
	// Attempts is how many tries were made before giving up (0 when the
	// record was never tried, e.g. it did not decode).
	Attempts int32
	// ID identifies a record that never reached Kafka (a source's, with
	// no coordinates): the envelope's event id is built from it instead.
	ID string
}

// Encoder encodes a letter as the DLQ record's value.
type Encoder func(context.Context, Letter) ([]byte, error)

// envelope is l as the lockstep.v1.DeadLetter event, which `lockstep dlq`
// can replay to the original topic.
func (l Letter) envelope() *schemas.DeadLetter {
	r := l.Record
	id := fmt.Sprintf("dlq:%s:%s/%d@%d", l.Stage, r.Topic, r.Partition, r.Offset)
	if l.ID != "" {
		id = fmt.Sprintf("dlq:%s:%s", l.Stage, l.ID)
	}
	ev := &schemas.DeadLetter{
		Meta: schemas.Meta{
			// The coordinates identify the failure: a replayed batch that
			// dead-letters the same record again yields the same id, so
			// consumers of the DLQ can drop the repeat.
			EventID:    id,
			Source:     schemas.SourceLockstep,
			OccurredAt: l.FailedAt,
			IngestedAt: l.FailedAt,
		},
		OriginalTopic:     r.Topic,
		OriginalPartition: r.Partition,
		OriginalOffset:    r.Offset,
		OriginalTimestamp: r.Timestamp,
		OriginalKey:       r.Key,
		OriginalValue:     r.Value,
		Reason:            l.Reason,
		Stage:             l.Stage,
		FailedAt:          l.FailedAt,
		Attempts:          l.Attempts,
	}
	if ev.OriginalValue == nil {
		ev.OriginalValue = []byte{}
	}
	for _, h := range r.Headers {
		ev.OriginalHeaders = append(ev.OriginalHeaders, schemas.Header{Key: h.Key, Value: h.Value})
	}
	return ev
}

// Avro encodes letters as the lockstep.v1.DeadLetter envelope through s, in
// the Confluent framing, so the DLQ is readable with every schema-registry
// tool.
func Avro(s *schemas.Serde) Encoder {
	return func(ctx context.Context, l Letter) ([]byte, error) {
		return s.Encode(ctx, l.envelope())
	}
}

// Record builds l's record for topic (the prefixed lockstep.dlq): keyed by
// the original key, with the original headers followed by the DLQ headers,
// and enc's encoding of l as the value. If enc is nil or fails, the value is
// the original bytes, so nothing is lost; the record is returned all the
// same, and the error, if any, only says that the envelope is missing (for
// the caller to log).
func Record(ctx context.Context, topic string, l Letter, enc Encoder) (*kgo.Record, error) {
	rec := l.Record
	value := rec.Value
	var err error
	if enc != nil {
		var v []byte
		if v, err = enc(ctx, l); err == nil {
			value = v
		} else {
			err = fmt.Errorf("dead letter envelope for %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
		}
	}
	return &kgo.Record{Topic: topic, Key: rec.Key, Value: value, Headers: headers(l)}, err
}

// headers is the original record's headers followed by the DLQ headers for l.
func headers(l Letter) []kgo.RecordHeader {
	rec := l.Record
	return append(append(make([]kgo.RecordHeader, 0, len(rec.Headers)+5), rec.Headers...),
		kgo.RecordHeader{Key: HeaderReason, Value: []byte(l.Reason)},
		kgo.RecordHeader{Key: HeaderStage, Value: []byte(l.Stage)},
		kgo.RecordHeader{Key: HeaderTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderPartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
		kgo.RecordHeader{Key: HeaderOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
	)
}
