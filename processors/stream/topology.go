// Package stream is lockstep's exactly-once processing runtime: a processor
// declares its inputs, state stores, outputs and timers and supplies a
// handler; the runtime owns the consumer group, the Kafka transaction, the
// Pebble overlay, the changelog, restore, the dead-letter queue and metrics.
package stream

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Topology is what a processor declares about itself, in one readable place.
type Topology struct {
	// Name identifies the processor: its consumer group, the prefix of its
	// transactional id, and its changelog topic (lockstep.<Name>.changelog).
	Name string
	// Inputs are consumed in one group; they must be co-partitioned (same
	// partition count), which New checks.
	Inputs []string
	// Stores are the state stores the handler may read and write.
	Stores []string
	// Outputs are the topics the handler may emit to.
	Outputs []string
	// Globals are tables every instance reads in full (Context.Global).
	Globals []GlobalTable
	// Handler handles each input record. If it also implements
	// TimerHandler, scheduled timers fire through it.
	Handler Handler
}

// Handler is a processor's business logic for one record. Returning an error
// made by Reject sends the record to the DLQ and processing continues; any
// other error aborts the batch's transaction and stops the processor.
type Handler interface {
	Handle(ctx *Context, rec *kgo.Record) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx *Context, rec *kgo.Record) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx *Context, rec *kgo.Record) error { return f(ctx, rec) }

// TimerHandler is implemented by handlers that schedule timers. OnTimer runs
// inside the transaction of the batch during which the timer fell due, so a
// timer fires exactly once.
type TimerHandler interface {
	OnTimer(ctx *Context, key []byte, due time.Time) error
}

// Reserved store names; user stores may not start with "__".
const (
	timerStore = "__timers"
	seenStore  = "__seen"
)

// GroupID is a processor's consumer group, also the prefix of its
// transactional ids: the topic prefix namespaces a deployment, so two
// deployments on one cluster neither share a group nor fence each other.
func GroupID(prefix, name string) string { return prefix + name }

// ChangelogTopic is the changelog topic of a processor.
func ChangelogTopic(prefix, name string) string {
	return prefix + "lockstep." + name + ".changelog"
}

// Validate reports the first problem with the declaration.
func (t Topology) Validate() error {
	switch {
	case t.Name == "" || strings.ContainsAny(t.Name, " /\x00"):
		return fmt.Errorf("stream: topology name %q: want a non-empty name without spaces or slashes", t.Name)
	case len(t.Inputs) == 0:
		return fmt.Errorf("stream: topology %s: no input topics", t.Name)
	case t.Handler == nil:
		return fmt.Errorf("stream: topology %s: no handler", t.Name)
	}
	for _, g := range t.Globals {
		if g.Topic == "" || g.Decode == nil {
			return fmt.Errorf("stream: topology %s: a global table needs a topic and a decoder", t.Name)
		}
	}
	for _, s := range t.Stores {
		if s == "" || strings.HasPrefix(s, "__") || strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("stream: topology %s: store name %q: want non-empty, no leading \"__\", no zero byte", t.Name, s)
		}
	}
	return nil
}

// RejectError marks a record the handler cannot process; the runtime sends
// it to the DLQ with Reason and moves on.
type RejectError struct{ Err error }

func (e *RejectError) Error() string { return "rejected: " + e.Err.Error() }
func (e *RejectError) Unwrap() error { return e.Err }

// Reject wraps err so that the runtime dead-letters the record instead of
// stopping.
func Reject(err error) error { return &RejectError{Err: err} }

// ErrFailpoint is returned by Run when a test failpoint stopped it.
var ErrFailpoint = errors.New("stream: stopped at failpoint")

// Failpoint names a place where tests stop the runtime as a crash would:
// without committing, aborting or cleaning up.
type Failpoint string

// The failpoints.
const (
	// FailMidBatch fires after half of one poll's records were handled
	// and produced, before the transaction ends (a transaction spans one
	// or more polls, so it can fire in any of them).
	FailMidBatch Failpoint = "mid-batch"
	// FailAfterCommit fires after the Kafka transaction committed and
	// before the overlay reaches Pebble.
	FailAfterCommit Failpoint = "after-commit"
	// FailDuringRestore fires after a chunk of a restore was written to
	// Pebble, before the restore finished.
	FailDuringRestore Failpoint = "during-restore"
)
