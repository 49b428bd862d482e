// Package demo runs lockstep's flows end to end against the two simulators and checks lockstep's view against their ground truth: the engine of `lockstep demo` and of the end-to-end tests.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/cmd/lockstep/internal/admin"
	"github.com/lockstep-dev/lockstep/cmd/lockstep/internal/flows"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
	"github.com/lockstep-dev/lockstep/processors/stock"
	"github.com/lockstep-dev/lockstep/processors/stream"
	"github.com/lockstep-dev/lockstep/schemas"
)

// Options describe one run.
type Options struct {
	// Kafka connects to the cluster the run uses (kfake for the demo, the
	// real broker in tests); TopicPrefix keeps runs apart on one cluster.
	Kafka       []kgo.Opt
	TopicPrefix string
	Partitions  int32
	StateDir    string
	// Ledger, when set, runs the ledger flow into that ClickHouse.
	Ledger *analytics.Config
	// ReportDir receives the reconciliation's CSV and HTML reports (with
	// the ledger and the fulfilment phase on); "" writes none.
	ReportDir string
	Seed      uint64
	// SKUs and Warehouses size the Clarus scenario; Prima's item master
	// maps every SKU.
	SKUs, Warehouses int
	// Either Movements are generated in chunks as fast as lockstep takes
	// them, or, with Movements 0, the generator runs at Rate per second
	// for For.
	Movements int
	Rate      float64
	For       time.Duration
	// Injected Prima levels are overwritten by hand once lockstep has
	// caught up: each must come back as stock_parity drift, and nothing
	// else may.
	Injected int
	// Orders are the Prima sales orders released (the orders flow's
	// traffic, after the stock traffic); 0 runs no orders phase.
	Orders int
	// ShipmentsPerOrder, above 0, ships the orders' goods-outs after the
	// orders phase, in 1 to 2*ShipmentsPerOrder-1 shipments each (the
	// fulfilment phase); DropDespatch is the fraction of shipments whose
	// despatch post Prima drops silently, each of which must come back
	// as missing_despatch; FulfilmentKills kills the fulfilment processor
	// that many times while the shipments flow.
	ShipmentsPerOrder float64
	DropDespatch      float64
	FulfilmentKills   int
	// POs are the Prima purchase orders approved after the fulfilment
	// phase (the inbound flow's traffic), received in Clarus in one to
	// four deliveries each; of the deliveries, a fraction come with more
	// than ordered (OverReceipts), with a product the PO does not name
	// (WrongSKUReceipts), booked in at a warehouse the PO does not
	// deliver to (WrongWarehouseReceipts), or are followed by a delivery
	// with no reference or a mistyped one (OrphanReceipts). With no POs
	// the phase only checks that every receipt of the run is flagged an
	// orphan.
	POs                                                                    int
	OverReceipts, WrongSKUReceipts, WrongWarehouseReceipts, OrphanReceipts float64
	// Kills stops the stock processor this many times, as a crash does (no
	// commit, no leave), at seeded points of the run; it restarts at once.
	Kills        int
	ClarusFaults clarussim.Faults
	PrimaFaults  primasim.Faults
	// Settle bounds the wait for lockstep to catch up after the traffic
	// stops, and again for the injected drift to show.
	Settle time.Duration
	// Progress, if set, gets a line a second while the run goes on.
	Progress io.Writer
	Logger   *slog.Logger
}

