package stream_test

import (
	"context"
	"testing"
	"time"
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
