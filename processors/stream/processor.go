package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockstep-dev/lockstep/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Processor runs one Topology as one member of its consumer group.
type Processor struct {
	cfg       Config
	topo      Topology
	opts      []kgo.Opt // connection options, reused by the restore consumer
	changelog string
	dlq       string
	outputs   map[string]struct{}
	timers    TimerHandler // nil when the handler has none
	log       *slog.Logger
	m         *Metrics
	// The per-record metrics, looked up once: a label lookup per record
	// showed in the stock processor's profile.
	handlerSeconds prometheus.Observer
	recordsIn      map[string]prometheus.Counter // by input topic

	store   *state.Store
	overlay *state.Overlay
	sess    *kgo.GroupTransactSession
	admin   *kadm.Client
	topicID kadm.TopicID
	globals *globals // nil without global tables

	mu       sync.Mutex     // guards owned and fatal; serialises Pebble writes per partition with restore
	owned    map[int32]bool // partitions assigned and restored
	fatal    error          // set by a callback (restore failure, failpoint)
	stopping bool           // the loop has exited; late assignments are ignored
	cancel   context.CancelFunc
	ready    atomic.Bool
	rearm    atomic.Bool // a revoke was reported: end an empty transaction before the next batch
	applyMu  sync.Mutex
	reads    state.ReadStats // the store's read counts at the last commit
	produced producedOffsets
	stamps   []time.Time                          // timestamps of the open transaction's records
	txnFirst map[string]map[int32]kgo.EpochOffset // the open transaction's first record per input partition
	polled   []*kgo.Record                        // the last poll's records (a reused buffer)
}

// New validates cfg and prepares a processor; opts are the Kafka connection
// options (seed brokers, TLS, SASL), as broker.Config.Opts returns them.
func New(cfg Config, opts ...kgo.Opt) (*Processor, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Processor{
		cfg:       cfg,
		topo:      cfg.Topology,
		opts:      opts,
		changelog: ChangelogTopic(cfg.TopicPrefix, cfg.Topology.Name),
		dlq:       cfg.TopicPrefix + cfg.DLQTopic,
		outputs:   make(map[string]struct{}),
		log:       cfg.Logger.With("processor", cfg.Topology.Name, "instance", cfg.InstanceID),
		m:         cfg.Metrics,
		owned:     make(map[int32]bool),
	}
	for _, t := range cfg.Topology.Outputs {
		p.outputs[t] = struct{}{}
	}
	p.handlerSeconds = p.m.handlerSeconds.WithLabelValues(p.topo.Name)
	p.recordsIn = make(map[string]prometheus.Counter, len(cfg.Topology.Inputs))
	for _, t := range cfg.Topology.Inputs {
		p.recordsIn[t] = p.m.recordsIn.WithLabelValues(p.topo.Name, t)
	}
	p.timers, _ = cfg.Topology.Handler.(TimerHandler)
	return p, nil
}

// setReady records readiness for Ready, the metric and Config.SetReady.
func (p *Processor) setReady(ok bool) {
	p.ready.Store(ok)
	v := 0.0
	if ok {
		v = 1
	}
	p.m.ready.WithLabelValues(p.topo.Name).Set(v)
	if p.cfg.SetReady != nil {
		p.cfg.SetReady(ok)
	}
}

// Ready reports whether the processor has joined its group and restored
// every partition it owns; /readyz uses it.
func (p *Processor) Ready() bool { return p.ready.Load() }

