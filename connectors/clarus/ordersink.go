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

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/ratelimit"
	"github.com/lockstep-dev/lockstep/schemas"
)

// OrderSinkGroup is the order sink's consumer group, after the topic prefix.
const OrderSinkGroup = "lockstep-clarus-orders"

// orderSinkStage names the sink in DLQ records.
const orderSinkStage = "clarus-order-sink"

// The sink's pace beyond Config's rate. Clarus documents no limits
// ("throttling" is mentioned), so Retry-After rules over them.
const (
	orderPollMax      = 32 // commands per poll, and so per transaction
	orderDownAfter    = 5  // consecutive failed calls before the sink says it is paused
	orderTxnTimeout   = 30 * time.Second
	maxRefusedCancels = 10_000
)

// OrderSink applies lockstep.cmd.clarus-orders to Clarus: each command,
// in partition order, creates, cancels or closes (marks as held in Prima's
// despatch notes) a goods out, and its answer goes to clarus.order-acks. For one poll, the acks (and the DLQ records of
// commands that cannot be read) and the consumed offsets commit in one
// Kafka transaction, so each command is acked once even across crashes.
//
// Clarus documents no idempotency key and may accept a second goods out
// with the same reference, so the sink makes creation idempotent itself:
// it looks the reference up (GraphQL) before it creates, and again after
// any failure that may have created. A goods out that stands with the
// command's lines is the one an earlier attempt made (its answer lost, or
// its transaction never committed): acked created with its id. One that
// stands with other lines is another version's: acked rejected, never
// duplicated.
//
// Failures that may pass (5xx, 429, no answer) are retried without end
// through a token bucket that honours Retry-After, with backoff: while
// Clarus is down the sink waits on the command in hand, and readiness
// says so. Refusals (4xx on a write, an unknown product) are acked
// rejected with Clarus's reason: never retried, never dropped.
type OrderSink struct {
	cfg   Config
	api   *Client // one-shot: the sink retries itself
	serde *schemas.Serde
	o     Options
	kopts []kgo.Opt

	cmdTopic, ackTopic, dlqTopic string
	warehouseIDs                 map[string]string // code -> Clarus id

	bucket *ratelimit.Bucket
	rng    *rand.Rand
	ran    atomic.Bool

	// mu is held around every Clarus call and by the revoke callback: once
	// a revoke returns, no call is in flight, and none starts until the
	// transaction that saw the revoke has ended (its work is redone by the
	// partitions' owners, looking up first).
	mu      sync.Mutex
	revoked bool
	joined  bool

	failures int // consecutive failed calls, across commands
	paused   bool

	// refusedCancels remembers, per order ref, a cancel this sink refused,
	// so that the create of a cancel-and-recreate that follows it is
	// refused too rather than answered with the goods out that could not
	// be cancelled. A hint for the common case: after a restart between
	// the two, the create's look-up decides alone.
	refusedCancels map[string]refusedCancel
}

type refusedCancel struct {
	version int64
	reason  string
}

// NewOrderSink returns a sink that calls Clarus through api and consumes
// with a group client built from kopts (seed brokers, TLS, SASL). It only
// validates (cfg as resolved: Config.Resolve has validated the rest); Run
// connects. cfg.AccountID is required: every goods out names its stock
// owner (documented as required). o.TransactionalID must be unique per running
// sink; empty, it is lockstep-clarus-orders-<subdomain>.
func NewOrderSink(cfg Config, api *Client, serde *schemas.Serde, o Options, kopts ...kgo.Opt) (*OrderSink, error) {
	if api == nil || serde == nil {
		return nil, errors.New("clarus: order sink: needs a Clarus client and a serde")
	}
	if !validID(cfg.AccountID) {
		return nil, fmt.Errorf("clarus: order sink: %sACCOUNT_ID is required: a goods out names its stock owner (account_id)", EnvPrefix)
	}
	if whs := cfg.warehouseCodes(); len(whs) == 0 || len(whs) != len(cfg.Warehouses) {
		return nil, fmt.Errorf("clarus: order sink: %sWAREHOUSES: want valid id=code pairs (validate the configuration first)", EnvPrefix)
	}
	if o.TransactionalID == "" {
		o.TransactionalID = o.TopicPrefix + "lockstep-clarus-orders-" + cfg.Subdomain
	}
	o = o.withDefaults(cfg)
	ids := map[string]string{}
	for id, code := range cfg.warehouseCodes() {
		ids[code] = id
	}
	p := o.TopicPrefix
	return &OrderSink{cfg: cfg, api: api.oneShot(), serde: serde, o: o, kopts: slices.Clone(kopts),
		cmdTopic: p + schemas.TopicCmdClarusOrders, ackTopic: p + schemas.TopicOrderAcks, dlqTopic: p + schemas.TopicDLQ,
		warehouseIDs: ids, bucket: ratelimit.New(cmp.Or(cfg.OrderRatePerSecond, 20), cmp.Or(cfg.OrderBurst, 20)),
		rng:            rand.New(rand.NewPCG(uint64(o.Clock.Now().UnixNano()), 0x0de5)),
		refusedCancels: map[string]refusedCancel{},
	}, nil
}

