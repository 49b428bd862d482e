package prima

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// DespatchSinkGroup is the despatch sink's consumer group, after the topic
// prefix.
const DespatchSinkGroup = "lockstep-prima-despatch"

// despatchStage names the despatch sink in DLQ records.
const despatchStage = "prima-despatch-sink"

const (
	despatchPollMax    = 32 // commands per poll, and so per transaction
	despatchTxnTimeout = 30 * time.Second
)

// DespatchSink posts lockstep.cmd.prima-despatch commands to Prima as
// despatch notes, one per Clarus shipment, whose reference is the
// shipment id. For one poll, what the commands produce and their offsets
// commit in one Kafka transaction, in the order of the commands.
//
// The commands of one poll are handled concurrently, up to
// Config.DespatchConcurrency at once, as a note costs Prima round trips
// and little else: one lane per reference, so that the commands of one
// shipment still go one after the other in offset order (two look-ups of
// one reference in flight together would both find nothing and both
// create). Every call of every lane waits for the one token bucket.
//
// Prima documents no idempotency: a note posted twice is two notes, and
// two invoices. So before every create the sink looks the reference up
// (DespatchNotes), and creates only when no note has it: the first
// attempt too, as a command may come again after a crash, a rebalance or
// an aborted transaction whose create reached Prima; and again after any
// failure that may have reached Prima (a timeout, a lost connection, a
// 5xx). The cost is one look-up per command, plus one per ambiguous
// failure: two calls per note where one would do if Prima kept
// references unique.
//
// A create that succeeds produces nothing: the note's confirmation is the
// source reading it back onto prima.despatch-notes, which is how a post
// Prima answered OK and did not keep is caught (missing_despatch). A note
// found already is the same. A refusal (RequestStatus ERROR, a SKU that
// cannot be spelt, the reference taken by another order's note) produces a
// failed schemas.DespatchNote on prima.despatch-notes and a dead letter
// with the command's coordinates and the reason; a command that cannot
// be decoded, or names no order or shipment, a dead letter alone.
// Failures that may pass (5xx, 429, no answer, locked or busy) are retried
// without end through the sink's token bucket, honouring Retry-After, with
// backoff: a shipment is never reported failed because Prima was down.
type DespatchSink struct {
	cfg   Config
	api   *Client
	serde *schemas.Serde
	o     Options
	kopts []kgo.Opt

	cmdTopic, notesTopic, dlqTopic string

	pace    *pacer
	workers int // lanes of one poll handled at once
	ran     atomic.Bool

	// calls is read-held around every Prima call, by every lane at once,
	// and write-held by the revoke callback: once a revoke returns, no
	// call is in flight, and none starts until the transaction that saw
	// the revoke has ended. The partitions' next owner redoes the
	// commands, looking up first.
	calls   sync.RWMutex
	revoked bool // guarded by calls

	// mu guards the group's and Prima's state, which the lanes' calls
	// report concurrently.
	mu       sync.Mutex
	joined   bool
	failures int // consecutive failed calls, across commands and lanes
	paused   bool
}

// NewDespatchSink returns a sink that posts through api and consumes with
// a group client built from kopts (seed brokers, TLS, SASL). It only
// validates; Run connects. o.TransactionalID must be unique per running
// sink; empty, it is o.TopicPrefix + "lockstep-prima-despatch".
func NewDespatchSink(cfg Config, api *Client, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*DespatchSink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if api == nil || serde == nil {
		return nil, errors.New("prima: despatch sink: needs a Prima client and a serde")
	}
	if o.TransactionalID == "" {
		o.TransactionalID = o.TopicPrefix + DespatchSinkGroup
	}
	o = o.withDefaults()
	p := o.TopicPrefix
	return &DespatchSink{cfg: cfg, api: api, serde: serde, o: o, kopts: slices.Clone(kopts),
		cmdTopic: p + schemas.TopicCmdPrimaDespatch, notesTopic: p + schemas.TopicDespatchNotes, dlqTopic: p + schemas.TopicDLQ,
		pace: newPacer(cmp.Or(cfg.DespatchRatePerSecond, 5), cmp.Or(cfg.DespatchBurst, 5), o.Seed, 0xde5a,
			o.Clock, cfg.BackoffMax, o.Metrics.despatchRateWaits),
		workers: cmp.Or(cfg.DespatchConcurrency, 4),
	}, nil
}

