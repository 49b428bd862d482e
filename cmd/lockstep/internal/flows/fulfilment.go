package flows

import (
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/processors/fulfilment"
)

// buildFulfilment wires flow 3 of the design: Clarus shipments (from the
// completed goods-out webhook, read by the stock flow's receiver, and from
// the shared sweep of dispatched shipments, which finds partial
// dispatches and missed webhooks) join Prima's despatch notes (polled by
// the shared Prima source) in the fulfilment processor; the Prima despatch
// sink creates one note per shipment, looked up by its reference before
// any re-send; the close of a goods-out goes through the orders flow's
// Clarus sink, on lockstep.cmd.clarus-orders.
func buildFulfilment(d *Deps) ([]Component, error) {
	s := d.Settings
	cc, err := d.clarusConfig()
	if err != nil {
		return nil, err
	}
	fc := s.Fulfilment
	fc.TopicPrefix = d.TopicPrefix
	topo, err := fulfilment.Topology(fc, d.Serde)
	if err != nil {
		return nil, err
	}
	proc, err := d.processor("fulfilment/processor", topo)
	if err != nil {
		return nil, err
	}
	if err := d.needShipments(cc); err != nil {
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
	sink, err := prima.NewDespatchSink(pc, api, d.Serde, prima.Options{TopicPrefix: d.TopicPrefix,
		Logger: d.logger("fulfilment/prima-despatch"), Metrics: d.metrics.prima, SetReady: d.Ready("fulfilment/prima-despatch"),
		// One sink per instance: its transactions carry the failure
		// reports and the consumed offsets; a restart fences its zombie.
		TransactionalID: d.TopicPrefix + prima.DespatchSinkGroup + "-" + s.InstanceID}, d.kafka()...)
	if err != nil {
		return nil, err
	}
	d.needPrima(prima.CursorKeySalesOrders, prima.CursorKeyDespatchNotes)
	return []Component{
		{Name: "fulfilment/processor", Run: proc.Run},
		{Name: "fulfilment/prima-despatch", Run: sink.Run},
	}, nil
}
