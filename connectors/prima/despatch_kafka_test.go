package prima_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/broker/brokertest"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// newDespatchKafka starts an in-process cluster with the despatch flow's
// topics: commands partitioned as a test asks, the rest in one.
func newDespatchKafka(t testing.TB, cmdPartitions int32) []kgo.Opt {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(1),
		kfake.SeedTopics(cmdPartitions, schemas.TopicCmdPrimaDespatch),
		kfake.SeedTopics(1, schemas.TopicItems, schemas.TopicPrimaStockLevels, schemas.TopicSalesOrders,
			schemas.TopicDespatchNotes, schemas.TopicSourceCursors, schemas.TopicDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
}

// spoilQuantity sits in front of the simulator and turns a despatch line
// quantity of 7 into "seven" in every answer: a note Prima holds that
// lockstep cannot read.
func spoilQuantity(sim http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, r)
		body := bytes.ReplaceAll(rec.Body.Bytes(), []byte(`Quantity="7"`), []byte(`Quantity="seven"`))
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = io.Copy(w, bytes.NewReader(body))
	})
}

// On the real broker (skipped locally without one), whose transactions
// and group coordinator kfake only imitates: under server errors and
// answers lost after the write, with the sink stopped in the middle of a
// create and started again, every shipment gets exactly one note.
func TestDespatchSinkRealKafka(t *testing.T) {
	kopts := []kgo.Opt{kgo.SeedBrokers(brokertest.RealKafka(t)...)}
	prefix := fmt.Sprintf("test-%d.", time.Now().UnixNano())
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics := map[string]int32{prefix + schemas.TopicCmdPrimaDespatch: 3, prefix + schemas.TopicDespatchNotes: 1, prefix + schemas.TopicDLQ: 1}
	for topic, parts := range topics {
		if _, err := adm.CreateTopic(ctx, parts, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		names := make([]string, 0, len(topics))
		for topic := range topics {
			names = append(names, topic)
		}
		_, _ = adm.DeleteTopics(context.Background(), names...)
		_, _ = adm.DeleteGroups(context.Background(), prefix+"lockstep-prima-despatch")
	})

	e := newDespatchEnvOn(t, kopts, prefix, primasim.Options{})
	e.sim.SetFaults(primasim.Faults{Seed: 4, ErrorRate: 0.2, TimeoutAfterWriteRate: 0.2})
	e.tamper.hangCreate.Store(6)
	const n = 24
	for i := range n {
		e.send(despatchCmd(fmt.Sprintf("GO-%02d", i), []string{"SO1", "SO2"}[i%2], schemas.Line{SKU: "ST1/BLK/9", Quantity: 1}))
	}
	stop := e.start()
	select {
	case <-e.tamper.hung:
	case <-time.After(60 * time.Second):
		t.Fatal("the sixth create never came")
	}
	stop()
	e.quiesce()
	e.start()
	e.waitCommitted()
	notes := e.notes()
	if d := e.duplicates(); len(d) != 0 || len(notes) != n || len(e.failed()) != 0 {
		t.Fatalf("duplicates %v, %d notes of %d", d, len(notes), n)
	}
	t.Logf("faults %v; %v found existing", e.sim.State().Counters.Faults, e.metric("lockstep_prima_despatch_commands_total", "found_existing"))
}
