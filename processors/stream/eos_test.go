package stream_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCountsExactlyOnceKfake(t *testing.T) {
	b := newKfake(t)
	s := newScenario(t, b, 6)
	in := s.produce(t, 10_000, 500, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := s.watchOutput(t, ctx)
	dir := t.TempDir()
	inst := start(t, s.config("a", dir), b.opts()...)
	w.waitFor(t, ctx, len(in))
	inst.stop(t)
	s.verify(t, in)
	if err := diffState(storeState(t, dir), fold(in)); err != nil {
		t.Fatal(err)
	}
}

func TestExactlyOnceUnderCrashesKfake(t *testing.T) { testCrashes(t, newKfake(t)) }
func TestExactlyOnceUnderCrashesKafka(t *testing.T) { testCrashes(t, realKafka(t)) }

var (
	errKill  = errors.New("killed by the test")
	errAbort = errors.New("abort forced by the test")
)

// The ways testCrashes ends an incarnation.
type killKind int

const (
	// killMidBatch crashes with the transaction open, half a poll handled.
	killMidBatch killKind = iota
	// killBeforeEnd forces an abort once a transaction was handled (records,
	// timers, changelog produced); the incarnation goes on from the last
	// committed offsets, and crashes at its next failpoint (then).
	killBeforeEnd
	// killAfterCommit crashes between the Kafka commit and the Pebble
	// apply: the next incarnation must catch up from the changelog.
	killAfterCommit
	// killAfterApply crashes right after the (unsynced) Pebble apply.
	killAfterApply
	// killDuringRestore crashes after a restore chunk reached Pebble.
	killDuringRestore
	numKillKinds
)

func (k killKind) String() string {
	return [...]string{"mid-batch", "before-end abort+crash", "after-commit", "after-apply", "during-restore"}[k]
}

// killPlan is one incarnation's death.
type killPlan struct {
	kind   killKind
	fp     stream.Failpoint // where it dies (killBeforeEnd: where the abort is forced)
	then   stream.Failpoint // killBeforeEnd: where it dies after the abort
	target int64            // inputs processed at which the kill is aimed
	armAt  int64            // handled records (the events clock) from which fp is armed
	skip   int              // armed calls of fp let pass
	wipe   bool             // the incarnation starts on an empty disk
	// powerLoss: the kill crashes the disk too. Pebble's writes are not
	// synced; the disk keeps what was synced and keepPct percent of the
	// rest (at random, by 4 KiB block), as a power cut may.
	powerLoss bool
	keepPct   int
}

// killer is an incarnation's Config.Failpoint: it carries out a killPlan,
// and besides forces an abort at one in 40 FailBeforeEnd calls.
type killer struct {
	mu           sync.Mutex
	plan         killPlan
	handled      *atomic.Int64
	aborts       *rand.Rand // the extra aborts
	disk         *vfs.MemFS
	cloneRNG     *rand.Rand
	calls        int
	aborted      bool             // killBeforeEnd: its abort was forced
	killedAt     stream.Failpoint // where it died
	crashed      *vfs.MemFS       // powerLoss: the disk as the crash left it
	fellBack     bool             // killDuringRestore: the restore was shorter than planned
	extraAborts  int
	restoreCalls int
}

func (k *killer) failpoint(f stream.Failpoint) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.killedAt != "" {
		return errKill
	}
	p := &k.plan
	if f == stream.FailDuringRestore {
		k.restoreCalls++
	}
	if p.kind == killDuringRestore && f != stream.FailDuringRestore && !k.fellBack {
		// Processing began: the restore ended before the planned chunk.
		// Die at the next poll instead.
		k.fellBack = true
		p.fp, p.skip, k.calls = stream.FailMidBatch, 0, 0
	}
	fp := p.fp
	if p.kind == killBeforeEnd && k.aborted {
		fp = p.then
	}
	if f == fp && k.handled.Load() >= p.armAt {
		if k.calls < p.skip {
			k.calls++
			return nil
		}
		if p.kind == killBeforeEnd && !k.aborted {
			k.aborted = true
			return errAbort
		}
		k.killedAt = f
		if p.powerLoss {
			k.crashed = k.disk.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: p.keepPct, RNG: k.cloneRNG})
		}
		return errKill
	}
	if f == stream.FailBeforeEnd && k.aborts.IntN(40) == 0 {
		k.extraAborts++
		return errAbort
	}
	return nil
}

