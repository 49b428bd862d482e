// Package codec turns a stream processor's input records into events and
// its events into output records, with the schema registry's framing, and
// says which failures are the record's (to the DLQ) and which the
// batch's (retried).
package codec

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Codec decodes and emits the events of one processor.
type Codec struct {
	Serde *schemas.Serde
	Stage string // the processor's name, first in every error
}

// Decode decodes rec's value into ev. A value that can never decode (not
// Avro, an unknown schema, a field that does not project) is rejected to
// the DLQ; a registry that cannot be reached fails the batch, which is
// retried, since a later try can succeed.
func (c Codec) Decode(ctx *stream.Context, rec *kgo.Record, ev schemas.Event) error {
	err := c.Serde.Decode(ctx.Context(), rec.Value, ev)
	switch {
	case err == nil:
		return nil
	case schemas.IsPermanent(err):
		return stream.Reject(fmt.Errorf("%s: decode %s: %w", c.Stage, rec.Topic, err))
	default:
		return fmt.Errorf("%s: decode %s/%d@%d: %w", c.Stage, rec.Topic, rec.Partition, rec.Offset, err)
	}
}

// Emit encodes ev and stages it for topic under key.
func (c Codec) Emit(ctx *stream.Context, topic, key string, ev schemas.Event) error {
	v, err := c.Serde.Encode(ctx.Context(), ev)
	if err != nil {
		return fmt.Errorf("%s: encode %s: %w", c.Stage, ev.SchemaName(), err)
	}
	ctx.Emit(topic, []byte(key), v)
	return nil
}