// Summary is what a run did and what its checks found.
type Summary struct {
	Movements     int             `json:"movements"`       // in Clarus's log
	Batches       int             `json:"batches_applied"` // stock batches Prima applied
	Drift         map[string]int  `json:"drift_events"`    // by kind
	Ledger        bool            `json:"ledger"`
	LedgerRows    int             `json:"ledger_rows,omitempty"`
	Kills         int             `json:"kills"`
	Duration      string          `json:"duration"`
	Checks        map[string]bool `json:"checks"`
	Failures      []string        `json:"failures,omitempty"` // why a check is false
	InjectedDrift []string        `json:"injected_drift"`
	// PushFailures are the push_failed discrepancies (Prima refused a
	// batch past its retry budget), with why and whether a later push
	// healed them; one still open at the end fails no_unexpected_drift.
	PushFailures   []string `json:"push_failures,omitempty"`
	CommandBatches int      `json:"command_batches"` // on lockstep.cmd.prima-stock
	// CaughtUp is the time from the start of traffic (the first Clarus
	// scenario started) until lockstep first caught up: no webhook
	// pending, Prima's level equal to Clarus's available stock for every
	// balance and lockstep's folded levels equal to Clarus's. Empty if
	// that did not happen within Settle after the traffic.
	CaughtUp string `json:"caught_up,omitempty"`
	// MovementsPerSecond is the movements in Clarus's log when it caught
	// up divided by CaughtUp: end-to-end throughput from Clarus webhook to
	// Prima, catch-up included. 0 if it never caught up. With Rate and For
	// it is bounded by Rate.
	MovementsPerSecond float64 `json:"movements_per_second"`
	// Orders is how many Prima orders the orders phase released;
	// OrdersSentIn the time from their release until each was in Clarus or
	// held on an unmapped SKU (Prima poll, orders processor, Clarus sink,
	// exactly-once), and OrdersPerSecond the orders over that time.
	Orders          int     `json:"orders,omitempty"`
	OrdersSentIn    string  `json:"orders_sent_in,omitempty"`
	OrdersPerSecond float64 `json:"orders_per_second,omitempty"`
	// Shipments is how many shipments the fulfilment phase made;
	// ShipmentsNotedIn the time from the first until each had its Prima
	// despatch note (or was flagged missing, for those Prima dropped) and
	// every fully noted order was closed in Clarus; ShipmentsPerSecond the
	// shipments over that time.
	Shipments          int     `json:"shipments,omitempty"`
	ShipmentsNotedIn   string  `json:"shipments_noted_in,omitempty"`
	ShipmentsPerSecond float64 `json:"shipments_per_second,omitempty"`
	// ReconciliationLines are the discrepancy lines of the daily
	// reconciliation of the run's days (with the ledger on), and
	// ReconciliationReports its HTML reports (with ReportDir set).
	ReconciliationLines   int      `json:"reconciliation_lines,omitempty"`
	ReconciliationReports []string `json:"reconciliation_reports,omitempty"`
	// POs is how many purchase orders the inbound phase approved,
	// POsSentIn the time from their approval until each had its
	// pre-receipt in Clarus (Prima poll, inbound processor, goods-in sink,
	// exactly-once) and POsPerSecond the POs over that time; Receipts how
	// many deliveries Clarus received for them;
	// ReceiptsMatchedIn the time from the first delivery until every
	// receipt problem was flagged as expected, and ReceiptsPerSecond the
	// deliveries over that time.
	POs               int     `json:"purchase_orders,omitempty"`
	POsSentIn         string  `json:"purchase_orders_sent_in,omitempty"`
	POsPerSecond      float64 `json:"purchase_orders_per_second,omitempty"`
	Receipts          int     `json:"receipts,omitempty"`
	ReceiptsMatchedIn string  `json:"receipts_matched_in,omitempty"`
	ReceiptsPerSecond float64 `json:"receipts_per_second,omitempty"`
}

// OK reports whether every check passed.
func (s Summary) OK() bool {
	for _, ok := range s.Checks {
		if !ok {
			return false
		}
	}
	return len(s.Checks) > 0
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SKUs == 0 {
		o.SKUs = 100
	}
	if o.Warehouses == 0 {
		o.Warehouses = 3
	}
	if o.Partitions == 0 {
		o.Partitions = 3
	}
	if o.Settle == 0 {
		o.Settle = 2 * time.Minute
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
}

// Run starts the simulators and the stock and ledger flows, drives traffic,
// lets lockstep catch up, injects drift and checks the outcome. An error
// means the run could not be carried out; failed checks are in Summary.
func Run(ctx context.Context, o Options) (Summary, error) {
	o.defaults()
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 32)
	s, err := startSims(ctx, o, o.Logger, errc)
	if err != nil {
		return Summary{}, err
	}

	admCl, err := kgo.NewClient(o.Kafka...)
	if err != nil {
		return Summary{}, err
	}
	defer admCl.Close()
	if err := flows.EnsureTopics(ctx, admCl, flows.TopicOptions{Prefix: o.TopicPrefix, Partitions: o.Partitions, Replication: -1}); err != nil {
		return Summary{}, err
	}
	reg, err := schemas.NewEmbeddedRegistry(ctx, o.Kafka...)
	if err != nil {
		return Summary{}, err
	}
	defer reg.Close()
	serde := schemas.NewSerde(reg)
	promReg := prometheus.NewRegistry()
	ready := admin.NewReadiness(promReg)
	kill := &killer{}
	deps := &flows.Deps{
		Kafka: o.Kafka, TopicPrefix: o.TopicPrefix, Serde: serde, Registerer: promReg,
		Ready: ready.Add, Logger: o.Logger, StateDir: o.StateDir, Settings: s.settings(o),
		OnWebhookAddr: s.receiveAt, Failpoint: kill.failpoint,
	}
	comps, err := flows.Build(nil, deps)
	if err != nil {
		return Summary{}, err
	}
	var wg sync.WaitGroup
	for _, c := range comps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- wrap(c.Name, supervise(ctx, c, &kill.restarts))
		}()
	}
	defer wg.Wait()
	defer cancel()

	if err := waitReady(ctx, ready, errc); err != nil {
		return Summary{}, err
	}
	w := newWatcher(ctx, o, serde)
	defer w.close()
	// Traffic waits for Prima's item master to be on prima.items, as an
	// operator lets the first poll finish before opening the webhooks:
	// else the first pushes find codes not yet mapped and hold them.
	if err := waitUntil(ctx, time.Minute, newProgress(o, s, w), errc, func() bool { return w.itemCount() >= o.SKUs }); err != nil {
		return Summary{}, err
	}
	o.Logger.Info("demo: every component is ready and the item master is read; traffic starts")

	trafficStart := time.Now()
	if err := drive(ctx, o, s, kill, w, errc); err != nil {
		return Summary{}, err
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "traffic done: %d Clarus movements in %s; waiting for lockstep to catch up\n",
			len(s.clarus.State().Movements), time.Since(trafficStart).Round(time.Millisecond))
	}
	orders, err := driveOrders(ctx, o, s, w, errc)
	if err != nil {
		return Summary{}, err
	}
	fulfil, err := driveFulfilment(ctx, o, s, w, kill, errc, orders)
	if err != nil {
		return Summary{}, err
	}
	inbound, err := driveInbound(ctx, o, s, w, errc)
	if err != nil {
		return Summary{}, err
	}
	sum, err := check(ctx, o, s, w, errc, trafficStart, orders, fulfil, inbound)
	if err != nil {
		return sum, err
	}
	sum.Kills = int(kill.restarts.Load())
	sum.Duration = time.Since(start).Round(time.Millisecond).String()
	return sum, nil
}

