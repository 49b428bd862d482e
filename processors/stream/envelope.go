package stream

import (
	"context"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/schemas"
)

// AvroDeadLetters encodes dead letters as the lockstep.v1.DeadLetter
// envelope (deadletter.Avro), so the DLQ is readable with every
// schema-registry tool and `lockstep dlq` can replay a record to its
// original topic.
func AvroDeadLetters(s *schemas.Serde) func(context.Context, DeadLetter) ([]byte, error) {
	return deadletter.Avro(s)
}
