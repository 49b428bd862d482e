package schemas

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// SchemasTopic is where the embedded registry keeps its schemas. The name
// and the record format are Confluent's, so a real registry pointed at the
// same cluster would find the same ids.
const SchemasTopic = "_schemas"

// logKey and logValue are the Confluent Schema Registry's _schemas records.
type logKey struct {
	KeyType string `json:"keytype"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
	Magic   int    `json:"magic"`
}

type logValue struct {
	Subject    string               `json:"subject"`
	Version    int                  `json:"version"`
	ID         int                  `json:"id"`
	SchemaType string               `json:"schemaType,omitempty"`
	References []sr.SchemaReference `json:"references,omitempty"`
	Schema     string               `json:"schema"`
	Deleted    bool                 `json:"deleted"`
}

func (v *logValue) schema() (sr.Schema, error) {
	s := sr.Schema{Schema: v.Schema, References: v.References}
	if v.SchemaType != "" {
		if err := s.Type.UnmarshalText([]byte(v.SchemaType)); err != nil {
			return s, err
		}
	}
	return s, nil
}

func logRecord(subject string, version, id int, s sr.Schema) (*kgo.Record, error) {
	k, err := json.Marshal(logKey{KeyType: "SCHEMA", Subject: subject, Version: version, Magic: 1})
	if err != nil {
		return nil, err
	}
	v := logValue{Subject: subject, Version: version, ID: id, References: s.References, Schema: s.Schema}
	if s.Type != sr.TypeAvro {
		v.SchemaType = s.Type.String()
	}
	val, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: SchemasTopic, Key: k, Value: val}, nil
}

// ensureTopic creates _schemas, compacted, with one partition: a single
// ordered log, as Confluent's registry keeps it.
func ensureTopic(ctx context.Context, adm *kadm.Client) error {
	_, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, SchemasTopic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create %s: %w", SchemasTopic, err)
	}
	return nil
}

// readLog reads _schemas from the start to the end it had when called and
// returns the live schemas, ordered by id: the order they were given out.
func readLog(ctx context.Context, adm *kadm.Client, opts []kgo.Opt) ([]logValue, error) {
	starts, err := listOffsets(ctx, adm.ListStartOffsets)
	if err != nil {
		return nil, fmt.Errorf("list start offsets of %s: %w", SchemasTopic, err)
	}
	ends, err := listOffsets(ctx, adm.ListEndOffsets)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", SchemasTopic, err)
	}
	pending := map[int32]int64{} // partition -> last offset to read
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); !ok || s.Offset < o.Offset {
			pending[o.Partition] = o.Offset - 1
		}
	})
	live := map[logKey]logValue{}
	if len(pending) > 0 {
		if err := consumeLog(ctx, opts, pending, live); err != nil {
			return nil, err
		}
	}
	out := make([]logValue, 0, len(live))
	for _, v := range live {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b logValue) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Version, b.Version))
	})
	return out, nil
}

// listOffsets retries while a freshly created topic has no leader yet, as a
// real broker answers for a moment after CreateTopics.
func listOffsets(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error)) (kadm.ListedOffsets, error) {
	for {
		o, err := list(ctx, SchemasTopic)
		if err == nil {
			err = o.Error()
		}
		if err == nil || !kerr.IsRetriable(err) {
			return o, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// consumeLog applies records to live until every partition in pending has
// been read to its last offset. Kafka never compacts the active segment, so
// that last record is always there to be read.
func consumeLog(ctx context.Context, opts []kgo.Opt, pending map[int32]int64, live map[logKey]logValue) error {
	parts := map[int32]kgo.Offset{}
	for p := range pending {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(slices.Clip(opts), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{SchemasTopic: parts}))...)
	if err != nil {
		return fmt.Errorf("read %s: %w", SchemasTopic, err)
	}
	defer cl.Close()
	for len(pending) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %s: %w", SchemasTopic, err)
		}
		for _, fe := range fs.Errors() {
			return fmt.Errorf("read %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		var applyErr error
		fs.EachRecord(func(r *kgo.Record) {
			if err := applyLogRecord(r, live); err != nil && applyErr == nil {
				applyErr = fmt.Errorf("%s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			if last, ok := pending[r.Partition]; ok && r.Offset >= last {
				delete(pending, r.Partition)
			}
		})
		if applyErr != nil {
			return applyErr
		}
	}
	return nil
}

// applyLogRecord folds one record into live, later records winning as in a
// compacted topic. Keys other than SCHEMA (Confluent's CONFIG, MODE, NOOP)
// say nothing about ids and are skipped.
func applyLogRecord(r *kgo.Record, live map[logKey]logValue) error {
	var k logKey
	if err := json.Unmarshal(r.Key, &k); err != nil {
		return fmt.Errorf("key: %w", err)
	}
	if k.KeyType != "SCHEMA" {
		return nil
	}
	k.Magic = 0 // the same subject and version, whatever the key's format version
	if r.Value == nil {
		delete(live, k)
		return nil
	}
	var v logValue
	if err := json.Unmarshal(r.Value, &v); err != nil {
		return fmt.Errorf("value: %w", err)
	}
	if v.Deleted {
		delete(live, k)
		return nil
	}
	live[k] = v
	return nil
}