// killer makes a processor fail at its next failpoint when armed: the
// stock processor during the stock traffic, the fulfilment processor
// during the shipments.
type killer struct {
	target   atomic.Value // string: the processor to kill
	armed    atomic.Bool
	restarts atomic.Int64
}

// arm makes processor fail at its next failpoint.
func (k *killer) arm(processor string) {
	k.target.Store(processor)
	k.armed.Store(true)
}

func (k *killer) failpoint(processor string, f stream.Failpoint) error {
	if f == stream.FailBeforeEnd {
		return nil // an error there forces an abort, not a crash: no restart to wait for
	}
	if t, _ := k.target.Load().(string); t != processor {
		return nil
	}
	if k.armed.CompareAndSwap(true, false) {
		return errors.New("killed by the demo")
	}
	return nil
}

// supervise runs c, restarting it after a failpoint kill as an operator's
// supervisor (systemd, Kubernetes) restarts a crashed process.
func supervise(ctx context.Context, c flows.Component, restarts *atomic.Int64) error {
	for {
		err := c.Run(ctx)
		if !errors.Is(err, stream.ErrFailpoint) || ctx.Err() != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		restarts.Add(1)
	}
}

func waitReady(ctx context.Context, ready *admin.Readiness, errc <-chan error) error {
	quiet := &progress{} // waits on errc and ctx, prints nothing
	if err := waitUntil(ctx, 2*time.Minute, quiet, errc, func() bool { return len(ready.NotReady()) == 0 }); err != nil {
		return err
	}
	if nr := ready.NotReady(); len(nr) > 0 {
		return fmt.Errorf("demo: components not ready after 2m: %v", nr)
	}
	return nil
}

// drive runs the Clarus traffic, arming kills at seeded points.
func drive(ctx context.Context, o Options, s *sims, kill *killer, w *watcher, errc <-chan error) error {
	rng := rand.New(rand.NewPCG(o.Seed, 0xde70))
	progress := newProgress(o, s, w)
	if o.Movements > 0 {
		const chunk = 500
		chunks := (o.Movements + chunk - 1) / chunk
		killAt := map[int]bool{}
		for _, i := range rng.Perm(chunks)[:min(o.Kills, chunks)] {
			killAt[i] = true
		}
		for i := 0; i < chunks; i++ {
			n := min(chunk, o.Movements-i*chunk)
			if _, err := s.clarus.StartScenario(clarussim.Scenario{Seed: o.Seed + uint64(i), SKUs: o.SKUs, Warehouses: o.Warehouses, Generate: n}); err != nil {
				return err
			}
			if killAt[i] {
				// One kill at a time: wait for it to land (the processor
				// hits a failpoint on its next transaction) and restart.
				before := kill.restarts.Load()
				kill.arm(stock.Name)
				for kill.restarts.Load() == before {
					if err := progress.tick(ctx, errc, 50*time.Millisecond); err != nil {
						return err
					}
				}
			}
			// Keep Clarus at most a few chunks of webhooks ahead of
			// lockstep, so kills fall while traffic flows.
			for s.clarus.State().Webhooks.Pending > 4*chunk {
				if err := progress.tick(ctx, errc, 50*time.Millisecond); err != nil {
					return err
				}
			}
			if err := progress.tick(ctx, errc, 0); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := s.clarus.StartScenario(clarussim.Scenario{Seed: o.Seed, SKUs: o.SKUs, Warehouses: o.Warehouses, MovementsPerSecond: o.Rate}); err != nil {
		return err
	}
	end := time.Now().Add(o.For)
	kills := make([]time.Time, o.Kills)
	for i := range kills {
		kills[i] = time.Now().Add(time.Duration(rng.Int64N(int64(max(o.For, time.Second)))))
	}
	for time.Now().Before(end) {
		for i, at := range kills {
			if !at.IsZero() && time.Now().After(at) {
				kill.arm(stock.Name)
				kills[i] = time.Time{}
			}
		}
		if err := progress.tick(ctx, errc, time.Second); err != nil {
			return err
		}
	}
	// Stop the generator; what it made is delivered by the simulator.
	_, err := s.clarus.StartScenario(clarussim.Scenario{Seed: o.Seed, SKUs: o.SKUs, Warehouses: o.Warehouses})
	return err
}
