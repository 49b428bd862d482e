// Package brokertest gives tests a Kafka to run against: franz-go's
// in-process kfake cluster, or the real broker that deploy/local/kafka.sh
// starts.
package brokertest

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
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

// RealKafka returns the local Apache Kafka broker's address
// (LOCKSTEP_TEST_KAFKA, default 127.0.0.1:19092). When it does not answer,
// the test skips locally and fails under CI=true: in CI a missing service is
// a failure.
func RealKafka(t testing.TB) []string {
	t.Helper()
	addr := os.Getenv("LOCKSTEP_TEST_KAFKA")
	if addr == "" {
		addr = "127.0.0.1:19092"
	}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		msg := fmt.Sprintf("no Kafka broker at %s (start it with deploy/local/kafka.sh start): %v", addr, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	conn.Close()
	return []string{addr}
}