// Run joins the group and posts commands until ctx ends, then leaves the
// group and closes its client. Only Kafka failing the sink's transactions
// stops it; Prima failing only holds it on the command in hand. A command
// whose transaction did not commit is handled again, by this sink or the
// partition's next owner, looking up first. A DespatchSink runs once.
func (s *DespatchSink) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("prima: despatch sink: Run called twice")
	}
	defer s.o.setReady(false)
	sess, err := kgo.NewGroupTransactSession(append(slices.Clone(s.kopts),
		kgo.ConsumerGroup(s.o.TopicPrefix+DespatchSinkGroup), // the prefix namespaces a deployment
		kgo.ConsumeTopics(s.cmdTopic),
		kgo.TransactionalID(s.o.TransactionalID),
		kgo.TransactionTimeout(despatchTxnTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoke),
		kgo.OnPartitionsLost(s.revoke),
	)...)
	if err != nil {
		return fmt.Errorf("prima: despatch sink: kafka client: %w", err)
	}
	defer sess.Close() // leaves the group: the revoke waits for a call in flight
	// Fence a previous incarnation now, so that its open transaction is
	// aborted before this one reads the offsets it would have committed.
	if _, _, err := sess.Client().ProducerID(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("prima: despatch sink: init producer id: %w", err)
	}
	for ctx.Err() == nil {
		if s.isRevoked() {
			// The session reports one revoke per transaction: an empty
			// one ends it, so that the next revoke is reported too.
			if err := s.end(ctx, sess, nil, kgo.TryAbort); err != nil {
				return err
			}
		}
		fs := sess.PollRecords(ctx, despatchPollMax)
		if ctx.Err() != nil || fs.IsClientClosed() {
			break
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.o.Logger.Warn("prima despatch sink: fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		if recs := fs.Records(); len(recs) > 0 {
			if err := s.batch(ctx, sess, recs); err != nil {
				return err
			}
		}
	}
	return nil
}

// batch handles one poll's commands (handleAll), then commits what they
// produced with their offsets. When a partition was revoked or ctx ended
// part way it aborts and rewinds: the notes already created are found by
// the look-ups of whoever handles the commands again.
func (s *DespatchSink) batch(ctx context.Context, sess *kgo.GroupTransactSession, recs []*kgo.Record) error {
	done, err := s.handleAll(ctx, recs)
	try := kgo.TryCommit
	if err != nil {
		if !errors.Is(err, errDespatchRevoked) && ctx.Err() == nil {
			return err // Kafka failed the sink (a record that cannot be encoded)
		}
		try = kgo.TryAbort
	}
	var out []*kgo.Record
	for _, h := range done {
		out = append(out, h.records...)
	}
	committed, err := s.endCommitted(ctx, sess, out, try)
	if err != nil {
		return err
	}
	if !committed {
		sess.Client().SetOffsets(firstOffsets(recs))
		s.o.Logger.Info("prima despatch sink: transaction aborted; its commands will be handled again", "commands", len(recs))
		return nil
	}
	for _, h := range done {
		s.o.Metrics.despatch.WithLabelValues(h.outcome).Inc()
	}
	return nil
}

// handleAll handles recs in lanes, one per reference, up to s.workers
// lanes at once, and returns what each command produced, in recs' order:
// the transaction's records come out the same whichever lane finished
// first. A lane handles its commands in recs' order, one after the
// other: two commands of one shipment in flight together would both look
// the reference up before either created, and both create. The first
// error (a revoke, ctx ending, a record that cannot be encoded) stops
// every lane at its next call, cutting its waits short, and is returned
// once none is running, so no call outlives the batch. Only ctx ending
// cuts a call in flight short, as it did one lane at a time: another
// lane's failure lets it finish, since a create abandoned in flight may
// still be applied after the look-up of whoever handles it again.
func (s *DespatchSink) handleAll(ctx context.Context, recs []*kgo.Record) ([]despatchHandled, error) {
	cmds := make([]polledCommand, len(recs))
	var lanes [][]int // indexes into recs
	lane := map[string]int{}
	for i, r := range recs {
		c := &cmds[i]
		c.rec = r
		if err := decodeTable(ctx, s.serde, s.o, r, &c.cmd); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c.bad = err
		}
		ref := c.cmd.ShipmentID
		if c.bad != nil || ref == "" {
			// No reference, so no Prima call: a dead letter, alone.
			lanes = append(lanes, []int{i})
			continue
		}
		if l, ok := lane[ref]; ok {
			lanes[l] = append(lanes[l], i)
			continue
		}
		lane[ref] = len(lanes)
		lanes = append(lanes, []int{i})
	}

	lctx, stop := context.WithCancelCause(context.WithValue(ctx, callsCtxKey{}, ctx))
	defer stop(nil)
	done := make([]despatchHandled, len(recs))
	var next atomic.Int64 // the next lane to take, in order of first offset
	var wg sync.WaitGroup
	for range min(s.workers, len(lanes)) {
		wg.Go(func() {
			for l := int(next.Add(1) - 1); l < len(lanes) && lctx.Err() == nil; l = int(next.Add(1) - 1) {
				for _, i := range lanes[l] {
					h, err := s.handle(lctx, &cmds[i])
					if err != nil {
						// Only the first cause sticks: the lanes this
						// cancels report ctx's error after it.
						stop(err)
						return
					}
					done[i] = h // each index is written by one lane, read after Wait
				}
			}
		})
	}
	wg.Wait()
	if lctx.Err() != nil {
		return nil, context.Cause(lctx) // ctx's own when it ended first
	}
	return done, nil
}