// Run processes until ctx is cancelled (a clean shutdown: the batch in
// flight ends, the member leaves the group, the store closes) or an
// unrecoverable error occurs.
func (p *Processor) Run(ctx context.Context) (err error) {
	// Run may be called again after it returned (a supervisor restarting
	// a crashed processor): nothing of the previous run carries over.
	p.mu.Lock()
	p.owned, p.fatal, p.stopping = make(map[int32]bool), nil, false
	p.mu.Unlock()
	p.rearm.Store(false)
	ctx, p.cancel = context.WithCancel(ctx)
	defer p.cancel()
	adminCl, err := kgo.NewClient(p.opts...)
	if err != nil {
		return fmt.Errorf("stream: %s: admin client: %w", p.topo.Name, err)
	}
	defer adminCl.Close()
	p.admin = kadm.NewClient(adminCl)
	if _, p.topicID, err = p.prepareTopics(ctx, adminCl, p.admin); err != nil {
		return err
	}

	p.store, err = state.Open(p.cfg.StateDir, p.cfg.Store)
	if err != nil {
		return err
	}
	p.reads = state.ReadStats{} // a new store counts from 0
	defer p.store.Close()
	p.overlay = p.store.NewOverlay()

	// Global tables are read to their end before the group is joined: no
	// record is handled against a table still being restored.
	stopGlobals, err := p.startGlobals(ctx)
	if err != nil {
		return err
	}
	defer func() { p.cancel(); stopGlobals() }()

	gopts := append(append([]kgo.Opt(nil), p.opts...),
		kgo.ConsumerGroup(GroupID(p.cfg.TopicPrefix, p.topo.Name)),
		kgo.ConsumeTopics(p.topo.Inputs...),
		kgo.TransactionalID(GroupID(p.cfg.TopicPrefix, p.topo.Name)+"-"+p.cfg.InstanceID),
		kgo.TransactionTimeout(p.cfg.TransactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		// Range assignment gives one member the same partition number of
		// every input topic: the co-partitioning that joins rely on.
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.RecordPartitioner(partitioner{changelog: p.changelog, hashed: kgo.StickyKeyPartitioner(nil)}),
		kgo.OnPartitionsAssigned(p.onAssigned),
		kgo.OnPartitionsRevoked(p.onRevoked),
		kgo.OnPartitionsLost(p.onRevoked),
	)
	if p.cfg.StaticMembership {
		gopts = append(gopts, kgo.InstanceID(p.cfg.InstanceID))
	}
	p.sess, err = kgo.NewGroupTransactSession(gopts...)
	if err != nil {
		return fmt.Errorf("stream: %s: client: %w", p.topo.Name, err)
	}
	crashed := false
	defer func() {
		if crashed {
			// As a crash would: no commit, no abort, no leave. The next
			// incarnation's InitProducerID fences and aborts what is open.
			p.sess.Client().Close()
			return
		}
		p.sess.CloseAllowingRebalance()
	}()
	// Fence the previous incarnation of this instance now, so that its open
	// transaction is aborted before restore waits for the changelog to be
	// stable.
	if _, _, err := p.sess.Client().ProducerID(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("stream: %s: init producer id: %w", p.topo.Name, err)
	}

	p.log.Info("processor started", "inputs", p.topo.Inputs, "changelog", p.changelog)
	err = p.loop(ctx)
	if errors.Is(err, ErrFailpoint) {
		crashed = true
	}
	// Processing has stopped: whatever the group does while the client
	// closes, this instance owns nothing any more.
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	p.onRevoked(ctx, nil, map[string][]int32{"": p.ownedPartitions()})
	p.setReady(false)
	if err != nil {
		return err
	}
	p.log.Info("processor stopped")
	return nil
}

// setFatal records an error raised outside the loop (in a group callback)
// and stops the loop.
func (p *Processor) setFatal(err error) {
	p.mu.Lock()
	if p.fatal == nil {
		p.fatal = err
	}
	p.mu.Unlock()
	p.cancel()
}

func (p *Processor) fatalErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fatal
}

func (p *Processor) ownedPartitions() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int32, 0, len(p.owned))
	for part, ok := range p.owned {
		if ok {
			out = append(out, part)
		}
	}
	return out
}

// producedOffsets collects, from produce promises, the highest changelog
// offset written per partition in the current transaction, and the first
// produce error.
type producedOffsets struct {
	mu   sync.Mutex
	max  map[int32]int64
	err  error
	outs map[string]int
}

func (o *producedOffsets) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.max == nil {
		o.max, o.outs = make(map[int32]int64), make(map[string]int)
	}
	clear(o.max)
	clear(o.outs)
	o.err = nil
}

func (o *producedOffsets) failed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err != nil
}

func (o *producedOffsets) promise(changelog string) func(*kgo.Record, error) {
	return func(r *kgo.Record, err error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if err != nil {
			if o.err == nil {
				o.err = fmt.Errorf("produce to %s: %w", r.Topic, err)
			}
			return
		}
		o.outs[r.Topic]++
		if r.Topic == changelog && r.Offset >= o.max[r.Partition] {
			o.max[r.Partition] = r.Offset
		}
	}
}
