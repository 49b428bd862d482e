// Package cursor is the transactional source cursor: a source commits each
// page of records together with its cursor on the compacted cursor topic in
// one Kafka transaction, and reads its committed cursors back on start.
package cursor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// stablePoll is how often Read asks whether the transactions it waits for
// have ended.
const stablePoll = 50 * time.Millisecond

// Read returns the latest committed value of each of keys on topic; a key
// with no value (or whose latest record is a tombstone) is absent from the
// map. It notes the end (high watermark) of every partition, waits until
// the partition's last stable offset has reached that end, so that every
// transaction open when it started has committed or aborted, then reads
// read-committed up to it: a value committed just before a restart is
// never missed, and one from an aborted transaction is never seen. Unlike
// waiting for a moment with no open transaction at all, this does not
// starve while other sources commit continuously.
//
// wait bounds the whole read (0: only ctx does); a transaction ends at the
// latest when the broker times it out, so a small multiple of the
// producers' transaction timeout is enough. A caller that produces to
// topic transactionally fences its previous producer first (see
// Committer.Load), so its own open transaction is aborted rather than
// waited for. A missing topic has no values.
func Read(ctx context.Context, kopts []kgo.Opt, topic string, wait time.Duration, keys ...string) (map[string][]byte, error) {
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, wait,
			fmt.Errorf("cursor: read %s: a transaction still open after %s", topic, wait))
		defer cancel()
	}
	out, err := read(ctx, kopts, topic, keys)
	if err != nil && ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	return out, err
}

func read(ctx context.Context, kopts []kgo.Opt, topic string, keys []string) (map[string][]byte, error) {
	cl, err := kgo.NewClient(append(slices.Clone(kopts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Keep markers: the last offset before a partition's end is often
		// one, and it is how the reader knows it got there.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		return nil, fmt.Errorf("cursor: kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := partitionEnds(ctx, adm, topic)
	if err != nil || len(ends) == 0 {
		return map[string][]byte{}, err
	}
	if err := waitStable(ctx, adm, topic, ends); err != nil {
		return nil, err
	}
	from := map[int32]kgo.Offset{}
	for p := range ends {
		from[p] = kgo.NewOffset().AtStart()
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: from})
	out := map[string][]byte{}
	for len(ends) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, fe := range fs.Errors() {
			return nil, fmt.Errorf("cursor: read %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		for _, r := range fs.Records() {
			end, ok := ends[r.Partition]
			if !ok {
				continue // read to its end already
			}
			if r.Offset >= end-1 {
				// The end may be passed rather than met: an aborted record
				// just before it is filtered out, its marker lies beyond.
				delete(ends, r.Partition)
			}
			if r.Offset >= end {
				continue // after the end noted at the start
			}
			if r.Attrs.IsControl() || !slices.Contains(keys, string(r.Key)) {
				continue
			}
			if r.Value == nil {
				delete(out, string(r.Key))
				continue
			}
			out[string(r.Key)] = r.Value
		}
	}
	return out, nil
}

// partitionEnds returns the end offset of every partition of topic that
// holds records (one whose records retention deleted has nothing to read).
func partitionEnds(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	hwm, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("cursor: end offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("cursor: start offsets of %s: %w", topic, err)
	}
	ends := map[int32]int64{}
	var lerr error
	hwm.Each(func(o kadm.ListedOffset) {
		switch {
		case errors.Is(o.Err, kerr.UnknownTopicOrPartition):
		case o.Err != nil:
			lerr = o.Err
		default:
			if st, ok := starts.Lookup(topic, o.Partition); ok && st.Err == nil && st.Offset < o.Offset {
				ends[o.Partition] = o.Offset
			}
		}
	})
	if lerr != nil {
		return nil, fmt.Errorf("cursor: end offsets of %s: %w", topic, lerr)
	}
	return ends, nil
}

// waitStable waits until the last stable offset of every partition in ends
// has reached the end noted there: every transaction open then has ended.
// Transactions begun since do not hold it back.
func waitStable(ctx context.Context, adm *kadm.Client, topic string, ends map[int32]int64) error {
	t := time.NewTicker(stablePoll)
	defer t.Stop()
	for {
		lso, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return fmt.Errorf("cursor: stable offsets of %s: %w", topic, err)
		}
		stable := true
		for p, end := range ends {
			if l, ok := lso.Lookup(topic, p); !ok || l.Err != nil || l.Offset < end {
				stable = false
				break
			}
		}
		if stable {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
