package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
)

// deadLetterRecord is rec as it goes to the DLQ, in package deadletter's
// format. An envelope that cannot be encoded (the schema registry is down)
// leaves the original bytes as the value, the headers still saying why and
// where; that is logged, not retried.
func (s *Sink) deadLetterRecord(ctx context.Context, rec *kgo.Record, reason string) *kgo.Record {
	l := deadletter.Letter{Record: rec, Reason: reason, Stage: Stage, FailedAt: time.Now().UTC(), Attempts: 1}
	out, err := deadletter.Record(ctx, s.dlq, l, deadletter.Avro(s.serde))
	if err != nil {
		s.log.Warn("dead letter envelope failed; keeping the original bytes", "err", err)
	}
	return out
}

// deadLetter parks rec in the DLQ and returns once Kafka acknowledged it, so
// that the batch holding rec may commit past it. It retries with backoff
// until then, or returns ctx's error.
func (s *Sink) deadLetter(ctx context.Context, cl *kgo.Client, rec *kgo.Record, reason string) error {
	out := s.deadLetterRecord(ctx, rec, reason)
	r := s.retrier("dlq")
	for {
		err := cl.ProduceSync(ctx, out).FirstErr()
		if err == nil {
			r.recovered()
			s.m.deadLetters.Inc()
			s.log.Warn("record dead-lettered", "topic", rec.Topic, "partition", rec.Partition,
				"offset", rec.Offset, "dlq", s.dlq, "reason", reason)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.failed(err, "producing to the DLQ failed; retrying (offsets stay uncommitted)",
			"topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
		if err := r.wait(ctx); err != nil {
			return err
		}
	}
}

// ensureDLQ creates the DLQ topic with the broker's defaults if it does not
// exist, as the stream processors do.
func ensureDLQ(ctx context.Context, cl *kgo.Client, topic string) error {
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, -1, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("ledger: create DLQ topic %s: %w", topic, err)
	}
	return nil
}
