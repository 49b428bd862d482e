package stream_test

import (
	"context"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/schemas"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A record that cannot be decoded goes to the DLQ with its coordinates and
// reason, inside the batch's transaction, and the partition keeps flowing.
func TestPoisonRecordGoesToDLQKfake(t *testing.T) {
	b := newKfake(t)
	s := newScenario(t, b, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(append(b.opts(), kgo.DefaultProduceTopic(s.in))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range 100 {
		v := binary.BigEndian.AppendUint64(nil, uint64(i))
		if i == 40 {
			v = []byte("not an int64") // the poison
		}
		recs = append(recs, &kgo.Record{Key: []byte("k" + strconv.Itoa(i%7)), Value: v,
			Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t" + strconv.Itoa(i))}}})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	serde := schemas.NewSerde(schemas.NewMemRegistry())
	cfg := s.config("a", t.TempDir())
	cfg.EncodeDeadLetter = deadletter.Avro(serde)
	w := s.watchOutput(t, ctx)
	inst := start(t, cfg, b.opts()...)
	w.waitFor(t, ctx, 99)
	inst.stop(t)

	dlq := readAll(t, ctx, b, s.prefix+"lockstep.dlq")
	if len(dlq) != 1 {
		t.Fatalf("DLQ holds %d records, want 1", len(dlq))
	}
	d := dlq[0]
	hdr := map[string]string{}
	for _, h := range d.Headers {
		hdr[h.Key] = string(h.Value)
	}
	if hdr[deadletter.HeaderTopic] != s.in || hdr[deadletter.HeaderPartition] != "0" || hdr[deadletter.HeaderOffset] != "40" ||
		hdr[deadletter.HeaderStage] != s.name || !strings.Contains(hdr[deadletter.HeaderReason], "want an 8-byte int64") || hdr["trace"] != "t40" {
		t.Fatalf("DLQ headers = %v", hdr)
	}
	var env schemas.DeadLetter
	if err := serde.Decode(ctx, d.Value, &env); err != nil {
		t.Fatalf("DLQ value is not a DeadLetter envelope: %v", err)
	}
	if env.OriginalTopic != s.in || env.OriginalOffset != 40 || string(env.OriginalValue) != "not an int64" ||
		string(env.OriginalKey) != "k5" || env.Stage != s.name || !strings.Contains(env.Reason, "8-byte") ||
		len(env.OriginalHeaders) != 1 || env.OriginalHeaders[0].Key != "trace" {
		t.Fatalf("envelope = %+v", env)
	}
	// The records after the poison were processed: their outputs exist.
	outs := readAll(t, ctx, b, s.out)
	if len(outs) != 99 {
		t.Fatalf("%d outputs, want 99 (every record but the poison)", len(outs))
	}
	if last := int64(binary.BigEndian.Uint64(outs[len(outs)-1].Value[4:])); last != 99 {
		t.Fatalf("last output is for offset %d, want 99", last)
	}
}

// readAll reads a topic read-committed up to its current end.
func readAll(t testing.TB, ctx context.Context, b *broker, topic string) []*kgo.Record {
	t.Helper()
	ends, err := b.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(b.opts(), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	remaining := map[int32]int64{}
	for _, ps := range ends {
		for p, o := range ps {
			if o.Offset > 0 {
				remaining[p] = o.Offset
			}
		}
	}
	var out []*kgo.Record
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("read %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if r.Offset == end-1 {
				delete(remaining, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}
