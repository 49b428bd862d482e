// Package brokertest gives tests a Kafka to run against: franz-go's
// in-process kfake cluster, or the real broker that deploy/local/kafka.sh
// starts.
package brokertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kfake starts an in-process cluster for the test and returns its seeds.
func Kfake(t testing.TB) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// RealKafka returns the local Apache Kafka broker's address, once it has
// answered an ApiVersions request and a Metadata request naming its cluster
// id (which the test log shows). The address is LOCKSTEP_TEST_KAFKA, else
// 127.0.0.1 on LOCKSTEP_KAFKA_PORT (the port deploy/local/kafka.sh and
// .ci/run start the broker on; default 19092). When nothing listens there,
// or what answers is not Kafka, the test skips locally and fails under
// CI=true: in CI a missing service is a failure.
func RealKafka(t testing.TB) []string {
	t.Helper()
	addr := os.Getenv("LOCKSTEP_TEST_KAFKA")
	if addr == "" {
		port := os.Getenv("LOCKSTEP_KAFKA_PORT")
		if port == "" {
			port = "19092"
		}
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	unavailable := func(msg string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		unavailable(fmt.Sprintf("no Kafka broker at %s (start it with deploy/local/kafka.sh start): %v", addr, err))
		return nil
	}
	conn.Close()
	info, err := probe(context.Background(), addr, 5*time.Second)
	if err != nil {
		unavailable(fmt.Sprintf("something listens at %s but it is not a usable Kafka broker (start Kafka with deploy/local/kafka.sh start, or point LOCKSTEP_TEST_KAFKA at one): %v", addr, err))
		return nil
	}
	t.Logf("Kafka at %s: cluster id %s, %d broker(s), %d API keys", addr, info.ClusterID, info.Brokers, info.APIKeys)
	return []string{addr}
}

// brokerInfo is what probe learnt of a broker.
type brokerInfo struct {
	ClusterID string
	Brokers   int // brokers in the metadata answer
	APIKeys   int // API keys the broker advertises
}

// requiredKeys are the requests the stream runtime's exactly-once path
// needs; a broker that does not advertise them is not the Kafka the tests
// are about.
var requiredKeys = []int16{
	kmsg.Produce.Int16(), kmsg.Fetch.Int16(), kmsg.ListOffsets.Int16(), kmsg.Metadata.Int16(),
	kmsg.OffsetCommit.Int16(), kmsg.OffsetFetch.Int16(), kmsg.FindCoordinator.Int16(),
	kmsg.JoinGroup.Int16(), kmsg.InitProducerID.Int16(), kmsg.AddPartitionsToTxn.Int16(),
	kmsg.AddOffsetsToTxn.Int16(), kmsg.EndTxn.Int16(), kmsg.TxnOffsetCommit.Int16(),
	kmsg.CreateTopics.Int16(),
}

// probe asks the broker at addr for its API versions and its metadata
// through the Kafka protocol, and fails unless the answers are a Kafka
// broker's: no error code, the transactional and group APIs advertised,
// and a cluster id.
func probe(ctx context.Context, addr string, timeout time.Duration) (brokerInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.DialTimeout(2*time.Second),
		kgo.RequestRetries(2),
		kgo.ClientID("lockstep-brokertest"),
	)
	if err != nil {
		return brokerInfo{}, err
	}
	defer cl.Close()

	av := kmsg.NewPtrApiVersionsRequest()
	av.ClientSoftwareName = "lockstep-brokertest"
	av.ClientSoftwareVersion = "1"
	avr, err := av.RequestWith(ctx, cl)
	if err != nil && ctx.Err() != nil {
		return brokerInfo{}, fmt.Errorf("no answer to an ApiVersions request within %s: %w", timeout, err)
	}
	if err != nil {
		return brokerInfo{}, fmt.Errorf("ApiVersions request: %w", err)
	}
	if err := kerr.ErrorForCode(avr.ErrorCode); err != nil {
		return brokerInfo{}, fmt.Errorf("ApiVersions answered with an error: %w", err)
	}
	var missing []string
	for _, k := range requiredKeys {
		if !slices.ContainsFunc(avr.ApiKeys, func(a kmsg.ApiVersionsResponseApiKey) bool { return a.ApiKey == k }) {
			name := kmsg.NameForKey(k)
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return brokerInfo{}, fmt.Errorf("ApiVersions answer (%d keys) lacks %v", len(avr.ApiKeys), missing)
	}

	md := kmsg.NewPtrMetadataRequest()
	md.Topics = []kmsg.MetadataRequestTopic{} // no topics, only brokers and cluster id
	mdr, err := md.RequestWith(ctx, cl)
	if err != nil {
		return brokerInfo{}, fmt.Errorf("metadata request: %w", err)
	}
	if mdr.ClusterID == nil || *mdr.ClusterID == "" {
		return brokerInfo{}, errors.New("metadata answer carries no cluster id")
	}
	if len(mdr.Brokers) == 0 {
		return brokerInfo{}, errors.New("metadata answer lists no brokers")
	}
	return brokerInfo{ClusterID: *mdr.ClusterID, Brokers: len(mdr.Brokers), APIKeys: len(avr.ApiKeys)}, nil
}
