package stream_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/processors/stream"
)

// globalProbe emits, for each input record, how many rows of the global
// table it saw and the value of the row its key names.
type globalProbe struct{ table, out string }

func (g globalProbe) Handle(ctx *stream.Context, rec *kgo.Record) error {
	v, ok := ctx.Global(g.table, string(rec.Key))
	ctx.Emit(g.out, rec.Key, fmt.Appendf(nil, "%v/%v", ok, v))
	return nil
}

// TestGlobalTableReadBeforeProcessing: every input record, even one in the
// topic before the processor starts, sees the global table as it stood at
// start; a later row, a tombstone and an undecodable value are followed.
func TestGlobalTableReadBeforeProcessing(t *testing.T) {
	b := newKfake(t)
	s := newScenario(t, b, 2)
	table := s.prefix + "table"
	b.createTopic(t, table, 3, nil)
	const rows = 300
	var recs []*kgo.Record
	for i := range rows {
		recs = append(recs, &kgo.Record{Topic: table, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	// The last row of each key wins; k0 is rewritten, k1 deleted, k2 bad.
	recs = append(recs, &kgo.Record{Topic: table, Key: []byte("k0"), Value: []byte("v0-new")},
		&kgo.Record{Topic: table, Key: []byte("k1")}, &kgo.Record{Topic: table, Key: []byte("k2"), Value: []byte("bad")})
	s.produceRecords(t, recs)
	probe := []string{fmt.Sprintf("k%d", rows-1), "k0", "k1", "k2"}
	for _, k := range probe {
		s.produceRecords(t, []*kgo.Record{{Topic: s.in, Key: []byte(k), Value: make([]byte, 8)}})
	}
	cfg := s.config("a", t.TempDir())
	cfg.Topology.Handler = globalProbe{table: table, out: s.out}
	cfg.Topology.Globals = []stream.GlobalTable{{Topic: table, Decode: func(_ context.Context, v []byte) (any, error) {
		if string(v) == "bad" {
			return nil, fmt.Errorf("cannot decode %q", v)
		}
		return string(v), nil
	}}}
	in := start(t, cfg, b.opts()...)
	defer in.stop(t)

	cl, err := kgo.NewClient(append(b.opts(), kgo.ConsumeTopics(s.out), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for len(got) < len(probe) && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[string(r.Key)] = string(r.Value) })
	}
	want := map[string]string{probe[0]: fmt.Sprintf("true/v%d", rows-1), "k0": "true/v0-new", "k1": "false/<nil>", "k2": "false/<nil>"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("record %s saw %q, want %q", k, got[k], w)
		}
	}
}
