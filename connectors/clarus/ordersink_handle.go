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

// handled is what one command produced: its ack, or its DLQ record.
type handled struct {
	record *kgo.Record
	ack    *schemas.OrderAck // nil for a DLQ record
}

// answer is what Clarus did with a command.
type answer struct {
	status   schemas.OrderAckStatus
	clarusID string
	reason   string
}

func rejected(format string, args ...any) answer {
	return answer{status: schemas.OrderRejected, reason: fmt.Sprintf(format, args...)}
}

// handle applies one command to Clarus and returns the record to commit
// for it. Its errors are ctx's, errRevoked, or an ack that cannot be
// encoded.
func (s *OrderSink) handle(ctx context.Context, r *kgo.Record) (handled, error) {
	var cmd schemas.ClarusOrderCommand
	if err := s.decode(ctx, r, &cmd); err != nil {
		if ctx.Err() != nil {
			return handled{}, ctx.Err()
		}
		return s.deadLetter(ctx, r, "cannot decode the command: "+err.Error()), nil
	}
	if reason := unanswerable(&cmd); reason != "" {
		return s.deadLetter(ctx, r, reason), nil
	}
	var a answer
	var err error
	switch cmd.Action {
	case schemas.ClarusOrderCreate:
		a, err = s.create(ctx, &cmd)
	case schemas.ClarusOrderCancel:
		a, err = s.cancel(ctx, &cmd)
	case schemas.ClarusOrderClose:
		a, err = s.close(ctx, &cmd)
	}
	if err != nil {
		return handled{}, err
	}
	now := s.o.Clock.Now().UTC()
	ack := &schemas.OrderAck{
		Meta:     schemas.Meta{EventID: ackEventID(&cmd), Source: schemas.SourceClarus, OccurredAt: now, IngestedAt: now},
		OrderRef: cmd.OrderRef, OrderVersion: cmd.OrderVersion, Action: cmd.Action, Status: a.status,
	}
	if a.clarusID != "" {
		ack.ClarusID = &a.clarusID
	}
	if a.reason != "" {
		ack.Reason = &a.reason
	}
	s.o.Logger.Info("clarus order sink: command answered", "order_ref", cmd.OrderRef, "version", cmd.OrderVersion,
		"action", cmd.Action, "status", a.status, "clarus_id", a.clarusID, "reason", a.reason)
	value, err := s.encode(ctx, ack)
	if err != nil {
		return handled{}, err
	}
	return handled{record: &kgo.Record{Topic: s.ackTopic, Key: []byte(cmd.OrderRef), Value: value}, ack: ack}, nil
}

// ackEventID identifies the ack of one command: a command handled again
// (its transaction aborted) is acked with the same id.
func ackEventID(cmd *schemas.ClarusOrderCommand) string {
	if cmd.EventID != "" {
		return "ack:" + cmd.EventID
	}
	return fmt.Sprintf("ack:%s:v%d:%s", cmd.OrderRef, cmd.OrderVersion, cmd.Action)
}

// unanswerable says why a decoded command cannot be acked at all.
func unanswerable(cmd *schemas.ClarusOrderCommand) string {
	switch {
	case cmd.OrderRef == "":
		return "the command has no order_ref to ack"
	case cmd.Action != schemas.ClarusOrderCreate && cmd.Action != schemas.ClarusOrderCancel && cmd.Action != schemas.ClarusOrderClose:
		return fmt.Sprintf("unknown action %q (want create, cancel or close)", cmd.Action)
	}
	return ""
}

// decode decodes a command, waiting out a registry that cannot be reached:
// only a command that can never be decoded goes to the DLQ.
func (s *OrderSink) decode(ctx context.Context, r *kgo.Record, into *schemas.ClarusOrderCommand) error {
	for {
		err := s.serde.Decode(ctx, r.Value, into)
		if err == nil || schemas.IsPermanent(err) || ctx.Err() != nil {
			return err
		}
		s.o.Logger.Warn("clarus order sink: decode failed; retrying", "partition", r.Partition, "offset", r.Offset, "err", err)
		if err := clock.Sleep(ctx, s.o.Clock, time.Second); err != nil {
			return err
		}
	}
}

func (s *OrderSink) encode(ctx context.Context, ack *schemas.OrderAck) ([]byte, error) {
	for {
		b, err := s.serde.Encode(ctx, ack)
		if err == nil {
			return b, nil
		}
		if schemas.IsPermanent(err) {
			return nil, fmt.Errorf("clarus: order sink: encode ack of %s: %w", ack.OrderRef, err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.o.Logger.Warn("clarus order sink: encode failed; retrying", "order_ref", ack.OrderRef, "err", err)
		if err := clock.Sleep(ctx, s.o.Clock, time.Second); err != nil {
			return nil, err
		}
	}
}

func (s *OrderSink) deadLetter(ctx context.Context, r *kgo.Record, reason string) handled {
	s.o.Logger.Error("clarus order sink: command sent to the DLQ", "partition", r.Partition, "offset", r.Offset, "reason", reason)
	rec, err := deadletter.Record(ctx, s.dlqTopic, deadletter.Letter{Record: r, Reason: reason, Stage: orderSinkStage,
		FailedAt: s.o.Clock.Now().UTC()}, deadletter.Avro(s.serde))
	if err != nil {
		s.o.Logger.Warn("clarus order sink: DLQ record without its envelope", "err", err)
	}
	return handled{record: rec}
}
