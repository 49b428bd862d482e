package prima

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

// follower reads topics as global tables: every partition from its start,
// read committed, then follows them, handing each record to apply in
// partition order. mark and reached tell a reader when it has caught up
// with what the topics held at a moment: the sink pushes nothing before
// its item table has, and the parity check judges nothing before.
type follower struct {
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

// offsets are, per topic and partition, the offset a reader must reach.
type offsets map[string]map[int32]int64

func newFollower(kopts []kgo.Opt, log *slog.Logger, apply func(*kgo.Record), topics ...string) (*follower, error) {
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
	return &follower{cl: cl, adm: kadm.NewClient(cl), log: log, apply: apply, topics: topics,
		next: map[string]map[int32]int64{}, progress: make(chan struct{})}, nil
}

func (f *follower) close() { f.cl.Close() }

// step applies the records of one fetch. It returns ctx's error when ctx
// has ended, having applied what the fetch held even then (records a poll
// returns are consumed), and an error when the client is closed.
func (f *follower) step(ctx context.Context) error {
	fs := f.cl.PollRecords(ctx, 1000)
	if fs.IsClientClosed() {
		return kgo.ErrClientClosed
	}
	fs.EachError(func(t string, p int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			f.log.Warn("prima: table fetch error", "topic", t, "partition", p, "err", err)
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

// mark returns the end of every non-empty partition of topics now: once
// past it, a reader has seen everything committed before the call, and
// every transaction then open has ended. A missing topic is empty.
func (f *follower) mark(ctx context.Context, topics ...string) (offsets, error) {
	starts, err := f.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("start offsets of %v: %w", topics, err)
	}
	ends, err := f.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %v: %w", topics, err)
	}
	want := offsets{}
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

// reached reports whether every partition of m has been read and applied
// up to its mark, and returns a channel closed at the next progress.
func (f *follower) reached(m offsets) (bool, <-chan struct{}) {
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

// wait blocks until the follower, stepping in another goroutine, has
// reached m.
func (f *follower) wait(ctx context.Context, m offsets) error {
	for {
		ok, progressed := f.reached(m)
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

// catchUp steps in the calling goroutine until the follower has reached
// what its topics hold now.
func (f *follower) catchUp(ctx context.Context) error {
	m, err := f.mark(ctx, f.topics...)
	if err != nil {
		return err
	}
	for {
		if ok, _ := f.reached(m); ok {
			return nil
		}
		if err := f.step(ctx); err != nil {
			return err
		}
	}
}
