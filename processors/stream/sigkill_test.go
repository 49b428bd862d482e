package stream_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMain doubles as the child process of TestSIGKILL: with
// LOCKSTEP_EOS_CHILD set, the test binary runs one processor until it is
// killed.
func TestMain(m *testing.M) {
	if spec := os.Getenv("LOCKSTEP_EOS_CHILD"); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

// childSpec is the scenario passed to the child: seeds|name|in|out|prefix|dir.
func (s *scenario) childSpec(dir string) string {
	return strings.Join([]string{strings.Join(s.b.seeds, ","), s.name, s.in, s.out, s.prefix, dir}, "|")
}

func runChild(spec string) int {
	f := strings.Split(spec, "|")
	if len(f) != 6 {
		fmt.Fprintln(os.Stderr, "bad LOCKSTEP_EOS_CHILD spec")
		return 2
	}
	s := &scenario{b: &broker{seeds: strings.Split(f[0], ",")}, name: f[1], in: f[2], out: f[3], prefix: f[4]}
	cfg := s.config("a", f[5])
	cfg.StaticMembership = true
	cfg.RestoreChunk = 100
	if kill := os.Getenv("LOCKSTEP_EOS_KILL"); kill != "" {
		var fp string
		var after int64
		var skip int
		if _, err := fmt.Sscanf(kill, "%s %d %d", &fp, &after, &skip); err != nil {
			fmt.Fprintln(os.Stderr, "bad LOCKSTEP_EOS_KILL:", err)
			return 2
		}
		handled := new(atomic.Int64)
		cfg.Topology.Handler = countHandled{cfg.Topology.Handler, handled}
		cfg.Failpoint = selfKill(stream.Failpoint(fp), after, skip, handled)
	}
	p, err := stream.New(cfg, s.b.opts()...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := p.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// countHandled counts the records a handler was given.
type countHandled struct {
	stream.Handler
	n *atomic.Int64
}

func (c countHandled) Handle(ctx *stream.Context, rec *kgo.Record) error {
	c.n.Add(1)
	return c.Handler.Handle(ctx, rec)
}

// selfKill is a child's failpoint: once the child handled after records,
// the skip+1-th call of fp sends the process SIGKILL (nothing else runs
// after it: no deferred call, no Close, no leave). A restore kill whose
// restore ended before its chunk falls back to the next poll.
func selfKill(fp stream.Failpoint, after int64, skip int, handled *atomic.Int64) func(stream.Failpoint) error {
	var mu sync.Mutex
	calls := 0
	return func(f stream.Failpoint) error {
		mu.Lock()
		defer mu.Unlock()
		if fp == stream.FailDuringRestore && f != stream.FailDuringRestore {
			fp, skip, calls = stream.FailMidBatch, 0, 0
		}
		if f != fp || handled.Load() < after {
			return nil
		}
		if calls < skip {
			calls++
			return nil
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way; nothing more happens here
	}
}

// storeStateCopy is storeState on a copy of dir.
func storeStateCopy(t testing.TB, dir string) map[string][2]int64 {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(cp, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(cp)
	return storeState(t, cp)
}

// TestSIGKILLKafka kills a real child process with SIGKILL max(3, -kills/6)
// times (no cleanup of any kind runs), restarts it on the same state
// directory, and checks exactly-once. The kills aim at seeded points
// spread over the whole input, one per kills-th of it, and land in random
// order at a failpoint, where the child kills itself (mid-batch, between
// the commit and the Pebble apply, right after the apply, mid-restore
// after the directory was deleted), or anywhere, the test killing the
// child once the output reached the point. After each kill the group's
// committed offsets must be exactly the inputs the output answers.
func TestSIGKILLKafka(t *testing.T) {
	b := realKafka(t)
	const n, partitions = 60_000, 6
	s := newScenario(t, b, partitions)
	in := s.produce(t, n, 500, seed(t, 5))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w := s.watchOutput(t, ctx)
	rd := s.newOutputReader(t, expect(in, nil))
	defer rd.close()
	dir := t.TempDir()
	child := func(kill string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "LOCKSTEP_EOS_CHILD="+s.childSpec(dir), "LOCKSTEP_EOS_KILL="+kill)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	changelog := stream.ChangelogTopic(s.prefix, s.name)
	rng := rand.New(rand.NewPCG(seed(t, 6), 6))
	kills := max(3, *killsFlag/6)
	// "" is the test's own SIGKILL, at whatever the child is doing.
	modes := []stream.Failpoint{"", stream.FailMidBatch, stream.FailAfterCommit, stream.FailAfterApply, stream.FailDuringRestore}
	order := make([]stream.Failpoint, kills)
	perm := rng.Perm(len(modes)) // which modes a run of fewer kills than modes leaves out
	for i := range order {
		order[i] = modes[perm[i%len(modes)]]
	}
	rng.Shuffle(kills, func(i, j int) { order[i], order[j] = order[j], order[i] })
	stratum := int64(n / kills)
	var processed int64
	for i, mode := range order {
		target := min(int64(i)*stratum+rng.Int64N(stratum), n-2000)
		skip := rng.IntN(3)
		if mode == stream.FailDuringRestore && processed == 0 {
			// Nothing to restore yet: restore-kill a later child.
			for j := i + 1; j < kills; j++ {
				if order[j] != stream.FailDuringRestore {
					order[i], order[j] = order[j], order[i]
					break
				}
			}
			if mode = order[i]; mode == stream.FailDuringRestore {
				mode = stream.FailMidBatch
			}
		}
		if mode == stream.FailDuringRestore {
			{
				// Lose the directory: the child restores in full, and
				// dies at a seeded chunk of it.
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				ends, err := b.adm.ListEndOffsets(ctx, changelog)
				if err != nil {
					t.Fatal(err)
				}
				var chunks int64
				ends.Each(func(o kadm.ListedOffset) { chunks += o.Offset / 100 })
				skip, target = rng.IntN(max(int(chunks/2), 1)), processed
			}
		}
		var cmd *exec.Cmd
		if mode == "" {
			cmd = child("")
			w.waitFor(t, ctx, int(target))
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		} else {
			cmd = child(fmt.Sprintf("%s %d %d", mode, max(target-processed, 0), skip))
		}
		err := cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d (%q): child ended with %v, want death by SIGKILL", i, mode, err)
		}
		before := processed
		processed = rd.checkKill(t, ctx, fmt.Sprintf("SIGKILL %d (%q)", i, mode))
		// Pebble is never ahead of the changelog; after a kill between the
		// commit and the apply it is behind. (Read on a copy: opening the
		// store recovers its WAL, which is the next child's job.)
		behind := 0
		{
			disk := storeStateCopy(t, dir)
			for key, c := range disk {
				if out := int64(rd.chk.next[key]); c[0] > out {
					t.Fatalf("kill %d (%q): key %s has count %d on the disk, but the committed output only %d: Pebble is ahead of the changelog", i, mode, key, c[0], out)
				}
			}
			for key, out := range rd.chk.next {
				if disk[key][0] < int64(out) {
					behind++
				}
			}
		}
		if mode == stream.FailAfterCommit && behind == 0 {
			t.Fatalf("kill %d after a commit: no key's count on the disk is behind the committed output", i)
		}
		if processed >= n {
			t.Fatalf("kill %d came after all input was processed", i)
		}
		where := string(mode)
		switch {
		case where == "":
			where = "anywhere (the test's SIGKILL)"
		case mode == stream.FailDuringRestore && processed != before:
			where += " (the restore was shorter: fell back to mid-batch)"
		}
		t.Logf("SIGKILL %d at %s, aimed at %.1f%%: %.1f%% of the input processed (%d)", i, where, 100*float64(target)/n, 100*float64(processed)/n, processed)
	}
	cmd := child("")
	w.waitFor(t, ctx, len(in))
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child did not stop cleanly on SIGTERM: %v", err)
	}
	rd.readToStable(t, ctx)
	if err := rd.chk.finish(); err != nil {
		t.Fatalf("exactly-once violated: %v", err)
	}
	if err := diffState(storeState(t, dir), fold(in)); err != nil {
		t.Fatal(err)
	}
}
