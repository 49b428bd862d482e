package flows

import (
	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/processors/orders"
)

// buildOrders wires flow 2 of the design: Prima's released, amended and
// cancelled sales orders (polled by the shared Prima source) into the
// orders processor, which splits stock from non-stock lines, holds orders
// with unmapped SKUs and shields the warehouse from amendments; the Clarus
// order sink creates and cancels the goods-outs and answers on
// clarus.order-acks, which the processor folds back with the shipments of
// its goods-outs, publishing what they still have to dispatch on
// lockstep.open-goods-out for the stock flow.
func buildOrders(d *Deps) ([]Component, error) {
	s := d.Settings
	cc, err := d.clarusConfig()
	if err != nil {
		return nil, err
	}
	oc := s.Orders
	oc.TopicPrefix = d.TopicPrefix
	topo, err := orders.Topology(oc, d.Serde)
	if err != nil {
		return nil, err
	}
	proc, err := d.processor("orders/processor", topo)
	if err != nil {
		return nil, err
	}
	so := clarus.Options{TopicPrefix: d.TopicPrefix, Logger: d.logger("orders/clarus-sink"), Metrics: d.metrics.clarus,
		SetReady: d.Ready("orders/clarus-sink"),
		// One sink per instance: its transactions carry the acks and the
		// consumed offsets, and a restarted instance fences its zombie.
		TransactionalID: d.TopicPrefix + "lockstep-clarus-orders-" + cc.Subdomain + "-" + s.InstanceID}
	sink, err := clarus.NewOrderSink(cc, clarus.NewClient(cc, so), d.Serde, so, d.kafka()...)
	if err != nil {
		return nil, err
	}
	// The processor folds shipments to know what its goods-outs still
	// have to dispatch (the open quantities the stock flow promises).
	if err := d.needShipments(cc); err != nil {
		return nil, err
	}
	d.needPrima(prima.CursorKeyItems, prima.CursorKeySalesOrders)
	return []Component{
		{Name: "orders/processor", Run: proc.Run},
		{Name: "orders/clarus-sink", Run: sink.Run},
	}, nil
}
