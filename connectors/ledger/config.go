package ledger

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for Config's zero fields.
const (
	DefaultGroup         = "lockstep-ledger"
	DefaultMaxRows       = 5000
	DefaultMaxWait       = time.Second
	DefaultRetryMin      = 200 * time.Millisecond
	DefaultRetryMax      = 30 * time.Second
	DefaultInsertTimeout = 30 * time.Second
)

// Stage names the sink in DLQ headers and logs.
const Stage = "ledger"

// Config is the sink's configuration; the zero value works.
type Config struct {
	// TopicPrefix prefixes every topic the sink reads, and lockstep.dlq
	// (LOCKSTEP_KAFKA_TOPIC_PREFIX).
	TopicPrefix string
	// Group is the consumer group (default lockstep-ledger). Instances of
	// the sink share it; the prefix does not apply.
	Group string
	// MaxRows is the most records in one insert (default 5,000).
	MaxRows int
	// MaxWait is how long the first record of a batch waits for more before
	// the batch is inserted (default 1s).
	MaxWait time.Duration
	// RetryMin and RetryMax bound the exponential backoff between attempts
	// while ClickHouse (or the DLQ, or the schema registry) fails: it
	// starts at RetryMin and doubles up to RetryMax (defaults 200ms, 30s).
	RetryMin, RetryMax time.Duration
	// InsertTimeout bounds one insert attempt (default 30s), so a
	// connection that hangs counts as a failure and is retried.
	InsertTimeout time.Duration
	// Registerer receives the sink's metrics; nil registers them nowhere.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// SetReady, if set, is told when the sink becomes ready (ClickHouse
	// answers) and when it stops being ready (ClickHouse fails), e.g. the
	// func that admin's Readiness.Add returns.
	SetReady func(ready bool)
}

func (c Config) withDefaults() Config {
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.MaxRows <= 0 {
		c.MaxRows = DefaultMaxRows
	}
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax <= 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.InsertTimeout <= 0 {
		c.InsertTimeout = DefaultInsertTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.SetReady == nil {
		c.SetReady = func(bool) {}
	}
	return c
}

func (c Config) validate() error {
	if c.RetryMin > c.RetryMax {
		return fmt.Errorf("ledger: RetryMin %s is above RetryMax %s", c.RetryMin, c.RetryMax)
	}
	if c.MaxRows > 1_000_000 {
		return errors.New("ledger: MaxRows above 1,000,000 holds too much in memory")
	}
	return nil
}
