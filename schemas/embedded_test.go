package schemas

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"
)

func TestEmbeddedRegistryKeepsIDsAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	c := newCluster(t, dir)
	r1, err := NewEmbeddedRegistry(ctx, kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	testRegistry(t, r1)
	checkSchemasTopic(t, c)
	s1 := NewSerde(r1)
	if err := s1.RegisterAll(ctx); err != nil {
		t.Fatal(err)
	}
	frames := map[string][]byte{}
	for _, ev := range samples() {
		if frames[ev.SchemaName()], err = s1.Encode(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	// Registered over HTTP, as a tool pointed at URL would: durable too.
	httpReg, err := NewRegistryClient(sr.URLs(r1.URL()))
	if err != nil {
		t.Fatal(err)
	}
	extra := `{"type":"record","name":"Extra","namespace":"tools","fields":[]}`
	extraID, err := httpReg.Register(ctx, "tools.Extra", extra)
	if err != nil {
		t.Fatal(err)
	}
	r1.Close()
	c.Close()

	c = newCluster(t, dir) // new ports, same data
	r2, err := NewEmbeddedRegistry(ctx, kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r2.Close)
	// A new schema first: were the log not replayed, it would take id 1.
	// The REST API serves the restored ids too.
	httpReg2, err := NewRegistryClient(sr.URLs(r2.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if text, err := httpReg2.SchemaByID(ctx, extraID); err != nil || text != extra {
		t.Errorf("GET /schemas/ids/%d after restart: %q, %v", extraID, text, err)
	}
	newID, err := r2.Register(ctx, "tools.New", `{"type":"record","name":"New","fields":[]}`)
	if err != nil || newID <= extraID {
		t.Errorf("new schema after restart got id %d (%v); ids up to %d are taken", newID, err, extraID)
	}

	// Old frames decode through the restored registry, with no cache.
	s2 := NewSerde(r2)
	for name, b := range frames {
		got, err := s2.DecodeAny(ctx, b)
		if err != nil || !reflect.DeepEqual(got, sampleOf(name)) {
			t.Errorf("%s after restart: %v", name, err)
		}
	}
	// Registering again gives the same ids, and new schemas get new ones.
	for _, sc := range Schemas() {
		id, err := r2.Register(ctx, sc.Name, sc.Text)
		if err != nil || int(s1.ids[catalogByName[sc.Name].index].Load()-1) != id {
			t.Errorf("%s: id %d after restart, %v", sc.Name, id, err)
		}
	}
	if id, err := r2.Register(ctx, "tools.Extra", extra); err != nil || id != extraID {
		t.Errorf("HTTP-registered schema: id %d, want %d (%v)", id, extraID, err)
	}
}

// An id is handed out only once it is in _schemas: when the write fails the
// caller gets an error, and the next attempt logs the same id.
func TestEmbeddedRegistryRetriesFailedLogWrite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := newCluster(t, dir)
	r, err := NewEmbeddedRegistry(ctx, kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		req := kr.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		resp.SetVersion(req.GetVersion())
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true // once: the control is dropped after this
	})
	sc := Schemas()[0]
	if _, err := r.Register(ctx, sc.Name, sc.Text); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("register with the log failing: %v", err)
	}
	id, err := r.Register(ctx, sc.Name, sc.Text)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	c.Close()

	c = newCluster(t, dir)
	r, err = NewEmbeddedRegistry(ctx, kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if text, err := r.SchemaByID(ctx, id); err != nil || text != sc.Text {
		t.Errorf("id %d after restart: %.40q, %v", id, text, err)
	}
}

func TestEmbeddedRegistryRefusesDeletes(t *testing.T) {
	c := newCluster(t, t.TempDir())
	r, err := NewEmbeddedRegistry(context.Background(), kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	req, _ := http.NewRequest(http.MethodDelete, r.URL()+"/subjects/lockstep.v1.Item", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE answered %s", resp.Status)
	}
}

func newCluster(t *testing.T, dir string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func checkSchemasTopic(t *testing.T, c *kfake.Cluster) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	topics, err := adm.ListTopics(ctx, SchemasTopic)
	if err != nil || len(topics[SchemasTopic].Partitions) != 1 {
		t.Errorf("%s: %+v, %v", SchemasTopic, topics[SchemasTopic], err)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, SchemasTopic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := configs.On(SchemasTopic, nil)
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, cfg := range rc.Configs {
		if cfg.Key == "cleanup.policy" {
			policy = cfg.MaybeValue()
		}
	}
	if policy != "compact" {
		t.Errorf("%s: cleanup.policy = %q", SchemasTopic, policy)
	}
}
