package prima

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/schemas"
)

// What the sink does when Prima fails it: pause while Prima is down, park
// what Prima will never take.

// pause stops fetching while Prima is down; resume starts it again. The
// sink is not ready meanwhile.
func (s *Sink) pause() {
	if s.paused {
		return
	}
	s.paused = true
	s.cl.PauseFetchPartitions(map[string][]int32{s.cmdTopic: s.ownedPartitions()})
	s.o.Metrics.paused.Set(1)
	s.o.setReady(false)
	s.o.Logger.Warn("prima is down: fetching paused until a probe succeeds", "consecutive_failures", s.failures)
}

func (s *Sink) resume() {
	if !s.paused {
		return
	}
	s.paused = false
	s.cl.ResumeFetchPartitions(s.cl.PauseFetchPartitions(nil))
	s.o.Metrics.paused.Set(0)
	s.o.setReady(true)
	s.o.Logger.Info("prima is back: fetching resumed")
}

func (s *Sink) ownedPartitions() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps []int32
	for p := range s.owned {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// pushFailedEvent opens a push_failed discrepancy for operations.
func pushFailedEvent(now time.Time, id, warehouse, detail string) *schemas.DriftEvent {
	ev := &schemas.DriftEvent{
		Meta:          schemas.Meta{EventID: id + ":open", Source: schemas.SourceLockstep, OccurredAt: now, IngestedAt: now},
		DiscrepancyID: id, Kind: schemas.DriftPushFailed, Owner: schemas.OwnerOperations, Status: schemas.DriftOpen, Detail: detail,
	}
	if warehouse != "" {
		ev.Warehouse = &warehouse
	}
	return ev
}

// pushHealedEvent resolves the push_failed discrepancy of batch failedRef:
// no level it failed to push is outstanding any more.
func pushHealedEvent(now time.Time, failedRef, byRef, warehouse string) *schemas.DriftEvent {
	id := "push_failed:prima-stock:" + failedRef
	ev := pushFailedEvent(now, id, warehouse,
		fmt.Sprintf("Every level of batch %s that Prima did not take is in Prima now or was replaced by a newer push (last: batch %s).", failedRef, byRef))
	ev.EventID, ev.Status = id+":resolved:"+byRef, schemas.DriftResolved
	return ev
}

// parkPoison puts a record that is not a command in the DLQ with the
// reason and its coordinates, and opens a push_failed drift event for
// operations named after them, so parking it twice (a crash before the
// offset commit) collapses downstream.
func (s *Sink) parkPoison(ctx context.Context, rec *kgo.Record, reason string) error {
	now := s.o.Clock.Now().UTC()
	coords := coordsOf(rec)
	drift := pushFailedEvent(now, "push_failed:prima-stock:"+coords, "",
		fmt.Sprintf("Stock command at %s was not pushed to Prima (%s); it is parked in %s: re-drive it once Prima accepts it.",
			coords, reason, s.dlqTopic))
	return s.park(ctx, []*kgo.Record{rec}, drift, 0, reason)
}

// parkBatch puts the commands of a call Prima did not take in the DLQ, and
// opens one push_failed drift event for operations under the call's
// reference. Their levels are failed in lockstep.stock-pushed already and
// the sink pushes them again (retry.go): the DLQ is the record of what
// happened, not a queue anyone must re-drive.
func (s *Sink) parkBatch(ctx context.Context, g []command, ref string, lines, attempts int, reason string) error {
	recs := make([]*kgo.Record, len(g))
	coords := make([]string, len(g))
	for i, c := range g {
		recs[i], coords[i] = c.rec, coordsOf(c.rec)
	}
	wh := g[0].cmd.Warehouse
	drift := pushFailedEvent(s.o.Clock.Now().UTC(), "push_failed:prima-stock:"+ref, wh,
		fmt.Sprintf("Stock batch %s (%d lines, warehouse %s) was not pushed to Prima after %d attempts (%s); it is parked in %s at %s, and the sink pushes its levels again every %s until Prima takes them.",
			ref, lines, wh, attempts, reason, s.dlqTopic, strings.Join(coords, ", "), s.cfg.RetryFailedAfter))
	return s.park(ctx, recs, drift, attempts, reason)
}

func coordsOf(rec *kgo.Record) string {
	return fmt.Sprintf("%s/%d@%d", rec.Topic, rec.Partition, rec.Offset)
}

// park writes the dead letters of recs and the drift event. The caller
// commits the offsets.
func (s *Sink) park(ctx context.Context, recs []*kgo.Record, drift *schemas.DriftEvent, attempts int, reason string) error {
	now := s.o.Clock.Now().UTC()
	out := make([]*kgo.Record, 0, len(recs)+1)
	for _, rec := range recs {
		dl := deadletter.Letter{Record: rec, Reason: reason, Stage: sinkStage, FailedAt: now, Attempts: int32(attempts)}
		r, err := deadletter.Record(ctx, s.dlqTopic, dl, deadletter.Avro(s.serde))
		if err != nil {
			s.o.Logger.Warn("prima sink: dead letter envelope failed; keeping the original bytes", "err", err)
		}
		out = append(out, r)
	}
	dr, err := driftRecord(ctx, s.serde, s.driftTopic, drift)
	if err != nil {
		return fmt.Errorf("prima: sink: %w", err)
	}
	out = append(out, dr)
	if err := s.cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
		return fmt.Errorf("prima: sink: park %s: %w", coordsOf(recs[0]), err)
	}
	s.o.Metrics.parked.Add(float64(len(recs)))
	s.o.Metrics.pushes.WithLabelValues("parked").Inc()
	for _, rec := range recs {
		s.o.Logger.Warn("prima sink: command parked", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset,
			"attempts", attempts, "reason", reason)
	}
	return nil
}
