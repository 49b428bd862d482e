package stream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/state"
)

// Stale state: one partition's local state is lost; the restart restores it
// from the changelog.
func TestLostPartitionStateRestoresKfake(t *testing.T) {
	b := newKfake(t)
	s := newScenario(t, b, 6)
	in := s.produce(t, 20_000, 300, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := s.watchOutput(t, ctx)
	dir := t.TempDir()
	inst := start(t, s.config("a", dir), b.opts()...)
	w.waitFor(t, ctx, len(in))
	inst.stop(t)

	st, err := state.Open(dir, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Wipe(3); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := diffState(storeState(t, dir), fold(in)); err == nil {
		t.Fatal("wiping partition 3 changed nothing; the test would prove nothing")
	}
	inst = start(t, s.config("a", dir), b.opts()...)
	waitReady(t, ctx, inst)
	inst.stop(t)
	if err := diffState(storeState(t, dir), fold(in)); err != nil {
		t.Fatal(err)
	}
}

// Ahead state: the changelog is recreated (cluster rebuilt) and the input
// reprocessed from the start, under a Pebble directory that remembers the
// old changelog. The runtime must wipe and rebuild, not count twice.
func TestStateAheadOfRecreatedChangelogKfake(t *testing.T) {
	b := newKfake(t)
	s := newScenario(t, b, 6)
	in := s.produce(t, 10_000, 300, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := s.watchOutput(t, ctx)
	dir := t.TempDir()
	inst := start(t, s.config("a", dir), b.opts()...)
	w.waitFor(t, ctx, len(in))
	inst.stop(t)

	changelog := stream.ChangelogTopic(s.prefix, s.name)
	if _, err := b.adm.DeleteTopics(ctx, changelog); err != nil {
		t.Fatal(err)
	}
	if _, err := b.adm.DeleteGroups(ctx, stream.GroupID(s.prefix, s.name)); err != nil {
		t.Fatal(err)
	}
	compact := "compact"
	b.createTopic(t, changelog, 6, map[string]*string{"cleanup.policy": &compact})

	inst = start(t, s.config("a", dir), b.opts()...)
	// Reprocessing writes a second copy of every output.
	w.waitTotal(t, ctx, 2*len(in))
	inst.stop(t)
	if err := diffState(storeState(t, dir), fold(in)); err != nil {
		t.Fatal(err)
	}
}

func TestCoPartitioningCheckedAtStartKfake(t *testing.T) {
	b := newKfake(t)
	b.createTopic(t, "left", 6, nil)
	b.createTopic(t, "right", 3, nil)
	cfg := stream.Config{
		Topology: stream.Topology{Name: "join", Inputs: []string{"left", "right"}, Handler: counter{}},
		StateDir: t.TempDir(), InstanceID: "a", Logger: testLogger(),
	}
	p, err := stream.New(cfg, b.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(context.Background())
	if !errors.Is(err, stream.ErrCoPartitioning) {
		t.Fatalf("Run = %v, want ErrCoPartitioning", err)
	}
	for _, want := range []string{"left=6", "right=3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
