package ledger_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/analytics/analyticstest"
	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/connectors/ledger"
	"github.com/lockstep-dev/lockstep/schemas"
)

const (
	mRows          = "lockstep_ledger_rows_inserted_total"
	mFailed        = "lockstep_ledger_batches_failed_total"
	mDLQ           = "lockstep_ledger_dead_letters_total"
	mInsertSeconds = "lockstep_ledger_insert_duration_seconds"
)

// TestSinkLedgerAndReplay produces distinct drift events plus the copies a
// replay re-emits, and an aborted transaction; the ledger ends with one row
// per distinct event, every field intact, and offsets committed to the end.
// Then the group is reset and the topic read again: the ledger, its view and
// the finance queries are unchanged.
func TestSinkLedgerAndReplay(t *testing.T) {
	onBrokers(t, func(t *testing.T, b *broker) {
		const partitions, n = 3, 240
		f := newFixture(t, b, partitions)
		conn, _ := analyticstest.Migrated(t)

		// Never committed, so never in the ledger.
		var aborted []*schemas.DriftEvent
		for i := 1000; i < 1020; i++ {
			aborted = append(aborted, driftEvent(i))
		}
		f.produceAborted(t, aborted...)

		events := make([]*schemas.DriftEvent, n)
		for i := range events {
			events[i] = driftEvent(i)
		}
		recs := f.produceEvents(t, events...)
		// A processor that re-emits: every fourth event again, byte for
		// byte, at later offsets.
		var repeats []*schemas.DriftEvent
		for i := 0; i < n; i += 4 {
			repeats = append(repeats, events[i])
		}
		recs = append(recs, f.produceEvents(t, repeats...)...)
		byID := map[string]*schemas.DriftEvent{}
		copies := map[string][]*kgo.Record{}
		for i, ev := range append(slices.Clone(events), repeats...) {
			byID[ev.EventID] = ev
			copies[ev.EventID] = append(copies[ev.EventID], recs[i])
		}
		want := wantCommitted(recs)

		// Small batches, so that several inserts and commits happen.
		s1 := f.startSink(t, conn, ledger.Config{MaxRows: 50})
		waitAllIn(t, f, s1, conn, n, len(recs), want)
		if got := s1.metric(t, mInsertSeconds); got < float64(len(recs))/50 {
			t.Errorf("%s has %v samples, want one per batch of at most 50 rows", mInsertSeconds, got)
		}
		if !s1.Ready() {
			t.Error("sink not ready after inserting")
		}
		first := checkLedger(t, conn, f.drift, byID, copies)
		views := dumpViews(t, conn)
		s1.shutdown(t)

		// Replay: the group starts over and every record is inserted again.
		f.resetGroup(t, partitions)
		if got := f.committed(t); len(got) != partitions || got[0] != 0 {
			t.Fatalf("after reset, committed = %v", got)
		}
		s2 := f.startSink(t, conn, ledger.Config{})
		waitAllIn(t, f, s2, conn, n, len(recs), want)
		second := checkLedger(t, conn, f.drift, byID, copies)
		for i := range first {
			a, b := first[i], second[i]
			if len(copies[a.EventID]) > 1 {
				// Which copy's coordinates survive is ClickHouse's choice.
				a.KafkaPartition, a.KafkaOffset, b.KafkaPartition, b.KafkaOffset = 0, 0, 0, 0
			}
			if !sameRow(a, b) {
				t.Errorf("replay changed a row:\nbefore %s\n after %s", show(a), show(b))
			}
		}
		if got := dumpViews(t, conn); got != views {
			t.Errorf("replay changed the views and queries:\nbefore\n%s\nafter\n%s", views, got)
		}
	})
}

