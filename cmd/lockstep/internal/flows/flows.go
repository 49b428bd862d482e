// Package flows builds lockstep's flows from shared dependencies: each flow is one file that turns Deps into the components `lockstep run` and `lockstep demo` run.
package flows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/deadletter"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/processors/fulfilment"
	"github.com/lockstep-dev/lockstep/processors/inbound"
	"github.com/lockstep-dev/lockstep/processors/orders"
	"github.com/lockstep-dev/lockstep/processors/stock"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
	"github.com/lockstep-dev/lockstep/state"
)

// Component is one long-running part of a flow. Run opens what it needs,
// works until ctx ends and closes what it opened before it returns; an
// error stops the whole process, so only unrecoverable ones are returned.
type Component struct {
	Name string
	Run  func(ctx context.Context) error
}

// Settings are the flows' own configuration, mounted by the binary under
// LOCKSTEP_ (see cmd/lockstep's Config).
type Settings struct {
	Clarus clarus.Config
	Prima  prima.Config
	Stock  stock.Config
	Orders orders.Config
	// Fulfilment is the join of shipments to despatch notes.
	Fulfilment fulfilment.Config
	// Inbound is the matching of Clarus receipts to Prima POs.
	Inbound inbound.Config
	Webhook WebhookConfig
	// InstanceID names this instance in transactional ids: unique per
	// instance, stable across restarts.
	InstanceID string
	// Ledger is where the drift ledger lives; Enabled false runs without.
	Ledger LedgerConfig
	// Store sizes each processor's Pebble store (zero: the defaults).
	Store state.Options
}

// LedgerConfig says whether and where the ledger sink writes.
type LedgerConfig struct {
	Enabled bool
	Conn    analytics.Config
	// Reconcile is the daily reconciliation the ledger flow schedules.
	Reconcile ReconcileConfig
}

// ReconcileConfig schedules the daily reconciliation of shipments against
// despatch notes inside `lockstep run` (LOCKSTEP_RECONCILE_*); `lockstep
// reconcile --date` runs one day by hand.
type ReconcileConfig struct {
	// Enabled runs the scheduler with the ledger flow. Every instance that
	// runs the ledger flow runs it; a later run of a day replaces nothing
	// and is simply the newest answer, so two are harmless.
	Enabled bool `env:"ENABLED, default=true"`
	// Dir receives reconciliation-DAY.csv and .html; "" writes no files
	// (the lines are in ClickHouse either way).
	Dir string `env:"DIR, default=.data/reconciliation"`
	// After is how long after midnight UTC a day is reconciled: long
	// enough for the feeds' lag and the despatch SLA, so that a missing
	// note is already an open drift row.
	After time.Duration `env:"AFTER, default=1h"`
}

// Validate checks that the day can close before the next one does.
func (c ReconcileConfig) Validate() error {
	if c.After < 0 || c.After >= 24*time.Hour {
		return fmt.Errorf("LOCKSTEP_RECONCILE_AFTER: %s: want at least 0 and below 24h", c.After)
	}
	return nil
}

// Deps are what every flow builds its components from. One set per
// process: one Kafka configuration, one serde, one metrics registry.
type Deps struct {
	// Kafka are the connection options (seed brokers, TLS, SASL).
	Kafka       []kgo.Opt
	TopicPrefix string
	Serde       *schemas.Serde
	Registerer  prometheus.Registerer
	// Ready registers a component with the process's readiness and returns
	// the func through which it reports (admin.Readiness.Add).
	Ready    func(name string) func(bool)
	Logger   *slog.Logger
	StateDir string
	Settings Settings
	// Now is the clock of the processors (nil: time.Now).
	Now func() time.Time
	// OnWebhookAddr, if set, is told the address the webhook server
	// listens on (the demo listens on port 0).
	OnWebhookAddr func(addr string)
	// Failpoint, for the demo's and tests' crash injection, is handed to
	// the stream processors (stream.Config.Failpoint) with the name of
	// the processor that reached it.
	Failpoint func(processor string, f stream.Failpoint) error

	metrics *sharedMetrics
	// primaFeeds are the Prima feeds (cursor keys) the built flows need:
	// one Prima source polls them all, as one transactional id and one
	// cursor per feed allow no second poller.
	primaFeeds []string
	// shipments is the one sweep of Clarus's shipments, once a flow asked
	// for it (its transactional id allows no second one either).
	shipments *Component
}

// clarusConfig is the Clarus configuration with its secrets read from
// their files, validated: what every flow that talks to Clarus starts from.
func (d *Deps) clarusConfig() (clarus.Config, error) {
	cc, err := d.Settings.Clarus.Resolve()
	if err != nil {
		return clarus.Config{}, err
	}
	return cc, cc.Validate()
}

// needPrima asks the shared Prima source to poll feeds.
func (d *Deps) needPrima(feeds ...string) {
	for _, f := range feeds {
		if !slices.Contains(d.primaFeeds, f) {
			d.primaFeeds = append(d.primaFeeds, f)
		}
	}
}

// sharedMetrics are created once per registerer: two flows of one process
// share the connectors' metric families.
type sharedMetrics struct {
	stream *stream.Metrics
	clarus *clarus.Metrics
	prima  *prima.Metrics
}

// Flow is a named set of components.
type Flow struct {
	Name string
	// Build returns the flow's components; it only validates and wires,
	// opening nothing.
	Build func(d *Deps) ([]Component, error)
}

