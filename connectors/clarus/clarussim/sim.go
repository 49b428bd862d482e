// Package clarussim simulates the Clarus WMS APIs lockstep uses: OAuth, GraphQL reads (balances, stock records, warehouses, products and their storage units, goods outs and their lines, shipments, goods-in receipts), REST goods-out and pre-receipt creation, update and cancellation, automation webhooks and a /_sim/ control API.
package clarussim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

// Config is the simulated tenant. The env tags let `lockstep sim clarus`
// read it with go-envconfig under a prefix of the caller's choosing.
type Config struct {
	// Addr is where Serve listens.
	Addr         string `env:"ADDR, default=127.0.0.1:8081"`
	ClientID     string `env:"CLIENT_ID, default=lockstep"`
	ClientSecret string `env:"CLIENT_SECRET, default=lockstep-sim-secret"`
	Subdomain    string `env:"SUBDOMAIN, default=demo"`
	// Account is the stock owner every balance belongs to.
	Account  string        `env:"ACCOUNT, default=MAIN"`
	TokenTTL time.Duration `env:"TOKEN_TTL, default=2h"`
	// Seed seeds fault injection and the scenario generator.
	Seed uint64 `env:"SEED, default=1"`
	// WebhookURL, when set, registers DefaultAutomations delivering there,
	// so a simulator process needs no set-up call before it sends webhooks.
	WebhookURL    string `env:"WEBHOOK_URL"`
	IntegrationID string `env:"INTEGRATION_ID"`
	// Domain and APIDomain are what webhooks carry in X-ClarusWMS-Domain
	// and X-ClarusWMS-API-Domain; an empty Domain is
	// SUBDOMAIN.claruswms.co.uk, an empty APIDomain clarus-api.com (the
	// documented API host).
	Domain    string `env:"DOMAIN"`
	APIDomain string `env:"API_DOMAIN"`
	// Warehouses are the tenant's warehouses, id=code. A warehouse an event
	// names that is not among them is created with the next free id.
	// Empty is DefaultWarehouses.
	Warehouses map[string]string `env:"WAREHOUSES, separator==, default=1=WH1,2=WH2,3=WH3"`
	// AllowAssumed serves the GraphQL fields and filters clarus.graphql
	// marks as assumed. Off, the default, the simulator is in strict mode:
	// it answers only what the documentation shows, and anything else is a
	// GraphQL error, as it may be against the real Clarus.
	AllowAssumed bool `env:"ALLOW_ASSUMED"`
}

// DefaultWarehouses are the warehouses of a Config that names none, id to
// code: those of the scenario generator's first three warehouses, and the
// default of lockstep's LOCKSTEP_CLARUS_WAREHOUSES.
func DefaultWarehouses() map[string]string {
	return map[string]string{"1": "WH1", "2": "WH2", "3": "WH3"}
}

// Option adjusts a Sim beyond its Config.
type Option func(*Sim)

// WithClock replaces the wall clock: token expiry, updated_at, rate-limit
// windows and webhook retry schedules all read it, so tests can step time.
func WithClock(now func() time.Time) Option { return func(s *Sim) { s.clock = now } }

// WithHTTPClient sets the client webhooks are delivered with.
func WithHTTPClient(c *http.Client) Option { return func(s *Sim) { s.hooks.client = c } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Sim) { s.log = l } }

// Sim is one simulated Clarus tenant. It is an http.Handler; Run drives its
// background work (webhook retries, the rate-based generator).
type Sim struct {
	cfg    Config
	clock  func() time.Time
	log    *slog.Logger
	mux    *http.ServeMux
	hooks  *deliverer
	inject *simkit.Injector // API faults

	mu          sync.Mutex
	stamps      simkit.Stamps
	st          *store
	faults      Faults
	tokens      map[string]time.Time // access token -> expiry
	automations []Automation
	nextAutoID  int64
	gen         *generator
}

