// Package primasim simulates Prima Solutions' XML web services (wsomhandler and comwsomhandler, ISO-8859-1) with a /_sim/ control API.
package primasim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// Options configure a simulated Prima instance. The env tags let `lockstep
// sim prima` read them with go-envconfig under a prefix of its choosing.
type Options struct {
	// CompanyID is the company comwsomhandler serves (its ?CompanyID=
	// query parameter must match); wsomhandler serves it as the default.
	CompanyID string `env:"COMPANY_ID, default=1"`
	// Seed seeds fault injection and the scenario generator.
	Seed uint64 `env:"SEED, default=1"`
	// Currency is the item master's currency unless an item names another.
	Currency string `env:"CURRENCY, default=GBP"`
	// MaxPageSize caps a modified-since query's PageSize.
	MaxPageSize int `env:"MAX_PAGE_SIZE, default=1000"`
	// BasicAuthUser and BasicAuthPassword, when set, make every handler
	// call require that basic-auth header, as installations that add one do.
	BasicAuthUser     string `env:"BASIC_AUTH_USER"`
	BasicAuthPassword string `env:"BASIC_AUTH_PASSWORD"`

	// Clock is the time source of modified stamps and rate-limit windows;
	// nil is the wall clock. Tests share theirs with the connector.
	Clock func() time.Time
	// Logger is nil for none.
	Logger *slog.Logger
}

// Server is one simulated Prima instance: an http.Handler over its ground
// truth (items, stock per sku@warehouse, applied stock batches).
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux

	mu       sync.Mutex
	last     time.Time // last instant handed out, so modified stamps never repeat
	st       *store
	faults   Faults
	rng      *rand.Rand // fault draws
	window   int64      // unix second of the rate-limit window
	inWindow int
	counts   Counters
}

// New returns an instance with an empty item master.
func New(opts Options) *Server {
	if opts.CompanyID == "" {
		opts.CompanyID = "1"
	}
	if opts.Currency == "" {
		opts.Currency = "GBP"
	}
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = 1000
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	s := &Server{
		opts:   opts,
		log:    opts.Logger,
		st:     newStore(),
		rng:    rand.New(rand.NewPCG(opts.Seed, 0x9a1a)),
		counts: newCounters(),
	}
	if s.log == nil || s.log.Handler() == nil { // envconfig leaves an empty Logger behind
		s.log = slog.New(slog.DiscardHandler)
	}
	m := http.NewServeMux()
	m.HandleFunc("POST /wsomhandler", s.withFaults(s.handleRequest))
	m.HandleFunc("POST /comwsomhandler", s.withFaults(s.handleRequest))
	m.HandleFunc("GET /_sim/state", s.handleState)
	m.HandleFunc("POST /_sim/events", s.handleEvents)
	m.HandleFunc("GET /_sim/faults", s.handleGetFaults)
	m.HandleFunc("POST /_sim/faults", s.handleSetFaults)
	m.HandleFunc("POST /_sim/scenario", s.handleScenario)
	s.mux = m
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve listens on addr and serves until ctx ends: the entry point of
// `lockstep sim prima`.
func (s *Server) Serve(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("primasim: listen %s: %w", addr, err)
	}
	s.log.Info("prima simulator listening", "addr", ln.Addr().String(), "company_id", s.opts.CompanyID)
	return s.ServeListener(ctx, ln)
}

// ServeListener serves on ln until ctx ends, then shuts down gracefully.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shut)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// tick returns the current instant for ground truth, a millisecond after
// every instant returned before: a record modified after a read always
// sorts after that read's cursor, even under a test's frozen clock, and
// stamps keep their order at the millisecond precision they travel with.
// Callers hold s.mu.
func (s *Server) tick() time.Time {
	t := s.opts.Clock().UTC().Truncate(time.Millisecond)
	if !t.After(s.last) {
		t = s.last.Add(time.Millisecond)
	}
	s.last = t
	return t
}
