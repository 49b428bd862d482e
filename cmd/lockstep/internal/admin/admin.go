// Package admin serves lockstep's operational endpoints: Prometheus metrics, liveness and readiness.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ShutdownTimeout bounds how long Run waits for in-flight requests (a slow
// scrape) after its context is cancelled.
const ShutdownTimeout = 5 * time.Second

// NewRegistry returns a registry with the Go runtime and process collectors,
// for the process to pass to every component instead of the global one.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler routes /metrics, /healthz and /readyz.
func Handler(reg *prometheus.Registry, ready *Readiness) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(reg,
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Liveness only says the process serves HTTP; a component that is
		// stuck shows in /readyz, where a restart is not the remedy.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		notReady := ready.NotReady()
		status := http.StatusOK
		if len(notReady) > 0 {
			status = http.StatusServiceUnavailable
		} else {
			notReady = []string{} // [] rather than null for scripts
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(ReadyStatus{Ready: status == http.StatusOK, NotReady: notReady})
	})
	return mux
}

// ReadyStatus is the /readyz body.
type ReadyStatus struct {
	Ready    bool     `json:"ready"`
	NotReady []string `json:"not_ready"`
}

// Server is the admin HTTP server. Its listener is bound by Listen, before
// any component starts, so a taken port fails start-up instead of leaving a
// process that nobody can scrape.
type Server struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

// Listen binds addr and prepares the server; Run serves.
func Listen(addr string, reg *prometheus.Registry, ready *Readiness, log *slog.Logger) (*Server, error) {
	if exposed, err := AllInterfaces(addr); err != nil {
		return nil, fmt.Errorf("admin address %q: %w", addr, err)
	} else if exposed {
		log.Warn("admin endpoints are exposed on all interfaces; bind to 127.0.0.1 unless a scraper on another host needs them",
			"addr", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listen: %w", err)
	}
	return &Server{
		ln:  ln,
		log: log,
		srv: &http.Server{
			Handler:           Handler(reg, ready),
			ReadHeaderTimeout: 5 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}, nil
}

// Addr is the bound address, useful when the configured port was 0.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close releases the listener of a server whose Run was never called.
func (s *Server) Close() error { return s.ln.Close() }

// Run serves until ctx is cancelled, then shuts down gracefully within
// ShutdownTimeout. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info("admin server listening", "addr", s.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("admin server: %w", err)
	case <-ctx.Done():
	}
	// The parent context is already cancelled; the shutdown needs its own.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	if err != nil {
		return fmt.Errorf("admin server shutdown: %w", err)
	}
	s.log.Info("admin server stopped")
	return nil
}

// AllInterfaces reports whether addr (host:port) binds every interface:
// an empty host, 0.0.0.0 or ::.
func AllInterfaces(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if host == "" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified(), nil
}
