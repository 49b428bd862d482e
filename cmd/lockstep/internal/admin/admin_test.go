package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// startServer runs a Server on a real loopback listener and returns its base
// URL and a function that stops it and returns Run's result.
func startServer(t *testing.T, reg *prometheus.Registry, ready *Readiness, log *slog.Logger) (string, func() error) {
	t.Helper()
	srv, err := Listen("127.0.0.1:0", reg, ready, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(ShutdownTimeout + time.Second):
			t.Error("Run did not return after cancel")
			return nil
		}
	})
	t.Cleanup(func() { _ = stop() })
	return "http://" + srv.Addr().String(), stop
}

func TestEndpoints(t *testing.T) {
	reg := NewRegistry()
	ready := NewReadiness(reg)
	counter := prometheus.NewCounter(prometheus.CounterOpts{Name: "lockstep_test_events_total", Help: "test"})
	reg.MustRegister(counter)
	counter.Add(3)
	base, stop := startServer(t, reg, ready, slog.New(slog.DiscardHandler))
	setStock := ready.Add("stock")
	setOrders := ready.Add("orders")

	if code, body := get(t, base+"/healthz"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}

	readyz := func() (int, ReadyStatus) {
		code, body := get(t, base+"/readyz")
		var st ReadyStatus
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("/readyz body %q: %v", body, err)
		}
		return code, st
	}
	if code, st := readyz(); code != http.StatusServiceUnavailable || st.Ready || !slices.Equal(st.NotReady, []string{"orders", "stock"}) {
		t.Errorf("/readyz before ready = %d %+v, want 503 listing orders and stock", code, st)
	}
	setStock(true)
	if code, st := readyz(); code != http.StatusServiceUnavailable || !slices.Equal(st.NotReady, []string{"orders"}) {
		t.Errorf("/readyz with orders pending = %d %+v", code, st)
	}
	setOrders(true)
	if code, st := readyz(); code != http.StatusOK || !st.Ready || st.NotReady == nil || len(st.NotReady) != 0 {
		t.Errorf("/readyz when ready = %d %+v, want 200 with an empty list", code, st)
	}
	setStock(false) // a component may fall back, e.g. while restoring after a rebalance
	if code, _ := readyz(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after stock fell back = %d, want 503", code)
	}

	code, body := get(t, base+"/metrics")
	for _, want := range []string{
		"lockstep_test_events_total 3",
		`lockstep_component_ready{component="orders"} 1`,
		`lockstep_component_ready{component="stock"} 0`,
		"go_goroutines",
		"process_start_time_seconds",
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics = %d, missing %q", code, want)
		}
	}

	if code, _ := get(t, base+"/nope"); code != http.StatusNotFound {
		t.Errorf("/nope = %d, want 404", code)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run() = %v, want nil after cancel", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

// A process that runs nothing is not ready (issue 6: docker-compose showed
// a ready lockstep that did nothing).
func TestNotReadyWithoutComponents(t *testing.T) {
	base, _ := startServer(t, NewRegistry(), NewReadiness(nil), slog.New(slog.DiscardHandler))
	if code, _ := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with no components = %d, want 503", code)
	}
}

func TestAddTwicePanics(t *testing.T) {
	r := NewReadiness(nil)
	r.Add("stock")
	defer func() {
		if recover() == nil {
			t.Error("second Add of the same name did not panic")
		}
	}()
	r.Add("stock")
}

func TestExposedAddressWarns(t *testing.T) {
	tests := []struct {
		addr    string
		exposed bool
	}{
		{"127.0.0.1:9464", false},
		{"localhost:9464", false},
		{"[::1]:9464", false},
		{"10.1.2.3:9464", false},
		{":9464", true},
		{"0.0.0.0:9464", true},
		{"[::]:9464", true},
	}
	for _, tt := range tests {
		got, err := AllInterfaces(tt.addr)
		if err != nil || got != tt.exposed {
			t.Errorf("AllInterfaces(%q) = %v, %v; want %v", tt.addr, got, err, tt.exposed)
		}
	}
	if _, err := AllInterfaces("9464"); err == nil {
		t.Error("AllInterfaces accepted an address without a port")
	}

	// Bind port 0 on all interfaces only long enough to see the warning.
	var logs bytes.Buffer
	srv, err := Listen(":0", NewRegistry(), NewReadiness(nil), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "exposed") {
		t.Errorf("no exposure warning in %q", logs.String())
	}
}