// New returns a simulator with empty stock.
func New(cfg Config, opts ...Option) (*Sim, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.Subdomain == "" {
		return nil, errors.New("clarussim: client id, client secret and subdomain are required")
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 2 * time.Hour
	}
	if cfg.Account == "" {
		cfg.Account = "MAIN"
	}
	if cfg.Domain == "" {
		cfg.Domain = cfg.Subdomain + ".claruswms.co.uk"
	}
	if cfg.APIDomain == "" {
		cfg.APIDomain = "clarus-api.com"
	}
	if len(cfg.Warehouses) == 0 {
		cfg.Warehouses = DefaultWarehouses()
	}
	st, err := newStore(cfg.Warehouses)
	if err != nil {
		return nil, err
	}
	if _, err := clarus.Schema(cfg.AllowAssumed); err != nil {
		return nil, err
	}
	s := &Sim{
		cfg:        cfg,
		clock:      time.Now,
		log:        slog.New(slog.DiscardHandler),
		st:         st,
		tokens:     map[string]time.Time{},
		nextAutoID: 101,
		hooks:      newDeliverer(cfg, cfg.Seed),
	}
	for _, o := range opts {
		o(s)
	}
	s.inject = simkit.NewInjector(cfg.Seed, s.clock, simkit.WriteError)
	if cfg.WebhookURL != "" {
		for _, a := range DefaultAutomations(cfg.WebhookURL) {
			a.IntegrationID = cfg.IntegrationID
			s.AddAutomation(a)
		}
	}
	s.routes()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Run delivers due webhooks and runs the rate-based generator until ctx
// ends. Tests that want determinism skip it and call DeliverWebhooks and
// Generate themselves.
func (s *Sim) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.hooks.run(ctx, s.clock) })
	g.Go(func() error { return s.runGenerator(ctx) })
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Serve listens on cfg.Addr and serves the simulator until ctx ends: the
// entry point of `lockstep sim clarus`.
func Serve(ctx context.Context, cfg Config, opts ...Option) error {
	s, err := New(cfg, opts...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("clarussim: listen %s: %w", cfg.Addr, err)
	}
	s.log.Info("clarus simulator listening", "addr", ln.Addr().String(), "subdomain", cfg.Subdomain,
		"automations", len(s.automations))
	return s.ServeListener(ctx, ln)
}

// ServeListener serves on ln until ctx ends, then shuts down gracefully.
func (s *Sim) ServeListener(ctx context.Context, ln net.Listener) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return simkit.Serve(gctx, ln, s) })
	g.Go(func() error { return s.Run(gctx) })
	return g.Wait()
}

// tick returns the current instant for ground truth (see simkit.Stamps).
// Callers hold s.mu.
func (s *Sim) tick() time.Time { return s.stamps.Next(s.clock()) }

func (s *Sim) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /oauth/token", s.api(s.handleToken, false))
	m.HandleFunc("POST /graphql", s.api(s.handleGraphQL, true))
	m.HandleFunc("POST /api/automations", s.api(s.handleCreateAutomation, true))
	m.HandleFunc("POST /api/v1/automations", s.api(s.handleCreateAutomation, true))
	m.HandleFunc("GET /api/automations", s.api(s.handleListAutomations, true))
	for _, p := range []string{"/api", "/api/v1"} { // the documentation shows both prefixes
		m.HandleFunc("POST "+p+"/goods_outs", s.api(s.handleCreateGoodsOut, true))
		m.HandleFunc("PATCH "+p+"/goods_outs/{id}", s.api(s.handleUpdateGoodsOut, true))
		m.HandleFunc("POST "+p+"/goods_outs/{id}/cancel", s.api(s.handleCancelGoodsOut, true))
		m.HandleFunc("POST "+p+"/goods_in_receipts", s.api(s.handleCreateGoodsIn, true))
		m.HandleFunc("PATCH "+p+"/goods_in_receipts/{id}", s.api(s.handleUpdateGoodsIn, true))
		m.HandleFunc("POST "+p+"/goods_in_receipts/{id}/cancel", s.api(s.handleCancelGoodsIn, true))
		m.HandleFunc("POST "+p+"/goods_in_receipts/{id}/receive", s.api(s.handleReleaseGoodsIn, true))
	}
	m.HandleFunc("GET /_sim/state", simkit.Query(s.State))
	m.HandleFunc("POST /_sim/events", s.handleEvents)
	m.HandleFunc("GET /_sim/products", simkit.Query(s.Products))
	m.HandleFunc("POST /_sim/products", simkit.Command(s.DefineProduct))
	m.HandleFunc("GET /_sim/faults", simkit.Query(s.Faults))
	m.HandleFunc("POST /_sim/faults", simkit.Command(s.setFaults))
	m.HandleFunc("POST /_sim/scenario", simkit.Command(s.scenario))
	m.HandleFunc("POST /_sim/webhooks/flush", s.handleFlush)
	s.mux = m
}
