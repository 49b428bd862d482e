package clarus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/ratelimit"
	"github.com/lockstep-dev/lockstep/schemas"
)

// The transaction loop every Clarus command sink runs (the goods-out order
// sink, the goods-in receipt sink): consume commands in partition order,
// apply each to Clarus through the sink's handler, and commit what each
// produced (its ack, or its DLQ record) together with the consumed offsets
// in one Kafka transaction, so each command is answered once even across
// crashes. Only what a command does in Clarus differs between the sinks;
// this file and sinkcall.go are all the rest.

// The sinks' pace beyond Config's rate. Clarus documents no limits
// ("throttling" is mentioned), so Retry-After rules over them.
const (
	sinkPollMax     = 32 // commands per poll, and so per transaction
	sinkDownAfter   = 5  // consecutive failed calls before a sink says it is paused
	sinkTxnTimeout  = 30 * time.Second
	maxRefusedHints = 10_000
)

// handled is what one command produced: its record, and what to count once
// its transaction committed (nil for a DLQ record, counted as one).
type handled struct {
	record    *kgo.Record
	committed func()
}

// sinkMetrics are one sink's metrics (see Metrics).
type sinkMetrics struct {
	requests    *prometheus.CounterVec // by call and outcome
	acks        *prometheus.CounterVec // by action and status
	deadLetters prometheus.Counter
	rateWaits   prometheus.Counter
	paused      prometheus.Gauge
}

// sinkLoop is the machinery of a command sink: its Kafka session and
// transactions, and its calls to Clarus (sinkcall.go). A sink embeds it and
// sets handle.
type sinkLoop struct {
	name  string // "order sink", in logs and errors
	stage string // names the sink in DLQ records
	group string // the consumer group, after the topic prefix
	cfg   Config
	api   *Client // one-shot: the sink retries itself
	serde *schemas.Serde
	o     Options
	kopts []kgo.Opt
	m     sinkMetrics

	cmdTopic, dlqTopic string

	bucket *ratelimit.Bucket
	rng    *rand.Rand
	ran    atomic.Bool

	// handle applies one command and returns the record to commit for it.
	// Its errors are ctx's, errRevoked, or Kafka failing the sink.
	handle func(context.Context, *kgo.Record) (handled, error)
	// forget, when set, drops what the sink remembers of commands between
	// them (hints only), when partitions are revoked. Called under mu.
	forget func()

	// mu is held around every Clarus call and by the revoke callback: once
	// a revoke returns, no call is in flight, and none starts until the
	// transaction that saw the revoke has ended (its work is redone by the
	// partitions' owners, looking up first).
	mu      sync.Mutex
	revoked bool
	joined  bool

	failures int // consecutive failed calls, across commands
	paused   bool
}

// newSinkLoop returns the loop of a sink consuming cmdTopic (before the
// prefix) in group. o has its defaults and its TransactionalID set.
func newSinkLoop(name, stage, group, cmdTopic string, cfg Config, api *Client, serde *schemas.Serde, o Options, m sinkMetrics, kopts []kgo.Opt) *sinkLoop {
	return &sinkLoop{name: name, stage: stage, group: group, cfg: cfg, api: api.oneShot(), serde: serde, o: o, kopts: slices.Clone(kopts), m: m,
		cmdTopic: o.TopicPrefix + cmdTopic, dlqTopic: o.TopicPrefix + schemas.TopicDLQ,
		bucket: ratelimit.New(cmp.Or(cfg.OrderRatePerSecond, 20), cmp.Or(cfg.OrderBurst, 20)),
		rng:    rand.New(rand.NewPCG(uint64(o.Clock.Now().UnixNano()), 0x0de5)),
	}
}

// run joins the group and applies commands until ctx ends, then leaves the
// group and closes its client. Only Kafka failing the sink's transactions
// stops it; Clarus failing only pauses it. A command whose transaction did
// not commit is handled again, by this sink or the partition's next owner.
// A sink runs once.
func (s *sinkLoop) run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return fmt.Errorf("clarus: %s: Run called twice", s.name)
	}
	defer s.o.setReady(false)
	sess, err := kgo.NewGroupTransactSession(append(slices.Clone(s.kopts),
		kgo.ConsumerGroup(s.o.TopicPrefix+s.group), // the prefix namespaces a deployment
		kgo.ConsumeTopics(s.cmdTopic),
		kgo.TransactionalID(s.o.TransactionalID),
		kgo.TransactionTimeout(sinkTxnTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoke),
		kgo.OnPartitionsLost(s.revoke),
	)...)
	if err != nil {
		return fmt.Errorf("clarus: %s: kafka client: %w", s.name, err)
	}
	defer sess.Close() // leaves the group: the revoke waits for a call in flight
	// Fence a previous incarnation now, so its open transaction is aborted
	// before this one reads the offsets it would have committed.
	if _, _, err := sess.Client().ProducerID(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("clarus: %s: init producer id: %w", s.name, err)
	}
	err = s.loop(ctx, sess)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *sinkLoop) loop(ctx context.Context, sess *kgo.GroupTransactSession) error {
	for {
		if ctx.Err() != nil {
			return nil
		}
		if s.isRevoked() {
			// The session reports one revoke per transaction: end an empty
			// one so the next is reported too.
			if err := s.end(ctx, sess, nil, kgo.TryAbort, nil); err != nil {
				return err
			}
		}
		fs := sess.PollRecords(ctx, sinkPollMax)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.o.Logger.Warn("clarus "+s.name+": fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		if recs := fs.Records(); len(recs) > 0 {
			if err := s.batch(ctx, sess, recs); err != nil {
				return err
			}
		}
	}
}

