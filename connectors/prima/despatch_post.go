package prima

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Outcomes of a despatch command, the labels of
// lockstep_prima_despatch_commands_total.
const (
	despatchCreated      = "created"
	despatchFound        = "found_existing"
	despatchRejected     = "rejected"
	despatchDeadLettered = "dead_lettered"
)

// despatchHandled is what one command produced, to commit with its
// offset, and how it ended.
type despatchHandled struct {
	records []*kgo.Record
	outcome string
}

// posted is how a post ended: the note's id (created or found), or why
// it was refused.
type posted struct {
	outcome string
	id      string
	reason  string
	prima   bool // the refusal is Prima's answer, not the sink's
}

// polledCommand is one polled record and the command decoded from it,
// or why none could be.
type polledCommand struct {
	rec *kgo.Record
	cmd schemas.DespatchCommand
	bad error
}

// handle posts one command and returns what to commit for it. Its errors
// are ctx's, errDespatchRevoked, or a record that cannot be encoded.
func (s *DespatchSink) handle(ctx context.Context, c *polledCommand) (despatchHandled, error) {
	r, cmd := c.rec, c.cmd
	if c.bad != nil {
		return s.deadLetter(ctx, r, "cannot decode the command: "+c.bad.Error(), nil), nil
	}
	if cmd.OrderRef == "" || cmd.ShipmentID == "" {
		return s.deadLetter(ctx, r, fmt.Sprintf("the command names no order (%q) or no shipment (%q) to post a note for",
			cmd.OrderRef, cmd.ShipmentID), nil), nil
	}
	p, err := s.post(ctx, &cmd)
	if err != nil {
		return despatchHandled{}, err
	}
	log := s.o.Logger.With("order_ref", cmd.OrderRef, "shipment_id", cmd.ShipmentID)
	if p.outcome != despatchRejected {
		log.Info("prima despatch sink: note posted", "outcome", p.outcome, "despatch_note_id", p.id)
		return despatchHandled{outcome: p.outcome}, nil
	}
	log.Warn("prima despatch sink: note refused", "reason", p.reason)
	now := s.o.Clock.Now().UTC()
	src := schemas.SourceLockstep
	if p.prima {
		src = schemas.SourcePrima
	}
	ev := &schemas.DespatchNote{
		Meta:     schemas.Meta{EventID: "prima:despatch-post:" + cmd.ShipmentID + ":failed", Source: src, OccurredAt: now, IngestedAt: now},
		OrderRef: cmd.OrderRef, ShipmentID: cmd.ShipmentID, Status: schemas.DespatchFailed, Reason: &p.reason, Lines: cmd.Lines,
	}
	v, err := s.serde.Encode(ctx, ev)
	if err != nil {
		return despatchHandled{}, fmt.Errorf("prima: despatch sink: encode the failed note of %s: %w", cmd.ShipmentID, err)
	}
	failed := &kgo.Record{Topic: s.notesTopic, Key: []byte(cmd.OrderRef), Value: v}
	return s.deadLetter(ctx, r, p.reason, failed), nil
}

// deadLetter is r's dead letter, after the failed note when there is one.
func (s *DespatchSink) deadLetter(ctx context.Context, r *kgo.Record, reason string, failed *kgo.Record) despatchHandled {
	if failed == nil {
		s.o.Logger.Error("prima despatch sink: command sent to the DLQ", "partition", r.Partition, "offset", r.Offset, "reason", reason)
	}
	dl, err := deadletter.Record(ctx, s.dlqTopic, deadletter.Letter{Record: r, Reason: reason, Stage: despatchStage,
		FailedAt: s.o.Clock.Now().UTC()}, deadletter.Avro(s.serde))
	if err != nil {
		s.o.Logger.Warn("prima despatch sink: DLQ record without its envelope", "err", err)
	}
	if failed == nil {
		return despatchHandled{records: []*kgo.Record{dl}, outcome: despatchDeadLettered}
	}
	return despatchHandled{records: []*kgo.Record{failed, dl}, outcome: despatchRejected}
}

// post makes sure cmd's note is in Prima: looked up first, created when
// no note has its reference, looked up again after any failure that may
// have created it.
func (s *DespatchSink) post(ctx context.Context, cmd *schemas.DespatchCommand) (posted, error) {
	n := DespatchNote{Reference: cmd.ShipmentID, OrderRef: cmd.OrderRef, Warehouse: cmd.Warehouse,
		DespatchDate: cmd.OccurredAt, Lines: cmd.Lines}
	if cmd.Carrier != nil {
		n.Carrier = *cmd.Carrier
	}
	if cmd.TrackingNumber != nil {
		n.TrackingNumber = *cmd.TrackingNumber
	}
	backoff := s.cfg.BackoffBase
	for look := true; ; {
		if look {
			p, found, err := s.standing(ctx, cmd)
			if err != nil || found {
				return p, err
			}
		}
		var id string
		err := s.call(ctx, "create", func(ctx context.Context) (err error) {
			id, err = s.api.CreateDespatchNote(ctx, n)
			return err
		})
		var ae *APIError
		switch {
		case err == nil:
			return posted{outcome: despatchCreated, id: id}, nil
		case errors.Is(err, errDespatchRevoked) || ctx.Err() != nil:
			return posted{}, errors.Join(err, ctx.Err())
		case !errors.As(err, &ae):
			// Refused before sending: Prima could not have taken it.
			return posted{outcome: despatchRejected, reason: "not posted: " + err.Error()}, nil
		case !ae.Retryable:
			return posted{outcome: despatchRejected, prima: true, reason: "Prima refused the despatch note: " + ae.Message}, nil
		}
		// A failure that may have created the note is looked up before
		// the next create; one that cannot have (429, a refused
		// connection) is not.
		look = ae.Ambiguous
		s.o.Metrics.despatchRetries.WithLabelValues(reason(ae)).Inc()
		if err := s.pace.backoff(ctx, ae, &backoff); err != nil {
			return posted{}, err
		}
	}
}

