package stream

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
)

// DeadLetter is a record the pipeline could not process, with why and where.
type DeadLetter = deadletter.Letter

// deadLetter produces rec to the DLQ in the current transaction, as package
// deadletter builds it. The value is the encoded envelope, or the original
// bytes if there is no encoder or it fails, so nothing is lost.
func (p *Processor) deadLetter(ctx context.Context, rec *kgo.Record, reason string, promise func(*kgo.Record, error)) {
	dl := DeadLetter{Record: rec, Reason: reason, Stage: p.topo.Name, FailedAt: p.cfg.Clock(), Attempts: 1}
	out, err := deadletter.Record(ctx, p.dlq, dl, p.cfg.EncodeDeadLetter)
	if err != nil {
		p.log.Warn("dead letter envelope failed; keeping the original bytes", "err", err)
	}
	p.log.Warn("record dead-lettered", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "reason", reason)
	p.m.dlq.WithLabelValues(p.topo.Name, rec.Topic).Inc()
	p.sess.Produce(ctx, out, promise)
}
