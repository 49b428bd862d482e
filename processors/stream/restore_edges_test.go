package stream_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/state"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Restore edge cases (issue 11): restore against a changelog with an open
// transaction, a restart on an empty state directory after timers fired and
// dedupe entries expired, and each of the two conditions that make the
// runtime wipe a partition's local state, alone.

// The runtime's reserved stores, as they appear in changelog keys.
const (
	edgeTimerStore = "__timers"
	edgeSeenStore  = "__seen"
)

// Restore must not finish, and the processor must not become ready or
// process input, while a transaction is open on its changelog; the
// transaction's outcome decides the restored state.
func TestRestoreWaitsForOpenChangelogTransactionKfake(t *testing.T) {
	for _, commit := range []bool{true, false} {
		name := "abort"
		if commit {
			name = "commit"
		}
		t.Run(name, func(t *testing.T) { testRestoreOpenChangelogTxn(t, commit) })
	}
}

func testRestoreOpenChangelogTxn(t *testing.T, commit bool) {
	// A cluster of our own, to count the runtime's stable-offset checks.
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	b := newBroker(t, "kfake", c.ListenAddrs())
	s := newScenario(t, b, 1)
	changelog := stream.ChangelogTopic(s.prefix, s.name)
	compact := "compact"
	b.createTopic(t, changelog, 1, map[string]*string{"cleanup.policy": &compact})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Every ListOffsets asking the changelog's last stable offset
	// (read_committed, latest) is the restore checking whether the
	// changelog is stable; nobody else asks it during the test.
	var lsoChecks atomic.Int64
	c.ControlKey(kmsg.ListOffsets.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.ListOffsetsRequest)
		if r.IsolationLevel != 1 {
			return nil, nil, false
		}
		for _, rt := range r.Topics {
			if rt.Topic != changelog {
				continue
			}
			for _, rp := range rt.Partitions {
				if rp.Timestamp == -1 {
					lsoChecks.Add(1)
				}
			}
		}
		return nil, nil, false
	})
	clKey := func(k string) []byte { return state.ChangelogKey(countsStore, []byte(k)) }

	// Committed state: kA = (1, 10).
	plain, err := kgo.NewClient(append(b.opts(), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: changelog, Partition: 0, Key: clKey("kA"), Value: encodeCount(1, 10)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// An open transaction (a previous owner's, not yet ended): kB = (5, 50).
	txn, err := kgo.NewClient(append(b.opts(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID("edge-open-"+s.name),
		kgo.TransactionTimeout(time.Minute))...)
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(ctx, &kgo.Record{Topic: changelog, Partition: 0, Key: clKey("kB"), Value: encodeCount(5, 50)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	lso, hwm := edgeOffsets(t, ctx, b, changelog, 0)
	if lso >= hwm {
		t.Fatalf("changelog stable offset %d, end %d: the transaction is not open; the test would prove nothing", lso, hwm)
	}
	// An input record for kB, there before the processor starts.
	edgeSend(t, ctx, b, &kgo.Record{Topic: s.in, Key: []byte("kB"), Value: binary.BigEndian.AppendUint64(nil, 7)})

	dir := t.TempDir()
	cfg := s.config("a", dir)
	restoring := make(chan struct{})
	var once sync.Once
	cfg.SetReady = func(ready bool) {
		if !ready {
			once.Do(func() { close(restoring) }) // onAssigned began
		}
	}
	inst := start(t, cfg, b.opts()...)
	select {
	case <-restoring:
	case err := <-inst.done:
		t.Fatalf("processor stopped before its assignment: %v", err)
	case <-ctx.Done():
		t.Fatal("no assignment")
	}
	// Wait until the restore has found the changelog unstable at least
	// twice (three stable-offset checks); the processor must not become
	// ready meanwhile. A restore that does not wait checks once and is
	// ready a few milliseconds later. (A restore that waited elsewhere,
	// say in its read-committed reading, would not check again: after
	// waitOther without becoming ready it passes too. That bound only
	// serves such a variant; this runtime leaves the loop on its checks.)
	const waitOther = 2 * time.Second
	base, began := lsoChecks.Load(), time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	for lsoChecks.Load()-base < 3 && time.Since(began) < waitOther {
		if inst.p.Ready() {
			t.Fatal("processor became ready while its changelog had an open transaction")
		}
		select {
		case err := <-inst.done:
			t.Fatalf("processor stopped while restoring: %v", err)
		case <-ctx.Done():
			t.Fatal("restore never checked the changelog's stable offset")
		case <-tick.C:
		}
	}
	tick.Stop()
	if inst.p.Ready() {
		t.Fatal("processor became ready while its changelog had an open transaction")
	}
	if _, end := edgeOffsets(t, ctx, b, s.out, 0); end != 0 {
		t.Fatalf("output topic holds %d records while the changelog transaction is open: input was processed before restore finished", end)
	}

	end := kgo.TryAbort
	if commit {
		end = kgo.TryCommit
	}
	if err := txn.EndTransaction(ctx, end); err != nil {
		t.Fatal(err)
	}
	edgeWaitReady(t, ctx, inst)
	out := edgeCollect(t, ctx, b, s.out)
	// kB's input counts on top of the restored kB: (5,50)+(1,7) if the
	// transaction committed, (1,7) if it aborted.
	wantB := [2]int64{1, 7}
	if commit {
		wantB = [2]int64{6, 57}
	}
	out.waitN(t, ctx, 1)
	inst.stop(t)
	recs := out.records()
	if len(recs) != 1 {
		t.Fatalf("%d outputs, want 1", len(recs))
	}
	if n, sum := int64(binary.BigEndian.Uint64(recs[0].Value[12:])), int64(binary.BigEndian.Uint64(recs[0].Value[20:])); [2]int64{n, sum} != wantB {
		t.Errorf("kB's input was counted on (count, sum) = (%d, %d), want %v: the restore did not settle the open transaction's outcome", n, sum, wantB)
	}
	want := map[string][2]int64{"kA": {1, 10}, "kB": wantB}
	if err := diffState(storeState(t, dir), want); err != nil {
		t.Errorf("state after restore and one input (commit=%v):\n%v", commit, err)
	}
}

// A restart on an empty state directory must not fire a timer that already
// fired, nor remember a dedupe entry that expired: both were deleted, and
// their deletions (tombstones) must be in the changelog.
func TestWipedRestartAfterTimersAndExpiryKfake(t *testing.T) {
	b := newKfake(t)
	s := newScenario(t, b, 1)
	changelog := stream.ChangelogTopic(s.prefix, s.name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var now atomic.Int64
	at := func(d time.Duration) { now.Store(t0.Add(d).UnixMilli()) }
	at(0)
	dir := t.TempDir()
	cfg := s.config("a", dir)
	cfg.Topology.Stores = nil
	cfg.Topology.Handler = edgeTimerDedupe{out: s.out, ttl: 10 * time.Minute}
	cfg.Clock = func() time.Time { return time.UnixMilli(now.Load()).UTC() }
	cfg.TimerTick = 10 * time.Millisecond
	send := func(ids ...string) {
		t.Helper()
		var recs []*kgo.Record
		for _, id := range ids {
			recs = append(recs, &kgo.Record{Topic: s.in, Key: []byte("k"), Value: []byte(id)})
		}
		edgeSend(t, ctx, b, recs...)
	}
	out := edgeCollect(t, ctx, b, s.out)

	inst := start(t, cfg, b.opts()...)
	send("e1", "e2") // dedupe until t0+10m, timers at t0+1m
	out.waitFor(t, ctx, "seen:e1", "seen:e2")
	at(2 * time.Minute)
	out.waitFor(t, ctx, "fired:e1", "fired:e2")
	at(10 * time.Minute)
	send("e3") // dedupe until t0+20m, timer at t0+11m
	out.waitFor(t, ctx, "seen:e3")
	// By t0+19m e1's and e2's dedupe entries have expired (at t0+10m) and
	// been forgotten: the runtime deletes expired entries through its own
	// timers, which fall due at the expiry or somewhat after it (today a
	// sweep per TTL/8 bucket: by t0+11m15s). e3's timer fires too; e3's
	// entry stays (until t0+20m). The sentinel's transaction fires every
	// timer due by then at the latest, so once its output is committed, so
	// are those firings and deletions.
	at(19 * time.Minute)
	send("s1")
	out.waitFor(t, ctx, "seen:s1", "fired:e3")
	inst.stop(t)

	// The changelog alone must say: no timer that fired, no expired entry.
	fold := edgeFold(readAll(t, ctx, b, changelog))
	for ck := range fold[0] {
		store, key, err := state.SplitChangelogKey([]byte(ck))
		if err != nil {
			t.Fatal(err)
		}
		switch store {
		case edgeTimerStore:
			due, tk, err := state.SplitTimerKey(key)
			if err != nil {
				t.Fatal(err)
			}
			if !due.After(t0.Add(19 * time.Minute)) {
				t.Errorf("changelog still holds timer %q due %s, which fired (no tombstone)", tk, due.Sub(t0))
			}
		case edgeSeenStore:
			if bytes.HasSuffix(key, []byte("\x00e1")) || bytes.HasSuffix(key, []byte("\x00e2")) {
				t.Errorf("changelog still holds expired dedupe entry %q (no tombstone)", key)
			}
		}
	}

	// Wipe the state directory and restart at the same time.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	inst = start(t, cfg, b.opts()...)
	// e3 is still within its TTL: a duplicate. e1 expired: new.
	send("e3", "e1", "s2")
	out.waitFor(t, ctx, "seen:s2") // one partition: e3 and e1 were handled before
	inst.stop(t)
	for v, want := range map[string]int{
		"fired:e1": 1, "fired:e2": 1, "fired:e3": 1, // no timer fires twice
		"seen:e3": 1, "dup:e3": 1, // still remembered after the wipe
		"seen:e1": 2, "dup:e1": 0, // expired before the wipe: new again
		"seen:s1": 1, "seen:s2": 1,
	} {
		if got := out.count(v); got != want {
			t.Errorf("%q output %d times, want %d", v, got, want)
		}
	}
	// And the restored state holds no expired entry either.
	seen := edgeDump(t, dir, 1, edgeSeenStore)[0]
	for ck := range seen {
		if bytes.HasSuffix([]byte(ck), []byte("\x00e2")) {
			t.Errorf("restored state holds expired dedupe entry %q", ck)
		}
	}
}

// edgeTimerDedupe drops repeated ids (the value) within ttl and sets a
// timer a minute after each new one.
type edgeTimerDedupe struct {
	out string
	ttl time.Duration
}

func (h edgeTimerDedupe) Handle(ctx *stream.Context, rec *kgo.Record) error {
	first, err := ctx.FirstSeen("ev", rec.Value, h.ttl)
	if err != nil {
		return err
	}
	if !first {
		ctx.Emit(h.out, rec.Key, append([]byte("dup:"), rec.Value...))
		return nil
	}
	ctx.Emit(h.out, rec.Key, append([]byte("seen:"), rec.Value...))
	ctx.Schedule(ctx.Now().Add(time.Minute), rec.Value)
	return nil
}

func (h edgeTimerDedupe) OnTimer(ctx *stream.Context, key []byte, _ time.Time) error {
	ctx.Emit(h.out, key, append([]byte("fired:"), key...))
	return nil
}

// Wipe condition (i) alone: the local checkpoint is ahead of the
// changelog's end (the changelog lost its tail) while the changelog topic is
// the same one. The runtime must wipe the partition and restore it.
func TestWipeWhenCheckpointAheadSameTopicKfake(t *testing.T) {
	b := newKfake(t)
	s := newScenario(t, b, 3)
	changelog := stream.ChangelogTopic(s.prefix, s.name)
	in := s.produce(t, 3000, 40, seed(t, 1101))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := s.watchOutput(t, ctx)
	dir := t.TempDir()
	inst := start(t, s.config("a", dir), b.opts()...)
	w.waitFor(t, ctx, len(in))
	inst.stop(t)

	// Partition 0's Pebble state gets writes that its changelog does not
	// have, and a checkpoint past its end, under the same topic id.
	_, end := edgeOffsets(t, ctx, b, changelog, 0)
	st, err := state.Open(dir, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cp, ok, err := st.Checkpoint(0)
	if err != nil || !ok {
		t.Fatalf("partition 0 checkpoint: %v, %v", ok, err)
	}
	if cp.Offset > end {
		t.Fatalf("checkpoint %d already beyond the changelog end %d", cp.Offset, end)
	}
	ov := st.NewOverlay()
	n := 0
	if err := st.Each(0, countsStore, func(k, v []byte) error {
		c, sum := decodeCount(v)
		ov.Put(0, countsStore, k, encodeCount(c+7, sum+700))
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ov.Put(0, countsStore, []byte("ghost"), encodeCount(1, 1))
	if err := ov.Apply(map[int32]state.Checkpoint{0: {Offset: end + 5, TopicID: cp.TopicID}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if n == 0 {
		t.Fatal("partition 0 holds no state; the test would prove nothing")
	}
	if err := diffState(storeState(t, dir), fold(in)); err == nil {
		t.Fatal("the ahead state equals the fold; the test would prove nothing")
	}
	if id := edgeTopicID(t, ctx, b, changelog); id != cp.TopicID {
		t.Fatalf("changelog topic id %x differs from the checkpoint's %x: this test isolates the offset condition", id, cp.TopicID)
	}

	inst = start(t, s.config("a", dir), b.opts()...)
	edgeWaitReady(t, ctx, inst)
	inst.stop(t)
	if err := diffState(storeState(t, dir), fold(in)); err != nil {
		t.Fatalf("state after restart is not the fold of the input:\n%v", err)
	}
	edgeStateIsChangelogFold(t, ctx, b, dir, changelog, s.partitions, countsStore)

	// Processing continues from the restored counts: every key's outputs
	// count 1..n.
	more := s.produce(t, 300, 40, seed(t, 1102))
	for c, r := range more {
		in[c] = r
	}
	inst = start(t, s.config("a", dir), b.opts()...)
	w.waitFor(t, ctx, len(in))
	inst.stop(t)
	s.verify(t, in)
	if err := diffState(storeState(t, dir), fold(in)); err != nil {
		t.Fatal(err)
	}
}

// Wipe condition (ii) alone: the changelog topic was recreated (new id) and
// refilled past the local checkpoint, so the checkpoint is not ahead of its
// end. The runtime must wipe and restore the whole new changelog, not
// replay its tail over the old state.
func TestWipeWhenChangelogRecreatedNotAheadKfake(t *testing.T) {
	b := newKfake(t)
	s := newScenario(t, b, 3)
	changelog := stream.ChangelogTopic(s.prefix, s.name)
	in := s.produce(t, 3000, 40, seed(t, 1201))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := s.watchOutput(t, ctx)
	dir := t.TempDir()
	inst := start(t, s.config("a", dir), b.opts()...)
	w.waitFor(t, ctx, len(in))
	inst.stop(t)

	old := edgeDump(t, dir, s.partitions, countsStore)
	cps := map[int32]state.Checkpoint{}
	st, err := state.Open(dir, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for p := range s.partitions {
		cp, ok, err := st.Checkpoint(p)
		if err != nil || !ok {
			t.Fatalf("partition %d checkpoint: %v, %v", p, ok, err)
		}
		if cp.TopicID == [16]byte{} {
			t.Fatalf("partition %d checkpoint has no topic id", p)
		}
		cps[p] = cp
	}
	st.Close()

	if _, err := b.adm.DeleteTopics(ctx, changelog); err != nil {
		t.Fatal(err)
	}
	compact := "compact"
	b.createTopic(t, changelog, s.partitions, map[string]*string{"cleanup.policy": &compact})
	newID := edgeTopicID(t, ctx, b, changelog)
	if newID == cps[0].TopicID {
		t.Fatal("recreated changelog kept its topic id")
	}

	// Refill the new changelog: every key but the last once, with a value
	// the old state does not have, then rewrites of the first key until the
	// end is past the old checkpoint. A replay of the tail from the old
	// checkpoint would touch only that key; a replay of the whole new
	// changelog over the old state, without a wipe, would keep the last
	// key, which the new changelog does not have.
	plain, err := kgo.NewClient(append(b.opts(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	want := map[string][2]int64{}
	for p := range s.partitions {
		keys := make([]string, 0, len(old[p]))
		for ck := range old[p] {
			keys = append(keys, ck)
		}
		sort.Strings(keys)
		if len(keys) < 3 {
			t.Fatalf("partition %d holds %d keys; want at least 3", p, len(keys))
		}
		var recs []*kgo.Record
		for _, ck := range keys[:len(keys)-1] {
			c, sum := decodeCount([]byte(old[p][ck]))
			_, k, _ := state.SplitChangelogKey([]byte(ck))
			want[string(k)] = [2]int64{c + 100, sum + 10_000}
			recs = append(recs, &kgo.Record{Topic: changelog, Partition: p, Key: []byte(ck), Value: encodeCount(c+100, sum+10_000)})
		}
		for int64(len(recs)) < cps[p].Offset+3 {
			recs = append(recs, &kgo.Record{Topic: changelog, Partition: p, Key: []byte(keys[0]), Value: recs[0].Value})
		}
		if err := plain.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if _, end := edgeOffsets(t, ctx, b, changelog, p); end < cps[p].Offset {
			t.Fatalf("partition %d: new changelog ends at %d, before the old checkpoint %d", p, end, cps[p].Offset)
		}
	}
	if err := diffState(storeState(t, dir), want); err == nil {
		t.Fatal("the old state equals the new changelog's fold; the test would prove nothing")
	}

	inst = start(t, s.config("a", dir), b.opts()...)
	edgeWaitReady(t, ctx, inst)
	inst.stop(t)
	if err := diffState(storeState(t, dir), want); err != nil {
		t.Fatalf("state after restart is not the fold of the recreated changelog:\n%v", err)
	}
	edgeStateIsChangelogFold(t, ctx, b, dir, changelog, s.partitions, countsStore)

	// Processing continues on the restored state (the group's offsets
	// were kept): new input counts on top of the new changelog's values.
	more := s.produce(t, 300, 40, seed(t, 1202))
	for k, c := range fold(more) {
		v := want[k]
		want[k] = [2]int64{v[0] + c[0], v[1] + c[1]}
	}
	inst = start(t, s.config("a", dir), b.opts()...)
	w.waitFor(t, ctx, len(in)+len(more))
	inst.stop(t)
	if err := diffState(storeState(t, dir), want); err != nil {
		t.Fatal(err)
	}
}

// --- helpers (edge*) ---

// edgeWaitReady waits until the processor reports ready.
func edgeWaitReady(t testing.TB, ctx context.Context, in *instance) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !in.p.Ready() {
		select {
		case <-ctx.Done():
			t.Fatal("processor never became ready")
		case err := <-in.done:
			t.Fatalf("processor stopped before ready: %v", err)
		case <-tick.C:
		}
	}
}

// edgeOffsets returns a partition's last stable offset and end offset.
func edgeOffsets(t testing.TB, ctx context.Context, b *broker, topic string, p int32) (lso, hwm int64) {
	t.Helper()
	l, err := b.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	h, err := b.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	lo, ok1 := l.Lookup(topic, p)
	ho, ok2 := h.Lookup(topic, p)
	if !ok1 || !ok2 || lo.Err != nil || ho.Err != nil {
		t.Fatalf("offsets of %s/%d: %v %v", topic, p, lo.Err, ho.Err)
	}
	return lo.Offset, ho.Offset
}

// edgeTopicID asks the broker (not a client's metadata cache) for a
// topic's id.
func edgeTopicID(t testing.TB, ctx context.Context, b *broker, topic string) [16]byte {
	t.Helper()
	cl, err := kgo.NewClient(b.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		if rt.Topic != nil && *rt.Topic == topic && rt.ErrorCode == 0 {
			return rt.TopicID
		}
	}
	t.Fatalf("topic %s not in the metadata answer", topic)
	return [16]byte{}
}

// edgeSend produces recs synchronously and returns them with their
// coordinates.
func edgeSend(t testing.TB, ctx context.Context, b *broker, recs ...*kgo.Record) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(b.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// edgeFold folds changelog records into partition -> changelog key ->
// value, a nil value deleting the key.
func edgeFold(recs []*kgo.Record) map[int32]map[string]string {
	f := map[int32]map[string]string{}
	for _, r := range recs {
		m := f[r.Partition]
		if m == nil {
			m = map[string]string{}
			f[r.Partition] = m
		}
		if r.Value == nil {
			delete(m, string(r.Key))
		} else {
			m[string(r.Key)] = string(r.Value)
		}
	}
	return f
}

// edgeDump reads stores of partitions [0, n) from a stopped instance's state
// directory, keyed by changelog key.
func edgeDump(t testing.TB, dir string, n int32, stores ...string) map[int32]map[string]string {
	t.Helper()
	st, err := state.Open(dir, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := map[int32]map[string]string{}
	for p := range n {
		m := map[string]string{}
		for _, s := range stores {
			if err := st.Each(p, s, func(k, v []byte) error {
				m[string(state.ChangelogKey(s, k))] = string(v)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if len(m) > 0 {
			out[p] = m
		}
	}
	return out
}

// edgeDiff compares two partition -> key -> value maps.
func edgeDiff(got, want map[int32]map[string]string) error {
	var errs []error
	parts := map[int32]bool{}
	for p := range got {
		parts[p] = true
	}
	for p := range want {
		parts[p] = true
	}
	for p := range parts {
		for k, w := range want[p] {
			if g, ok := got[p][k]; !ok {
				errs = append(errs, fmt.Errorf("partition %d key %q: missing, want %x", p, k, w))
			} else if g != w {
				errs = append(errs, fmt.Errorf("partition %d key %q: %x, want %x", p, k, g, w))
			}
		}
		for k, g := range got[p] {
			if _, ok := want[p][k]; !ok {
				errs = append(errs, fmt.Errorf("partition %d key %q: %x, not in the changelog", p, k, g))
			}
		}
	}
	if len(errs) > 8 {
		errs = append(errs[:8], fmt.Errorf("... and %d more", len(errs)-8))
	}
	return errors.Join(errs...)
}

// edgeStateIsChangelogFold checks that the state directory holds exactly
// the fold of the changelog, for stores and the runtime's own stores.
func edgeStateIsChangelogFold(t testing.TB, ctx context.Context, b *broker, dir, changelog string, partitions int32, stores ...string) {
	t.Helper()
	stores = append(stores, edgeTimerStore, edgeSeenStore)
	want := edgeFold(readAll(t, ctx, b, changelog))
	for p, m := range want {
		if len(m) == 0 {
			delete(want, p)
		}
	}
	if err := edgeDiff(edgeDump(t, dir, partitions, stores...), want); err != nil {
		t.Errorf("state of %s is not the fold of its changelog:\n%v", dir, err)
	}
}

// edgeCollector reads a topic read-committed, counting values.
type edgeCollector struct {
	mu      sync.Mutex
	counts  map[string]int
	recs    []*kgo.Record
	changed chan struct{}
}

func edgeCollect(t testing.TB, ctx context.Context, b *broker, topic string) *edgeCollector {
	t.Helper()
	c := &edgeCollector{counts: map[string]int{}, changed: make(chan struct{})}
	cl, err := kgo.NewClient(append(b.opts(), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			recs := fs.Records()
			if len(recs) == 0 {
				continue
			}
			c.mu.Lock()
			for _, r := range recs {
				c.counts[string(r.Value)]++
				c.recs = append(c.recs, r)
			}
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *edgeCollector) count(v string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[v]
}

func (c *edgeCollector) records() []*kgo.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*kgo.Record(nil), c.recs...)
}

// until waits for cond (called with c.mu held), failing after 30s without
// new records.
func (c *edgeCollector) until(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for {
		c.mu.Lock()
		ok, changed := cond(), c.changed
		c.mu.Unlock()
		if ok {
			return
		}
		timer := time.NewTimer(30 * time.Second)
		select {
		case <-ctx.Done():
			timer.Stop()
			t.Fatalf("waiting for %s: %v (counts %v)", what, ctx.Err(), c.snapshot())
		case <-timer.C:
			t.Fatalf("waiting for %s: no new output for 30s (counts %v)", what, c.snapshot())
		case <-changed:
			timer.Stop()
		}
	}
}

func (c *edgeCollector) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		m[k] = v
	}
	return m
}

// waitFor waits until each value was seen at least once.
func (c *edgeCollector) waitFor(t testing.TB, ctx context.Context, vals ...string) {
	t.Helper()
	for _, v := range vals {
		c.until(t, ctx, fmt.Sprintf("%q", v), func() bool { return c.counts[v] > 0 })
	}
}

// waitN waits until n records were read.
func (c *edgeCollector) waitN(t testing.TB, ctx context.Context, n int) {
	t.Helper()
	c.until(t, ctx, fmt.Sprintf("%d records", n), func() bool { return len(c.recs) >= n })
}
