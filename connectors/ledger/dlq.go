package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DLQ headers, the same as processors/stream's: present on every
// dead-lettered record so kcat and Redpanda Console show why it is there.
const (
	HeaderDLQReason    = "lockstep.dlq.reason"
	HeaderDLQStage     = "lockstep.dlq.stage"
	HeaderDLQTopic     = "lockstep.dlq.topic"
	HeaderDLQPartition = "lockstep.dlq.partition"
	HeaderDLQOffset    = "lockstep.dlq.offset"
)

// deadLetterRecord is rec as it goes to the DLQ: the original key and bytes,
// the original headers followed by the DLQ headers.
func deadLetterRecord(dlqTopic string, rec *kgo.Record, reason string) *kgo.Record {
	headers := append(append(make([]kgo.RecordHeader, 0, len(rec.Headers)+5), rec.Headers...),
		kgo.RecordHeader{Key: HeaderDLQReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderDLQStage, Value: []byte(Stage)},
		kgo.RecordHeader{Key: HeaderDLQTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderDLQPartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
		kgo.RecordHeader{Key: HeaderDLQOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
	)
	return &kgo.Record{Topic: dlqTopic, Key: rec.Key, Value: rec.Value, Headers: headers}
}

// deadLetter parks rec in the DLQ and returns once Kafka acknowledged it, so
// that the batch holding rec may commit past it. It retries with backoff
// until then, or returns ctx's error.
func (s *Sink) deadLetter(ctx context.Context, cl *kgo.Client, rec *kgo.Record, reason string) error {
	out := deadLetterRecord(s.dlq, rec, reason)
	r := s.retrier("dlq")
	for {
		err := cl.ProduceSync(ctx, out).FirstErr()
		if err == nil {
			r.recovered()
			s.m.deadLetters.Inc()
			s.log.Warn("drift record dead-lettered", "topic", rec.Topic, "partition", rec.Partition,
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
