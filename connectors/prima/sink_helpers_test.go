package prima_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/schemas"
)

// action is what the script does with one call: pass it to the simulator
// (the zero value), answer status with an optional Retry-After, or let the
// simulator apply it and drop the connection (a timeout after the write).
type action struct {
	status         int
	retryAfter     string
	dropAfterWrite bool
}

// script sits in front of the simulator and fails exactly the calls a test
// names, counting calls by request type and in total.
type script struct {
	sim   http.Handler
	rule  func(typ string, n, total int, body []byte) action
	mu    sync.Mutex
	calls map[string]int
	total int
}

var requestType = regexp.MustCompile(`RequestType="([^"]+)"`)

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	typ := ""
	if m := requestType.FindSubmatch(body); m != nil {
		typ = string(m[1])
	}
	s.mu.Lock()
	s.calls[typ]++
	s.total++
	n, total := s.calls[typ], s.total
	s.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	act := action{}
	if s.rule != nil {
		act = s.rule(typ, n, total, body)
	}
	switch {
	case act.dropAfterWrite:
		s.sim.ServeHTTP(httptest.NewRecorder(), r)
		panic(http.ErrAbortHandler)
	case act.status != 0:
		if act.retryAfter != "" {
			w.Header().Set("Retry-After", act.retryAfter)
		}
		w.Header().Set("Content-Type", "text/xml; charset=ISO-8859-1")
		w.WriteHeader(act.status)
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="ISO-8859-1"?><Response RequestStatus="ERROR" RequestError="scripted `+strconv.Itoa(act.status)+`"/>`)
	default:
		s.sim.ServeHTTP(w, r)
	}
}

func (s *script) Calls(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[typ]
}

// sinkEnv is a sink on kfake in front of a scripted simulator.
type sinkEnv struct {
	t      *testing.T
	clock  *fakeClock
	sim    *primasim.Server
	script *script
	kopts  []kgo.Opt
	serde  *schemas.Serde
	reg    *prometheus.Registry
	cfg    prima.Config
	offset map[int32]int64 // next offset per partition, as produced
}

func newSinkEnv(t *testing.T, partitions int32, skus ...string) *sinkEnv {
	t.Helper()
	e := &sinkEnv{t: t, clock: newClock(), kopts: newKafka(t, partitions), serde: schemas.NewSerde(schemas.NewMemRegistry()),
		reg: prometheus.NewRegistry(), offset: map[int32]int64{}}
	e.sim = primasim.New(primasim.Options{Clock: e.clock.Now})
	for _, sku := range skus {
		if err := e.sim.Apply(primasim.Event{Type: "add_item", SKU: sku}); err != nil {
			t.Fatal(err)
		}
	}
	e.script = &script{sim: e.sim, calls: map[string]int{}}
	srv := httptest.NewServer(e.script)
	t.Cleanup(srv.Close)
	e.cfg = testConfig(srv.URL)
	e.cfg.DownAfter = 100 // tests about going down lower it
	return e
}

// start runs the sink until the test ends.
func (e *sinkEnv) start() {
	e.t.Helper()
	api := newClient(e.t, e.cfg)
	sink, err := prima.NewSink(e.cfg, api, e.serde, prima.Options{Clock: e.clock, Metrics: prima.NewMetrics(e.reg), Seed: 1}, e.kopts...)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("sink: %v", err)
		}
		sink.Close()
	})
}

func command(ref, warehouse string, lines ...schemas.PrimaStockLine) schemas.PrimaStockCommand {
	return schemas.PrimaStockCommand{
		Meta:     schemas.Meta{EventID: "cmd:" + ref, Source: schemas.SourceLockstep, OccurredAt: epoch, IngestedAt: epoch},
		BatchRef: ref, Warehouse: warehouse, AsOf: epoch, Lines: lines,
	}
}

func line(sku string, n int64) schemas.PrimaStockLine {
	return schemas.PrimaStockLine{SKU: sku, Available: n}
}

// produce writes commands keyed by warehouse, as the stock processor does.
func (e *sinkEnv) produce(cmds ...schemas.PrimaStockCommand) []*kgo.Record {
	e.t.Helper()
	var recs []*kgo.Record
	for _, c := range cmds {
		v, err := e.serde.Encode(context.Background(), &c)
		if err != nil {
			e.t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: schemas.TopicCmdPrimaStock, Key: []byte(c.Warehouse), Value: v})
	}
	return e.produceRaw(recs...)
}

func (e *sinkEnv) produceRaw(recs ...*kgo.Record) []*kgo.Record {
	e.t.Helper()
	cl, err := kgo.NewClient(e.kopts...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		e.t.Fatal(err)
	}
	for _, r := range recs {
		e.offset[r.Partition] = r.Offset + 1
	}
	return recs
}

// waitCommitted waits until the group has committed everything produced.
func (e *sinkEnv) waitCommitted() {
	e.t.Helper()
	cl, err := kgo.NewClient(e.kopts...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	waitFor(e.t, "the sink to commit every command", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		offs, err := adm.FetchOffsets(ctx, prima.SinkGroup)
		if err != nil {
			return false
		}
		for p, want := range e.offset {
			o, ok := offs.Lookup(schemas.TopicCmdPrimaStock, p)
			if !ok || o.At != want {
				return false
			}
		}
		return true
	})
}

// metric reads a counter or gauge by name and label values.
func (e *sinkEnv) metric(name string, labels ...string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i, lp := range m.GetLabel() {
				if i >= len(labels) || lp.GetValue() != labels[i] {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}
