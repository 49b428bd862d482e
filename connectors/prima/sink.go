package prima

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// SinkGroup is the stock sink's consumer group.
const SinkGroup = "lockstep-prima-stock-sink"

// sinkStage names the sink in DLQ records and drift events.
const sinkStage = "prima-stock-sink"

// StockWriter is what the sink needs of Prima; *Client is one.
type StockWriter interface {
	UpdateStock(ctx context.Context, b StockBatch) error
	LookupStockBatch(ctx context.Context, ref string) (bool, error)
}

// Sink pushes lockstep.cmd.prima-stock commands to Prima, one at a time in
// partition order, through a token bucket. Failures are retried with
// backoff; an ambiguous one is looked up by batch reference before the
// batch is sent again; a batch that exhausts its budget is parked in the
// DLQ with a push_failed drift event. An offset is committed only after its
// command was applied or parked. While Prima is down, fetching pauses and
// a probe waits for it to come back.
type Sink struct {
	cfg   Config
	api   StockWriter
	serde *schemas.Serde
	o     Options
	cl    *kgo.Client

	cmdTopic, dlqTopic, driftTopic string

	bucket *bucket
	rng    *rand.Rand

	// mu is held around every call to Prima and by the revoke callback,
	// so once a partition is revoked no call for it is in flight and the
	// partition's new owner cannot be overtaken by an older batch.
	mu    sync.Mutex
	owned map[int32]bool

	failures int // consecutive failed calls, across commands
	paused   bool
}

// NewSink returns a sink consuming with a group client built from kopts.
func NewSink(cfg Config, api StockWriter, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	s := &Sink{cfg: cfg, api: api, serde: serde, o: o,
		cmdTopic:   o.TopicPrefix + schemas.TopicCmdPrimaStock,
		dlqTopic:   o.TopicPrefix + schemas.TopicDLQ,
		driftTopic: o.TopicPrefix + schemas.TopicDrift,
		bucket:     newBucket(cfg.RatePerSecond, cfg.Burst),
		rng:        rand.New(rand.NewPCG(o.Seed, 0x5eed)),
		owned:      map[int32]bool{},
	}
	cl, err := kgo.NewClient(append(slices.Clone(kopts),
		kgo.ConsumerGroup(SinkGroup),
		kgo.ConsumeTopics(s.cmdTopic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.revoked),
	)...)
	if err != nil {
		return nil, fmt.Errorf("prima: sink: kafka client: %w", err)
	}
	s.cl = cl
	return s, nil
}

// Close leaves the group and closes the client.
func (s *Sink) Close() { s.cl.Close() }

func (s *Sink) assigned(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps[s.cmdTopic] {
		s.owned[p] = true
	}
}

func (s *Sink) revoked(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps[s.cmdTopic] {
		delete(s.owned, p)
	}
}

// errLost stops work on a command whose partition moved to another member;
// its offset stays uncommitted, and the new owner pushes it.
var errLost = errors.New("prima: sink: partition revoked")

// guard runs one call to Prima for partition p while p is still owned.
func (s *Sink) guard(p int32, call func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.owned[p] {
		return errLost
	}
	return call()
}

// Run consumes and pushes until ctx ends. Only a failure to park (Kafka
// refusing the DLQ) stops it.
func (s *Sink) Run(ctx context.Context) error {
	for {
		fs := s.cl.PollRecords(ctx, 64)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			s.o.Logger.Warn("prima sink: fetch error", "topic", t, "partition", p, "err", err)
		})
		for _, rec := range fs.Records() {
			if err := s.handle(ctx, rec); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

// handle pushes or parks one command and commits its offset.
func (s *Sink) handle(ctx context.Context, rec *kgo.Record) error {
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
	b := StockBatch{Ref: cmd.BatchRef, Warehouse: cmd.Warehouse, AsOf: cmd.AsOf, Lines: make([]StockLine, len(cmd.Lines))}
	for i, l := range cmd.Lines {
		b.Lines[i] = StockLine(l)
	}
	res, err := s.push(ctx, rec.Partition, b)
	switch {
	case errors.Is(err, errLost):
		return nil
	case err != nil:
		return err
	case res.parkReason != "":
		return s.park(ctx, rec, &cmd, res.attempts, res.parkReason)
	}
	return s.commit(ctx, rec)
}

// commit commits rec's offset; a partition lost meanwhile is not an error,
// its next owner repeats the push, which is harmless.
func (s *Sink) commit(ctx context.Context, rec *kgo.Record) error {
	if err := s.cl.CommitRecords(ctx, rec); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.o.Logger.Warn("prima sink: offset commit failed; the command will be pushed again", "partition", rec.Partition, "offset", rec.Offset, "err", err)
	}
	return nil
}

