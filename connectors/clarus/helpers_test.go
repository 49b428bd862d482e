package clarus_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/connectors/clock"
	"github.com/lockstep-dev/lockstep/schemas"
)

const (
	testToken     = "test-webhook-token-0123456789"
	testSubdomain = "acme"
	testSecret    = "sim-secret"
)

var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fakeClock is the injected clock: unlike a bare clock.Fake, every wait
// (After) moves time on at once and is recorded, so Retry-After and token
// expiry are asserted without sleeping. Advance moves it by hand.
type fakeClock struct {
	*clock.Fake
	mu    sync.Mutex
	slept []time.Duration
}

func newClock() *fakeClock { return &fakeClock{Fake: clock.NewFake(epoch)} }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.slept = append(c.slept, d)
	c.mu.Unlock()
	ch := c.Fake.After(d)
	c.Fake.Advance(max(d, 0))
	return ch
}

func (c *fakeClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// newKafka starts a kfake cluster holding the connector's topics.
func newKafka(t *testing.T) (*kfake.Cluster, []kgo.Opt) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(3, schemas.TopicStockMovements, schemas.TopicStockSnapshots, schemas.TopicShipments, schemas.TopicReceipts),
		kfake.SeedTopics(1, schemas.TopicSourceCursors))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
}

// testConfig is a resolved configuration for the simulator at baseURL.
func testConfig(baseURL string) clarus.Config {
	return clarus.Config{
		BaseURL: baseURL, ClientID: "lockstep", ClientSecret: testSecret, Subdomain: testSubdomain,
		WebhookToken: testToken,
		AutomationIDs: map[string]string{
			"101": "goods_out.completed", "102": "goods_in_receipt.completed", "103": "stock_adjustment.positive",
			"104": "stock_adjustment.negative", "105": "stock.held", "106": "stock.released",
		},
		APIDomain:     "clarus-api.com",
		Warehouses:    map[string]string{"1": "WH1", "2": "WH2", "3": "WH3"},
		SweepInterval: 5 * time.Minute, FullSweepInterval: time.Hour, PageSize: 100,
		WebhookMaxBytes: 4096, WebhookMaxLines: 1000, RequestTimeout: 5 * time.Second,
	}
}

// committed reads every committed record of topic, read committed, up to
// the end offsets at the time of the call.
func committed(t *testing.T, opts []kgo.Opt, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	adm, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = o.Offset
			from[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(want) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v (still waiting for %v)", topic, ctx.Err(), want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok && r.Offset >= end-1 {
				delete(want, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

// newSim starts a simulator on the fake clock behind an httptest server,
// wrapped by mw when given.
func newSim(t *testing.T, clock *fakeClock, cfg clarussim.Config, mw func(http.Handler) http.Handler) (*clarussim.Sim, *httptest.Server) {
	t.Helper()
	cfg.ClientID, cfg.ClientSecret, cfg.Subdomain = "lockstep", testSecret, testSubdomain
	if cfg.Seed == 0 {
		cfg.Seed = 7
	}
	sim, err := clarussim.New(cfg, clarussim.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = sim
	if mw != nil {
		h = mw(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return sim, srv
}

// apiLog records the API calls that reach the simulator, with their status.
type apiLog struct {
	mu    sync.Mutex
	calls []apiCall
}

type apiCall struct {
	Path   string
	Status int
	Body   string
}

func (l *apiLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		l.mu.Lock()
		l.calls = append(l.calls, apiCall{Path: r.URL.Path, Status: rec.status, Body: string(body)})
		l.mu.Unlock()
	})
}

func (l *apiLog) count(path string, status int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		if c.Path == path && (status == 0 || c.Status == status) {
			n++
		}
	}
	return n
}

func (l *apiLog) all(path string) []apiCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []apiCall
	for _, c := range l.calls {
		if c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func decodeMovement(t *testing.T, serde *schemas.Serde, r *kgo.Record) schemas.StockMovement {
	t.Helper()
	var m schemas.StockMovement
	if err := serde.Decode(context.Background(), r.Value, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func decodeSnapshot(t *testing.T, serde *schemas.Serde, r *kgo.Record) schemas.StockSnapshot {
	t.Helper()
	var s schemas.StockSnapshot
	if err := serde.Decode(context.Background(), r.Value, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// runReceiver runs rcv until the test ends, as `lockstep run` does.
// Requests sent before it is running are answered 503 (tested), so it waits
// for Run to open its client.
func runReceiver(t *testing.T, rcv *clarus.Receiver, ready <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rcv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("receiver: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("receiver stopped before it was ready: %v", err)
	}
}

// readiness returns a SetReady hook and a channel closed on the first
// "ready".
func readiness() (func(bool), <-chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func(ok bool) {
		if ok {
			once.Do(func() { close(ch) })
		}
	}, ch
}