// waitAllIn waits until the sink has inserted inserted rows, the ledger
// holds distinct events, and the group committed want.
func waitAllIn(t *testing.T, f *fixture, s *runningSink, conn driver.Conn, distinct, inserted int, want map[int32]int64) {
	t.Helper()
	eventually(t, 60*time.Second, "all in and committed", func() (bool, string) {
		rows, n, got := s.metric(t, mRows), countFinal(t, conn), f.committed(t)
		return rows == float64(inserted) && n == uint64(distinct) && maps.Equal(got, want),
			fmt.Sprintf("rows inserted %v of %d, ledger %d of %d distinct, committed %v want %v", rows, inserted, n, distinct, got, want)
	})
}

// checkLedger checks every row against the event it came from, returns the
// rows.
func checkLedger(t *testing.T, conn driver.Conn, topic string, byID map[string]*schemas.DriftEvent, copies map[string][]*kgo.Record) []analytics.DriftEvent {
	t.Helper()
	rows := ledgerRows(t, conn)
	if len(rows) != len(byID) {
		t.Fatalf("ledger has %d rows, want %d", len(rows), len(byID))
	}
	for _, row := range rows {
		ev, ok := byID[row.EventID]
		if !ok {
			t.Errorf("unexpected row %s", show(row))
			continue
		}
		if row.KafkaTopic != topic {
			t.Errorf("row %s: topic %q, want %q", row.EventID, row.KafkaTopic, topic)
		}
		match := false
		for _, rec := range copies[row.EventID] {
			match = match || sameRow(row, wantRow(ev, rec))
		}
		if !match {
			t.Errorf("row does not round-trip:\n got %s\nwant %s", show(row), show(wantRow(ev, copies[row.EventID][0])))
		}
	}
	return rows
}

