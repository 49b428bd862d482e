// Package primasim simulates Prima Solutions' web services (SOAP 1.1 wsomhandler and comwsomhandler at the instance URL, ISO-8859-1 documents, the WSDL at /wsdl) with a /_sim/ control API.
package primasim

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

// Options configure a simulated Prima instance. The env tags let `lockstep
// sim prima` read them with go-envconfig under a prefix of its choosing.
type Options struct {
	// CompanyID is the company comwsomhandler serves (its CompanyID
	// argument must match); wsomhandler serves it as the default.
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
	// DropDespatchFraction starts the simulator with that fraction of
	// despatch note references dropped silently (DespatchFaults).
	DropDespatchFraction float64 `env:"DROP_DESPATCH_FRACTION"`

	// Clock is the time source of modified stamps and rate-limit windows;
	// nil is the wall clock. Tests share theirs with the connector.
	Clock func() time.Time
	// Logger is nil for none.
	Logger *slog.Logger
}

// Server is one simulated Prima instance: an http.Handler over its ground
// truth (items, stock per sku@warehouse, applied stock batches, sales
// orders, despatch notes, purchase orders).
type Server struct {
	opts   Options
	log    *slog.Logger
	mux    *http.ServeMux
	inject *simkit.Injector

	mu     sync.Mutex
	stamps simkit.Stamps
	st     *store
	counts Counters // Faults stays empty: inject counts those

	despatchFaults DespatchFaults
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
		opts:           opts,
		log:            opts.Logger,
		st:             newStore(),
		counts:         newCounters(),
		despatchFaults: DespatchFaults{DropFraction: opts.DropDespatchFraction},
	}
	s.inject = simkit.NewInjector(opts.Seed, opts.Clock, writeError)
	if s.log == nil || s.log.Handler() == nil { // envconfig leaves an empty Logger behind
		s.log = slog.New(slog.DiscardHandler)
	}
	m := http.NewServeMux()
	m.HandleFunc("POST /{$}", s.inject.Wrap(s.handleSOAP))
	m.HandleFunc("GET /wsdl", s.handleWSDL)
	m.HandleFunc("GET /_sim/state", simkit.Query(s.State))
	m.HandleFunc("POST /_sim/events", s.handleEvents)
	m.HandleFunc("GET /_sim/faults", simkit.Query(s.Faults))
	m.HandleFunc("POST /_sim/faults", simkit.Command(s.setFaults))
	m.HandleFunc("GET /_sim/faults/despatch", simkit.Query(s.DespatchFaults))
	m.HandleFunc("POST /_sim/faults/despatch", simkit.Command(s.SetDespatchFaults))
	m.HandleFunc("POST /_sim/scenario", simkit.Command(s.scenario))
	m.HandleFunc("POST /_sim/scenario/orders", simkit.Command(s.GenerateOrders))
	m.HandleFunc("POST /_sim/scenario/purchase-orders", simkit.Command(s.GeneratePOs))
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
	s.log.Info("prima simulator listening", "addr", ln.Addr().String(), "wsdl", "http://"+ln.Addr().String()+"/wsdl",
		"company_id", s.opts.CompanyID)
	return s.ServeListener(ctx, ln)
}

// ServeListener serves on ln until ctx ends, then shuts down gracefully.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	return simkit.Serve(ctx, ln, s)
}

// tick returns the current instant for ground truth (see simkit.Stamps).
// Callers hold s.mu.
func (s *Server) tick() time.Time { return s.stamps.Next(s.opts.Clock()) }
