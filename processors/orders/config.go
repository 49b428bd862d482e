package orders

import (
	"errors"
	"fmt"
	"path"
	"time"
)

// Config is the orders processor's configuration, mounted under LOCKSTEP_.
type Config struct {
	// NonStockSKUs are SKU patterns (path.Match syntax: * and ?) of lines
	// that never go to Clarus although Prima marks them stock: shipping,
	// carriage, fees. Lines Prima marks non-stock need no pattern.
	NonStockSKUs []string `env:"ORDERS_NON_STOCK_SKUS, default=SHIPPING*,CARRIAGE*,FEE-*"`
	// ForwardAmendments sends a released order whose stock lines or
	// address changed as a cancel and re-create, while Clarus has not
	// started picking; off, every such change is an
	// order_amended_after_release exception and the warehouse is shielded.
	ForwardAmendments bool `env:"ORDERS_FORWARD_AMENDMENTS, default=false"`
	// RedriveInterval is how often a held order looks at the item master
	// again: the longest a mapping waits to release it.
	RedriveInterval time.Duration `env:"ORDERS_REDRIVE_INTERVAL, default=30s"`
	// MaxLines bounds the lines of one order; a larger one goes to the DLQ.
	MaxLines int `env:"ORDERS_MAX_LINES, default=1000"`
	// TopicPrefix prefixes every topic name; the caller sets it from the
	// broker configuration (LOCKSTEP_KAFKA_TOPIC_PREFIX).
	TopicPrefix string
}

func (c Config) withDefaults() Config {
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
	for _, p := range c.NonStockSKUs {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			errs = append(errs, fmt.Errorf("LOCKSTEP_ORDERS_NON_STOCK_SKUS: pattern %q: want a path.Match pattern such as SHIPPING*", p))
		}
	}
	if c.RedriveInterval < time.Second {
		errs = append(errs, fmt.Errorf("LOCKSTEP_ORDERS_REDRIVE_INTERVAL: %s: want at least 1s", c.RedriveInterval))
	}
	if c.MaxLines < 1 {
		errs = append(errs, fmt.Errorf("LOCKSTEP_ORDERS_MAX_LINES: %d: want at least 1", c.MaxLines))
	}
	return errors.Join(errs...)
}

// Rules are the split and shield rules of the configuration.
func (c Config) Rules() Rules {
	return Rules{NonStockPatterns: c.NonStockSKUs, ForwardAmendments: c.ForwardAmendments, MaxLines: c.MaxLines}
}
