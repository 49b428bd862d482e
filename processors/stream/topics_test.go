package stream_test

import (
	"context"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFreshStartSeesCreatedTopicsKfake is the regression test for the
// fresh-start stall: on a real broker the first metadata read after the
// runtime creates its changelog often comes back without the topic (the
// broker's metadata lags the controller), and franz-go's metadata cache
// kept that answer for MetadataMinAge (5s by default), so waitTopic spun
// on a stale cache. Here kfake answers that first read with
// UNKNOWN_TOPIC_OR_PARTITION, as the real broker does, and the processor's
// clients keep cached metadata for an hour: a processor that reads through
// the cache never sees its changelog (it gives up with "not visible after
// creation"), while one that asks the broker again gets ready and
// processes.
func TestFreshStartSeesCreatedTopicsKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	b := newBroker(t, "kfake", c.ListenAddrs())
	s := newScenario(t, b, 3)
	cfg := s.config("a", t.TempDir())
	stale := c.Fault(kfake.Fault{
		Keys:  []kmsg.Key{kmsg.Metadata},
		Topic: stream.ChangelogTopic(s.prefix, s.name),
		Err:   kerr.UnknownTopicOrPartition,
	})
	in := s.produce(t, 100, 10, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := s.watchOutput(t, ctx)
	inst := start(t, cfg, append(b.opts(), kgo.MetadataMinAge(time.Hour), kgo.MetadataMaxAge(time.Hour))...)
	waitReady(t, ctx, inst)
	w.waitFor(t, ctx, len(in))
	inst.stop(t)
	if stale.Hits() != 1 {
		t.Fatalf("the stale metadata answer was given %d times, want once: the test did not exercise a stale first read", stale.Hits())
	}
	s.verify(t, in)
}
