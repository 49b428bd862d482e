package stream_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stream"
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

var errKill = errors.New("killed by the test")

// testCrashes kills one instance at each failpoint in turn, 21 times, and
// restarts it on the same state directory; then it lets it finish and
// checks exactly-once on the output, the live state and a state restored
// from the changelog alone.
func testCrashes(t *testing.T, b *broker) {
	const n, kills = 100_000, 21
	s := newScenario(t, b, 6)
	in := s.produce(t, n, 1000, seed(t, 2))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	w := s.watchOutput(t, ctx)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(seed(t, 7), 7))
	points := []stream.Failpoint{stream.FailMidBatch, stream.FailAfterCommit, stream.FailDuringRestore}
	cfg := func() stream.Config {
		c := s.config("a", dir)
		c.StaticMembership = true
		c.RestoreChunk = 50
		return c
	}
	killed := map[stream.Failpoint]int{}
	for k := range kills {
		fp := points[k%len(points)]
		if fp == stream.FailDuringRestore {
			// Lose the local state, so this incarnation restores in
			// full and can die half-way through it.
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}
		at := int32(1 + rng.IntN(3))
		var calls atomic.Int32
		c := cfg()
		c.Failpoint = func(f stream.Failpoint) error {
			if f == fp && calls.Add(1) == at {
				return errKill
			}
			return nil
		}
		inst := start(t, c, b.opts()...)
		select {
		case err := <-inst.done:
			if !errors.Is(err, errKill) {
				t.Fatalf("kill %d at %s: processor stopped with %v", k, fp, err)
			}
		case <-ctx.Done():
			t.Fatalf("kill %d at %s never happened (output at %d of %d)", k, fp, w.count(), n)
		}
		killed[fp]++
	}
	if w.count() >= n {
		t.Fatalf("all input was processed before the last kill; the kills did not interleave with processing")
	}
	t.Logf("killed %v; %d of %d inputs processed when the last kill happened", killed, w.count(), n)

	inst := start(t, cfg(), b.opts()...)
	w.waitFor(t, ctx, n)
	inst.stop(t)
	s.verify(t, in)
	want := fold(in)
	if err := diffState(storeState(t, dir), want); err != nil {
		t.Fatalf("live state: %v", err)
	}
	// The same instance on a fresh disk restores from the changelog alone.
	// (Static membership: a different instance would wait out the session
	// timeout of "a", which by design does not leave the group on stop.)
	fresh := t.TempDir()
	fc := cfg()
	fc.StateDir = fresh
	restored := start(t, fc, b.opts()...)
	waitReady(t, ctx, restored)
	restored.stop(t)
	if err := diffState(storeState(t, fresh), want); err != nil {
		t.Fatalf("state restored from the changelog: %v", err)
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

var _ = fmt.Sprint
