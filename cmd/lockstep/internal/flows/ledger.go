package flows

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/analytics/reconcile"
	"github.com/lockstep-dev/lockstep/connectors/ledger"
)

// buildLedger wires flow 5 of the design: lockstep.drift into the
// ClickHouse drift ledger. Without a ledger (LOCKSTEP_LEDGER_ENABLED=false)
// the flow has no component: drift stays on its topic.
func buildLedger(d *Deps) ([]Component, error) {
	if !d.Settings.Ledger.Enabled {
		d.Logger.Info("the drift ledger is off (LOCKSTEP_LEDGER_ENABLED=false): drift events stay on " + d.TopicPrefix + "lockstep.drift")
		return nil, nil
	}
	l := &ledgerComponent{d: d, cfg: d.Settings.Ledger.Conn, setReady: d.Ready("ledger/sink")}
	comps := []Component{{Name: "ledger/sink", Run: l.Run}}
	if rc := d.Settings.Ledger.Reconcile; rc.Enabled {
		if err := rc.Validate(); err != nil {
			return nil, err
		}
		s := &reconcile.Scheduler{
			ClickHouse: d.Settings.Ledger.Conn, Dir: rc.Dir, After: rc.After, Registerer: d.Registerer,
			Logger: d.logger("ledger/reconcile"),
			// What the orders flow keeps from Clarus is not compared with
			// what Clarus shipped.
			Rules: reconcile.Rules{NonStockSKUs: d.Settings.Orders.NonStockSKUs},
		}
		comps = append(comps, Component{Name: "ledger/reconcile", Run: s.Run})
	}
	return comps, nil
}

// ledgerComponent opens ClickHouse, applies the migrations the ledger lacks
// and runs the sink. ClickHouse down at start is waited for, not fatal: the
// drift waits on Kafka meanwhile and /readyz names the sink.
type ledgerComponent struct {
	d        *Deps
	cfg      analytics.Config
	setReady func(bool)
}

func (l *ledgerComponent) Run(ctx context.Context) error {
	log := l.d.logger("ledger/sink")
	wait := time.Second
	for {
		conn, err := analytics.Open(ctx, l.cfg)
		if err == nil {
			applied, merr := analytics.Migrate(ctx, conn)
			if merr == nil {
				if len(applied) > 0 {
					log.Info("ledger migrations applied", "migrations", applied, "clickhouse", l.cfg)
				}
				err = l.sink(ctx, conn)
				conn.Close()
				return err
			}
			conn.Close()
			err = merr
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("ClickHouse is not usable yet; retrying", "clickhouse", l.cfg, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func (l *ledgerComponent) sink(ctx context.Context, conn driver.Conn) error {
	s, err := ledger.New(ledger.Config{
		TopicPrefix: l.d.TopicPrefix, Group: l.d.TopicPrefix + ledger.DefaultGroup, Registerer: l.d.Registerer,
		Logger: l.d.Logger, SetReady: l.setReady,
	}, conn, l.d.Serde, l.d.kafka()...)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return s.Run(ctx)
}
