package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrCoPartitioning is returned when the input topics of a processor do not
// have the same partition count, or the changelog does not match them.
var ErrCoPartitioning = fmt.Errorf("stream: topics are not co-partitioned")

// prepareTopics checks the inputs, creates the changelog (compacted, one
// partition per input partition), DLQ and outputs if missing, waits until
// the broker shows them, and returns the input partition count and the
// changelog's topic id.
//
// Every metadata read here asks the broker (describeTopics), never the
// client's metadata cache: kadm's ListTopics and Metadata read through
// that cache, and the first read after a create often finds the topic
// missing (the broker's metadata lags the controller); cached, that answer
// would stand for MetadataMinAge (5s by default) however often we asked.
func (p *Processor) prepareTopics(ctx context.Context, cl *kgo.Client, adm *kadm.Client) (int32, kadm.TopicID, error) {
	inputs, err := describeTopics(ctx, cl, p.topo.Inputs...)
	if err != nil {
		return 0, kadm.TopicID{}, fmt.Errorf("stream: list input topics: %w", err)
	}
	counts := make([]string, 0, len(p.topo.Inputs))
	var n int32 = -1
	same := true
	for _, t := range p.topo.Inputs {
		d, ok := inputs[t]
		if !ok || d.err != nil {
			return 0, kadm.TopicID{}, fmt.Errorf("stream: %s: input topic %q does not exist (create it before starting the processor)", p.topo.Name, t)
		}
		c := d.partitions
		counts = append(counts, fmt.Sprintf("%s=%d", t, c))
		if n >= 0 && c != n {
			same = false
		}
		n = c
	}
	if !same {
		return 0, kadm.TopicID{}, fmt.Errorf("%w: processor %s joins %s; give them the same partition count",
			ErrCoPartitioning, p.topo.Name, strings.Join(counts, ", "))
	}

	compact := "compact"
	if err := createTopics(ctx, adm, n, map[string]*string{"cleanup.policy": &compact}, p.changelog); err != nil {
		return 0, kadm.TopicID{}, err
	}
	others := append(slices.Clone(p.topo.Outputs), p.dlq)
	if err := createTopics(ctx, adm, -1, nil, others...); err != nil {
		return 0, kadm.TopicID{}, err
	}
	ts, err := waitTopics(ctx, cl, append(others, p.changelog)...)
	if err != nil {
		return 0, kadm.TopicID{}, err
	}
	d := ts[p.changelog]
	if d.partitions != n {
		return 0, kadm.TopicID{}, fmt.Errorf("%w: changelog %s has %d partitions but the inputs have %d (%s); recreate the changelog",
			ErrCoPartitioning, p.changelog, d.partitions, n, strings.Join(counts, ", "))
	}
	return n, d.id, nil
}

// createTopics creates the topics that do not exist, with partitions (-1:
// the broker's default).
func createTopics(ctx context.Context, adm *kadm.Client, partitions int32, configs map[string]*string, topics ...string) error {
	resps, err := adm.CreateTopics(ctx, partitions, -1, configs, topics...)
	if err != nil {
		return fmt.Errorf("stream: create %s: %w", strings.Join(topics, ", "), err)
	}
	for _, t := range topics {
		r, ok := resps[t]
		if !ok {
			return fmt.Errorf("stream: create %s: no answer for it", t)
		}
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("stream: create %s: %w", t, r.Err)
		}
	}
	return nil
}

// topicMeta is what the runtime needs of a topic's metadata.
type topicMeta struct {
	id         kadm.TopicID
	partitions int32
	err        error // the topic's error, or the first partition's (no leader yet)
}

// describeTopics asks the broker for the topics' metadata with a request of
// its own, which the client's metadata cache does not answer. (The client
// stores the answer in that cache, so the kadm calls that follow, such as
// restore's ListEndOffsets, see the topics too.)
func describeTopics(ctx context.Context, cl *kgo.Client, topics ...string) (map[string]topicMeta, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	out := make(map[string]topicMeta, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		m := topicMeta{id: t.TopicID, partitions: int32(len(t.Partitions)), err: kerr.ErrorForCode(t.ErrorCode)}
		for _, part := range t.Partitions {
			if m.err == nil {
				m.err = kerr.ErrorForCode(part.ErrorCode)
			}
		}
		if m.err == nil && m.partitions == 0 {
			m.err = kerr.UnknownTopicOrPartition
		}
		out[*t.Topic] = m
	}
	return out, nil
}

// WaitTopics waits until the brokers, asked afresh (not through the
// client's metadata cache, which can say "missing" for MetadataMinAge after
// a create), show every topic with its partitions. Whoever creates topics
// before processors start uses it, so fresh starts do not stall.
func WaitTopics(ctx context.Context, cl *kgo.Client, topics ...string) error {
	_, err := waitTopics(ctx, cl, topics...)
	return err
}

// waitTopics asks again quickly (20ms, doubling up to 500ms), for at most
// 30s, until every topic has all its partitions led.
func waitTopics(ctx context.Context, cl *kgo.Client, topics ...string) (map[string]topicMeta, error) {
	const bound = 30 * time.Second
	deadline := time.Now().Add(bound)
	backoff := 20 * time.Millisecond
	for {
		ts, err := describeTopics(ctx, cl, topics...)
		if err == nil {
			for _, t := range topics {
				d, ok := ts[t]
				if !ok {
					err = fmt.Errorf("%s: not in the metadata answer", t)
					break
				}
				if d.err != nil {
					err = fmt.Errorf("%s: %w", t, d.err)
					break
				}
			}
			if err == nil {
				return ts, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("stream: topics not visible %s after creation: %w", bound, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// partitioner writes changelog records to the partition they were given
// (the input partition whose state they carry) and hashes every other
// record by key, as Kafka's Java client does.
type partitioner struct {
	changelog string
	hashed    kgo.Partitioner
}

func (pt partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == pt.changelog {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return pt.hashed.ForTopic(topic)
}
