package flows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// TopicSpec is a topic and its policy.
type TopicSpec struct {
	Name      string // before the prefix
	Compacted bool
}

// Topics is every topic the flows read or write, with its policy: the one
// place that says which are compacted (DESIGN.md section 3). Changelogs are
// created by the stream runtime, the same way, with the input partition
// count.
var Topics = []TopicSpec{
	{Name: schemas.TopicStockMovements},
	{Name: schemas.TopicStockSnapshots},
	{Name: schemas.TopicShipments},
	{Name: schemas.TopicReceipts},
	{Name: schemas.TopicOrderAcks},
	{Name: schemas.TopicReceiptAcks},
	{Name: schemas.TopicSalesOrders},
	{Name: schemas.TopicPurchaseOrders},
	{Name: schemas.TopicItems, Compacted: true},
	{Name: schemas.TopicPrimaStockLevels},
	{Name: schemas.TopicDespatchNotes},
	{Name: schemas.TopicStockLevels, Compacted: true},
	{Name: schemas.TopicCmdPrimaStock},
	{Name: schemas.TopicCmdPrimaDespatch},
	{Name: schemas.TopicCmdClarusOrders},
	{Name: schemas.TopicCmdClarusReceipts},
	{Name: schemas.TopicFulfilment},
	{Name: schemas.TopicOpenGoodsOut},
	{Name: schemas.TopicDrift},
	{Name: schemas.TopicDLQ},
	{Name: schemas.TopicSourceCursors, Compacted: true},
	{Name: schemas.TopicStockHeld, Compacted: true},
	{Name: schemas.TopicStockPushed, Compacted: true},
	{Name: schemas.TopicStockParity, Compacted: true},
}

// TopicOptions size the topics EnsureTopics creates.
type TopicOptions struct {
	Prefix string
	// Partitions of every created topic; co-partitioned inputs need one
	// count, so there is one setting (LOCKSTEP_KAFKA_PARTITIONS).
	Partitions int32
	// Replication of created topics; -1 is the broker's default.
	Replication int16
}

// EnsureTopics creates the missing topics and checks the policy of those
// that exist, naming every mismatch: a cursor topic that is not compacted
// loses cursors to retention, and a compacted command topic loses commands.
func EnsureTopics(ctx context.Context, cl *kgo.Client, o TopicOptions) error {
	adm := kadm.NewClient(cl)
	names := make([]string, len(Topics))
	for i, t := range Topics {
		names[i] = o.Prefix + t.Name
	}
	existing, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("topics: list: %w", err)
	}
	var missing, present []TopicSpec
	for _, t := range Topics {
		if d, ok := existing[o.Prefix+t.Name]; ok && d.Err == nil {
			present = append(present, t)
		} else {
			missing = append(missing, t)
		}
	}
	var errs []error
	for _, t := range missing {
		cfg := map[string]*string{}
		if t.Compacted {
			cfg["cleanup.policy"] = kadm.StringPtr("compact")
		}
		resp, err := adm.CreateTopic(ctx, o.Partitions, o.Replication, cfg, o.Prefix+t.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !strings.Contains(err.Error(), "TOPIC_ALREADY_EXISTS") {
			errs = append(errs, fmt.Errorf("topics: create %s: %w", o.Prefix+t.Name, err))
		}
	}
	if err := checkPolicies(ctx, adm, o.Prefix, present); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return stream.WaitTopics(ctx, cl, names...)
}

func checkPolicies(ctx context.Context, adm *kadm.Client, prefix string, specs []TopicSpec) error {
	if len(specs) == 0 {
		return nil
	}
	names := make([]string, len(specs))
	for i, t := range specs {
		names[i] = prefix + t.Name
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return fmt.Errorf("topics: describe configs: %w", err)
	}
	var bad []string
	for _, t := range specs {
		rc, err := rcs.On(prefix+t.Name, nil)
		if err != nil || rc.Err != nil {
			bad = append(bad, fmt.Sprintf("%s: cannot read its configuration (%v)", prefix+t.Name, errors.Join(err, rc.Err)))
			continue
		}
		policy := "delete"
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" {
				policy = c.MaybeValue()
			}
		}
		compacted := slices.Contains(strings.Split(policy, ","), "compact")
		if compacted != t.Compacted {
			want := "delete"
			if t.Compacted {
				want = "compact"
			}
			bad = append(bad, fmt.Sprintf("%s has cleanup.policy=%s, want %s", prefix+t.Name, policy, want))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("topics with the wrong policy (fix with kafka-configs --alter, or recreate them): %s", strings.Join(bad, "; "))
	}
	return nil
}
