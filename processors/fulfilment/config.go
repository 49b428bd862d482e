package fulfilment

import (
	"errors"
	"fmt"
	"time"
)

// Config is the fulfilment processor's configuration, mounted under
// LOCKSTEP_.
type Config struct {
	// DespatchSLA is how long a shipment may wait for its Prima despatch
	// note before it is missing_despatch.
	DespatchSLA time.Duration `env:"DESPATCH_SLA, default=30m"`
	// MatchGrace is how long a shipment of an order not yet seen as sent,
	// or a note that matches no shipment yet, waits for its other half
	// before it is an exception: the inputs are separate topics, so their
	// records arrive in no fixed order.
	MatchGrace time.Duration `env:"FULFILMENT_MATCH_GRACE, default=10m"`
	// TopicPrefix prefixes every topic name; the caller sets it from the
	// broker configuration (LOCKSTEP_KAFKA_TOPIC_PREFIX).
	TopicPrefix string
}

func (c Config) withDefaults() Config {
	if c.DespatchSLA == 0 {
		c.DespatchSLA = 30 * time.Minute
	}
	if c.MatchGrace == 0 {
		c.MatchGrace = 10 * time.Minute
	}
	return c
}

// Validate reports every invalid setting, under its variable name.
func (c Config) Validate() error {
	var errs []error
	if c.DespatchSLA < time.Second {
		errs = append(errs, fmt.Errorf("LOCKSTEP_DESPATCH_SLA: %s: want at least 1s", c.DespatchSLA))
	}
	if c.MatchGrace < 0 {
		errs = append(errs, fmt.Errorf("LOCKSTEP_FULFILMENT_MATCH_GRACE: %s: want zero or more", c.MatchGrace))
	}
	return errors.Join(errs...)
}

// Rules are the join's rules under this configuration.
func (c Config) Rules() Rules {
	c = c.withDefaults()
	return Rules{SLA: c.DespatchSLA, Grace: c.MatchGrace}
}
