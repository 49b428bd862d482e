package deadletter_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/schemas"
)

func TestRecord(t *testing.T) {
	ctx := context.Background()
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	failedAt := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	origAt := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	broken := func(context.Context, deadletter.Letter) ([]byte, error) { return nil, errors.New("registry down") }

	for _, tc := range []struct {
		name     string
		rec      *kgo.Record
		attempts int32
		enc      deadletter.Encoder
		envelope bool // the value is the Avro envelope, else the original bytes
		encErr   bool
	}{
		{name: "avro", envelope: true, attempts: 3, enc: deadletter.Avro(serde),
			rec: &kgo.Record{Topic: "lockstep.cmd.prima-stock", Partition: 2, Offset: 41, Timestamp: origAt,
				Key: []byte("WH1"), Value: []byte("not a command"),
				Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t1")}, {Key: "empty"}}}},
		{name: "avro, tombstone without key or headers", envelope: true, enc: deadletter.Avro(serde),
			rec: &kgo.Record{Topic: "lockstep.drift", Partition: 0, Offset: 7, Timestamp: origAt}},
		{name: "no encoder keeps the original bytes",
			rec: &kgo.Record{Topic: "t", Partition: 1, Offset: 1 << 40, Key: []byte("k"), Value: []byte{0, 1, 2},
				Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t2")}}}},
		{name: "encoding fails: original bytes, error reported", enc: broken, encErr: true, attempts: 1,
			rec: &kgo.Record{Topic: "t", Partition: 5, Offset: 9, Key: []byte("k"), Value: []byte("raw")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := deadletter.Letter{Record: tc.rec, Reason: "decode: bad magic", Stage: "stock", FailedAt: failedAt, Attempts: tc.attempts}
			out, err := deadletter.Record(ctx, "p.lockstep.dlq", l, tc.enc)
			if (err != nil) != tc.encErr {
				t.Fatalf("err = %v, want an error: %v", err, tc.encErr)
			}
			if out == nil || out.Topic != "p.lockstep.dlq" || !bytes.Equal(out.Key, tc.rec.Key) || (tc.rec.Key == nil) != (out.Key == nil) {
				t.Fatalf("record %+v", out)
			}
			// The original headers, then the DLQ headers, whatever the value.
			var got []string
			for _, h := range out.Headers {
				got = append(got, h.Key+"="+string(h.Value))
			}
			var want []string
			for _, h := range tc.rec.Headers {
				want = append(want, h.Key+"="+string(h.Value))
			}
			want = append(want, deadletter.HeaderReason+"=decode: bad magic", deadletter.HeaderStage+"=stock",
				deadletter.HeaderTopic+"="+tc.rec.Topic,
				deadletter.HeaderPartition+"="+itoa(int64(tc.rec.Partition)), deadletter.HeaderOffset+"="+itoa(tc.rec.Offset))
			if !slices.Equal(got, want) {
				t.Errorf("headers\n got %q\nwant %q", got, want)
			}
			if !tc.envelope {
				if !bytes.Equal(out.Value, tc.rec.Value) {
					t.Errorf("value %q, want the original %q", out.Value, tc.rec.Value)
				}
				return
			}
			var env schemas.DeadLetter
			if err := serde.Decode(ctx, out.Value, &env); err != nil {
				t.Fatalf("value is not a DeadLetter envelope: %v", err)
			}
			wantEnv := schemas.DeadLetter{
				Meta: schemas.Meta{EventID: "dlq:stock:" + tc.rec.Topic + "/" + itoa(int64(tc.rec.Partition)) + "@" + itoa(tc.rec.Offset),
					Source: schemas.SourceLockstep, OccurredAt: failedAt, IngestedAt: failedAt},
				OriginalTopic: tc.rec.Topic, OriginalPartition: tc.rec.Partition, OriginalOffset: tc.rec.Offset,
				OriginalTimestamp: origAt, Reason: "decode: bad magic", Stage: "stock", FailedAt: failedAt, Attempts: tc.attempts,
			}
			if env.Meta.EventID != wantEnv.EventID || env.Source != wantEnv.Source || !env.OccurredAt.Equal(failedAt) ||
				!env.IngestedAt.Equal(failedAt) || env.OriginalTopic != wantEnv.OriginalTopic ||
				env.OriginalPartition != wantEnv.OriginalPartition || env.OriginalOffset != wantEnv.OriginalOffset ||
				!env.OriginalTimestamp.Equal(origAt) || env.Reason != wantEnv.Reason || env.Stage != wantEnv.Stage ||
				!env.FailedAt.Equal(failedAt) || env.Attempts != wantEnv.Attempts ||
				!bytes.Equal(env.OriginalKey, tc.rec.Key) || !bytes.Equal(env.OriginalValue, tc.rec.Value) {
				t.Errorf("envelope\n got %+v\nwant %+v", env, wantEnv)
			}
			if len(env.OriginalHeaders) != len(tc.rec.Headers) {
				t.Fatalf("original headers %+v, want %+v", env.OriginalHeaders, tc.rec.Headers)
			}
			for i, h := range tc.rec.Headers {
				if env.OriginalHeaders[i].Key != h.Key || !bytes.Equal(env.OriginalHeaders[i].Value, h.Value) {
					t.Errorf("original header %d = %+v, want %+v", i, env.OriginalHeaders[i], h)
				}
			}
		})
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// A record that never reached Kafka has no coordinates to name its letter:
// its ID does, so two of a source's letters never share an event id.
func TestLetterIDNamesUnproducedRecords(t *testing.T) {
	ctx := context.Background()
	serde := schemas.NewSerde(schemas.NewMemRegistry())
	ids := map[string]bool{}
	for _, id := range []string{"prima.sales-orders/aa", "prima.sales-orders/bb", ""} {
		rec, err := deadletter.Record(ctx, "lockstep.dlq", deadletter.Letter{
			Record: &kgo.Record{Topic: "prima.sales-orders", Partition: -1, Offset: -1, Value: []byte("<SalesOrder/>")},
			Reason: "bad", Stage: "prima-source", FailedAt: time.Unix(1, 0), ID: id}, deadletter.Avro(serde))
		if err != nil {
			t.Fatal(err)
		}
		var ev schemas.DeadLetter
		if err := serde.Decode(ctx, rec.Value, &ev); err != nil {
			t.Fatal(err)
		}
		ids[ev.EventID] = true
	}
	if !ids["dlq:prima-source:prima.sales-orders/aa"] || !ids["dlq:prima-source:prima.sales-orders/-1@-1"] || len(ids) != 3 {
		t.Fatalf("event ids %v", ids)
	}
}
