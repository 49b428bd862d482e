package cursor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// endTimeout bounds ending (committing or aborting) a transaction. Ending
// is not cancelled with the caller's context: an EndTxn cut off mid-flight
// leaves its outcome unknown.
const endTimeout = 30 * time.Second

// Config says where a Committer keeps its cursors and as whom it produces.
type Config struct {
	// Topic is the compacted cursor topic (lockstep.source-cursors with
	// its prefix).
	Topic string
	// TransactionalID identifies the source's producer, so that a restarted
	// source fences its previous incarnation.
	TransactionalID string
	// TransactionTimeout is the producer's transaction timeout (default a
	// minute).
	TransactionTimeout time.Duration
	// ReadWait bounds Load's wait for transactions open on Topic to end
	// (default twice TransactionTimeout: by then the broker has aborted
	// any that its producer abandoned).
	ReadWait time.Duration
	// Logger is told when a client is replaced (default: discard).
	Logger *slog.Logger
}

// Committer commits a source's pages, each with its cursor, in one Kafka
// transaction, and reads the committed cursors back. It is used from one
// goroutine: Load, then Commit page by page, then Close.
type Committer struct {
	cfg    Config
	kopts  []kgo.Opt
	cl     *kgo.Client
	loaded bool
}

// NewCommitter validates cfg and returns a committer that will produce
// with a transactional client built from kopts (seed brokers, TLS, SASL).
// It does not connect: Load does.
func NewCommitter(cfg Config, kopts ...kgo.Opt) (*Committer, error) {
	if cfg.Topic == "" || cfg.TransactionalID == "" {
		return nil, errors.New("cursor: needs a topic and a transactional id")
	}
	if cfg.TransactionTimeout <= 0 {
		cfg.TransactionTimeout = time.Minute
	}
	if cfg.ReadWait <= 0 {
		cfg.ReadWait = 2 * cfg.TransactionTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Committer{cfg: cfg, kopts: slices.Clone(kopts)}, nil
}

// Loaded reports whether the cursors Load returned are still the committed
// ones. It turns false when a commit's outcome is unknown (it may have
// happened) or the client was replaced, and on Close: the caller must Load
// again before its next Commit.
func (c *Committer) Loaded() bool { return c.loaded }

// Load opens the transactional client unless open, fences the previous
// incarnation of the producer (its open transaction is aborted, so it
// cannot hold the cursor topic back), and returns the committed value of
// each of keys (see Read).
func (c *Committer) Load(ctx context.Context, keys ...string) (map[string][]byte, error) {
	if c.cl == nil {
		cl, err := kgo.NewClient(append(slices.Clone(c.kopts),
			kgo.TransactionalID(c.cfg.TransactionalID),
			kgo.TransactionTimeout(c.cfg.TransactionTimeout),
		)...)
		if err != nil {
			return nil, fmt.Errorf("cursor: kafka client: %w", err)
		}
		c.cl = cl
	}
	if _, _, err := c.cl.ProducerID(ctx); err != nil {
		return nil, fmt.Errorf("cursor: init producer id: %w", err)
	}
	vals, err := Read(ctx, c.kopts, c.cfg.Topic, c.cfg.ReadWait, keys...)
	if err != nil {
		return nil, err
	}
	c.loaded = true
	return vals, nil
}

// Commit produces recs and value under key on the cursor topic in one
// transaction: all land, or none does. On failure the transaction is
// aborted and the last loaded or committed cursors stay the committed
// ones; when the commit's outcome is unknown, or even the abort fails (the
// client is then replaced), Loaded turns false.
func (c *Committer) Commit(ctx context.Context, key string, value []byte, recs ...*kgo.Record) error {
	if !c.loaded {
		return errors.New("cursor: commit before the cursors were loaded")
	}
	recs = append(slices.Clip(recs), &kgo.Record{Topic: c.cfg.Topic, Key: []byte(key), Value: value})
	if err := c.cl.BeginTransaction(); err != nil {
		return c.abort(ctx, fmt.Errorf("cursor: begin transaction: %w", err))
	}
	if err := c.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return c.abort(ctx, fmt.Errorf("cursor: produce %s: %w", key, err))
	}
	end, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	if err := c.cl.EndTransaction(end, kgo.TryCommit); err != nil {
		c.loaded = false // it may have committed: read the cursors again
		return c.abort(ctx, fmt.Errorf("cursor: commit %s: %w", key, err))
	}
	return nil
}

// abort aborts the open transaction. When even that fails the client's
// state is unknown: it is closed, and the next Load opens a new one and
// reads the cursors again, since the commit may have happened.
func (c *Committer) abort(ctx context.Context, err error) error {
	end, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	aerr := c.cl.AbortBufferedRecords(end)
	if aerr == nil {
		aerr = c.cl.EndTransaction(end, kgo.TryAbort)
	}
	if aerr != nil {
		c.cfg.Logger.Warn("cursor: abort failed; replacing the producer", "topic", c.cfg.Topic,
			"transactional_id", c.cfg.TransactionalID, "err", aerr)
		c.Close()
	}
	return err
}

// Close closes the client Load opened. Closing twice, or a committer never
// loaded, is harmless.
func (c *Committer) Close() {
	if c.cl != nil {
		c.cl.Close()
		c.cl = nil
	}
	c.loaded = false
}