// Run joins the group and applies commands until ctx ends, then leaves the
// group and closes its client. Only Kafka failing the sink's transactions
// stops it; Clarus failing only pauses it. A command whose transaction did
// not commit is handled again, by this sink or the partition's next owner.
// An OrderSink runs once.
func (s *OrderSink) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("clarus: order sink: Run called twice")
	}
	defer s.o.setReady(false)
	sess, err := kgo.NewGroupTransactSession(append(slices.Clone(s.kopts),
		kgo.ConsumerGroup(s.o.TopicPrefix+OrderSinkGroup), // the prefix namespaces a deployment
		kgo.ConsumeTopics(s.cmdTopic),
		kgo.TransactionalID(s.o.TransactionalID),
		kgo.TransactionTimeout(orderTxnTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoke),
		kgo.OnPartitionsLost(s.revoke),
	)...)
	if err != nil {
		return fmt.Errorf("clarus: order sink: kafka client: %w", err)
	}
	defer sess.Close() // leaves the group: the revoke waits for a call in flight
	// Fence a previous incarnation now, so its open transaction is aborted
	// before this one reads the offsets it would have committed.
	if _, _, err := sess.Client().ProducerID(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("clarus: order sink: init producer id: %w", err)
	}
	err = s.loop(ctx, sess)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *OrderSink) loop(ctx context.Context, sess *kgo.GroupTransactSession) error {
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
		fs := sess.PollRecords(ctx, orderPollMax)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.o.Logger.Warn("clarus order sink: fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		if recs := fs.Records(); len(recs) > 0 {
			if err := s.batch(ctx, sess, recs); err != nil {
				return err
			}
		}
	}
}

// batch handles one poll's commands in order, then commits their acks and
// offsets in one transaction. If a partition was revoked or ctx ended
// part way, it aborts: the Clarus calls already made are found by the
// look-ups of whoever handles the commands again.
func (s *OrderSink) batch(ctx context.Context, sess *kgo.GroupTransactSession, recs []*kgo.Record) error {
	first := map[string]map[int32]kgo.EpochOffset{}
	for _, r := range recs {
		if first[r.Topic] == nil {
			first[r.Topic] = map[int32]kgo.EpochOffset{}
		}
		if _, ok := first[r.Topic][r.Partition]; !ok {
			first[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset}
		}
	}
	var out []*kgo.Record
	var acks []*schemas.OrderAck
	try := kgo.TryCommit
	for _, r := range recs {
		res, err := s.handle(ctx, r)
		if err != nil {
			if !errors.Is(err, errRevoked) && ctx.Err() == nil {
				return err // Kafka failed the sink (an ack that cannot be encoded)
			}
			try = kgo.TryAbort
			break
		}
		out = append(out, res.record)
		if res.ack != nil {
			acks = append(acks, res.ack)
		}
	}
	return s.end(ctx, sess, out, try, func(committed bool) {
		if !committed {
			sess.Client().SetOffsets(first)
			s.o.Logger.Info("clarus order sink: transaction aborted; its commands will be handled again", "commands", len(recs))
			return
		}
		for _, a := range acks {
			s.o.Metrics.orderAcks.WithLabelValues(string(a.Action), string(a.Status)).Inc()
		}
		s.o.Metrics.orderDeadLetters.Add(float64(len(out) - len(acks)))
	})
}

// end produces out in a transaction and ends it (committing the consumed
// offsets with it when try is TryCommit), then tells done whether it
// committed. An error is the transaction failing, which no retry mends.
func (s *OrderSink) end(ctx context.Context, sess *kgo.GroupTransactSession, out []*kgo.Record, try kgo.TransactionEndTry, done func(bool)) error {
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("clarus: order sink: begin transaction: %w", err)
	}
	// Neither producing nor ending may be cut short by shutdown: a record
	// refused for a cancelled context is missing from the transaction, and
	// a cancelled End leaves the client unusable.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), orderTxnTimeout)
	defer cancel()
	if try == kgo.TryCommit && len(out) > 0 {
		if err := sess.ProduceSync(ectx, out...).FirstErr(); err != nil {
			s.o.Logger.Warn("clarus order sink: producing acks failed; aborting", "err", err)
			try = kgo.TryAbort
		}
	}
	committed, err := sess.End(ectx, try)
	s.mu.Lock()
	s.revoked = false // the session re-arms its revoke tracking at End
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("clarus: order sink: end transaction: %w", err)
	}
	if done != nil {
		done(committed)
	}
	return nil
}

func (s *OrderSink) assigned(context.Context, *kgo.Client, map[string][]int32) {
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
func (s *OrderSink) revoke(context.Context, *kgo.Client, map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
	clear(s.refusedCancels)
}

func (s *OrderSink) isRevoked() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoked
}

// errRevoked stops work on a batch once a partition was revoked.
var errRevoked = errors.New("clarus: order sink: partitions revoked")

func (s *OrderSink) backoffBase() time.Duration {
	return cmp.Or(s.cfg.OrderBackoffBase, 500*time.Millisecond)
}
func (s *OrderSink) backoffMax() time.Duration {
	return max(cmp.Or(s.cfg.OrderBackoffMax, time.Minute), s.backoffBase())
}