// standing looks cmd's reference up until Prima answers. A note of cmd's
// order with it is cmd's own, from an attempt whose answer or transaction
// was lost, or made by hand: found, nothing to create. One of another
// order only is a reference taken: refused, as a second note with it
// would be found by neither. A look-up Prima refuses is a refusal too:
// creating without it could make a second note.
func (s *DespatchSink) standing(ctx context.Context, cmd *schemas.DespatchCommand) (posted, bool, error) {
	backoff := s.cfg.BackoffBase
	for {
		var notes []DespatchNote
		err := s.call(ctx, "lookup", func(ctx context.Context) (err error) {
			notes, err = s.api.DespatchNotesByReference(ctx, cmd.ShipmentID)
			return err
		})
		var ae *APIError
		switch {
		case err == nil:
			return found(cmd, notes)
		case errors.Is(err, errDespatchRevoked) || ctx.Err() != nil:
			return posted{}, false, errors.Join(err, ctx.Err())
		case !errors.As(err, &ae) || !ae.Retryable:
			return posted{outcome: despatchRejected, prima: true,
				reason: "not posted: Prima refused the look-up of its reference, without which a second note could be made: " + err.Error()}, true, nil
		}
		s.o.Metrics.despatchRetries.WithLabelValues(reason(ae)).Inc()
		if err := s.pace.backoff(ctx, ae, &backoff); err != nil {
			return posted{}, false, err
		}
	}
}

// found judges the notes a look-up of cmd's reference returned.
func found(cmd *schemas.DespatchCommand, notes []DespatchNote) (posted, bool, error) {
	var mine, others []string
	for _, n := range notes {
		if n.OrderRef == cmd.OrderRef {
			mine = append(mine, n.ID)
		} else {
			others = append(others, n.ID+" (order "+n.OrderRef+")")
		}
	}
	switch {
	case len(mine) > 0:
		return posted{outcome: despatchFound, id: strings.Join(mine, ",")}, true, nil
	case len(others) > 0:
		return posted{outcome: despatchRejected, reason: fmt.Sprintf("reference %s is taken by despatch note %s: a second note with it is not created",
			cmd.ShipmentID, strings.Join(others, ", "))}, true, nil
	}
	return posted{}, false, nil
}

// call makes one call to Prima after a token of the bucket, unless a
// partition was revoked since the transaction began, and counts it.
func (s *DespatchSink) call(ctx context.Context, name string, fn func(context.Context) error) error {
	if err := s.pace.take(ctx); err != nil {
		return err
	}
	// The read lock: the lanes call at once, and a revoke waits for all.
	s.calls.RLock()
	if s.revoked {
		s.calls.RUnlock()
		return errDespatchRevoked
	}
	err := fn(callsContext(ctx)) // not cut short by another lane's failure
	s.calls.RUnlock()
	if ctx.Err() != nil {
		return ctx.Err() // the batch stopped meanwhile: what the call did is redone, looking up first
	}
	var ae *APIError
	outcome := "ok"
	switch {
	case err == nil:
	case !errors.As(err, &ae):
		outcome = "not_sent" // refused by the client: Prima never saw it
	case !ae.Retryable:
		outcome = "refused" // Prima answered: it is up
	case ae.Throttled():
		outcome = "throttled"
	default:
		outcome = "failed"
		s.o.Logger.Warn("prima despatch sink: call failed; retrying", "call", name, "err", err)
	}
	s.o.Metrics.despatchCalls.WithLabelValues(name, outcome).Inc()
	s.health(outcome)
	return err
}

// health tracks Prima's state from call outcomes, in the order the lanes
// report them: DownAfter failures in a row pause the sink (not ready: it
// waits on the commands in hand), and any answer resumes it.
func (s *DespatchSink) health(outcome string) {
	s.mu.Lock()
	var changed, paused bool
	switch outcome {
	case "ok", "refused":
		s.failures = 0
		changed, s.paused = s.paused, false
	case "failed":
		s.failures++
		changed = !s.paused && s.failures >= s.cfg.DownAfter
		s.paused = s.paused || changed
	}
	paused, joined, n := s.paused, s.joined, s.failures
	s.mu.Unlock()
	if !changed {
		return
	}
	if paused {
		s.o.Metrics.despatchPaused.Set(1)
		s.o.Logger.Error("prima despatch sink: Prima keeps failing; waiting for it, commands are held", "failures", n)
		s.o.setReady(false)
		return
	}
	s.o.Metrics.despatchPaused.Set(0)
	s.o.Logger.Info("prima despatch sink: Prima answers again; resumed")
	if joined {
		s.o.setReady(true)
	}
}
