package clarus_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/schemas"
)

const adjustmentBody = `{"data":{"id":4711,"type":"stock_adjustments","quantity":5,"direction":"positive",
 "product":{"id":3,"code":"SKU-1"},"warehouse":{"id":1,"code":"WH1"},"reason_code":{"code":"FOUND"},
 "created_at":"2026-03-02T08:59:00Z"}}`

type receiverEnv struct {
	srv   *httptest.Server
	kafka *kfake.Cluster
	opts  []kgo.Opt
	serde *schemas.Serde
	clock *fakeClock
}

func newReceiverEnv(t *testing.T, mutate func(*clarus.Config)) *receiverEnv {
	t.Helper()
	c, opts := newKafka(t)
	cfg := testConfig("http://127.0.0.1:1")
	if mutate != nil {
		mutate(&cfg)
	}
	env := &receiverEnv{kafka: c, opts: opts, serde: schemas.NewSerde(schemas.NewMemRegistry()), clock: newClock()}
	setReady, ready := readiness()
	o := clarus.Options{Clock: env.clock, SetReady: setReady}
	rcv, err := clarus.NewReceiver(cfg, clarus.NewClient(cfg, o), env.serde, o, opts...)
	if err != nil {
		t.Fatal(err)
	}
	runReceiver(t, rcv, ready)
	mux := http.NewServeMux()
	rcv.Register(mux)
	env.srv = httptest.NewServer(mux)
	t.Cleanup(env.srv.Close)
	return env
}

type hook struct {
	method, path, body string
	headers            map[string]string
	chunked            bool   // no Content-Length: the size limit must hold while reading
	repeat             string // a header sent twice
}

func validHook(body, automation string) hook {
	return hook{method: http.MethodPost, path: "/webhooks/clarus/" + testToken, body: body, headers: map[string]string{
		"Content-Type": "application/json", "X-ClarusWMS-Subdomain": testSubdomain, "X-ClarusWMS-Automation-ID": automation,
		"X-ClarusWMS-Domain": "acme.claruswms.co.uk", "X-ClarusWMS-API-Domain": "clarus-api.com",
	}}
}

