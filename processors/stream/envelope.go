package stream

import (
	"context"
	"fmt"

	"github.com/lockstep-dev/lockstep/schemas"
)

// AvroDeadLetters encodes dead letters as the lockstep.v1.DeadLetter
// envelope, so the DLQ is readable with every schema-registry tool and
// `lockstep dlq` can replay a record to its original topic.
func AvroDeadLetters(s *schemas.Serde) func(context.Context, DeadLetter) ([]byte, error) {
	return func(ctx context.Context, dl DeadLetter) ([]byte, error) {
		r := dl.Record
		ev := &schemas.DeadLetter{
			Meta: schemas.Meta{
				// The coordinates identify the failure: a replayed batch
				// that dead-letters the same record again yields the same
				// id, so consumers of the DLQ can drop the repeat.
				EventID:    fmt.Sprintf("dlq:%s:%s/%d@%d", dl.Stage, r.Topic, r.Partition, r.Offset),
				Source:     schemas.SourceLockstep,
				OccurredAt: dl.FailedAt,
				IngestedAt: dl.FailedAt,
			},
			OriginalTopic:     r.Topic,
			OriginalPartition: r.Partition,
			OriginalOffset:    r.Offset,
			OriginalTimestamp: r.Timestamp,
			OriginalKey:       r.Key,
			OriginalValue:     r.Value,
			Reason:            dl.Reason,
			Stage:             dl.Stage,
			FailedAt:          dl.FailedAt,
			Attempts:          1,
		}
		if ev.OriginalValue == nil {
			ev.OriginalValue = []byte{}
		}
		for _, h := range r.Headers {
			ev.OriginalHeaders = append(ev.OriginalHeaders, schemas.Header{Key: h.Key, Value: h.Value})
		}
		return s.Encode(ctx, ev)
	}
}
