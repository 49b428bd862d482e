package stream_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stream"
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

// TestSIGKILLKafka kills a real child process with SIGKILL at three points
// of its progress (no cleanup of any kind runs), restarts it on the same
// state directory, and checks exactly-once.
func TestSIGKILLKafka(t *testing.T) {
	b := realKafka(t)
	s := newScenario(t, b, 6)
	in := s.produce(t, 60_000, 500, seed(t, 5))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	w := s.watchOutput(t, ctx)
	dir := t.TempDir()
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "LOCKSTEP_EOS_CHILD="+s.childSpec(dir))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	// Three kill points at seeded places between 10% and 90% of the input.
	rng := rand.New(rand.NewPCG(seed(t, 6), 6))
	points := []int{len(in) * (10 + rng.IntN(27)) / 100, len(in) * (37 + rng.IntN(27)) / 100, len(in) * (64 + rng.IntN(27)) / 100}
	for i, at := range points {
		cmd := child()
		w.waitFor(t, ctx, at)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: child ended with %v, want death by SIGKILL", i, err)
		}
		if w.count() >= len(in) {
			t.Fatalf("kill %d came after all input was processed", i)
		}
	}
	cmd := child()
	w.waitFor(t, ctx, len(in))
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child did not stop cleanly on SIGTERM: %v", err)
	}
	s.verify(t, in)
	if err := diffState(storeState(t, dir), fold(in)); err != nil {
		t.Fatal(err)
	}
}