// pause stops fetching while Prima is down; resume starts it again.
func (s *Sink) pause() {
	if s.paused {
		return
	}
	s.paused = true
	s.cl.PauseFetchPartitions(map[string][]int32{s.cmdTopic: s.ownedPartitions()})
	s.o.Metrics.paused.Set(1)
	s.o.Logger.Warn("prima is down: fetching paused until a probe succeeds", "consecutive_failures", s.failures)
}

func (s *Sink) resume() {
	if !s.paused {
		return
	}
	s.paused = false
	s.cl.ResumeFetchPartitions(s.cl.PauseFetchPartitions(nil))
	s.o.Metrics.paused.Set(0)
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

// park puts rec in the DLQ with the reason and its coordinates, and opens a
// push_failed drift event for operations, then commits rec's offset so the
// sink moves on. cmd is nil when rec could not be decoded. Both records
// carry ids derived from rec's coordinates, so parking the same record
// twice (a crash between parking and committing) collapses downstream.
func (s *Sink) park(ctx context.Context, rec *kgo.Record, cmd *schemas.PrimaStockCommand, attempts int, reason string) error {
	now := s.o.Clock.Now().UTC()
	coords := fmt.Sprintf("%s/%d@%d", rec.Topic, rec.Partition, rec.Offset)
	dl := &schemas.DeadLetter{
		Meta: schemas.Meta{EventID: "dlq:" + sinkStage + ":" + coords, Source: schemas.SourceLockstep,
			OccurredAt: now, IngestedAt: now},
		OriginalTopic: rec.Topic, OriginalPartition: rec.Partition, OriginalOffset: rec.Offset,
		OriginalTimestamp: rec.Timestamp, OriginalKey: rec.Key, OriginalValue: rec.Value,
		Reason: reason, Stage: sinkStage, FailedAt: now, Attempts: int32(attempts),
	}
	if dl.OriginalValue == nil {
		dl.OriginalValue = []byte{}
	}
	for _, h := range rec.Headers {
		dl.OriginalHeaders = append(dl.OriginalHeaders, schemas.Header{Key: h.Key, Value: h.Value})
	}
	value, err := s.serde.Encode(ctx, dl)
	if err != nil {
		s.o.Logger.Warn("prima sink: dead letter envelope failed; keeping the original bytes", "err", err)
		value = rec.Value
	}
	headers := append(append(make([]kgo.RecordHeader, 0, len(rec.Headers)+5), rec.Headers...),
		kgo.RecordHeader{Key: stream.HeaderDLQReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: stream.HeaderDLQStage, Value: []byte(sinkStage)},
		kgo.RecordHeader{Key: stream.HeaderDLQTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: stream.HeaderDLQPartition, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
		kgo.RecordHeader{Key: stream.HeaderDLQOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
	)
	recs := []*kgo.Record{{Topic: s.dlqTopic, Key: rec.Key, Value: value, Headers: headers}}

	drift := &schemas.DriftEvent{
		Kind: schemas.DriftPushFailed, Owner: schemas.OwnerOperations, Status: schemas.DriftOpen,
		Detail: fmt.Sprintf("Stock command at %s was not pushed to Prima (%s); it is parked in %s: re-drive it once Prima accepts it.",
			coords, reason, s.dlqTopic),
	}
	drift.DiscrepancyID = "push_failed:prima-stock:" + coords
	if cmd != nil {
		wh := cmd.Warehouse
		drift.Warehouse = &wh
		drift.DiscrepancyID = "push_failed:prima-stock:" + cmd.BatchRef
		drift.Detail = fmt.Sprintf("Stock batch %s (%d lines, warehouse %s) was not pushed to Prima after %d attempts (%s); it is parked in %s at %s.",
			cmd.BatchRef, len(cmd.Lines), wh, attempts, reason, s.dlqTopic, coords)
	}
	drift.Meta = schemas.Meta{EventID: drift.DiscrepancyID + ":open", Source: schemas.SourceLockstep, OccurredAt: now, IngestedAt: now}
	dv, err := s.serde.Encode(ctx, drift)
	if err != nil {
		return fmt.Errorf("prima: sink: encode drift event: %w", err)
	}
	recs = append(recs, &kgo.Record{Topic: s.driftTopic, Key: []byte(drift.DiscrepancyID), Value: dv})

	if err := s.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("prima: sink: park %s: %w", coords, err)
	}
	s.o.Metrics.parked.Inc()
	s.o.Metrics.pushes.WithLabelValues("parked").Inc()
	s.o.Logger.Warn("prima sink: command parked", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset,
		"attempts", attempts, "reason", reason)
	return s.commit(ctx, rec)
}
