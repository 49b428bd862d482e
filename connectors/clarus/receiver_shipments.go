package clarus

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lockstep-dev/lockstep/schemas"
)

// What a webhook produces (movements, shipments, receipts), and the
// goods-out path: a completed goods out is read back from Clarus, shipment
// by shipment.

// output is what one webhook produces.
type output struct {
	movements []schemas.StockMovement
	shipments []schemas.Shipment
	receipts  []schemas.Receipt
}

// shipments reads the shipments of the completed goods out g into out: a
// pick per shipment line, dated when its shipment left, and an event per
// shipment. It answers (a status and reason for serve) when it cannot: 503
// when Clarus cannot be read or does not list yet every unit the webhook
// says left (Clarus delivers again), 422 for a shipment lockstep cannot
// read.
func (r *Receiver) shipments(ctx context.Context, g *completedGoodsOut, now time.Time, out *output) (int, string) {
	all, err := r.api.GoodsOutShipments(ctx, g.ID)
	if err != nil {
		if ctx.Err() != nil {
			return http.StatusServiceUnavailable, "request ended; retry later"
		}
		r.o.Logger.Warn("clarus webhook: reading the shipments of a completed goods out failed", "goods_out_id", g.ID, "err", err)
		return http.StatusServiceUnavailable, fmt.Sprintf("could not read the shipments of goods out %s from Clarus; retry later", g.ID)
	}
	sortShipments(all)
	left := map[string]int64{} // units the shipments read took, by product code
	for _, sh := range all {
		s, skip, err := r.ships.read(sh, g.Picked, now)
		switch {
		case err != nil:
			return http.StatusUnprocessableEntity, fmt.Sprintf("goods out %s: %v", g.ID, err)
		case skip != "":
			r.o.Logger.Debug("clarus webhook: shipment left out", "shipment_id", sh.ID, "goods_out_id", g.ID, "why", skip)
			continue
		case s.event.OrderRef != g.Reference:
			return http.StatusUnprocessableEntity, fmt.Sprintf("shipment %s is of goods out %s with reference %s, but the webhook says %s",
				sh.ID, g.ID, s.event.OrderRef, g.Reference)
		case s.event.Status == schemas.ShipmentConfirmed && s.sh.DispatchedAt.After(now.Add(maxFutureSkew)):
			// A pick dated in the future survives the snapshots taken
			// before that time: refused, as a webhook's would be.
			return http.StatusUnprocessableEntity, fmt.Sprintf("shipment %s dispatched_at %s is after the webhook came: it cannot have happened yet",
				sh.ID, sh.DispatchedAt.Format(time.RFC3339))
		}
		out.shipments = append(out.shipments, s.event)
		ms := s.picks()
		for _, m := range ms {
			left[m.SKU] -= m.Quantity
		}
		out.movements = append(out.movements, ms...)
	}
	// Clarus completes a goods out when its last units leave; a shipment
	// not listed yet (a replica behind) would lose units for good, so
	// every unit the webhook says left must be in a shipment read.
	for _, code := range slices.Sorted(maps.Keys(g.Dispatched)) {
		if want := g.Dispatched[code]; left[code] < want {
			r.o.Logger.Warn("clarus webhook: the shipments of a completed goods out do not hold what it dispatched; asking Clarus to deliver it again",
				"goods_out_id", g.ID, "sku", code, "dispatched", want, "in_shipments", left[code])
			return http.StatusServiceUnavailable, fmt.Sprintf("Clarus lists %d of the %d units of %s that goods out %s dispatched in its shipments; retry later",
				left[code], want, code, g.ID)
		}
	}
	return 0, ""
}

// produce writes out (movements keyed sku@warehouse, shipments keyed by
// order ref, receipts by ReceiptKey) and waits for Kafka's acknowledgement
// of every record.
func (r *Receiver) produce(ctx context.Context, cl *kgo.Client, t Trigger, auto string, out output, now time.Time) error {
	n := len(out.movements) + len(out.shipments) + len(out.receipts)
	if n == 0 {
		return nil
	}
	headers := []kgo.RecordHeader{{Key: "clarus.trigger", Value: []byte(t)}, {Key: "clarus.automation_id", Value: []byte(auto)}}
	recs := make([]*kgo.Record, 0, n)
	for i := range out.movements {
		m := &out.movements[i]
		m.IngestedAt = now
		v, err := r.serde.Encode(ctx, m)
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: r.topic, Key: []byte(schemas.StockKey(m.SKU, m.Warehouse)), Value: v, Headers: headers})
	}
	for i := range out.shipments {
		s := &out.shipments[i]
		s.IngestedAt = now
		v, err := r.serde.Encode(ctx, s)
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: r.shipTopic, Key: []byte(s.OrderRef), Value: v, Headers: headers})
	}
	for i := range out.receipts {
		rc := &out.receipts[i]
		rc.IngestedAt = now
		v, err := r.serde.Encode(ctx, rc)
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: r.receiptTopic, Key: []byte(ReceiptKey(rc)), Value: v, Headers: headers})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce %d records: %w", len(recs), err)
	}
	r.o.Metrics.movements.Add(float64(len(out.movements)))
	r.o.Metrics.shipments.events.WithLabelValues("webhook").Add(float64(len(out.shipments)))
	r.o.Metrics.receipts.events.WithLabelValues("webhook").Add(float64(len(out.receipts)))
	r.o.Logger.Debug("clarus webhook stored", slog.String("trigger", string(t)), slog.Int("movements", len(out.movements)),
		slog.Int("shipments", len(out.shipments)), slog.Int("receipts", len(out.receipts)))
	return nil
}