// registry lists every flow, in the order `lockstep run` starts them.
var registry = []Flow{
	{Name: "stock", Build: buildStock},
	{Name: "orders", Build: buildOrders},
	{Name: "fulfilment", Build: buildFulfilment},
	{Name: "inbound", Build: buildInbound},
	{Name: "ledger", Build: buildLedger},
}

// Names lists the flows that exist.
func Names() []string {
	out := make([]string, len(registry))
	for i, f := range registry {
		out[i] = f.Name
	}
	return out
}

// Build returns the components of the named flows (all when names is
// empty). Components are named "<flow>/<part>", under which they report
// readiness.
func Build(names []string, d *Deps) ([]Component, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		names = Names()
	}
	var unknown []string
	for _, n := range names {
		if !slices.Contains(Names(), n) {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("LOCKSTEP_FLOWS: unknown flow(s) %s; the flows are %s", strings.Join(unknown, ", "), strings.Join(Names(), ", "))
	}
	if slices.Contains(names, "inbound") {
		// The receiver (stock flow) turns completed-receipt webhooks into
		// receipt events too, so a receipt is matched at once rather than
		// at the next receipts sweep.
		d.Settings.Clarus.ReceiptEvents = true
	}
	d.metrics = &sharedMetrics{
		stream: stream.NewMetrics(d.Registerer),
		clarus: clarus.NewMetrics(d.Registerer),
		prima:  prima.NewMetrics(d.Registerer),
	}
	var all []Component
	for _, f := range registry {
		if !slices.Contains(names, f.Name) {
			continue
		}
		cs, err := f.Build(d)
		if err != nil {
			return nil, fmt.Errorf("flow %s: %w", f.Name, err)
		}
		all = append(all, cs...)
	}
	if d.shipments != nil {
		all = append(all, *d.shipments)
	}
	if len(d.primaFeeds) > 0 {
		src, err := d.primaSource()
		if err != nil {
			return nil, fmt.Errorf("prima source: %w", err)
		}
		all = append(all, src)
	}
	return all, nil
}

// needShipments builds the one sweep of Clarus's dispatched shipments
// (component clarus/shipments), for the flows that fold shipments.
func (d *Deps) needShipments(cc clarus.Config) error {
	if d.shipments != nil {
		return nil
	}
	const name = "clarus/shipments"
	so := clarus.Options{TopicPrefix: d.TopicPrefix, Logger: d.logger(name), Metrics: d.metrics.clarus, SetReady: d.Ready(name),
		// One shipment sweep per Clarus tenant and deployment.
		TransactionalID: d.TopicPrefix + "lockstep-clarus-shipments-" + cc.Subdomain}
	src, err := clarus.NewShipmentSource(cc, clarus.NewClient(cc, so), d.Serde, so, d.kafka()...)
	if err != nil {
		return err
	}
	d.shipments = &Component{Name: name, Run: src.Run}
	return nil
}

// primaSource is the one Prima poller of the process, for the feeds the
// flows asked for.
func (d *Deps) primaSource() (Component, error) {
	pc := d.Settings.Prima
	if err := pc.Validate(); err != nil {
		return Component{}, err
	}
	api, err := prima.NewClient(pc, nil)
	if err != nil {
		return Component{}, err
	}
	const name = "prima/source"
	src, err := prima.NewSource(pc, api, d.Serde, prima.Options{TopicPrefix: d.TopicPrefix, Logger: d.logger(name), Metrics: d.metrics.prima,
		SetReady: d.Ready(name), TransactionalID: d.TopicPrefix + "lockstep-prima-source", Feeds: d.primaFeeds}, d.kafka()...)
	if err != nil {
		return Component{}, err
	}
	return Component{Name: name, Run: src.Run}, nil
}

func (d *Deps) validate() error {
	var errs []error
	if d.Serde == nil {
		errs = append(errs, errors.New("flows: no serde"))
	}
	if d.Ready == nil {
		errs = append(errs, errors.New("flows: no readiness"))
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Settings.InstanceID == "" {
		errs = append(errs, errors.New("flows: no instance id"))
	}
	return errors.Join(errs...)
}

// kafka returns the connection options plus extra ones, in a new slice.
func (d *Deps) kafka(extra ...kgo.Opt) []kgo.Opt {
	return append(slices.Clone(d.Kafka), extra...)
}

// logger is the process logger tagged with the component.
func (d *Deps) logger(component string) *slog.Logger {
	return d.Logger.With("component", component)
}

// processor builds a stream processor of topo, as every flow runs them;
// component names it in logs and readiness. Each processor has its own
// Pebble directory under the state dir (Pebble locks it).
func (d *Deps) processor(component string, topo stream.Topology) (*stream.Processor, error) {
	var failpoint func(stream.Failpoint) error
	if d.Failpoint != nil {
		failpoint = func(f stream.Failpoint) error { return d.Failpoint(topo.Name, f) }
	}
	return stream.New(stream.Config{
		Topology:   topo,
		StateDir:   filepath.Join(d.StateDir, topo.Name),
		InstanceID: d.Settings.InstanceID,
		// Static membership: a restarted instance takes its partitions
		// back at once instead of waiting out the session timeout. It is
		// why LOCKSTEP_INSTANCE_ID must be stable and unique.
		StaticMembership: true,
		TopicPrefix:      d.TopicPrefix,
		EncodeDeadLetter: deadletter.Avro(d.Serde),
		Clock:            d.Now,
		Metrics:          d.metrics.stream,
		Logger:           d.logger(component),
		SetReady:         d.Ready(component),
		Failpoint:        failpoint,
		Store:            d.Settings.Store,
	}, d.Kafka...)
}