// testCrashes runs the events processor (state, dedupe, timers) over
// 100,000 inputs and kills it -kills times, each incarnation at a seeded
// random failpoint once processing passed a seeded target: the targets are
// spread over the whole input (one per -kills-th of it), the kinds of kill
// come in random order, the disk is wiped before a fifth of the
// incarnations and loses its unsynced writes at a third of the kills.
// After each kill the group's committed input offsets must be exactly the
// inputs the read-committed output answers, and that output must be right
// so far (running sums, dropped duplicates, timers fired once). Then one
// incarnation finishes, the clock jumps so that every timer falls due, and
// the whole output, the live state and a state restored from the changelog
// alone are checked.
func testCrashes(t *testing.T, b *broker) {
	const n, keys, partitions, restoreChunk = 100_000, 1000, 6, 100
	kills := max(*killsFlag, 1)
	began := time.Now()
	s := newScenario(t, b, partitions)
	in, ids := s.produceEvents(t, n, keys, seed(t, 2))
	exp := expect(in, ids)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	w := s.watchOutput(t, ctx)
	rd := s.newOutputReader(t, exp)
	defer rd.close()
	rng := rand.New(rand.NewPCG(seed(t, 7), 7))

	handled := new(atomic.Int64)
	clock := &progressClock{base: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC), handled: handled}
	disk := vfs.NewCrashableMem()
	const dir = "/state"
	cfg := func() stream.Config {
		c := s.config("a", dir)
		c.Topology.Stores = []string{countsStore, ticksStore}
		c.Topology.Handler = events{out: s.out, handled: handled}
		c.Clock = clock.now
		c.StaticMembership = true
		c.RestoreChunk = restoreChunk
		c.Store = state.Options{FS: disk, MemTableSize: 2 << 20, CacheSize: 16 << 20}
		return c
	}
	changelog := stream.ChangelogTopic(s.prefix, s.name)
	// inspect reads, on a copy of the disk (opening the store must not
	// change what the next incarnation finds), how far its checkpoints are
	// behind the changelog's end (offsets, and whole restore chunks) and
	// its counts.
	inspect := func(d *vfs.MemFS) (backlog int64, chunks int, counts map[string][2]int64) {
		if handled.Load() == 0 {
			// The first incarnation has not created the changelog yet
			// (asking now would also leave its absence in the admin
			// client's metadata cache).
			return 0, 0, nil
		}
		copied := d.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rand.New(rand.NewPCG(1, 1))})
		st, err := state.Open(dir, state.Options{FS: copied})
		if err != nil {
			t.Fatal(err)
		}
		ends, err := b.adm.ListEndOffsets(ctx, changelog)
		if err != nil {
			t.Fatal(err)
		}
		for p := int32(0); p < partitions; p++ {
			end, ok := ends.Lookup(changelog, p)
			if !ok || end.Err != nil {
				t.Fatalf("end offset of %s/%d: %v (%v)", changelog, p, end.Err, ends)
			}
			cp, _, err := st.Checkpoint(p)
			if err != nil {
				t.Fatal(err)
			}
			if d := end.Offset - cp.Offset; d > 0 {
				backlog += d
				chunks += int(d / restoreChunk)
			}
		}
		st.Close()
		return backlog, chunks, storeStateFS(t, copied, dir)
	}

	// The schedule: kinds, wipes and power losses in balanced proportions
	// and random order; one target in each kills-th of the input.
	kinds := make([]killKind, kills)
	wipes := make([]bool, kills)
	losses := make([]bool, kills)
	for i := range kills {
		kinds[i], wipes[i], losses[i] = killKind(i%int(numKillKinds)), i%5 == 4, i%3 == 2
	}
	rng.Shuffle(kills, func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	rng.Shuffle(kills, func(i, j int) { wipes[i], wipes[j] = wipes[j], wipes[i] })
	rng.Shuffle(kills, func(i, j int) { losses[i], losses[j] = losses[j], losses[i] })
	stratum := int64(n / kills)
	crashPoints := []stream.Failpoint{stream.FailMidBatch, stream.FailAfterCommit, stream.FailAfterApply}

	type killed struct {
		plan         killPlan
		at           stream.Failpoint
		processed    int64
		backlog      int64 // changelog offsets the disk is behind after the kill
		fellBack     bool
		restoreCalls int
		extraAborts  int
	}
	var record []killed
	var processed int64
	caughtUp := false // an incarnation caught up a batch committed but not applied
	for i := range kills {
		if processed >= n-10*500 {
			// A late kill left too little input for another (a kill
			// that skips failpoints and aborts first can need several
			// batches to fire); the run stops short of -kills.
			t.Logf("%d of %d kills: the input is nearly all processed", i, kills)
			kills = i
			break
		}
		p := killPlan{
			kind: kinds[i],
			// Ten batches short of the end at most: a kill that skips
			// failpoints, aborts first and crashes later can take several
			// batches to fire, and the last one must still come before
			// the input runs out (seed 100 with 96 kills did not).
			target:    min(int64(i)*stratum+rng.Int64N(stratum), n-10*500), // MaxBatch is 500
			wipe:      wipes[i],
			powerLoss: losses[i],
			keepPct:   []int{0, 0, 30, 70}[rng.IntN(4)],
			skip:      rng.IntN(3),
		}
		cloneSeed, abortSeed := rng.Uint64(), rng.Uint64()
		if i > 0 && record[i-1].at == stream.FailAfterCommit && !caughtUp {
			// The first such catch-up is not left to chance.
			p.wipe, caughtUp = false, true
		}
		next := disk
		if p.wipe {
			next = vfs.NewCrashableMem()
		}
		pending, chunks, _ := inspect(next)
		if p.kind == killDuringRestore && chunks < 2 {
			// Nothing (much) to restore: kill this one otherwise and
			// restore-kill a later one.
			for j := i + 1; j < kills; j++ {
				if kinds[j] != killDuringRestore {
					kinds[i], kinds[j] = kinds[j], kinds[i]
					break
				}
			}
			if p.kind = kinds[i]; p.kind == killDuringRestore {
				p.kind = killMidBatch
			}
		}
		switch p.kind {
		case killMidBatch:
			p.fp = stream.FailMidBatch
		case killBeforeEnd:
			p.fp, p.then = stream.FailBeforeEnd, crashPoints[rng.IntN(len(crashPoints))]
		case killAfterCommit:
			p.fp = stream.FailAfterCommit
		case killAfterApply:
			p.fp = stream.FailAfterApply
		case killDuringRestore:
			p.fp, p.skip, p.target = stream.FailDuringRestore, rng.IntN(max(chunks/2, 1)), processed
		}
		p.armAt = handled.Load() + max(p.target-processed, 0)
		disk = next
		kl := &killer{plan: p, handled: handled, aborts: rand.New(rand.NewPCG(abortSeed, 1)), disk: disk, cloneRNG: rand.New(rand.NewPCG(cloneSeed, 2))}
		c := cfg()
		c.Failpoint = kl.failpoint
		inst := start(t, c, b.opts()...)
		awaitKill(t, ctx, w, inst, func() string {
			return fmt.Sprintf("kill %d (%+v): handled %d, failpoint calls %d", i, p, handled.Load(), kl.calls)
		})
		kl.mu.Lock()
		if kl.crashed != nil {
			disk = kl.crashed
		}
		k := killed{plan: p, at: kl.killedAt, fellBack: kl.fellBack, restoreCalls: kl.restoreCalls, extraAborts: kl.extraAborts}
		if p.kind == killBeforeEnd && !kl.aborted {
			t.Fatalf("kill %d: died at %s without the planned forced abort", i, kl.killedAt)
		}
		kl.mu.Unlock()

		processed = rd.checkKill(t, ctx, fmt.Sprintf("kill %d (%s at %s, plan %+v)", i, p.kind, k.at, p))
		k.processed = processed
		var counts map[string][2]int64
		k.backlog, _, counts = inspect(disk)
		// Pebble is a cache of the changelog, never ahead of it: no key's
		// count on the disk is ahead of the committed output. After a
		// crash between the commit and the apply, some key is behind.
		behind := 0
		for key, c := range counts {
			if out := int64(rd.chk.next[key]); c[0] > out {
				t.Fatalf("kill %d (%s at %s): key %s has count %d on the disk, but the committed output only %d: Pebble is ahead of the changelog", i, p.kind, k.at, key, c[0], out)
			}
		}
		for key, out := range rd.chk.next {
			if counts[key][0] < int64(out) {
				behind++
			}
		}
		if k.at == stream.FailAfterCommit && !p.powerLoss && behind == 0 {
			t.Fatalf("kill %d after a commit: no key's count on the disk is behind the committed output: the batch reached Pebble before the crash (or the kill was not between the commit and the apply)", i)
		}
		sched, fired := rd.chk.timers()
		t.Logf("%6s kill %2d: %-22s died at %-14s %5.1f%% processed (%6d), wipe=%-5v power loss=%v (kept %d%%), restore backlog %d->%d, restore chunks %d, fallback=%v, extra aborts %d; timers %d/%d fired",
			time.Since(began).Round(10*time.Millisecond), i, p.kind, k.at, 100*float64(processed)/n, processed, p.wipe, p.powerLoss, p.keepPct, pending, k.backlog, k.restoreCalls, k.fellBack, k.extraAborts, fired, sched)
		record = append(record, k)
	}

	// The schedule did what it claims: kills spread over the input, late
	// ones included; every kind, wipes, power losses, forced aborts and
	// catch-up restores happened. A catch-up is an incarnation that starts
	// on its predecessor's disk (no wipe) a restore chunk or more behind
	// the changelog: after a kill between commit and apply, or after a
	// power loss.
	var quarters [4]int
	var maxFrac float64
	var byKind [numKillKinds]int
	var catchUps, afterCommitCatchUps, aborts, powerLosses, wiped int
	for i, k := range record {
		f := float64(k.processed) / n
		quarters[min(int(f*4), 3)]++
		maxFrac = max(maxFrac, f)
		if !k.fellBack {
			byKind[k.plan.kind]++
		}
		if i > 0 && !k.plan.wipe && record[i-1].backlog >= restoreChunk {
			catchUps++
			if record[i-1].at == stream.FailAfterCommit {
				afterCommitCatchUps++
			}
		}
		aborts += k.extraAborts
		if k.plan.kind == killBeforeEnd {
			aborts++
		}
		if k.plan.powerLoss {
			powerLosses++
		}
		if k.plan.wipe {
			wiped++
		}
	}
	t.Logf("%d kills: by quarter of the input processed %v, the latest at %.1f%%; by kind %v; %d wipes, %d power losses, %d forced aborts; %d catch-up restores, %d of them of a batch committed but not applied",
		kills, quarters, 100*maxFrac, byKind, wiped, powerLosses, aborts, catchUps, afterCommitCatchUps)
	if kills >= 8 {
		covered := 0
		for _, q := range quarters {
			if q > 0 {
				covered++
			}
		}
		if covered < 3 || maxFrac < 0.75 {
			t.Fatalf("the kills did not spread over the input: by quarter %v, the latest at %.1f%%", quarters, 100*maxFrac)
		}
	}
	if kills >= 4*int(numKillKinds) {
		for kind, c := range byKind {
			if c == 0 {
				t.Fatalf("no kill of kind %s", killKind(kind))
			}
		}
		if afterCommitCatchUps == 0 || aborts == 0 {
			t.Fatalf("%d catch-up restores of a batch committed but not applied, %d forced aborts: the schedule missed a path", afterCommitCatchUps, aborts)
		}
	}
	if w.count() >= n {
		t.Fatalf("all input was processed before the last kill; the kills did not interleave with processing")
	}
	killsTook := time.Since(began)

	// The last incarnation finishes; then the clock jumps past every
	// timer (and every dedupe entry's expiry), and one drain input per
	// partition is answered once the partition's timers due before it
	// fired.
	inst := start(t, cfg(), b.opts()...)
	w.waitFor(t, ctx, n)
	clock.jump.Store(int64(2 * dedupeTTL))
	drains := make([]*kgo.Record, partitions)
	for p := range drains {
		drains[p] = &kgo.Record{Partition: int32(p), Value: make([]byte, 8), Headers: []kgo.RecordHeader{{Key: "drain", Value: []byte{1}}}}
	}
	s.produceRecords(t, drains, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for _, r := range drains {
		exp.addDrain([2]int64{int64(r.Partition), r.Offset})
	}
	w.waitFor(t, ctx, n+partitions)
	// The drains answer once their partitions' timers that were due
	// before them fired; the runtime's sweep of expired dedupe entries
	// goes on in MaxBatch steps, re-arming itself at each. Wait until the
	// changelog says that no timer and no dedupe entry is left.
	left := s.awaitChangelog(t, ctx, changelog, func(live map[string]int) bool { return live["__timers"] == 0 && live["__seen"] == 0 })
	t.Logf("changelog: %v live entries per store at the end", left)
	inst.stop(t)
	rd.readToStable(t, ctx)
	if err := rd.chk.finish(); err != nil {
		t.Fatalf("exactly-once violated: %v", err)
	}
	if got := rd.checkKill(t, ctx, "the last incarnation"); got != n+partitions {
		t.Fatalf("%d inputs committed, want %d", got, n+partitions)
	}
	sched, fired := rd.chk.timers()
	t.Logf("output: %v outputs by kind (\"\" = count); %d timers scheduled, %d fired", rd.chk.outputs, sched, fired)

	// The live state: the counts are the fold of the counted inputs, every
	// key's last timer fired, and no timer or dedupe entry is left.
	stores := []string{countsStore, ticksStore, "__timers", "__seen"}
	live := storeDump(t, disk, dir, partitions, stores...)
	if err := diffState(storeStateFS(t, disk, dir), exp.fold()); err != nil {
		t.Fatalf("live state: %v", err)
	}
	checkFinalState(t, live, rd.chk)
	// The same instance on a fresh disk restores from the changelog alone
	// exactly the live state. (Static membership: a different instance
	// would wait out the session timeout of "a", which by design does not
	// leave the group on stop.)
	disk = vfs.NewCrashableMem()
	restored := start(t, cfg(), b.opts()...)
	waitReady(t, ctx, restored)
	restored.stop(t)
	if fresh := storeDump(t, disk, dir, partitions, stores...); !maps.Equal(fresh, live) {
		var diff []string
		for k, v := range live {
			if fresh[k] != v {
				diff = append(diff, fmt.Sprintf("%s: live %x, restored %x", k, v, fresh[k]))
			}
		}
		for k, v := range fresh {
			if _, ok := live[k]; !ok {
				diff = append(diff, fmt.Sprintf("%s: only restored (%x)", k, v))
			}
		}
		slices.Sort(diff)
		t.Fatalf("state restored from the changelog differs from the live state in %d entries: %v", len(diff), diff[:min(len(diff), 8)])
	}
	t.Logf("took %s: %s for the %d kills, %s to finish and check", time.Since(began).Round(time.Millisecond), killsTook.Round(time.Millisecond), kills, (time.Since(began) - killsTook).Round(time.Millisecond))
}

// checkFinalState checks the events processor's stores once every timer
// fell: per key the ticks hold the last timer scheduled, fired; no timer
// and no dedupe entry is left.
func checkFinalState(t testing.TB, dump map[string]string, chk *checker) {
	t.Helper()
	var errs []string
	ticks := 0
	for k, v := range dump {
		_, rest, _ := strings.Cut(k, "/")
		store, key, _ := strings.Cut(rest, "/")
		switch store {
		case ticksStore:
			ticks++
			ord, pending := decodeTick([]byte(v))
			name, _ := strconv.Unquote(key)
			if want := int64(len(chk.scheduled[name])); ord != want || pending {
				errs = append(errs, fmt.Sprintf("key %s: ticks (%d, pending %v), want (%d, fired)", name, ord, pending, want))
			}
		case "__timers", "__seen":
			errs = append(errs, fmt.Sprintf("%s left in state", k))
		}
	}
	if ticks != len(chk.scheduled) {
		errs = append(errs, fmt.Sprintf("%d keys in ticks, %d keys scheduled timers", ticks, len(chk.scheduled)))
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		per := map[string]int{}
		for k := range dump {
			_, rest, _ := strings.Cut(k, "/")
			store, _, _ := strings.Cut(rest, "/")
			per[store]++
		}
		t.Logf("entries per store: %v", per)
		t.Fatalf("final state: %d problems: %v", len(errs), errs[:min(len(errs), 8)])
	}
}

// awaitChangelog reads the changelog read-committed from the start until
// done holds of its live entries per store (keys whose last record is not
// a tombstone), and returns them; a changelog that stops growing for
// livenessBound first fails the test.
func (s *scenario) awaitChangelog(t testing.TB, ctx context.Context, changelog string, done func(live map[string]int) bool) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(append(s.b.opts(), kgo.ConsumeTopics(changelog), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	live := map[string]int{}
	entries := map[[2]string]bool{}
	// First catch up with the changelog as it stands (its last stable
	// offsets now), so that done does not judge an empty start.
	ends, err := s.b.adm.ListCommittedOffsets(ctx, changelog)
	if err != nil {
		t.Fatal(err)
	}
	next := map[int32]int64{}
	caughtUp := func() bool {
		for p := int32(0); p < s.partitions; p++ {
			if end, _ := ends.Lookup(changelog, p); next[p] < end.Offset {
				return false
			}
		}
		return true
	}
	for !caughtUp() || !done(live) {
		pctx, cancel := context.WithTimeout(ctx, livenessBound)
		fs := cl.PollFetches(pctx)
		timedOut := pctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("changelog stopped growing for %s with live entries %v", livenessBound, live)
		}
		if err := fs.Err0(); err != nil {
			t.Fatalf("changelog reader: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if r.Attrs.IsControl() {
				return
			}
			store, _, err := state.SplitChangelogKey(r.Key)
			if err != nil {
				t.Errorf("changelog record %d@%d: %v", r.Partition, r.Offset, err)
				return
			}
			e := [2]string{fmt.Sprint(r.Partition), string(r.Key)}
			switch was := entries[e]; {
			case r.Value != nil && !was:
				live[store]++
			case r.Value == nil && was:
				live[store]--
			}
			entries[e] = r.Value != nil
		})
	}
	return live
}

// awaitKill waits for an incarnation to die by the test's kill; output
// that stops for livenessBound first fails the test with what describe
// says.
func awaitKill(t testing.TB, ctx context.Context, w *outputWatcher, inst *instance, describe func() string) {
	t.Helper()
	for {
		w.mu.Lock()
		changed := w.changed
		w.mu.Unlock()
		timer := time.NewTimer(livenessBound)
		select {
		case err := <-inst.done:
			timer.Stop()
			if !errors.Is(err, errKill) {
				t.Fatalf("%s: processor stopped with %v", describe(), err)
			}
			return
		case <-changed:
			timer.Stop()
		case <-timer.C:
			t.Fatalf("%s: the kill never happened, no output for %s", describe(), livenessBound)
		case <-ctx.Done():
			t.Fatalf("%s: %v", describe(), ctx.Err())
		}
	}
}

func waitReady(t testing.TB, ctx context.Context, in *instance) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
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
