package clarus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The keys webhooks touched: an incremental sweep re-reads the balances of
// every sku@warehouse a webhook produced a movement for since the last
// sweep began. It reads them from clarus.stock-movements itself (the keys
// only, never the values), so it needs no state of its own and sees what
// every receiver of the tenant produced, whichever instance ran it: a
// forged or wrong webhook that passed the checks is corrected by the next
// sweep.

// movementOffsets returns the start and end offsets of every partition of
// the movements topic (none while the topic does not exist).
func (s *Sweeper) movementOffsets(ctx context.Context) (starts, ends map[int32]int64, err error) {
	cl, err := s.readerClient()
	if err != nil {
		return nil, nil, err
	}
	adm := kadm.NewClient(cl)
	hwm, err := adm.ListEndOffsets(ctx, s.moveTopic)
	if err != nil {
		return nil, nil, fmt.Errorf("clarus: sweep: end offsets of %s: %w", s.moveTopic, err)
	}
	lwm, err := adm.ListStartOffsets(ctx, s.moveTopic)
	if err != nil {
		return nil, nil, fmt.Errorf("clarus: sweep: start offsets of %s: %w", s.moveTopic, err)
	}
	starts, ends = map[int32]int64{}, map[int32]int64{}
	for _, l := range []struct {
		offs kadm.ListedOffsets
		into map[int32]int64
	}{{hwm, ends}, {lwm, starts}} {
		for _, o := range l.offs[s.moveTopic] {
			switch {
			case errors.Is(o.Err, kerr.UnknownTopicOrPartition):
			case o.Err != nil:
				return nil, nil, fmt.Errorf("clarus: sweep: offsets of %s/%d: %w", s.moveTopic, o.Partition, o.Err)
			default:
				l.into[o.Partition] = o.Offset
			}
		}
	}
	return starts, ends, nil
}

// errTouchedLost says records between the last sweep and now are gone
// (retention deleted them, or the topic was recreated): the keys they
// touched are unknown, so only a full sweep is sure to read them.
var errTouchedLost = errors.New("clarus: sweep: movements since the last sweep are no longer on the topic")

// touchedReadTimeout bounds reading the keys touched since the last sweep.
const touchedReadTimeout = 2 * time.Minute

// touched returns the keys of the movement records from from up to to, by
// partition; a partition missing from from is read from its start.
func (s *Sweeper) touched(ctx context.Context, from, starts, to map[int32]int64) ([]string, error) {
	want := map[int32]kgo.Offset{}
	remaining := map[int32]int64{}
	for p, end := range to {
		begin, ok := from[p]
		if !ok {
			begin = starts[p]
		}
		switch {
		case begin < starts[p] || begin > end:
			return nil, fmt.Errorf("%w (partition %d: from %d, now %d to %d)", errTouchedLost, p, begin, starts[p], end)
		case begin < end:
			want[p] = kgo.NewOffset().At(begin)
			remaining[p] = end
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(append(slices.Clone(s.kopts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.moveTopic: want}),
		// Markers too: the last offset before an end may be one.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		return nil, fmt.Errorf("clarus: sweep: kafka client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeoutCause(ctx, touchedReadTimeout,
		fmt.Errorf("clarus: sweep: reading %s did not reach its end within %s", s.moveTopic, touchedReadTimeout))
	defer cancel()
	keys := map[string]bool{}
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		for _, fe := range fs.Errors() {
			if errors.Is(fe.Err, kerr.OffsetOutOfRange) {
				return nil, fmt.Errorf("%w (partition %d)", errTouchedLost, fe.Partition)
			}
			return nil, fmt.Errorf("clarus: sweep: read %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if r.Offset >= end-1 {
				delete(remaining, r.Partition)
			}
			if !r.Attrs.IsControl() {
				keys[string(r.Key)] = true
			}
		})
	}
	return slices.Sorted(maps.Keys(keys)), nil
}

// readerClient returns the plain (non-transactional) client the sweep lists
// offsets with, opening it once.
func (s *Sweeper) readerClient() (*kgo.Client, error) {
	if s.reader == nil {
		cl, err := kgo.NewClient(s.kopts...)
		if err != nil {
			return nil, fmt.Errorf("clarus: sweep: kafka client: %w", err)
		}
		s.reader = cl
	}
	return s.reader, nil
}
