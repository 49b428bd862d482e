package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/state"
)

// Config is one processor instance's runtime configuration.
type Config struct {
	Topology Topology
	// StateDir is this instance's Pebble directory.
	StateDir string
	// InstanceID must be unique among the instances of a processor and
	// stable across restarts: it suffixes the transactional id, so that a
	// restarted instance fences its previous incarnation and aborts its
	// open transaction at once. Default: the host name.
	InstanceID string
	// StaticMembership also uses InstanceID as the group instance id
	// (KIP-345), so a restart within the session timeout gets its
	// partitions back without a rebalance. An instance that stops for good
	// then holds its partitions until the session timeout.
	StaticMembership bool
	// TopicPrefix prefixes the changelog and DLQ topics (inputs and outputs
	// are given in full).
	TopicPrefix string
	// DLQTopic is the dead-letter topic, before the prefix (default
	// lockstep.dlq).
	DLQTopic string
	// EncodeDeadLetter encodes the DLQ record's value (the Avro envelope in
	// production). Nil, or an encoding error, keeps the original bytes as
	// the value; the headers carry reason and coordinates either way.
	EncodeDeadLetter deadletter.Encoder
	// MaxBatch is the most input records handled in one transaction
	// (default 20,000). A transaction ends at MaxBatch records or at
	// CommitInterval, whichever comes first.
	MaxBatch int
	// CommitInterval is how long after the previous transaction ended the
	// next one commits at the latest (default 100ms, as Kafka Streams'
	// commit.interval.ms under exactly-once): the runtime keeps polling
	// into the open transaction until then or until MaxBatch. After an
	// idle spell longer than CommitInterval the first records commit at
	// once. It bounds the latency that batching adds, and must be below
	// TransactionTimeout.
	CommitInterval time.Duration
	// TimerTick bounds how long the loop waits for records before checking
	// timers (default 1s).
	TimerTick time.Duration
	// TransactionTimeout is the broker-side timeout after which an
	// abandoned transaction is aborted (default 10s, as Kafka Streams).
	TransactionTimeout time.Duration
	// Clock is the injected clock (default time.Now).
	Clock func() time.Time
	// Metrics are shared by the processors of a binary (default: metrics
	// registered nowhere).
	Metrics *Metrics
	Logger  *slog.Logger
	Store   state.Options
	// RestoreChunk is how many changelog records go into one Pebble batch
	// during restore (default 10,000): a crash mid-restore resumes from the
	// last chunk.
	RestoreChunk int
	// SetReady, if set, is told when the processor becomes ready (joined,
	// every owned partition restored) and when it stops being so (a
	// rebalance restoring, shutdown): /readyz aggregates it.
	SetReady func(ready bool)
	// OnOwnership, if set, is told when this instance starts owning a
	// partition (after its restore) and stops (on revoke or loss).
	OnOwnership func(partition int32, owned bool)
	// Failpoint, for tests, is called at each Failpoint; a non-nil error
	// stops Run as a crash would, except at FailBeforeEnd, where it forces
	// the transaction to abort and processing goes on.
	Failpoint func(Failpoint) error
}

// More failpoints (the first ones are in topology.go).
const (
	// FailBeforeEnd fires once a transaction's records, timers and
	// changelog were handled, produced and flushed (acknowledged by the
	// brokers, so in the logs), just before it ends. An error
	// there is not a crash: it forces the transaction to abort (as a
	// produce error would), the overlay is dropped and processing goes on
	// from the last committed offsets, re-polling the aborted records.
	FailBeforeEnd Failpoint = "before-end"
	// FailAfterApply fires once a committed transaction's overlay reached
	// Pebble (unsynced), before the next transaction begins.
	FailAfterApply Failpoint = "after-apply"
)

// EnsureDefaults fills unset fields.
func (c *Config) EnsureDefaults() {
	if c.InstanceID == "" {
		c.InstanceID, _ = os.Hostname()
	}
	if c.DLQTopic == "" {
		c.DLQTopic = "lockstep.dlq"
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 20_000
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = 100 * time.Millisecond
	}
	if c.TimerTick <= 0 {
		c.TimerTick = time.Second
	}
	if c.TransactionTimeout <= 0 {
		c.TransactionTimeout = 10 * time.Second
	}
	if c.RestoreChunk <= 0 {
		c.RestoreChunk = 10_000
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Store.Logger == nil {
		c.Store.Logger = c.Logger
	}
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if err := c.Topology.Validate(); err != nil {
		return err
	}
	if c.StateDir == "" {
		return errors.New("stream: no state directory")
	}
	if c.InstanceID == "" {
		return errors.New("stream: no instance id (and no host name to default to)")
	}
	if c.TransactionTimeout < time.Second {
		return fmt.Errorf("stream: transaction timeout %s is below 1s", c.TransactionTimeout)
	}
	if c.CommitInterval >= c.TransactionTimeout {
		return fmt.Errorf("stream: commit interval %s is not below the transaction timeout %s", c.CommitInterval, c.TransactionTimeout)
	}
	return nil
}

func (c *Config) failpoint(f Failpoint) error {
	if c.Failpoint == nil {
		return nil
	}
	if err := c.Failpoint(f); err != nil {
		return fmt.Errorf("%w %s: %w", ErrFailpoint, f, err)
	}
	return nil
}
