package stock

import (
	"errors"
	"fmt"
	"time"
)

// Config is the stock processor's configuration, mounted under LOCKSTEP_.
type Config struct {
	// PushInterval is how often each partition pushes the available levels
	// that changed to Prima: at every multiple of it on the clock.
	PushInterval time.Duration `env:"STOCK_PUSH_INTERVAL, default=5m"`
	// DedupeTTL is how long a movement id is remembered to drop a repeat.
	DedupeTTL time.Duration `env:"STOCK_DEDUPE_TTL, default=168h"`
	// JournalWindow is how far back, from the latest movement of a key,
	// its journal keeps movement effects for re-basing on a snapshot: at
	// least the snapshot interval, better three times it. A snapshot older
	// than what the journal covers is ignored.
	JournalWindow time.Duration `env:"STOCK_JOURNAL_WINDOW, default=15m"`
	// FeedGapGrace is how long a wms_feed_gap is held before it is
	// reported, counted from when the snapshot that found it was handled
	// (never from before its as_of). A movement that occurred before the
	// snapshot's as_of and arrives within it (a webhook slower than the
	// sweep, a delivery Clarus retried, a catch-up of the movements topic)
	// is counted against the gap instead of being reported missing.
	//
	// The trade-off: a longer grace spares more false alarms from slow
	// webhooks, but reports a real gap (a webhook that never comes) that
	// much later; the level is re-based at once either way, so only the
	// alarm waits. Keep it below the sweep interval (5m by default), so
	// that a key rarely holds more than one pending gap, and about as long
	// as Clarus keeps retrying a failed delivery before it gives up.
	FeedGapGrace time.Duration `env:"STOCK_FEED_GAP_GRACE, default=2m"`
	// ReportAllocationGaps also raises wms_feed_gap drift for a re-base
	// that corrected only allocated stock. Off by default: Clarus has no
	// webhook for allocations, so they reach lockstep through snapshots
	// and a snapshot correcting them is the normal case, not a gap.
	ReportAllocationGaps bool `env:"STOCK_REPORT_ALLOCATION_GAPS, default=false"`
	// TopicPrefix prefixes every topic name; the caller sets it from the
	// broker configuration (LOCKSTEP_KAFKA_TOPIC_PREFIX).
	TopicPrefix string
}

// maxFeedGapGrace bounds FeedGapGrace: a gap held longer than a day is no
// longer an alarm, and a key would pile up a day of pending gaps.
const maxFeedGapGrace = 24 * time.Hour

// withDefaults fills unset durations with the defaults of the env tags.
func (c Config) withDefaults() Config {
	if c.PushInterval == 0 {
		c.PushInterval = 5 * time.Minute
	}
	if c.DedupeTTL == 0 {
		c.DedupeTTL = 7 * 24 * time.Hour
	}
	if c.JournalWindow == 0 {
		c.JournalWindow = 15 * time.Minute
	}
	if c.FeedGapGrace == 0 {
		c.FeedGapGrace = 2 * time.Minute
	}
	return c
}

// Validate reports every invalid setting, under its variable name.
func (c Config) Validate() error {
	var errs []error
	if c.PushInterval < time.Second {
		errs = append(errs, fmt.Errorf("LOCKSTEP_STOCK_PUSH_INTERVAL: %s: want at least 1s", c.PushInterval))
	}
	if c.DedupeTTL < time.Minute {
		errs = append(errs, fmt.Errorf("LOCKSTEP_STOCK_DEDUPE_TTL: %s: want at least 1m", c.DedupeTTL))
	}
	if c.JournalWindow < time.Second {
		errs = append(errs, fmt.Errorf("LOCKSTEP_STOCK_JOURNAL_WINDOW: %s: want at least 1s", c.JournalWindow))
	}
	if c.FeedGapGrace < time.Second || c.FeedGapGrace > maxFeedGapGrace {
		errs = append(errs, fmt.Errorf("LOCKSTEP_STOCK_FEED_GAP_GRACE: %s: want between 1s and %s", c.FeedGapGrace, maxFeedGapGrace))
	}
	return errors.Join(errs...)
}
