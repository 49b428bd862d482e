package inbound

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config is the inbound processor's configuration, mounted under
// LOCKSTEP_.
type Config struct {
	// LeadTime is how long before a PO's expected delivery Clarus must
	// have its pre-receipt: with no created ack by ExpectedAt - LeadTime,
	// po_not_in_wms opens. Zero takes the default.
	LeadTime time.Duration `env:"PO_LEAD_TIME, default=24h"`
	// AckGrace is the least time the goods-in sink gets to create a
	// pre-receipt before po_not_in_wms may open: a PO that arrives after
	// (or just before) ExpectedAt - LeadTime is checked AckGrace after it
	// was folded, not at once, so a PO approved late is not an exception
	// before lockstep has even tried.
	AckGrace time.Duration `env:"PO_ACK_GRACE, default=15m"`
	// ReceiptTolerancePct is how far, in percent of the ordered quantity,
	// the units received on a PO line may exceed it before
	// receipt_over_po opens; receiving exactly ordered * (1 + pct/100)
	// is within it. Two decimal places count (0.01% steps).
	ReceiptTolerancePct float64 `env:"RECEIPT_TOLERANCE_PCT, default=0"`
	// RedriveInterval is how often a PO held on an unmapped SKU looks at
	// the item master again: the longest a mapping waits to release it.
	RedriveInterval time.Duration `env:"INBOUND_REDRIVE_INTERVAL, default=30s"`
	// MaxLines bounds the lines of one PO or receipt; a larger one goes to
	// the DLQ.
	MaxLines int `env:"INBOUND_MAX_LINES, default=1000"`
	// TopicPrefix prefixes every topic name; the caller sets it from the
	// broker configuration (LOCKSTEP_KAFKA_TOPIC_PREFIX).
	TopicPrefix string
}

// withDefaults fills what a Config built in code (not from the
// environment) left zero. A zero tolerance is a valid setting, so it has
// no default here.
func (c Config) withDefaults() Config {
	if c.LeadTime == 0 {
		c.LeadTime = 24 * time.Hour
	}
	if c.AckGrace == 0 {
		c.AckGrace = 15 * time.Minute
	}
	if c.RedriveInterval == 0 {
		c.RedriveInterval = 30 * time.Second
	}
	if c.MaxLines == 0 {
		c.MaxLines = 1000
	}
	return c
}

// Validate reports every invalid setting, under its variable name.
func (c Config) Validate() error {
	var errs []error
	if c.LeadTime < 0 {
		errs = append(errs, fmt.Errorf("LOCKSTEP_PO_LEAD_TIME: %s: want 0 or more", c.LeadTime))
	}
	if c.AckGrace < time.Second {
		errs = append(errs, fmt.Errorf("LOCKSTEP_PO_ACK_GRACE: %s: want at least 1s", c.AckGrace))
	}
	if math.IsNaN(c.ReceiptTolerancePct) || c.ReceiptTolerancePct < 0 || c.ReceiptTolerancePct > 1000 {
		errs = append(errs, fmt.Errorf("LOCKSTEP_RECEIPT_TOLERANCE_PCT: %v: want a percentage from 0 to 1000", c.ReceiptTolerancePct))
	}
	if c.RedriveInterval < time.Second {
		errs = append(errs, fmt.Errorf("LOCKSTEP_INBOUND_REDRIVE_INTERVAL: %s: want at least 1s", c.RedriveInterval))
	}
	if c.MaxLines < 1 {
		errs = append(errs, fmt.Errorf("LOCKSTEP_INBOUND_MAX_LINES: %d: want at least 1", c.MaxLines))
	}
	return errors.Join(errs...)
}

// Rules are the configured rules of the fold. The tolerance becomes basis
// points, so the fold compares integers only.
func (c Config) Rules() Rules {
	return Rules{LeadTime: c.LeadTime, AckGrace: c.AckGrace, RedriveInterval: c.RedriveInterval, MaxLines: c.MaxLines,
		ToleranceBP: int64(math.Round(c.ReceiptTolerancePct * 100))}
}
