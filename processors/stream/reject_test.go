package stream_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A rejected record leaves no trace but its dead letter: whatever the
// handler wrote before it returned Reject (state, a timer, a dedupe entry,
// an output) is dropped, while the good records of the same batches are
// processed exactly once.
func TestRejectLeavesNoTraceKfake(t *testing.T) {
	b := newKfake(t)
	s := newScenario(t, b, 2)
	changelog := stream.ChangelogTopic(s.prefix, s.name)
	dlqTopic := s.prefix + "lockstep.dlq"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t0 := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	var now atomic.Int64
	at := func(d time.Duration) { now.Store(t0.Add(d).UnixMilli()) }
	at(0)

	// 120 records over 6 keys, one in six a poison; ids are unique and of
	// fixed width, so no id contains another. Two repeats in the same
	// batch: a good record reusing a poison's id (on the poison's key, so
	// the same partition's dedupe set), which must count as new, and a
	// good record repeating a good id, which must not.
	rng := rand.New(rand.NewPCG(seed(t, 1301), 1))
	var recs []*kgo.Record
	var poisonIdx []int
	goodID := map[string]string{} // good id -> key
	for i := range 120 {
		key := fmt.Sprintf("k%d", rng.IntN(6))
		if rng.IntN(6) == 0 {
			poisonIdx = append(poisonIdx, len(recs))
			recs = append(recs, &kgo.Record{Topic: s.in, Key: []byte(key), Value: []byte(fmt.Sprintf("poison:P%03d", i))})
			continue
		}
		id := fmt.Sprintf("G%03d", i)
		goodID[id] = key
		recs = append(recs, &kgo.Record{Topic: s.in, Key: []byte(key), Value: []byte("good:" + id)})
	}
	if len(poisonIdx) < 4 {
		t.Fatalf("only %d poison records; pick another seed", len(poisonIdx))
	}
	reused := recs[poisonIdx[0]] // its id is reused in this batch
	reusedID := strings.TrimPrefix(string(reused.Value), "poison:")
	goodID[reusedID] = string(reused.Key)
	recs = append(recs, &kgo.Record{Topic: s.in, Key: reused.Key, Value: []byte("good:" + reusedID)})
	var dupID string
	for _, r := range recs {
		if v := string(r.Value); strings.HasPrefix(v, "good:G") {
			dupID = strings.TrimPrefix(v, "good:")
			recs = append(recs, &kgo.Record{Topic: s.in, Key: r.Key, Value: r.Value})
			break
		}
	}
	later := recs[poisonIdx[1]] // its id is reused after the checks
	laterID := strings.TrimPrefix(string(later.Value), "poison:")
	// Marks that only a poison record's writes can carry: its store key,
	// timer key and output all start "poison-", its garbage count, and its
	// id, unless a good record reuses it.
	marks := []string{"poison-", "garbage"}
	for _, pi := range poisonIdx[1:] {
		marks = append(marks, strings.TrimPrefix(string(recs[pi].Value), "poison:"))
	}
	wantCount := map[string]int64{}
	for _, k := range goodID {
		wantCount[k]++
	}

	// All records are there before the processor starts, so that the
	// poison records share their transactions with good ones.
	edgeSend(t, ctx, b, recs...)

	dir := t.TempDir()
	cfg := s.config("a", dir)
	cfg.Topology.Stores = []string{rjStore}
	cfg.Topology.Handler = rejector{out: s.out}
	cfg.Clock = func() time.Time { return time.UnixMilli(now.Load()).UTC() }
	cfg.TimerTick = 10 * time.Millisecond
	out := edgeCollect(t, ctx, b, s.out)
	inst := start(t, cfg, b.opts()...)
	// Wait until every good id was handled (counted, or dropped as a
	// repeat: that it is counted once is checked below).
	for id := range goodID {
		out.until(t, ctx, "the outcome of "+id, func() bool { return out.counts["ok:"+id]+out.counts["dup:"+id] > 0 })
	}
	out.until(t, ctx, "the outcome of the repeat of "+dupID, func() bool { return out.counts["ok:"+dupID]+out.counts["dup:"+dupID] > 1 })
	// Past every timer's due time: the good records' timers fire; a
	// poison record's, had it survived, would fire in the same
	// transaction.
	at(2 * time.Minute)
	for id := range goodID {
		if out.count("ok:"+id) > 0 {
			out.waitFor(t, ctx, "fired:good-timer:"+id)
		}
	}
	inst.stop(t)

	// Outputs: every good record's once, none of a poison record's.
	checkOutputs := func(phase string) {
		t.Helper()
		got := out.snapshot()
		for v, n := range got {
			if m := rjMark(v, marks); m != "" {
				t.Errorf("%s: output %q (%d times) carries %q of a rejected record", phase, v, n, m)
			}
			if (strings.HasPrefix(v, "ok:") || strings.HasPrefix(v, "fired:") || strings.HasPrefix(v, "dup:")) && n != 1 {
				t.Errorf("%s: output %q %d times, want once", phase, v, n)
			}
		}
		for id := range goodID {
			if got["ok:"+id] != 1 {
				t.Errorf("%s: good record %s counted %d times, want once", phase, id, got["ok:"+id])
			}
		}
	}
	checkOutputs("phase 1")

	// State: the counts are those of the good records, and nothing in
	// Pebble, in the changelog (any record, tombstones included) or in a
	// state restored from the changelog alone carries a poison's mark.
	stores := []string{rjStore, edgeTimerStore, edgeSeenStore}
	local := edgeDump(t, dir, s.partitions, stores...)
	rjCheckMarks(t, "Pebble", local, marks)
	for k, want := range wantCount {
		var got []byte
		for _, m := range local {
			if v, ok := m[rjStore+"\x00"+k]; ok {
				got = []byte(v)
			}
		}
		if len(got) != 8 || int64(binary.BigEndian.Uint64(got)) != want {
			t.Errorf("Pebble: key %s counts %x, want %d", k, got, want)
		}
	}
	clRecs := readAll(t, ctx, b, changelog)
	for _, r := range clRecs {
		if m := rjMark(string(r.Key)+"\x00"+string(r.Value), marks); m != "" {
			t.Errorf("changelog %d@%d: %q = %q carries %q of a rejected record", r.Partition, r.Offset, r.Key, r.Value, m)
		}
	}
	if err := edgeDiff(local, edgeFold(clRecs)); err != nil {
		t.Errorf("Pebble is not the fold of the changelog:\n%v", err)
	}
	fresh := cfg
	fresh.StateDir = t.TempDir()
	inst = start(t, fresh, b.opts()...)
	edgeWaitReady(t, ctx, inst)
	inst.stop(t)
	restored := edgeDump(t, fresh.StateDir, s.partitions, stores...)
	rjCheckMarks(t, "restored", restored, marks)
	if err := edgeDiff(restored, local); err != nil {
		t.Errorf("state restored from the changelog differs from the processed state:\n%v", err)
	}

	// The DLQ holds each poison record once, with its coordinates and
	// reason, and its original key and value.
	letters := map[string]int{}
	for _, d := range readAll(t, ctx, b, dlqTopic) {
		h := map[string]string{}
		for _, x := range d.Headers {
			h[x.Key] = string(x.Value)
		}
		letters[h[deadletter.HeaderPartition]+"@"+h[deadletter.HeaderOffset]]++
		id := strings.TrimPrefix(string(d.Value), "poison:")
		if h[deadletter.HeaderTopic] != s.in || h[deadletter.HeaderStage] != s.name ||
			h[deadletter.HeaderReason] != "poison "+id || !strings.HasPrefix(string(d.Value), "poison:") {
			t.Errorf("dead letter %q = %q with headers %v", d.Key, d.Value, h)
		}
	}
	for _, pi := range poisonIdx {
		r := recs[pi]
		c := fmt.Sprintf("%d@%d", r.Partition, r.Offset)
		if letters[c] != 1 {
			t.Errorf("poison %s at %s is in the DLQ %d times, want once", r.Value, c, letters[c])
		}
		delete(letters, c)
	}
	for c, n := range letters {
		t.Errorf("DLQ holds %d letters for %s, which is no poison record", n, c)
	}

	// Phase 2, on the processed state: a poison's id in a good record is
	// new; a good id seen before is still a duplicate; and no poison timer
	// fires, though the clock is past their due time.
	at(3 * time.Minute)
	inst = start(t, cfg, b.opts()...)
	edgeSend(t, ctx, b,
		&kgo.Record{Topic: s.in, Key: later.Key, Value: []byte("good:" + laterID)},
		&kgo.Record{Topic: s.in, Key: []byte(goodID[dupID]), Value: []byte("good:" + dupID)})
	out.until(t, ctx, "the outcome of "+laterID, func() bool { return out.counts["ok:"+laterID]+out.counts["dup:"+laterID] > 0 })
	out.until(t, ctx, "the outcome of the second repeat of "+dupID, func() bool { return out.counts["ok:"+dupID]+out.counts["dup:"+dupID] > 2 })
	inst.stop(t)
	for v, n := range out.snapshot() {
		if strings.Contains(v, "poison-") {
			t.Errorf("phase 2: output %q (%d times) comes from a rejected record", v, n)
		}
		if (strings.HasPrefix(v, "ok:") || strings.HasPrefix(v, "fired:")) && n != 1 {
			t.Errorf("phase 2: output %q %d times, want once", v, n)
		}
	}
	if n := out.count("dup:" + laterID); n != 0 {
		t.Errorf("the rejected record's id %s was remembered: a good record with it was a duplicate", laterID)
	}
}

