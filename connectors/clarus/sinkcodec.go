package clarus

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/clock"
	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/schemas"
)

// How a command sink reads its commands and writes its answers: through
// the serde, waiting out a registry that cannot be reached, and with what
// can never be read parked in the DLQ.

// handleCommand is how every sink handles a command: read it (a command
// that can never be read goes to the DLQ, as does one check says cannot be
// acked at all), apply it to Clarus, and answer it with the record ack
// builds (topic, key, event, and what to count once committed). Its errors
// are ctx's, errRevoked, or an ack that cannot be encoded.
func handleCommand[C any, P interface {
	*C
	schemas.Event
}](ctx context.Context, s *sinkLoop, r *kgo.Record,
	check func(P) string,
	apply func(context.Context, P) (answer, error),
	ack func(P, answer, time.Time) (topic, key string, ev schemas.Event, count func()),
) (handled, error) {
	cmd := P(new(C))
	if err := s.decode(ctx, r, cmd); err != nil {
		if ctx.Err() != nil {
			return handled{}, ctx.Err()
		}
		return s.deadLetter(ctx, r, "cannot decode the command: "+err.Error()), nil
	}
	if reason := check(cmd); reason != "" {
		return s.deadLetter(ctx, r, reason), nil
	}
	a, err := apply(ctx, cmd)
	if err != nil {
		return handled{}, err
	}
	topic, key, ev, count := ack(cmd, a, s.o.Clock.Now().UTC())
	s.o.Logger.Info("clarus "+s.name+": command answered", "key", key, "command", cmd.EventMeta().EventID,
		"status", a.status, "clarus_id", a.clarusID, "reason", a.reason)
	return s.answer(ctx, topic, key, ev, count)
}

// decode decodes a command, waiting out a registry that cannot be reached:
// only a command that can never be decoded goes to the DLQ.
func (s *sinkLoop) decode(ctx context.Context, r *kgo.Record, into schemas.Event) error {
	for {
		err := s.serde.Decode(ctx, r.Value, into)
		if err == nil || schemas.IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		s.o.Logger.Warn("clarus "+s.name+": decode failed; retrying", "partition", r.Partition, "offset", r.Offset, "err", err)
		if err := clock.Sleep(ctx, s.o.Clock, time.Second); err != nil {
			return err
		}
	}
}

// answer encodes a command's answer (ack) as a record of topic keyed key,
// waiting out a registry that cannot be reached; what can never be encoded
// stops the sink (its transaction aborts, the command stays unanswered).
// committed counts it once its transaction committed.
func (s *sinkLoop) answer(ctx context.Context, topic, key string, ack schemas.Event, committed func()) (handled, error) {
	for {
		b, err := s.serde.Encode(ctx, ack)
		if err == nil {
			return handled{record: &kgo.Record{Topic: topic, Key: []byte(key), Value: b}, committed: committed}, nil
		}
		if schemas.IsPermanent(err) {
			return handled{}, fmt.Errorf("clarus: %s: encode ack of %s: %w", s.name, key, err)
		}
		if ctx.Err() != nil {
			return handled{}, ctx.Err()
		}
		s.o.Logger.Warn("clarus "+s.name+": encode failed; retrying", "key", key, "err", err)
		if err := clock.Sleep(ctx, s.o.Clock, time.Second); err != nil {
			return handled{}, err
		}
	}
}

// deadLetter parks a command that cannot be answered (it cannot be read,
// or names nothing to answer) in the DLQ, with the reason.
func (s *sinkLoop) deadLetter(ctx context.Context, r *kgo.Record, reason string) handled {
	s.o.Logger.Error("clarus "+s.name+": command sent to the DLQ", "partition", r.Partition, "offset", r.Offset, "reason", reason)
	rec, err := deadletter.Record(ctx, s.dlqTopic, deadletter.Letter{Record: r, Reason: reason, Stage: s.stage,
		FailedAt: s.o.Clock.Now().UTC()}, deadletter.Avro(s.serde))
	if err != nil {
		s.o.Logger.Warn("clarus "+s.name+": DLQ record without its envelope", "err", err)
	}
	return handled{record: rec}
}