// callsCtxKey keys, in a lane's context, the context its Prima calls run
// under: the sink's, which lanes stopping do not cancel (handleAll).
type callsCtxKey struct{}

// callsContext is the context for a Prima call made under ctx.
func callsContext(ctx context.Context) context.Context {
	if c, ok := ctx.Value(callsCtxKey{}).(context.Context); ok {
		return c
	}
	return ctx
}

// firstOffsets is where each partition of recs starts: where to rewind
// when their transaction aborts.
func firstOffsets(recs []*kgo.Record) map[string]map[int32]kgo.EpochOffset {
	first := map[string]map[int32]kgo.EpochOffset{}
	for _, r := range recs {
		if first[r.Topic] == nil {
			first[r.Topic] = map[int32]kgo.EpochOffset{}
		}
		if _, ok := first[r.Topic][r.Partition]; !ok {
			first[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset}
		}
	}
	return first
}

// end is endCommitted for a caller that needs no outcome.
func (s *DespatchSink) end(ctx context.Context, sess *kgo.GroupTransactSession, out []*kgo.Record, try kgo.TransactionEndTry) error {
	_, err := s.endCommitted(ctx, sess, out, try)
	return err
}

// endCommitted produces out in a transaction and ends it, committing the
// consumed offsets with it when try is TryCommit, and reports whether it
// committed. An error is the transaction failing, which no retry mends.
func (s *DespatchSink) endCommitted(ctx context.Context, sess *kgo.GroupTransactSession, out []*kgo.Record, try kgo.TransactionEndTry) (bool, error) {
	if err := sess.Begin(); err != nil {
		return false, fmt.Errorf("prima: despatch sink: begin transaction: %w", err)
	}
	// Shutdown must cut neither producing nor ending short: a record
	// refused for a cancelled context would be missing from the
	// transaction, and a cancelled End leaves the client unusable.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), despatchTxnTimeout)
	defer cancel()
	if try == kgo.TryCommit && len(out) > 0 {
		if err := sess.ProduceSync(ectx, out...).FirstErr(); err != nil {
			s.o.Logger.Warn("prima despatch sink: producing failed; aborting", "err", err)
			try = kgo.TryAbort
		}
	}
	committed, err := sess.End(ectx, try)
	// No lane is running now (handleAll waited for them all): only a
	// revoke callback can hold calls.
	s.calls.Lock()
	s.revoked = false // the session re-arms its revoke tracking at End
	s.calls.Unlock()
	if err != nil {
		return false, fmt.Errorf("prima: despatch sink: end transaction: %w", err)
	}
	return committed, nil
}

func (s *DespatchSink) assigned(context.Context, *kgo.Client, map[string][]int32) {
	s.mu.Lock()
	first := !s.joined
	s.joined = true
	paused := s.paused
	s.mu.Unlock()
	if first && !paused {
		s.o.setReady(true)
	}
}

// revoke stops every Prima call until the transaction in progress ends
// (aborted, as the session aborts after any revoke). Taking calls for
// writing waits for every call in flight, of every lane, and holds back
// the calls that would start meanwhile (they then see revoked), so the
// partitions' next owner cannot be overtaken by any of them.
func (s *DespatchSink) revoke(context.Context, *kgo.Client, map[string][]int32) {
	s.calls.Lock()
	defer s.calls.Unlock()
	s.revoked = true
}

func (s *DespatchSink) isRevoked() bool {
	s.calls.RLock()
	defer s.calls.RUnlock()
	return s.revoked
}

// errDespatchRevoked stops work on a batch once a partition was revoked.
var errDespatchRevoked = errors.New("prima: despatch sink: partitions revoked")
