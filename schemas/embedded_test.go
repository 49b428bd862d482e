package schemas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
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

// Confluent's deserializers ask GET /schemas/ids/{id}?subject=<topic>-value
// (their default subject name strategy); lockstep registers under record
// names. Like Confluent's registry and Redpanda's, the embedded one takes
// the subject only as the context to look in.
func TestEmbeddedRegistrySchemaByIDIgnoresSubject(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t, t.TempDir())
	r, err := NewEmbeddedRegistry(ctx, kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	item := catalogByName["lockstep.v1.Item"]
	id, err := r.Register(ctx, item.name, item.text)
	if err != nil {
		t.Fatal(err)
	}
	// A schema in another context, registered over HTTP as a tool would.
	other := `{"type":"record","name":"Other","namespace":"tools","fields":[]}`
	body, _ := json.Marshal(map[string]string{"schema": other})
	resp, err := http.Post(r.URL()+"/subjects/:.other:tools.Other/versions", "application/vnd.schemaregistry.v1+json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var reg struct{ ID int }
	err = json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || reg.ID == 0 || reg.ID == id {
		t.Fatalf("register in context .other: %s, id %d, %v", resp.Status, reg.ID, err)
	}

	tests := []struct {
		name   string
		path   string
		status int
		want   string // the schema text, for 200
	}{
		{"no subject", fmt.Sprintf("/schemas/ids/%d", id), 200, item.text},
		{"topic subject", fmt.Sprintf("/schemas/ids/%d?subject=prima.items-value", id), 200, item.text},
		{"topic subject with format", fmt.Sprintf("/schemas/ids/%d?subject=prima.items-value&format=", id), 200, item.text},
		{"record subject", fmt.Sprintf("/schemas/ids/%d?subject=lockstep.v1.Item", id), 200, item.text},
		{"unknown subject", fmt.Sprintf("/schemas/ids/%d?subject=no-such-subject", id), 200, item.text},
		{"empty subject", fmt.Sprintf("/schemas/ids/%d?subject=", id), 200, item.text},
		{"default context qualified", fmt.Sprintf("/schemas/ids/%d?subject=:.:prima.items-value", id), 200, item.text},
		{"raw schema, topic subject", fmt.Sprintf("/schemas/ids/%d/schema?subject=prima.items-value", id), 200, item.text},
		{"unknown id", "/schemas/ids/99999?subject=prima.items-value", 404, ""},
		{"raw schema, unknown id", "/schemas/ids/99999/schema?subject=prima.items-value", 404, ""},
		{"id not in the subject's context", fmt.Sprintf("/schemas/ids/%d?subject=:.other:prima.items-value", id), 404, ""},
		{"other context by subject", fmt.Sprintf("/schemas/ids/%d?subject=:.other:whatever-value", reg.ID), 200, other},
		{"other context by path", fmt.Sprintf("/contexts/.other/schemas/ids/%d?subject=whatever-value", reg.ID), 200, other},
		{"other context by path, wrong id", fmt.Sprintf("/contexts/.other/schemas/ids/%d?subject=whatever-value", id), 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(r.URL() + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("GET %s: %s %s, want %d", tt.path, resp.Status, raw, tt.status)
			}
			if tt.status != 200 {
				var e struct {
					ErrorCode int `json:"error_code"`
				}
				if err := json.Unmarshal(raw, &e); err != nil || e.ErrorCode != sr.ErrSchemaNotFound.Code {
					t.Errorf("GET %s: body %s, want error_code %d", tt.path, raw, sr.ErrSchemaNotFound.Code)
				}
				return
			}
			var got string
			if strings.Contains(tt.path, "/schema?") {
				err = json.Unmarshal(raw, &got)
			} else {
				var s struct{ Schema string }
				err = json.Unmarshal(raw, &s)
				got = s.Schema
			}
			if err != nil || got != tt.want {
				t.Errorf("GET %s: %s (%v), want schema %.60s", tt.path, raw, err, tt.want)
			}
		})
	}
}

func TestSubjectContext(t *testing.T) {
	for subject, want := range map[string]string{
		"": ".", "prima.items-value": ".", "lockstep.v1.Item": ".", ":.:x": ".",
		":.other:x": ".other", ":.other:": ".other", ":.noname": ".", "a:.b:c": ".",
	} {
		if got := subjectContext(subject); got != want {
			t.Errorf("subjectContext(%q) = %q, want %q", subject, got, want)
		}
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
