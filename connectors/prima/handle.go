package prima

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// maxCallLines caps the lines of one merged Prima call; the stock
// processor's commands carry at most 5,000 each.
const maxCallLines = 5000

// command is a decoded command with the record it came from.
type command struct {
	rec *kgo.Record
	cmd schemas.PrimaStockCommand
}

// handlePartition handles the records a poll returned for one partition,
// in order, then commits the last one. Commands of one warehouse are
// merged into one Prima call (see mergeCommands): every stock processor
// partition pushes each warehouse at the same instants, and all of a
// warehouse's commands share its key, so one poll usually holds one
// command per processor partition for it, and Prima gets one call per
// warehouse instead of one per partition.
func (s *Sink) handlePartition(ctx context.Context, recs []*kgo.Record) error {
	p := recs[0].Partition
	if s.st.needsSync(p) {
		if err := s.syncAssigned(ctx); err != nil {
			return err
		}
	}
	var cmds []command
	for _, rec := range recs {
		c := command{rec: rec}
		err := s.decode(ctx, rec, &c.cmd)
		if err == nil {
			cmds = append(cmds, c)
			continue
		}
		if !schemas.IsPermanent(err) {
			return err
		}
		if err := s.parkPoison(ctx, rec, "decode: "+err.Error()); err != nil {
			return lostIsNil(err)
		}
	}
	for _, g := range mergeCommands(cmds, maxCallLines) {
		if err := s.handleGroup(ctx, p, g); err != nil {
			return lostIsNil(err)
		}
	}
	return s.commit(ctx, recs[len(recs)-1])
}

// decode decodes a command, waiting out a registry that cannot be
// reached (the record is fine); it returns a permanent error as is.
func (s *Sink) decode(ctx context.Context, rec *kgo.Record, cmd *schemas.PrimaStockCommand) error {
	for {
		err := s.serde.Decode(ctx, rec.Value, cmd)
		if err == nil || schemas.IsPermanent(err) {
			return err
		}
		s.o.Logger.Warn("prima sink: decode failed; retrying", "err", err)
		if err := sleep(ctx, s.o.Clock, s.cfg.BackoffMax); err != nil {
			return err
		}
	}
}

// mergeCommands groups commands of one partition by warehouse, in order,
// for one Prima call each. A group closes when a command repeats a Clarus
// code already in it (an older and a newer level of one key: they go in
// order, in two calls) or would take it past maxLines, so a merged call
// does exactly what the commands one by one would have done.
func mergeCommands(cmds []command, maxLines int) [][]command {
	var groups [][]command
	open := map[string]int{} // warehouse -> index of its open group
	codes := map[int]map[string]bool{}
	lines := map[int]int{}
	for _, c := range cmds {
		i, ok := open[c.cmd.Warehouse]
		if ok {
			fits := lines[i]+len(c.cmd.Lines) <= maxLines
			for _, l := range c.cmd.Lines {
				if !fits || codes[i][l.SKU] {
					ok = false
					break
				}
			}
		}
		if !ok {
			i = len(groups)
			groups = append(groups, nil)
			open[c.cmd.Warehouse], codes[i] = i, map[string]bool{}
		}
		groups[i] = append(groups[i], c)
		lines[i] += len(c.cmd.Lines)
		for _, l := range c.cmd.Lines {
			codes[i][l.SKU] = true
		}
	}
	return groups
}

// mergedRef is the batch reference of a merged call: the command's own
// when alone, else derived from the commands' references, so a call
// repeated after a crash over the same commands carries the same one.
func mergedRef(g []command) string {
	if len(g) == 1 {
		return g[0].cmd.BatchRef
	}
	h := sha256.New()
	for _, c := range g {
		h.Write([]byte(c.cmd.BatchRef))
		h.Write([]byte{'\n'})
	}
	return "stock:" + g[0].cmd.Warehouse + ":merged:" + hex.EncodeToString(h.Sum(nil)[:8])
}

// handleGroup maps, pushes or parks one warehouse's commands in one call
// and writes what they changed.
func (s *Sink) handleGroup(ctx context.Context, p int32, g []command) error {
	ref, wh := mergedRef(g), g[0].cmd.Warehouse
	var (
		pl              commandPlan
		asOf            time.Time
		events, records []*kgo.Record
		applies         []func()
	)
	for _, c := range g {
		s.st.mu.Lock()
		cp := planCommand(&c.cmd, p, s.st.items, s.st.held, s.st.pushed)
		s.st.mu.Unlock()
		if len(cp.stale) > 0 {
			s.o.Metrics.staleLines.Add(float64(len(cp.stale)))
			s.o.Logger.Warn("prima sink: lines older than what Prima acknowledged were not sent", "batch", c.cmd.BatchRef, "clarus_codes", cp.stale)
		}
		// Held levels are written under the command that held them.
		ev, held, apply, err := s.holdWrites(ctx, cp.hold, c.cmd.BatchRef)
		if err != nil {
			return err
		}
		events, records, applies = append(events, ev...), append(records, held...), append(applies, apply)
		pl.push, pl.hold, pl.unhold = append(pl.push, cp.push...), append(pl.hold, cp.hold...), append(pl.unhold, cp.unhold...)
		if c.cmd.AsOf.After(asOf) {
			asOf = c.cmd.AsOf
		}
	}
	if len(g) > 1 {
		s.o.Logger.Debug("prima sink: commands merged into one call", "batch", ref, "warehouse", wh, "commands", len(g), "lines", len(pl.push))
	}

	// Held levels, and the marks of the levels about to be pushed, are
	// written before Prima is called and before the offset is committed:
	// a held line survives a crash, and the parity check never judges a
	// level whose push is in flight.
	marks, applyMarks, _, err := s.pushedWrites(pl.push, wh, ref, p, statePushing, "")
	if err != nil {
		return err
	}
	if err := s.write(ctx, p, events, append(records, marks...), func() {
		for _, a := range applies {
			a()
		}
		applyMarks()
	}); err != nil {
		return err
	}
	if len(pl.hold) > 0 {
		s.o.Metrics.heldLines.Add(float64(len(pl.hold)))
	}
	if len(pl.push) > 0 {
		res, err := s.push(ctx, p, StockBatch{Ref: ref, Warehouse: wh, AsOf: asOf, Lines: stockLines(pl.push)})
		if err != nil {
			return err
		}
		if res.parkReason != "" {
			if err := s.settle(ctx, p, pl.push, wh, ref, stateFailed, ref, nil); err != nil {
				return err
			}
			return s.parkBatch(ctx, g, ref, len(pl.push), res.attempts, res.parkReason)
		}
	}
	return s.settle(ctx, p, pl.push, wh, ref, statePushed, "", pl.unhold)
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