func (e *receiverEnv) send(t *testing.T, h hook) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(e.request(t, h))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *receiverEnv) request(t *testing.T, h hook) *http.Request {
	t.Helper()
	var body io.Reader = strings.NewReader(h.body)
	if h.chunked {
		body = io.MultiReader(strings.NewReader(h.body)) // hides the length from net/http
	}
	req, err := http.NewRequest(h.method, e.srv.URL+h.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h.headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	if h.repeat != "" {
		req.Header.Add(h.repeat, req.Header.Get(h.repeat))
	}
	return req
}

func TestWebhookTokenHeader(t *testing.T) {
	env := newReceiverEnv(t, func(c *clarus.Config) { c.WebhookTokenHeader = "X-Lockstep-Token" })
	h := validHook(adjustmentBody, "103")
	h.path = "/webhooks/clarus"
	if status, body := env.send(t, h); status != 401 {
		t.Fatalf("without the header: %d %q", status, body)
	}
	h.path = "/webhooks/clarus/" + testToken // the path does not count in header mode
	if status, _ := env.send(t, h); status != 401 {
		t.Fatalf("token in the path accepted in header mode: %d", status)
	}
	h.path, h.headers["X-Lockstep-Token"] = "/webhooks/clarus", testToken
	if status, body := env.send(t, h); status != 200 {
		t.Fatalf("with the header: %d %q", status, body)
	}
	if n := len(committed(t, env.opts, schemas.TopicStockMovements)); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
}

func TestWebhookProducesMovement(t *testing.T) {
	env := newReceiverEnv(t, nil)
	if status, body := env.send(t, validHook(adjustmentBody, "103")); status != 200 || body != "{\"movements\":1}\n" {
		t.Fatalf("got %d %q", status, body)
	}
	recs := committed(t, env.opts, schemas.TopicStockMovements)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	if string(recs[0].Key) != "SKU-1@WH1" {
		t.Fatalf("key %q", recs[0].Key)
	}
	m := decodeMovement(t, env.serde, recs[0])
	if clarus.RecordPath(m.MovementID) != "stock_adjustment/4711" || m.EventID != "clarus/"+m.MovementID || m.Source != schemas.SourceClarus ||
		m.Kind != schemas.MovementAdjustment || m.Quantity != 5 || m.SKU != "SKU-1" || m.Warehouse != "WH1" ||
		m.Reason == nil || *m.Reason != "FOUND" || m.Reference != nil ||
		!m.OccurredAt.Equal(time.Date(2026, 3, 2, 8, 59, 0, 0, time.UTC)) || !m.IngestedAt.Equal(epoch) {
		t.Fatalf("decoded %+v", m)
	}

}

// failProduce makes the broker refuse every produce with a non-retriable
// error while *on is set.
func failProduce(c *kfake.Cluster, on *atomic.Bool) {
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !on.Load() {
			return nil, nil, false
		}
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.InvalidRecord.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

func TestWebhookKafkaFailureIs503(t *testing.T) {
	env := newReceiverEnv(t, nil)
	var on atomic.Bool
	on.Store(true)
	failProduce(env.kafka, &on)
	status, body := env.send(t, validHook(adjustmentBody, "103"))
	if status != 503 || !strings.Contains(body, "retry later") {
		t.Fatalf("got %d %q, want 503", status, body)
	}
	if recs := committed(t, env.opts, schemas.TopicStockMovements); len(recs) != 0 {
		t.Fatalf("%d records after a failed produce", len(recs))
	}
	on.Store(false) // Clarus redelivers once Kafka is back
	if status, _ := env.send(t, validHook(adjustmentBody, "103")); status != 200 {
		t.Fatalf("redelivery: %d", status)
	}
	if recs := committed(t, env.opts, schemas.TopicStockMovements); len(recs) != 1 {
		t.Fatalf("%d records after the redelivery, want 1", len(recs))
	}
}

func TestWebhookAnswersAfterKafkaAck(t *testing.T) {
	env := newReceiverEnv(t, nil)
	held, release := make(chan struct{}), make(chan struct{})
	env.kafka.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		close(held)
		env.kafka.SleepControl(func() { <-release })
		return nil, nil, false // then the broker handles it as usual
	})
	answered := make(chan int, 1)
	req := env.request(t, validHook(adjustmentBody, "103"))
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-held
	select {
	case status := <-answered:
		t.Fatalf("answered %d while Kafka held the produce", status)
	default:
	}
	close(release)
	if status := <-answered; status != 200 {
		t.Fatalf("got %d", status)
	}
	if recs := committed(t, env.opts, schemas.TopicStockMovements); len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
}

// A receiver that is not running (starting, or stopping) has no Kafka
// client: a webhook gets 503, so Clarus delivers it again, and nothing is
// written.
func TestWebhookBeforeRunIs503(t *testing.T) {
	_, opts := newKafka(t)
	cfg, o := testConfig("http://127.0.0.1:1"), clarus.Options{Clock: newClock()}
	rcv, err := clarus.NewReceiver(cfg, clarus.NewClient(cfg, o), schemas.NewSerde(schemas.NewMemRegistry()), o, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	rcv.Register(mux)
	env := &receiverEnv{opts: opts, srv: httptest.NewServer(mux)}
	t.Cleanup(env.srv.Close)
	if status, body := env.send(t, validHook(adjustmentBody, "103")); status != http.StatusServiceUnavailable || !strings.Contains(body, "not accepting webhooks yet") {
		t.Fatalf("got %d %q, want 503", status, body)
	}
	if recs := committed(t, opts, schemas.TopicStockMovements); len(recs) != 0 {
		t.Fatalf("%d records written by a receiver that was not running", len(recs))
	}
}
