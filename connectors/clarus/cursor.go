package clarus

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

// CursorKey is the sweep's key on lockstep.source-cursors.
const CursorKey = "clarus/stock_balances"

// Cursor is the sweep's progress, committed with every page of snapshots in
// one transaction: a restarted sweep resumes after the last committed page,
// under the same snapshot id, and the next incremental sweep starts from
// the high-water mark of the last completed one.
type Cursor struct {
	SnapshotID string `json:"snapshot_id,omitempty"`
	InProgress bool   `json:"in_progress"`
	Full       bool   `json:"full"`
	// Since is the in-progress sweep's filter: balances updated after it
	// (zero for a full sweep).
	Since time.Time `json:"since,omitzero"`
	// After is the end cursor of the last committed page.
	After string `json:"after,omitempty"`
	// StartedAt is the server's clock at the in-progress sweep's first page.
	StartedAt time.Time `json:"started_at,omitzero"`
	// LocalStart is lockstep's clock when the in-progress sweep began.
	LocalStart time.Time `json:"local_start,omitzero"`
	Pages      int       `json:"pages"`
	Balances   int64     `json:"balances"`
	// HighWater is the StartedAt of the last completed sweep: every balance
	// updated since may not be in it, so the next sweep reads those.
	HighWater time.Time `json:"high_water,omitzero"`
	// LastStart and LastFullStart are lockstep's clock at the start of the
	// last completed sweep and full sweep: the schedule survives restarts.
	LastStart     time.Time `json:"last_start,omitzero"`
	LastFullStart time.Time `json:"last_full_start,omitzero"`
}

// readCursor returns the last committed cursor on topic, reading it read
// committed after any open transaction on the topic has ended, so that a
// sweep never resumes from a page whose snapshots were aborted.
func readCursor(ctx context.Context, kopts []kgo.Opt, topic string) (Cursor, bool, error) {
	admCl, err := kgo.NewClient(kopts...)
	if err != nil {
		return Cursor{}, false, err
	}
	defer admCl.Close()
	ends, err := stableEnds(ctx, kadm.NewClient(admCl), topic)
	if err != nil || len(ends) == 0 {
		return Cursor{}, false, err
	}
	from := map[int32]kgo.Offset{}
	for p := range ends {
		from[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(slices.Clone(kopts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Keep markers: the last offset of a partition is often one, and it
		// is how the reader knows it has reached the end.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		return Cursor{}, false, err
	}
	defer cl.Close()
	var cur Cursor
	found := false
	for len(ends) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return Cursor{}, false, err
		}
		for _, fe := range fs.Errors() {
			return Cursor{}, false, fmt.Errorf("read %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		for _, r := range fs.Records() {
			if end, ok := ends[r.Partition]; ok && r.Offset >= end-1 {
				delete(ends, r.Partition)
			}
			if r.Attrs.IsControl() || string(r.Key) != CursorKey || r.Value == nil {
				continue
			}
			var c Cursor
			if err := json.Unmarshal(r.Value, &c); err != nil {
				return Cursor{}, false, fmt.Errorf("cursor at %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			cur, found = c, true
		}
	}
	return cur, found, nil
}

// stableEnds waits until no transaction is open on topic (last stable
// offset == high watermark) and returns the end offset of every non-empty
// partition. A missing topic has no cursor.
func stableEnds(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	deadline := time.Now().Add(2 * time.Minute) // longer than a transaction timeout
	for {
		lso, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("list stable offsets of %s: %w", topic, err)
		}
		hwm, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("list end offsets of %s: %w", topic, err)
		}
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("list start offsets of %s: %w", topic, err)
		}
		ends := map[int32]int64{}
		stable := true
		var lerr error
		hwm.Each(func(o kadm.ListedOffset) {
			if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
				return
			}
			if o.Err != nil {
				lerr = o.Err
				return
			}
			l, ok := lso.Lookup(topic, o.Partition)
			if !ok || l.Err != nil || l.Offset != o.Offset {
				stable = false
			}
			// A partition whose records retention deleted has nothing to read.
			if st, ok := starts.Lookup(topic, o.Partition); ok && st.Err == nil && st.Offset < o.Offset {
				ends[o.Partition] = o.Offset
			}
		})
		if lerr != nil {
			return nil, fmt.Errorf("end offsets of %s: %w", topic, lerr)
		}
		if stable {
			return ends, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s still has an open transaction after 2m", topic)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
