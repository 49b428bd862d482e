package prima

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/broker"
	"github.com/lockstep-dev/lockstep/schemas"
)

// SinkGroup is the stock sink's consumer group, after the topic prefix.
const SinkGroup = "lockstep-prima-stock-sink"

// sinkStage names the sink in DLQ records and drift events.
const sinkStage = "prima-stock-sink"

// StockWriter is what the sink needs of Prima; *Client is one.
type StockWriter interface {
	UpdateStock(ctx context.Context, b StockBatch) error
	LookupStockBatch(ctx context.Context, ref string) (bool, error)
}

// Sink pushes lockstep.cmd.prima-stock commands to Prima, one at a time in
// partition order, through a token bucket, mapping each line's Clarus code
// to its Prima SKU and holding the lines that map to none (see the package
// doc). Failures are retried with backoff; an ambiguous one is looked up by
// batch reference before the batch is sent again; a batch that exhausts its
// budget is parked in the DLQ with a push_failed drift event. An offset is
// committed only after its command was applied or parked and its held and
// pushed levels were written. While Prima is down, fetching pauses and a
// probe waits for it to come back.
type Sink struct {
	cfg   Config
	api   StockWriter
	serde *schemas.Serde
	o     Options
	kopts []kgo.Opt

	cmdTopic, dlqTopic, driftTopic, itemsTopic, heldTopic, pushedTopic string

	pace *pacer
	ran  atomic.Bool

	// Opened by Run and closed before it returns.
	cl *kgo.Client
	f  *broker.Follower

	// mu is held around every call to Prima, every state write and by the
	// revoke callback, so once a partition is revoked nothing for it is in
	// flight: its new owner cannot be overtaken by an older batch, and
	// reads everything this sink wrote for it.
	mu     sync.Mutex
	owned  map[int32]bool
	joined bool

	st   sinkState
	wake chan struct{} // interrupts the command poll: a mapping arrived, a partition was assigned

	failures int // consecutive failed calls, across commands
	paused   bool
}

// NewSink returns a sink that will consume with a group client built from
// kopts (seed brokers, TLS, SASL). It only validates; Run connects.
func NewSink(cfg Config, api StockWriter, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if api == nil || serde == nil {
		return nil, errors.New("prima: sink: needs a Prima client and a serde")
	}
	o = o.withDefaults()
	p := o.TopicPrefix
	return &Sink{cfg: cfg, api: api, serde: serde, o: o, kopts: slices.Clone(kopts),
		cmdTopic: p + schemas.TopicCmdPrimaStock, dlqTopic: p + schemas.TopicDLQ, driftTopic: p + schemas.TopicDrift,
		itemsTopic: p + schemas.TopicItems, heldTopic: p + schemas.TopicStockHeld, pushedTopic: p + schemas.TopicStockPushed,
		pace:  newPacer(cfg.RatePerSecond, cfg.Burst, o.Seed, 0x5eed, o.Clock, cfg.BackoffMax, o.Metrics.rateWaits),
		owned: map[int32]bool{},
		st:    newSinkState(),
		wake:  make(chan struct{}, 1),
	}, nil
}

// Run reads the item master, held and pushed tables to their end, joins
// the group and pushes until ctx ends, then leaves the group and closes its
// clients. Only a failure to write to Kafka (state, DLQ) stops it; a
// command whose offset was not committed is pushed again at the next start.
// A Sink runs once.
func (s *Sink) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("prima: sink: Run called twice")
	}
	defer s.o.setReady(false)
	f, err := broker.NewFollower(s.kopts, s.o.Logger, func(r *kgo.Record) { s.applyTable(ctx, r) },
		s.itemsTopic, s.heldTopic, s.pushedTopic)
	if err != nil {
		return fmt.Errorf("prima: sink: %w", err)
	}
	s.f = f
	defer f.Close()
	// Nothing is pushed before the item table has caught up: a code
	// mapped an hour ago must not be held for want of reading it.
	if err := f.CatchUp(ctx); err != nil {
		return s.stopped(ctx, fmt.Errorf("prima: sink: read tables: %w", err))
	}
	s.o.Logger.Info("prima sink: tables read", "items", s.st.count())
	fctx, stop := context.WithCancel(ctx)
	followed := &followed{done: make(chan struct{})}
	go func() {
		defer close(followed.done)
		for followed.err == nil {
			followed.err = f.Step(fctx)
		}
	}()
	defer func() { stop(); <-followed.done }()

	cl, err := kgo.NewClient(append(slices.Clone(s.kopts),
		kgo.ConsumerGroup(s.o.TopicPrefix+SinkGroup), // the prefix namespaces a deployment
		kgo.ConsumeTopics(s.cmdTopic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.revoked),
	)...)
	if err != nil {
		return fmt.Errorf("prima: sink: kafka client: %w", err)
	}
	s.cl = cl
	defer cl.Close() // leaves the group: revoke waits for a call in flight
	return s.stopped(ctx, s.loop(ctx, followed))
}

func (s *Sink) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// followed is the table follower's goroutine: done is closed when it
// stops, err (readable once done is closed) says why.
type followed struct {
	done chan struct{}
	err  error
}

func (s *Sink) loop(ctx context.Context, followed *followed) error {
	for {
		select {
		case <-followed.done:
			return fmt.Errorf("prima: sink: table reader stopped: %w", followed.err)
		default:
		}
		if err := s.housekeep(ctx); err != nil {
			return err
		}
		fs := s.pollCommands(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.o.Logger.Warn("prima sink: fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		for _, recs := range byPartition(fs.Records()) {
			if err := s.handlePartition(ctx, recs); err != nil {
				return err
			}
		}
	}
}

// byPartition splits a poll's records (grouped by partition, in offset
// order within each) into one run per partition.
func byPartition(recs []*kgo.Record) [][]*kgo.Record {
	var out [][]*kgo.Record
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].Partition == recs[i].Partition && recs[j].Topic == recs[i].Topic {
			j++
		}
		out = append(out, recs[i:j])
		i = j
	}
	return out
}

// pollCommands polls the command topic until records come, ctx ends,
// something wakes the loop or failed levels are due to be pushed again.
func (s *Sink) pollCommands(ctx context.Context) kgo.Fetches {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var due <-chan time.Time
	if at := s.st.retryDue(s.cfg.RetryFailedAfter); !at.IsZero() {
		due = s.o.Clock.After(at.Sub(s.o.Clock.Now()))
	}
	go func() {
		select {
		case <-s.wake:
			cancel()
		case <-due:
			cancel()
		case <-pctx.Done():
		}
	}()
	return s.cl.PollRecords(pctx, 64)
}

// poke wakes the loop; a wake already pending is enough.
func (s *Sink) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Sink) assigned(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
	s.mu.Lock()
	for _, p := range ps[s.cmdTopic] {
		s.owned[p] = true
	}
	s.st.assign(ps[s.cmdTopic])
	first := !s.joined
	s.joined = true
	s.mu.Unlock()
	if first { // joined, with the item table caught up before the client existed
		s.o.setReady(true)
	}
	s.poke()
}

func (s *Sink) revoked(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps[s.cmdTopic] {
		delete(s.owned, p)
	}
	s.st.revoke(ps[s.cmdTopic])
}

// errLost stops work on a command whose partition moved to another member;
// its offset stays uncommitted, and the new owner pushes it.
var errLost = errors.New("prima: sink: partition revoked")

// guard runs one call to Prima or one state write for partition p while p
// is still owned.
func (s *Sink) guard(p int32, call func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.owned[p] {
		return errLost
	}
	return call()
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
