package flows

import (
	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/processors/inbound"
)

// buildInbound wires flow 4 of the design: Prima's approved, amended and
// cancelled purchase orders (polled by the shared Prima source) into the
// inbound processor, which sends each as a Clarus pre-receipt (the
// goods-in sink creates, updates and cancels it and answers on
// clarus.receipt-acks) and matches every Clarus receipt (from the
// completed-receipt webhook, read by the stock flow's receiver, and from
// this flow's sweep of completed receipts) against its PO: orphan_receipt,
// receipt_over_po, receipt_sku_not_on_po, receipt_wrong_warehouse,
// po_not_in_wms.
func buildInbound(d *Deps) ([]Component, error) {
	s := d.Settings
	cc, err := d.clarusConfig()
	if err != nil {
		return nil, err
	}
	ic := s.Inbound
	ic.TopicPrefix = d.TopicPrefix
	topo, err := inbound.Topology(ic, d.Serde)
	if err != nil {
		return nil, err
	}
	proc, err := d.processor("inbound/processor", topo)
	if err != nil {
		return nil, err
	}
	opts := func(name, txnID string) clarus.Options {
		return clarus.Options{TopicPrefix: d.TopicPrefix, Logger: d.logger(name), Metrics: d.metrics.clarus,
			SetReady: d.Ready(name), TransactionalID: txnID}
	}
	// One sink per instance: its transactions carry the acks and the
	// consumed offsets, and a restarted instance fences its zombie.
	so := opts("inbound/clarus-sink", d.TopicPrefix+"lockstep-clarus-receipts-"+cc.Subdomain+"-"+s.InstanceID)
	sink, err := clarus.NewReceiptSink(cc, clarus.NewClient(cc, so), d.Serde, so, d.kafka()...)
	if err != nil {
		return nil, err
	}
	// One receipts sweep per Clarus tenant and deployment.
	ro := opts("inbound/clarus-receipts", d.TopicPrefix+"lockstep-clarus-receipt-source-"+cc.Subdomain)
	receipts, err := clarus.NewReceiptSource(cc, clarus.NewClient(cc, ro), d.Serde, ro, d.kafka()...)
	if err != nil {
		return nil, err
	}
	d.needPrima(prima.CursorKeyItems, prima.CursorKeyPurchaseOrders)
	return []Component{
		{Name: "inbound/processor", Run: proc.Run},
		{Name: "inbound/clarus-sink", Run: sink.Run},
		{Name: "inbound/clarus-receipts", Run: receipts.Run},
	}, nil
}
