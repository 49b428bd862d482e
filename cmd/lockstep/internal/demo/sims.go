package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/lockstep-dev/lockstep/cmd/lockstep/internal/flows"
	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/processors/fulfilment"
	"github.com/lockstep-dev/lockstep/processors/inbound"
	"github.com/lockstep-dev/lockstep/processors/orders"
	"github.com/lockstep-dev/lockstep/processors/stock"
)

// sims are the two simulated systems, each serving on a loopback port.
type sims struct {
	clarus    *clarussim.Sim
	clarusURL string
	prima     *primasim.Server
	primaURL  string
	secret    string // the Clarus OAuth client secret
	token     string // the webhook token lockstep requires
}

// startSims starts both simulators until ctx ends; they serve in errc's
// goroutines. Prima's item master maps every Clarus code the Clarus
// scenario uses.
func startSims(ctx context.Context, o Options, log *slog.Logger, errc chan<- error) (*sims, error) {
	s := &sims{secret: randomHex(16), token: randomHex(24)}
	// The simulator answers only what Clarus's documentation shows, and
	// the fields clarus.graphql marks assumed: those of a shipment beyond
	// its status and carrier, which the documentation does not list and
	// the fulfilment flow needs (its contract test pins them). The stock
	// sweep's contract tests keep it to documented fields.
	cs, err := clarussim.New(clarussim.Config{
		ClientID: "lockstep", ClientSecret: s.secret, Subdomain: "demo", Seed: o.Seed,
		Warehouses: warehouses(o.Warehouses), AllowAssumed: true,
	}, clarussim.WithLogger(log.With("sim", "clarus")))
	if err != nil {
		return nil, err
	}
	cs.SetFaults(o.ClarusFaults)
	// Clarus's product master has every product of the scenario, stock
	// or not yet: Prima's items map to them (SKU-00001...).
	if _, err := cs.StartScenario(clarussim.Scenario{Seed: o.Seed, SKUs: o.SKUs, Warehouses: o.Warehouses}); err != nil {
		return nil, err
	}
	s.clarus = cs
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.clarusURL = "http://" + ln.Addr().String()
	go func() { errc <- wrap("clarus simulator", cs.ServeListener(ctx, ln)) }()

	ps := primasim.New(primasim.Options{Seed: o.Seed, Logger: log.With("sim", "prima")})
	if _, err := ps.RunScenario(primasim.Scenario{Seed: o.Seed, Items: o.SKUs}); err != nil {
		return nil, err
	}
	ps.SetFaults(o.PrimaFaults)
	s.prima = ps
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.primaURL = "http://" + pln.Addr().String()
	go func() { errc <- wrap("prima simulator", ps.ServeListener(ctx, pln)) }()
	return s, nil
}

// settings points lockstep at the simulators, with the short intervals
// that let a demo of a minute show every part: sweeps every few seconds, a
// push every second, Prima polled every second.
func (s *sims) settings(o Options) flows.Settings {
	cc := clarus.Config{
		BaseURL: s.clarusURL, ClientID: "lockstep", ClientSecret: s.secret, Subdomain: "demo",
		WebhookToken: s.token,
		AutomationIDs: map[string]string{"101": "goods_out.completed", "102": "goods_in_receipt.completed",
			"103": "stock_adjustment.positive", "104": "stock_adjustment.negative", "105": "stock.held", "106": "stock.released"},
		APIDomain: "clarus-api.com", Warehouses: warehouses(o.Warehouses), AccountID: "1",
		SweepInterval: 2 * time.Second, FullSweepInterval: 10 * time.Second, PageSize: 100,
		WebhookMaxBytes: 1 << 20, WebhookMaxLines: 1000, RequestTimeout: 10 * time.Second,
		ShipmentSweepInterval: 2 * time.Second, ShipmentSweepOverlap: 30 * time.Second,
		ReceiptSweepInterval: 2 * time.Second, ReceiptSweepOverlap: 30 * time.Second,
		OrderRatePerSecond: 5000, OrderBurst: 500, OrderBackoffBase: 20 * time.Millisecond, OrderBackoffMax: time.Second,
	}
	pc := prima.DefaultConfig()
	pc.BaseURL = s.primaURL
	pc.PollInterval, pc.ParitySettle = time.Second, 3*time.Second
	pc.RatePerSecond, pc.Burst = 50, 20
	pc.BackoffBase, pc.BackoffMax = 50*time.Millisecond, 2*time.Second
	pc.RetryFailedAfter = 5 * time.Second
	pc.DespatchRatePerSecond, pc.DespatchBurst = 2000, 200
	settings := flows.Settings{
		Clarus: cc, Prima: pc,
		// The grace outlasts the shipment sweep's lag: a partial shipment's
		// picks come only through that sweep, and the fulfilment phase
		// dispatches thousands of shipments within seconds (no warehouse
		// does), so a stock snapshot can see their units gone 10-20s
		// before the sweep has paged through to them (a 27,000-shipment
		// run raised 727 false wms_feed_gap at 10s).
		Stock:  stock.Config{PushInterval: time.Second, DedupeTTL: time.Hour, JournalWindow: time.Minute, FeedGapGrace: 45 * time.Second},
		Orders: orders.Config{NonStockSKUs: []string{"SHIPPING*", "CARRIAGE*", "FEE-*"}, RedriveInterval: 2 * time.Second},
		// A demo's SLA: the notes Prima drops are flagged within seconds.
		Fulfilment: fulfilment.Config{DespatchSLA: 10 * time.Second, MatchGrace: 5 * time.Second},
		// The POs are due days ahead: po_not_in_wms has no cause to open.
		Inbound:    inbound.Config{RedriveInterval: 2 * time.Second},
		Webhook:    flows.WebhookConfig{Addr: "127.0.0.1:0"},
		InstanceID: "demo",
	}
	if o.Ledger != nil {
		settings.Ledger = flows.LedgerConfig{Enabled: true, Conn: *o.Ledger}
	}
	return settings
}

// receiveAt registers Clarus's automations for the webhook server's
// address, once it listens.
func (s *sims) receiveAt(addr string) {
	for _, a := range clarussim.DefaultAutomations("http://" + addr + "/webhooks/clarus/" + s.token) {
		s.clarus.AddAutomation(a)
	}
}

// warehouses are the scenario's warehouses, WH1 to WHn, with ids 1 to n:
// the simulator's and lockstep's configuration alike.
func warehouses(n int) map[string]string {
	out := map[string]string{}
	for i := 1; i <= n; i++ {
		out[fmt.Sprint(i)] = fmt.Sprintf("WH%d", i)
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
