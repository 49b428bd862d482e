package clarus

import (
	"context"
	"fmt"

	"github.com/lockstep-dev/lockstep/schemas"
)

// Closing a goods out: Prima holds the despatch notes of its shipments, so
// the fulfilment is closed on both sides. The sink records it on the
// dispatched goods out itself, where the warehouse sees it: string5 set to
// ClosedMarker.

// close marks every dispatched (COMPLETED) goods out with cmd's reference
// closed. A goods out that has not left, or none at all, is acked
// rejected: there is nothing dispatched to close.
func (s *OrderSink) close(ctx context.Context, cmd *schemas.ClarusOrderCommand) (answer, error) {
	// Setting string5 again is harmless, so what may have been applied
	// needs no look-up of its own: every dispatched goods out is written
	// again after a failure.
	done, a, err := s.writeAll(ctx, "close", false, func(ctx context.Context, _ []string) ([]string, *answer, error) {
		all, err := s.lookup(ctx, cmd.OrderRef)
		if err != nil {
			return nil, nil, err
		}
		var done []string
		for _, g := range all {
			if g.Status == GoodsOutCompleted {
				done = append(done, g.ID)
			}
		}
		switch {
		case len(done) > 0:
			return done, nil, nil
		case len(all) == 0:
			a := rejected("no goods out with reference %s in Clarus: nothing to close", cmd.OrderRef)
			return nil, &a, nil
		}
		g := all[len(all)-1]
		a := rejected("goods out %s is %s, not dispatched (COMPLETED): not closed", g.ID, g.Status)
		return nil, &a, nil
	}, func(ctx context.Context, id string) error {
		return s.api.SetGoodsOutString(ctx, id, ClosedField, ClosedMarker)
	},
		func(id, reason string) answer {
			return rejected("Clarus refused to close goods out %s: %s", id, reason)
		})
	if err != nil || a != nil {
		return deref(a), err
	}
	res := answer{status: string(schemas.OrderClosed), clarusID: done[0]}
	if len(done) > 1 {
		res.reason = fmt.Sprintf("%d dispatched goods outs with reference %s: all closed", len(done), cmd.OrderRef)
	}
	return res, nil
}
