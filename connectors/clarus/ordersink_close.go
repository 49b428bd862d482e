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
	backoff := s.backoffBase()
	for {
		var all []GoodsOut
		if err := s.retry(ctx, "lookup", func(ctx context.Context) (err error) {
			all, err = s.api.GoodsOutsByReference(ctx, cmd.OrderRef)
			return err
		}); err != nil {
			return answer{}, err
		}
		var done []GoodsOut
		for _, g := range all {
			if g.Status == GoodsOutCompleted {
				done = append(done, g)
			}
		}
		if len(done) == 0 {
			if len(all) == 0 {
				return rejected("no goods out with reference %s in Clarus: nothing to close", cmd.OrderRef), nil
			}
			g := all[len(all)-1]
			return rejected("goods out %s is %s, not dispatched (COMPLETED): not closed", g.ID, g.Status), nil
		}
		again := false
		for _, g := range done {
			err := s.attempt(ctx, "close", func(ctx context.Context) error {
				return s.api.SetGoodsOutString(ctx, g.ID, ClosedField, ClosedMarker)
			})
			if err == nil {
				continue
			}
			if stopped(ctx, err) {
				return answer{}, err
			}
			if reason, ok := refusal(err); ok {
				return rejected("Clarus refused to close goods out %s: %s", g.ID, reason), nil
			}
			// A failure, or a 404 (the goods out went meanwhile): wait,
			// then look again. Setting string5 again is harmless, so what
			// may have been applied needs no look-up of its own.
			if err := s.wait(ctx, err, &backoff); err != nil {
				return answer{}, err
			}
			again = true
			break
		}
		if !again {
			a := answer{status: schemas.OrderClosed, clarusID: done[0].ID}
			if len(done) > 1 {
				a.reason = fmt.Sprintf("%d dispatched goods outs with reference %s: all closed", len(done), cmd.OrderRef)
			}
			return a, nil
		}
	}
}
