package flows

import (
	"net/http"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/processors/stock"
)

// buildStock wires flow 1 of the design: Clarus webhooks and sweeps into
// clarus.stock-movements and clarus.stock-snapshots, the stock processor
// folding them into levels and scheduled pushes, the Prima sink applying
// the pushes and the parity check comparing them with Prima's levels; it
// asks the shared Prima source for items (the SKU mapping and unit costs)
// and Prima's stock levels.
func buildStock(d *Deps) ([]Component, error) {
	s := d.Settings
	if err := s.Webhook.Validate(); err != nil {
		return nil, err
	}
	cc, err := d.clarusConfig()
	if err != nil {
		return nil, err
	}
	sc := s.Stock
	sc.TopicPrefix = d.TopicPrefix
	topo, err := stock.Topology(sc, d.Serde)
	if err != nil {
		return nil, err
	}
	proc, err := d.processor("stock/processor", topo)
	if err != nil {
		return nil, err
	}

	clarusOpts := func(name string) clarus.Options {
		return clarus.Options{
			TopicPrefix: d.TopicPrefix, Logger: d.logger(name), Metrics: d.metrics.clarus,
			// One sweep per Clarus tenant and deployment: a second one is
			// fenced (a zombie), one of another deployment (topic prefix) is not.
			SetReady: d.Ready(name), TransactionalID: d.TopicPrefix + "lockstep-clarus-sweep-" + cc.Subdomain,
		}
	}
	// The receiver reads a completed goods-out's shipments from Clarus,
	// so that its picks count at each shipment's dispatch time.
	ro := clarusOpts("stock/clarus-webhooks")
	rcv, err := clarus.NewReceiver(cc, clarus.NewClient(cc, ro), d.Serde, ro, d.kafka()...)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	rcv.Register(mux)
	hooks := &webhookServer{cfg: s.Webhook, h: mux, log: d.logger("stock/webhook-server"), setReady: d.Ready("stock/webhook-server"), bound: d.OnWebhookAddr}
	so := clarusOpts("stock/clarus-sweep")
	sweep, err := clarus.NewSweeper(cc, clarus.NewClient(cc, so), d.Serde, so, d.kafka()...)
	if err != nil {
		return nil, err
	}

	pc := s.Prima
	if err := pc.Validate(); err != nil {
		return nil, err
	}
	api, err := prima.NewClient(pc, nil)
	if err != nil {
		return nil, err
	}
	primaOpts := func(name string) prima.Options {
		return prima.Options{TopicPrefix: d.TopicPrefix, Logger: d.logger(name), Metrics: d.metrics.prima,
			SetReady: d.Ready(name)}
	}
	sink, err := prima.NewSink(pc, api, d.Serde, primaOpts("stock/prima-sink"), d.kafka()...)
	if err != nil {
		return nil, err
	}
	parity, err := prima.NewParity(pc, d.Serde, primaOpts("stock/prima-parity"), d.kafka()...)
	if err != nil {
		return nil, err
	}
	d.needPrima(prima.CursorKeyItems, prima.CursorKeyStockLevels)
	return []Component{
		{Name: "stock/processor", Run: proc.Run},
		{Name: "stock/clarus-webhooks", Run: rcv.Run},
		{Name: "stock/webhook-server", Run: hooks.Run},
		{Name: "stock/clarus-sweep", Run: sweep.Run},
		{Name: "stock/prima-sink", Run: sink.Run},
		{Name: "stock/prima-parity", Run: parity.Run},
	}, nil
}
