package prima

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// handle maps, pushes or parks one command, writes what it changed and
// commits its offset.
func (s *Sink) handle(ctx context.Context, rec *kgo.Record) error {
	p := rec.Partition
	if s.st.needsSync(p) {
		if err := s.syncAssigned(ctx); err != nil {
			return err
		}
	}
	var cmd schemas.PrimaStockCommand
	for {
		err := s.serde.Decode(ctx, rec.Value, &cmd)
		if err == nil {
			break
		}
		if schemas.IsPermanent(err) {
			return s.park(ctx, rec, nil, 0, "decode: "+err.Error())
		}
		// The registry is unreachable: the record is fine, wait for it.
		s.o.Logger.Warn("prima sink: decode failed; retrying", "err", err)
		if err := sleep(ctx, s.o.Clock, s.cfg.BackoffMax); err != nil {
			return err
		}
	}
	s.st.mu.Lock()
	pl := planCommand(&cmd, p, s.st.items, s.st.held, s.st.pushed)
	s.st.mu.Unlock()
	if len(pl.stale) > 0 {
		s.o.Metrics.staleLines.Add(float64(len(pl.stale)))
		s.o.Logger.Warn("prima sink: lines older than what Prima acknowledged were not sent", "batch", cmd.BatchRef, "clarus_codes", pl.stale)
	}

	// Held levels, and the marks of the levels about to be pushed, are
	// written before Prima is called and before the offset is committed:
	// a held line survives a crash, and the parity check never judges a
	// level whose push is in flight.
	events, held, apply, err := s.holdWrites(ctx, pl.hold, cmd.BatchRef)
	if err != nil {
		return err
	}
	marks, applyMarks, _, err := s.pushedWrites(pl.push, cmd.Warehouse, cmd.BatchRef, p, statePushing, "")
	if err != nil {
		return err
	}
	if err := s.write(ctx, p, events, append(held, marks...), func() { apply(); applyMarks() }); err != nil {
		return lostIsNil(err)
	}
	if len(pl.hold) > 0 {
		s.o.Metrics.heldLines.Add(float64(len(pl.hold)))
	}
	if len(pl.push) > 0 {
		res, err := s.push(ctx, p, StockBatch{Ref: cmd.BatchRef, Warehouse: cmd.Warehouse, AsOf: cmd.AsOf, Lines: stockLines(pl.push)})
		if err != nil {
			return lostIsNil(err)
		}
		if res.parkReason != "" {
			if err := s.settle(ctx, p, pl.push, cmd.Warehouse, cmd.BatchRef, stateFailed, cmd.BatchRef, nil); err != nil {
				return lostIsNil(err)
			}
			return s.park(ctx, rec, &cmd, res.attempts, res.parkReason)
		}
	}
	if err := s.settle(ctx, p, pl.push, cmd.Warehouse, cmd.BatchRef, statePushed, "", pl.unhold); err != nil {
		return lostIsNil(err)
	}
	return s.commit(ctx, rec)
}

func lostIsNil(err error) error {
	if errors.Is(err, errLost) {
		return nil
	}
	return err
}

func stockLines(ls []pushLine) []StockLine {
	out := make([]StockLine, len(ls))
	for i, l := range ls {
		out[i] = StockLine{SKU: l.SKU, Available: l.Available}
	}
	return out
}

// The sink's writes to Kafka besides the DLQ: drift events, held levels
// and pushed levels. Each write is built with the change to memory that
// goes with it, and applied to memory only once Kafka has it.

// write produces events, then state, while partition p is owned, then
// applies the change to memory. Events go first and alone: a state record
// is what a restart goes by, so a crash between the two writes the same
// events again (same ids, collapsed downstream) instead of losing them.
// Once p is revoked no write for it happens, so its next owner, catching
// up, reads everything this sink wrote for it.
func (s *Sink) write(ctx context.Context, p int32, events, state []*kgo.Record, apply func()) error {
	return s.guard(p, func() error {
		for _, recs := range [][]*kgo.Record{events, state} {
			if len(recs) == 0 {
				continue
			}
			if err := s.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				return fmt.Errorf("prima: sink: write %s: %w", recs[0].Topic, err)
			}
		}
		s.st.mu.Lock()
		apply()
		s.o.Metrics.held.Set(float64(len(s.st.held)))
		s.st.mu.Unlock()
		return nil
	})
}

