package clarus

import (
	"context"
	"errors"
	"fmt"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Cancelling a goods out: every one that stands with the reference, unless
// picking has started on one, and what Clarus's answers to writes mean.

// cancel cancels every goods out that stands with cmd's reference, unless
// one of them is being picked or was dispatched.
func (s *OrderSink) cancel(ctx context.Context, cmd *schemas.ClarusOrderCommand) (answer, error) {
	s.takeRefusedCancel(cmd.OrderRef)
	var sent []string // goods outs a cancel was sent for: a deleted one is no longer listed
	backoff := s.backoffBase()
	for {
		var all []GoodsOut
		if err := s.retry(ctx, "lookup", func(ctx context.Context) (err error) {
			all, err = s.api.GoodsOutsByReference(ctx, cmd.OrderRef)
			return err
		}); err != nil {
			return answer{}, err
		}
		var active []GoodsOut
		var cancelled string
		for _, g := range all {
			switch {
			case g.Active():
				active = append(active, g)
			case cancelled == "":
				cancelled = g.ID
			}
		}
		if len(active) == 0 {
			switch {
			case len(sent) > 0:
				return answer{status: schemas.OrderCancelled, clarusID: sent[0]}, nil
			case cancelled != "":
				return answer{status: schemas.OrderCancelled, clarusID: cancelled, reason: "already cancelled in Clarus"}, nil
			}
			return answer{status: schemas.OrderCancelled, reason: fmt.Sprintf("no goods out with reference %s in Clarus: nothing to cancel", cmd.OrderRef)}, nil
		}
		for _, g := range active {
			if !g.Unpicked() {
				return s.refuseCancel(cmd, fmt.Sprintf("picking started: goods out %s is %s", g.ID, g.Status)), nil
			}
		}
		again := false
		for _, g := range active {
			err := s.attempt(ctx, "cancel", func(ctx context.Context) error { return s.api.CancelGoodsOut(ctx, g.ID) })
			if err == nil {
				sent = append(sent, g.ID)
				continue
			}
			if stopped(ctx, err) {
				return answer{}, err
			}
			if reason, ok := refusal(err); ok {
				return s.refuseCancel(cmd, "Clarus refused the cancel: "+reason), nil
			}
			if ambiguous(err) {
				sent = append(sent, g.ID)
			}
			// A failure, or a 404 (the goods out went meanwhile, or the
			// path is wrong): wait, then look again.
			if err := s.wait(ctx, err, &backoff); err != nil {
				return answer{}, err
			}
			again = true
			break
		}
		if !again {
			return answer{status: schemas.OrderCancelled, clarusID: sent[0]}, nil
		}
	}
}

// refuseCancel acks a cancel rejected, remembering it for a create of the
// same version that may follow.
func (s *OrderSink) refuseCancel(cmd *schemas.ClarusOrderCommand, reason string) answer {
	s.mu.Lock()
	if len(s.refusedCancels) >= maxRefusedCancels {
		clear(s.refusedCancels) // a hint only: forgetting costs a look-up's judgement, not correctness
	}
	s.refusedCancels[cmd.OrderRef] = refusedCancel{version: cmd.OrderVersion, reason: reason}
	s.mu.Unlock()
	return rejected("%s", reason)
}

func (s *OrderSink) takeRefusedCancel(ref string) (refusedCancel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refusedCancels[ref]
	delete(s.refusedCancels, ref)
	return r, ok
}

// refusal returns Clarus's reason when err is Clarus refusing the write
// itself (400, 409, 413, 422): a validation rejection, never retried.
func refusal(err error) (string, bool) {
	var ae *APIError
	if !errors.As(err, &ae) {
		return "", false
	}
	switch ae.Status {
	case 400, 409, 413, 422:
		msg := ae.Message
		if msg == "" {
			msg = ae.Body
		}
		return fmt.Sprintf("HTTP %d: %s", ae.Status, msg), true
	}
	return "", false
}

// ambiguous reports whether a failed write may have been applied.
func ambiguous(err error) bool {
	var te *TransientError
	var ae *APIError
	switch {
	case errors.As(err, &te):
		return te.Ambiguous
	case errors.As(err, &ae):
		return false // Clarus answered, and not with success
	}
	return true // unknown: assume the worst, the look-up settles it
}
