package clarus

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// answer is what Clarus did with a command: the status of its ack (an
// OrderAckStatus or a ReceiptAckStatus, which share "rejected"), and what
// the ack says with it.
type answer struct {
	status   string
	clarusID string
	reason   string
}

// statusRejected is the rejected status of both ack schemas.
const statusRejected = string(schemas.OrderRejected)

func rejected(format string, args ...any) answer {
	return answer{status: statusRejected, reason: fmt.Sprintf(format, args...)}
}

// id and why are the ack's clarus_id and reason: null when empty.
func (a answer) id() *string  { return optional(a.clarusID) }
func (a answer) why() *string { return optional(a.reason) }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// handleCommand applies one command to Clarus and returns the record to
// commit for it.
func (s *OrderSink) handleCommand(ctx context.Context, r *kgo.Record) (handled, error) {
	return handleCommand(ctx, s.sinkLoop, r, unanswerable, s.apply, s.ack)
}

func (s *OrderSink) apply(ctx context.Context, cmd *schemas.ClarusOrderCommand) (answer, error) {
	switch cmd.Action {
	case schemas.ClarusOrderCreate:
		return s.create(ctx, cmd)
	case schemas.ClarusOrderCancel:
		return s.cancel(ctx, cmd)
	}
	return s.close(ctx, cmd)
}

// ack is the answer to cmd on clarus.order-acks, keyed by order ref.
func (s *OrderSink) ack(cmd *schemas.ClarusOrderCommand, a answer, now time.Time) (string, string, schemas.Event, func()) {
	ack := &schemas.OrderAck{
		Meta:     schemas.Meta{EventID: ackEventID(cmd.EventID, cmd.OrderRef, cmd.OrderVersion, string(cmd.Action)), Source: schemas.SourceClarus, OccurredAt: now, IngestedAt: now},
		OrderRef: cmd.OrderRef, OrderVersion: cmd.OrderVersion, Action: cmd.Action, Status: schemas.OrderAckStatus(a.status),
		ClarusID: a.id(), Reason: a.why(),
	}
	return s.ackTopic, cmd.OrderRef, ack, func() { s.m.acks.WithLabelValues(string(ack.Action), string(ack.Status)).Inc() }
}

// ackEventID identifies the ack of one command, by the command's event id
// or else its reference, version and action: a command handled again (its
// transaction aborted) is acked with the same id.
func ackEventID(eventID, ref string, version int64, action string) string {
	if eventID != "" {
		return "ack:" + eventID
	}
	return fmt.Sprintf("ack:%s:v%d:%s", ref, version, action)
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
