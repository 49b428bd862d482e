package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrCoPartitioning is returned when the input topics of a processor do not
// have the same partition count, or the changelog does not match them.
var ErrCoPartitioning = fmt.Errorf("stream: topics are not co-partitioned")

// prepareTopics checks the inputs, creates the changelog (compacted, one
// partition per input partition), DLQ and outputs if missing, and returns
// the input partition count and the changelog's topic id.
func (p *Processor) prepareTopics(ctx context.Context, adm *kadm.Client) (int32, kadm.TopicID, error) {
	inputs, err := adm.ListTopics(ctx, p.topo.Inputs...)
	if err != nil {
		return 0, kadm.TopicID{}, fmt.Errorf("stream: list input topics: %w", err)
	}
	counts := make([]string, 0, len(p.topo.Inputs))
	var n int32 = -1
	same := true
	for _, t := range p.topo.Inputs {
		d, ok := inputs[t]
		if !ok || d.Err != nil {
			return 0, kadm.TopicID{}, fmt.Errorf("stream: %s: input topic %q does not exist (create it before starting the processor)", p.topo.Name, t)
		}
		c := int32(len(d.Partitions))
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
	if err := ensureTopic(ctx, adm, p.changelog, n, map[string]*string{"cleanup.policy": &compact}); err != nil {
		return 0, kadm.TopicID{}, err
	}
	for _, t := range append(slices.Clone(p.topo.Outputs), p.dlq) {
		if err := ensureTopic(ctx, adm, t, -1, nil); err != nil {
			return 0, kadm.TopicID{}, err
		}
	}
	d, err := waitTopic(ctx, adm, p.changelog)
	if err != nil {
		return 0, kadm.TopicID{}, err
	}
	if c := int32(len(d.Partitions)); c != n {
		return 0, kadm.TopicID{}, fmt.Errorf("%w: changelog %s has %d partitions but the inputs have %d (%s); recreate the changelog",
			ErrCoPartitioning, p.changelog, c, n, strings.Join(counts, ", "))
	}
	return n, d.ID, nil
}

// ensureTopic creates topic with partitions (-1: the broker's default) if it
// does not exist.
func ensureTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) error {
	resp, err := adm.CreateTopic(ctx, partitions, -1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("stream: create %s: %w", topic, err)
	}
	_, err = waitTopic(ctx, adm, topic)
	return err
}

// waitTopic waits until a topic's metadata is visible: a just-created topic
// can take a moment to reach every broker.
func waitTopic(ctx context.Context, adm *kadm.Client, topic string) (kadm.TopicDetail, error) {
	var last error
	for range 100 {
		td, err := adm.ListTopics(ctx, topic)
		if err == nil {
			d, ok := td[topic]
			if ok && d.Err == nil && len(d.Partitions) > 0 {
				return d, nil
			}
			err = d.Err
		}
		last = err
		select {
		case <-ctx.Done():
			return kadm.TopicDetail{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return kadm.TopicDetail{}, fmt.Errorf("stream: topic %s not visible after creation: %w", topic, last)
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