const (
	rjStore   = "rj"
	rjGarbage = "garbage!" // 8 bytes: it decodes as a (huge) count
)

// rejector counts good records per key (dropping repeated ids) and sets a
// timer for each; a poison record writes everything it can, then is
// rejected.
type rejector struct{ out string }

func (h rejector) Handle(ctx *stream.Context, rec *kgo.Record) error {
	kind, id, _ := strings.Cut(string(rec.Value), ":")
	if kind == "poison" {
		ctx.Put(rjStore, []byte("poison-state:"+id), []byte("x"))
		ctx.Put(rjStore, rec.Key, []byte(rjGarbage)) // over a good key's count
		ctx.Schedule(ctx.Now().Add(time.Minute), []byte("poison-timer:"+id))
		if _, err := ctx.FirstSeen("ids", []byte(id), time.Hour); err != nil {
			return err
		}
		ctx.Emit(h.out, rec.Key, []byte("poison-out:"+id))
		return stream.Reject(fmt.Errorf("poison %s", id))
	}
	first, err := ctx.FirstSeen("ids", []byte(id), time.Hour)
	if err != nil {
		return err
	}
	if !first {
		ctx.Emit(h.out, rec.Key, []byte("dup:"+id))
		return nil
	}
	v, _, err := ctx.Get(rjStore, rec.Key)
	if err != nil {
		return err
	}
	var n uint64
	if len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	ctx.Put(rjStore, rec.Key, binary.BigEndian.AppendUint64(nil, n+1))
	ctx.Schedule(ctx.Now().Add(time.Minute), []byte("good-timer:"+id))
	ctx.Emit(h.out, rec.Key, []byte("ok:"+id))
	return nil
}

func (h rejector) OnTimer(ctx *stream.Context, key []byte, _ time.Time) error {
	ctx.Emit(h.out, key, append([]byte("fired:"), key...))
	return nil
}

// rjCheckMarks fails for every state entry carrying one of marks.
func rjCheckMarks(t *testing.T, where string, st map[int32]map[string]string, marks []string) {
	t.Helper()
	for p, m := range st {
		for k, v := range m {
			if mk := rjMark(k+"\x00"+v, marks); mk != "" {
				t.Errorf("%s: partition %d entry %q = %q carries %q of a rejected record", where, p, k, v, mk)
			}
		}
	}
}

// rjMark returns the first of marks that s contains, or "".
func rjMark(s string, marks []string) string {
	for _, m := range marks {
		if strings.Contains(s, m) {
			return m
		}
	}
	return ""
}
