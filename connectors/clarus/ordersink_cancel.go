package clarus

import (
	"context"
	"fmt"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Cancelling a goods out: every one that stands with the reference, unless
// picking has started on one, and what Clarus's answers to writes mean.

// cancel cancels every goods out that stands with cmd's reference, unless
// one of them is being picked or was dispatched.
func (s *OrderSink) cancel(ctx context.Context, cmd *schemas.ClarusOrderCommand) (answer, error) {
	s.takeRefusedCancel(cmd.OrderRef)
	return s.cancelAll(ctx, cmd.OrderRef, "goods out", string(schemas.OrderCancelled), func(ctx context.Context) ([]standingRecord, error) {
		all, err := s.lookup(ctx, cmd.OrderRef)
		out := make([]standingRecord, 0, len(all))
		for _, g := range all {
			r := standingRecord{id: g.ID, active: g.Active()}
			if !g.Unpicked() {
				r.locked = fmt.Sprintf("picking started: goods out %s is %s", g.ID, g.Status)
			}
			out = append(out, r)
		}
		return out, err
	}, s.api.CancelGoodsOut, func(reason string) answer { return s.refuseCancel(cmd, reason) })
}

// refuseCancel acks a cancel rejected, remembering it for a create of the
// same version that may follow.
func (s *OrderSink) refuseCancel(cmd *schemas.ClarusOrderCommand, reason string) answer {
	s.mu.Lock()
	if len(s.refusedCancels) >= maxRefusedHints {
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