// settle records how a push of lines ended (pushed or failed), and
// releases the held levels it superseded: their entries are tombstoned
// and their sku_unmapped drift resolved. failRef names the push_failed
// discrepancy that covers failed lines ("" keeps the one they had: a retry
// that failed again). A push_failed discrepancy no key names any more
// (its lines pushed since, or covered by a newer one) is resolved.
func (s *Sink) settle(ctx context.Context, p int32, lines []pushLine, warehouse, ref, state, failRef string, unhold []heldLevel) error {
	recs, apply, cleared, err := s.pushedWrites(lines, warehouse, ref, p, state, failRef)
	if err != nil {
		return err
	}
	now := s.o.Clock.Now().UTC()
	var events []*kgo.Record
	for _, fr := range cleared {
		dr, err := driftRecord(ctx, s.serde, s.driftTopic, pushHealedEvent(now, fr, ref, warehouse))
		if err != nil {
			return err
		}
		events = append(events, dr)
	}
	for _, h := range unhold {
		dr, err := driftRecord(ctx, s.serde, s.driftTopic, unmappedEvent(h, schemas.DriftResolved, ref, now))
		if err != nil {
			return err
		}
		tomb, _ := stateRecord(s.heldTopic, h.key(), nil)
		events, recs = append(events, dr), append(recs, tomb)
	}
	if len(cleared) > 0 {
		s.o.Logger.Info("prima sink: levels Prima had refused are pushed now; push_failed resolved", "batch", ref, "resolved", cleared)
	}
	return s.write(ctx, p, events, recs, func() {
		apply()
		for _, h := range unhold {
			delete(s.st.held, h.key())
		}
	})
}

// holdWrites returns the records that hold levels, with a sku_unmapped
// drift event opened for a new hold or updated when the level changed, and
// the change to memory that goes with them.
func (s *Sink) holdWrites(ctx context.Context, hold []heldLevel, cause string) (events, state []*kgo.Record, apply func(), err error) {
	now := s.o.Clock.Now().UTC()
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	for _, h := range hold {
		r, err := stateRecord(s.heldTopic, h.key(), h)
		if err != nil {
			return nil, nil, nil, err
		}
		state = append(state, r)
		status := schemas.DriftOpen
		if old, ok := s.st.held[h.key()]; ok {
			if old.Available == h.Available {
				continue // the same level, newer: nothing to tell
			}
			status = schemas.DriftUpdated
		}
		dr, err := driftRecord(ctx, s.serde, s.driftTopic, unmappedEvent(h, status, cause, now))
		if err != nil {
			return nil, nil, nil, err
		}
		events = append(events, dr)
	}
	return events, state, func() {
		for _, h := range hold {
			s.st.held[h.key()] = h
		}
	}, nil
}

// pushedWrites returns the lockstep.stock-pushed records of lines in state,
// the change to memory that goes with them, and the push_failed
// discrepancies no key will name once they are written. A pushed line
// moves the key's ordering guard (AppliedAsOf) forward and clears its
// FailedRef; a failed one leaves the guard and names failRef (or keeps its
// own when failRef is empty); a line being pushed keeps both.
func (s *Sink) pushedWrites(lines []pushLine, warehouse, ref string, p int32, state, failRef string) ([]*kgo.Record, func(), []string, error) {
	now := s.o.Clock.Now().UTC()
	entries := make([]pushedLevel, len(lines))
	recs := make([]*kgo.Record, len(lines))
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	was := map[string]bool{} // the discrepancies these lines named
	for i, l := range lines {
		e := pushedLevel{SKU: l.SKU, ClarusCode: l.ClarusCode, Warehouse: warehouse, Available: l.Available, AsOf: l.AsOf,
			BatchRef: ref, Partition: p, State: state, At: now}
		prev := s.st.pushed[e.key()]
		e.AppliedAsOf, e.FailedRef = prev.AppliedAsOf, prev.FailedRef
		if prev.FailedRef != "" {
			was[prev.FailedRef] = true
		}
		switch state {
		case statePushed:
			if l.AsOf.After(e.AppliedAsOf) {
				e.AppliedAsOf = l.AsOf
			}
			e.FailedRef = ""
		case stateFailed:
			if failRef != "" {
				e.FailedRef = failRef
			}
		}
		r, err := stateRecord(s.pushedTopic, e.key(), e)
		if err != nil {
			return nil, nil, nil, err
		}
		entries[i], recs[i] = e, r
	}
	return recs, func() {
		for _, e := range entries {
			s.st.setPushed(e)
		}
	}, s.st.unnamedAfter(was, entries), nil
}