// batch handles one poll's commands in order, then commits their records
// and offsets in one transaction. If a partition was revoked or ctx ended
// part way, it aborts: the Clarus calls already made are found by the
// look-ups of whoever handles the commands again.
func (s *sinkLoop) batch(ctx context.Context, sess *kgo.GroupTransactSession, recs []*kgo.Record) error {
	first := map[string]map[int32]kgo.EpochOffset{}
	for _, r := range recs {
		if first[r.Topic] == nil {
			first[r.Topic] = map[int32]kgo.EpochOffset{}
		}
		if _, ok := first[r.Topic][r.Partition]; !ok {
			first[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset}
		}
	}
	var done []handled
	try := kgo.TryCommit
	for _, r := range recs {
		h, err := s.handle(ctx, r)
		if err != nil {
			if !errors.Is(err, errRevoked) && ctx.Err() == nil {
				return err // Kafka failed the sink (an ack that cannot be encoded)
			}
			try = kgo.TryAbort
			break
		}
		done = append(done, h)
	}
	out := make([]*kgo.Record, 0, len(done))
	for _, h := range done {
		out = append(out, h.record)
	}
	return s.end(ctx, sess, out, try, func(committed bool) {
		if !committed {
			sess.Client().SetOffsets(first)
			s.o.Logger.Info("clarus "+s.name+": transaction aborted; its commands will be handled again", "commands", len(recs))
			return
		}
		for _, h := range done {
			if h.committed != nil {
				h.committed()
			} else {
				s.m.deadLetters.Inc()
			}
		}
	})
}

// end produces out in a transaction and ends it (committing the consumed
// offsets with it when try is TryCommit), then tells done whether it
// committed. An error is the transaction failing, which no retry mends.
func (s *sinkLoop) end(ctx context.Context, sess *kgo.GroupTransactSession, out []*kgo.Record, try kgo.TransactionEndTry, done func(bool)) error {
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("clarus: %s: begin transaction: %w", s.name, err)
	}
	// Neither producing nor ending may be cut short by shutdown: a record
	// refused for a cancelled context is missing from the transaction, and
	// a cancelled End leaves the client unusable.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sinkTxnTimeout)
	defer cancel()
	if try == kgo.TryCommit && len(out) > 0 {
		if err := sess.ProduceSync(ectx, out...).FirstErr(); err != nil {
			s.o.Logger.Warn("clarus "+s.name+": producing acks failed; aborting", "err", err)
			try = kgo.TryAbort
		}
	}
	committed, err := sess.End(ectx, try)
	s.mu.Lock()
	s.revoked = false // the session re-arms its revoke tracking at End
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("clarus: %s: end transaction: %w", s.name, err)
	}
	if done != nil {
		done(committed)
	}
	return nil
}

func (s *sinkLoop) assigned(context.Context, *kgo.Client, map[string][]int32) {
	s.mu.Lock()
	first := !s.joined
	s.joined = true
	paused := s.paused
	s.mu.Unlock()
	if first && !paused {
		s.o.setReady(true)
	}
}

// revoke stops every Clarus call until the transaction in progress ends
// (aborted, as the session aborts after any revoke). It waits for a call in
// flight, so the partitions' next owner cannot be overtaken by it.
func (s *sinkLoop) revoke(context.Context, *kgo.Client, map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
	if s.forget != nil {
		s.forget()
	}
}

func (s *sinkLoop) isRevoked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoked
}

// errRevoked stops work on a batch once a partition was revoked.
var errRevoked = errors.New("clarus: sink: partitions revoked")

func (s *sinkLoop) backoffBase() time.Duration {
	return cmp.Or(s.cfg.OrderBackoffBase, 500*time.Millisecond)
}
func (s *sinkLoop) backoffMax() time.Duration {
	return max(cmp.Or(s.cfg.OrderBackoffMax, time.Minute), s.backoffBase())
}
