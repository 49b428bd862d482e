package prima

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Keys of the source's cursors on lockstep.source-cursors.
const (
	CursorKeyItems       = "prima/items"
	CursorKeyStockLevels = "prima/stock-levels"
)

// readCursors returns the last committed cursor of each key on topic. It
// notes the end of every partition, then reads read-committed until it has
// passed that end: any transaction open when it started has ended by then,
// so a cursor committed just before a restart is never missed, and one
// from an aborted transaction is never seen. The caller fences its own
// previous producer first, so its own open transaction is aborted rather
// than waited for. Unlike waiting for a moment with no open transaction
// at all, this does not starve while other sources commit continuously.
func readCursors(ctx context.Context, kopts []kgo.Opt, topic string, keys ...string) (map[string]Cursor, error) {
	out := map[string]Cursor{}
	admCl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	want := map[int32]int64{} // partition -> its end when we started
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		switch {
		case errors.Is(o.Err, kerr.UnknownTopicOrPartition):
		case o.Err != nil:
			lerr = o.Err
		default:
			if st, ok := starts.Lookup(topic, o.Partition); ok && st.Err == nil && st.Offset < o.Offset {
				want[o.Partition] = o.Offset
			}
		}
	})
	if lerr != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, lerr)
	}
	if len(want) == 0 {
		return out, nil
	}
	from := map[int32]kgo.Offset{}
	for p := range want {
		from[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(slices.Clone(kopts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// The last offset before the end is often a transaction marker; it
		// is how the reader knows it got there.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, fe := range fs.Errors() {
			return nil, fmt.Errorf("read %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		for _, r := range fs.Records() {
			if end, ok := want[r.Partition]; ok && r.Offset >= end-1 {
				delete(want, r.Partition)
			}
			if r.Attrs.IsControl() || r.Value == nil || !slices.Contains(keys, string(r.Key)) {
				continue
			}
			var c Cursor
			if err := json.Unmarshal(r.Value, &c); err != nil {
				return nil, fmt.Errorf("cursor at %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			out[string(r.Key)] = c
		}
	}
	return out, nil
}