// dumpViews renders drift_current and every finance query, for comparing
// the ledger's answers before and after a replay.
func dumpViews(t *testing.T, conn driver.Conn) string {
	t.Helper()
	qs, err := analytics.Queries()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sqls := []string{"SELECT * FROM drift_current ORDER BY discrepancy_id"}
	for _, q := range qs {
		sqls = append(sqls, q.SQL)
	}
	for _, q := range sqls {
		rows, err := conn.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		for rows.Next() {
			cols := rows.ColumnTypes()
			dest := make([]any, len(cols))
			for i, c := range cols {
				dest[i] = reflect.New(c.ScanType()).Interface()
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			for _, d := range dest {
				v := reflect.ValueOf(d).Elem()
				if v.Kind() == reflect.Pointer {
					if v.IsNil() {
						out.WriteString("NULL\t")
						continue
					}
					v = v.Elem()
				}
				fmt.Fprintf(&out, "%v\t", v.Interface())
			}
			out.WriteByte('\n')
		}
		rows.Close()
		out.WriteString("--\n")
	}
	return out.String()
}

// TestSinkDeadLetters sends records that cannot be ledger rows between two
// good ones: each lands in the DLQ with its original bytes and the
// lockstep.dlq.* headers, the good ones land in the ledger, and the offsets
// commit past all of them.
func TestSinkDeadLetters(t *testing.T) {
	onBrokers(t, func(t *testing.T, b *broker) {
		f := newFixture(t, b, 1)
		conn, _ := analyticstest.Migrated(t)

		noID := driftEvent(2)
		noID.EventID = ""
		before1970 := driftEvent(3)
		before1970.OccurredAt = time.Unix(-3600, 0)
		level := &schemas.StockLevel{Meta: schemas.Meta{EventID: "lvl-1", Source: schemas.SourceLockstep}, SKU: "SKU-1", Warehouse: "WH1"}
		bad := []struct {
			rec    *kgo.Record
			reason string
		}{
			{&kgo.Record{Key: []byte("k-garbage"), Value: []byte("not avro at all"),
				Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("abc")}}}, "bad magic"},
			{&kgo.Record{Key: []byte("k-level"), Value: f.encode(t, level)}, "different event"},
			{&kgo.Record{Key: []byte("k-noid"), Value: f.encode(t, noID)}, "event_id is empty"},
			{&kgo.Record{Key: []byte("k-1969"), Value: f.encode(t, before1970)}, "outside ClickHouse DateTime"},
			{&kgo.Record{Key: []byte("k-tombstone")}, "shorter than its 5-byte header"},
		}
		good0, good1 := driftEvent(0), driftEvent(1)
		recs := f.produceEvents(t, good0)
		for _, x := range bad {
			recs = append(recs, f.produce(t, x.rec)...)
		}
		recs = append(recs, f.produceEvents(t, good1)...)

		s := f.startSink(t, conn, ledger.Config{})
		waitAllIn(t, f, s, conn, 2, 2, wantCommitted(recs))
		rows := ledgerRows(t, conn)
		if !sameRow(rows[0], wantRow(good0, recs[0])) || !sameRow(rows[1], wantRow(good1, recs[len(recs)-1])) {
			t.Fatalf("ledger:\n%s\n%s", show(rows[0]), show(rows[1]))
		}
		if got := s.metric(t, mDLQ); got != float64(len(bad)) {
			t.Errorf("%s = %v, want %d", mDLQ, got, len(bad))
		}

		// The DLQ has the broker's default partition count: find each
		// record by the offset it names.
		dlq := map[string]*kgo.Record{}
		for _, r := range consume(t, b, f.dlq, len(bad)) {
			for _, h := range r.Headers {
				if h.Key == deadletter.HeaderOffset {
					dlq[string(h.Value)] = r
				}
			}
		}
		for i, x := range bad {
			orig := recs[1+i]
			got, ok := dlq[fmt.Sprint(orig.Offset)]
			if !ok {
				t.Errorf("no DLQ record for offset %d (%s)", orig.Offset, x.reason)
				continue
			}
			if !bytes.Equal(got.Key, orig.Key) {
				t.Errorf("DLQ record %d: key %q, want the original %q", i, got.Key, orig.Key)
			}
			// The value is the DeadLetter envelope around the original bytes.
			var env schemas.DeadLetter
			if err := f.serde.Decode(context.Background(), got.Value, &env); err != nil {
				t.Errorf("DLQ record %d: value is not a DeadLetter envelope: %v", i, err)
			} else if !bytes.Equal(env.OriginalValue, orig.Value) || !bytes.Equal(env.OriginalKey, orig.Key) ||
				env.OriginalTopic != f.drift || env.OriginalPartition != orig.Partition || env.OriginalOffset != orig.Offset ||
				env.Stage != ledger.Stage || !strings.Contains(env.Reason, x.reason) || len(env.OriginalHeaders) != len(orig.Headers) {
				t.Errorf("DLQ record %d: envelope %+v, want the original %q %q from %s/%d@%d", i, env, orig.Key, orig.Value, f.drift, orig.Partition, orig.Offset)
			}
			h := map[string]string{}
			var order []string
			for _, hd := range got.Headers {
				h[hd.Key] = string(hd.Value)
				order = append(order, hd.Key)
			}
			wantOrder := []string{deadletter.HeaderReason, deadletter.HeaderStage, deadletter.HeaderTopic, deadletter.HeaderPartition, deadletter.HeaderOffset}
			if len(orig.Headers) > 0 {
				wantOrder = append([]string{"trace"}, wantOrder...)
			}
			if !slices.Equal(order, wantOrder) {
				t.Errorf("DLQ record %d headers %v, want %v", i, order, wantOrder)
			}
			if !strings.Contains(h[deadletter.HeaderReason], x.reason) || h[deadletter.HeaderStage] != ledger.Stage ||
				h[deadletter.HeaderTopic] != f.drift || h[deadletter.HeaderPartition] != fmt.Sprint(orig.Partition) ||
				h[deadletter.HeaderOffset] != fmt.Sprint(orig.Offset) {
				t.Errorf("DLQ record %d headers %v, want reason ~%q from %s/%d@%d", i, h, x.reason, f.drift, orig.Partition, orig.Offset)
			}
		}
	})
}

// consume reads n records from the start of topic.
func consume(t *testing.T, b *broker, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append(b.opts(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records from %s", len(out), n, topic)
		}
		out = append(out, fs.Records()...)
	}
	return out
}
