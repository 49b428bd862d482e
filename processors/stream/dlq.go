package stream

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DeadLetter is a record the pipeline could not process, with why and where.
type DeadLetter struct {
	Record *kgo.Record
	Reason string
	// Stage is the processor (or sink, or source) that gave up on it.
	Stage    string
	FailedAt time.Time
}

// DLQ headers: present on every dead-lettered record, whatever its value's
// encoding, so kcat and Redpanda Console show why a record is there.
const (
	HeaderDLQReason    = "lockstep.dlq.reason"
	HeaderDLQStage     = "lockstep.dlq.stage"
	HeaderDLQTopic     = "lockstep.dlq.topic"
	HeaderDLQPartition = "lockstep.dlq.partition"
	HeaderDLQOffset    = "lockstep.dlq.offset"
)

// deadLetter produces rec to the DLQ in the current transaction: keyed by
// the original key, with the original headers followed by the DLQ headers.
// The value is the encoded envelope, or the original bytes if there is no
// encoder or it fails, so nothing is lost.
func (p *Processor) deadLetter(ctx context.Context, rec *kgo.Record, reason string, promise func(*kgo.Record, error)) {
	dl := DeadLetter{Record: rec, Reason: reason, Stage: p.topo.Name, FailedAt: p.cfg.Clock()}
	value := rec.Value
	if p.cfg.EncodeDeadLetter != nil {
		if v, err := p.cfg.EncodeDeadLetter(ctx, dl); err == nil {
			value = v
		} else {
			p.log.Warn("dead letter envelope failed; keeping the original bytes", "err", err)
		}
	}
	headers := append(append(make([]kgo.RecordHeader, 0, len(rec.Headers)+5), rec.Headers...),
		kgo.RecordHeader{Key: HeaderDLQReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderDLQStage, Value: []byte(p.topo.Name)},
		kgo.RecordHeader{Key: HeaderDLQTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderDLQPartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
		kgo.RecordHeader{Key: HeaderDLQOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
	)
	p.log.Warn("record dead-lettered", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "reason", reason)
	p.m.dlq.WithLabelValues(p.topo.Name, rec.Topic).Inc()
	p.sess.Produce(ctx, &kgo.Record{Topic: p.dlq, Key: rec.Key, Value: value, Headers: headers}, promise)
}
