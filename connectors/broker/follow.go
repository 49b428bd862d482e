package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Follower reads topics as global tables: every partition from its start,
// read committed, then follows them, handing each record to apply in
// partition order. Mark and Reached tell a reader when it has caught up
// with what the topics held at a moment: the Prima sink pushes nothing
// before its item table has, the parity check judges nothing before, and
// a stream processor handles no record before its global tables have.
// Step runs in one goroutine; Mark, Reached and Wait in any.
type Follower struct {
	cl     *kgo.Client
	adm    *kadm.Client
	log    *slog.Logger
	apply  func(*kgo.Record)
	topics []string

	// progress is read by other goroutines (the sink waits on it while its
	// follower runs in the background); mu guards it and its signal.
	mu       sync.Mutex
	next     map[string]map[int32]int64 // per topic and partition: offset after the last record read
	progress chan struct{}              // closed and replaced after each fetch is applied
}

// Offsets are, per topic and partition, the offset a reader must reach.
type Offsets map[string]map[int32]int64

// NewFollower returns a follower of topics that hands each record to apply;
// kopts are the connection options. Nothing is read before the first Step.
func NewFollower(kopts []kgo.Opt, log *slog.Logger, apply func(*kgo.Record), topics ...string) (*Follower, error) {
	cl, err := kgo.NewClient(append(slices.Clone(kopts),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// The last offset of a partition is often a transaction marker;
		// seeing it is how the reader knows it got there.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %v: %w", topics, err)
	}
	return &Follower{cl: cl, adm: kadm.NewClient(cl), log: log, apply: apply, topics: topics,
		next: map[string]map[int32]int64{}, progress: make(chan struct{})}, nil
}

// Client is the follower's client, for a reader that also produces with
// it (the parity check writes its drift and state through it).
func (f *Follower) Client() *kgo.Client { return f.cl }

// Close closes the follower's client.
func (f *Follower) Close() { f.cl.Close() }

// Step applies the records of one fetch. It returns ctx's error when ctx
// has ended, having applied what the fetch held even then (records a poll
// returns are consumed), and an error when the client is closed.
func (f *Follower) Step(ctx context.Context) error {
	fs := f.cl.PollRecords(ctx, 1000)
	if fs.IsClientClosed() {
		return kgo.ErrClientClosed
	}
	fs.EachError(func(t string, p int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			f.log.Warn("table fetch error", "topic", t, "partition", p, "err", err)
		}
	})
	read := map[string]map[int32]int64{}
	fs.EachRecord(func(r *kgo.Record) {
		if read[r.Topic] == nil {
			read[r.Topic] = map[int32]int64{}
		}
		read[r.Topic][r.Partition] = r.Offset + 1
		if !r.Attrs.IsControl() {
			f.apply(r)
		}
	})
	f.mu.Lock()
	for t, ps := range read {
		if f.next[t] == nil {
			f.next[t] = map[int32]int64{}
		}
		for p, o := range ps {
			f.next[t][p] = max(f.next[t][p], o)
		}
	}
	close(f.progress)
	f.progress = make(chan struct{})
	f.mu.Unlock()
	return ctx.Err()
}

// Mark returns the end of every non-empty partition of topics now: once
// past it, a reader has seen everything committed before the call, and
// every transaction then open has ended. A missing topic is empty.
func (f *Follower) Mark(ctx context.Context, topics ...string) (Offsets, error) {
	starts, err := f.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("start offsets of %v: %w", topics, err)
	}
	ends, err := f.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %v: %w", topics, err)
	}
	want := Offsets{}
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		switch {
		case errors.Is(o.Err, kerr.UnknownTopicOrPartition):
		case o.Err != nil:
			lerr = fmt.Errorf("end offset of %s/%d: %w", o.Topic, o.Partition, o.Err)
		default:
			if st, ok := starts.Lookup(o.Topic, o.Partition); ok && st.Err == nil && st.Offset < o.Offset {
				if want[o.Topic] == nil {
					want[o.Topic] = map[int32]int64{}
				}
				want[o.Topic][o.Partition] = o.Offset
			}
		}
	})
	return want, lerr
}

// Reached reports whether every partition of m has been read and applied
// up to its mark, and returns a channel closed at the next progress.
func (f *Follower) Reached(m Offsets) (bool, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for t, ps := range m {
		for p, end := range ps {
			if f.next[t][p] < end {
				return false, f.progress
			}
		}
	}
	return true, f.progress
}

// Wait blocks until the follower, stepping in another goroutine, has
// reached m.
func (f *Follower) Wait(ctx context.Context, m Offsets) error {
	for {
		ok, progressed := f.Reached(m)
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-progressed:
		}
	}
}

// CatchUp steps in the calling goroutine until the follower has reached
// what its topics hold now.
func (f *Follower) CatchUp(ctx context.Context) error {
	m, err := f.Mark(ctx, f.topics...)
	if err != nil {
		return err
	}
	for {
		if ok, _ := f.Reached(m); ok {
			return nil
		}
		if err := f.Step(ctx); err != nil {
			return err
		}
	}
}
