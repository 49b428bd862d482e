package clarus

import (
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// What a shipment says, and what lockstep makes of it: the statuses it
// reports, the ones it leaves out, and the ones it cannot read.
func TestShipmentMapper(t *testing.T) {
	m := shipmentMapper{warehouses: map[string]string{"1": "WH1"}, account: "7"}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := now.Add(-time.Hour)
	base := func(mod func(*Shipment)) Shipment {
		s := Shipment{ID: "5", Status: "dispatched", DispatchedAt: at, GoodsOutID: "9", Reference: "SO-1", GoodsOutStatus: "PICK",
			WarehouseID: "1", AccountID: "7", Lines: []ShipmentLine{{ID: "2", ProductCode: "B", Quantity: 1}, {ID: "1", ProductCode: "A", Quantity: 2},
				{ID: "3", ProductCode: "Cafe\u0301", Quantity: 0}, {ID: "4", ProductCode: "A", Quantity: 1}}}
		if mod != nil {
			mod(&s)
		}
		return s
	}
	s, skip, err := m.read(base(nil), map[string]int64{"A": 5}, now)
	if err != nil || skip != "" {
		t.Fatal(skip, err)
	}
	ev := s.event
	if ev.EventID != "clarus:shipment:5:confirmed" || ev.Status != schemas.ShipmentConfirmed || !ev.OccurredAt.Equal(at) || !ev.IngestedAt.Equal(now) ||
		ev.OrderComplete || ev.OrderRef != "SO-1" || ev.Warehouse != "WH1" || ev.GoodsOutID != "9" || len(ev.Lines) != 2 ||
		ev.Lines[0] != (schemas.ShipmentLine{SKU: "A", Quantity: 3, Picked: 5}) || ev.Lines[1] != (schemas.ShipmentLine{SKU: "B", Quantity: 1}) {
		t.Fatalf("event %+v", ev)
	}
	var picks []string
	for _, p := range s.picks() {
		picks = append(picks, RecordPath(p.MovementID)+" "+p.SKU)
		if p.Quantity >= 0 || !p.OccurredAt.Equal(at) || *p.Reference != "SO-1" || p.Kind != schemas.MovementPick {
			t.Fatalf("pick %+v", p)
		}
	}
	if strings.Join(picks, ",") != "shipment/5/2 B,shipment/5/1 A,shipment/5/4 A" {
		t.Fatalf("picks %v", picks)
	}

	c, _, err := m.read(base(func(s *Shipment) { s.Status, s.DispatchedAt, s.GoodsOutStatus = "Cancelled", time.Time{}, "completed" }), nil, now)
	if err != nil || c.event.EventID != "clarus:shipment:5:cancelled" || c.event.Status != schemas.ShipmentCancelled || !c.event.OccurredAt.Equal(now) ||
		!c.event.OrderComplete || len(c.picks()) != 0 {
		t.Fatalf("cancelled: %+v %v", c.event, err)
	}
	for name, mod := range map[string]func(*Shipment){
		"not dispatched":    func(s *Shipment) { s.Status = "packed" },
		"another warehouse": func(s *Shipment) { s.WarehouseID = "2" },
		"another account":   func(s *Shipment) { s.AccountID = "8" },
	} {
		if _, skip, err := m.read(base(mod), nil, now); skip == "" || err != nil {
			t.Errorf("%s: skip %q, err %v", name, skip, err)
		}
	}
	for name, mod := range map[string]func(*Shipment){
		"no dispatched_at": func(s *Shipment) { s.DispatchedAt = time.Time{} },
		"no reference":     func(s *Shipment) { s.Reference = "" },
		"bad code":         func(s *Shipment) { s.Lines[0].ProductCode = "A@B" },
	} {
		if _, _, err := m.read(base(mod), nil, now); err == nil {
			t.Errorf("%s: read", name)
		}
	}
}

// decodeShipments takes outside bytes: a page it cannot trust whole is
// refused, never read in part, and nothing makes it panic.
func TestDecodeShipmentsRefuses(t *testing.T) {
	node := func(n string) string {
		return `{"shipments":{"all":{"edges":[{"node":` + n + `}],"pageInfo":{"hasNextPage":false,"endCursor":null}}}}`
	}
	good := `{"id":"5","status":"dispatched","dispatched_at":"2026-03-02T09:00:00.5Z","tracking_number":null,"carrier":{"id":"3","code":null},
		"goods_out":{"id":"9","reference":"SO-1","goods_out_status":{"code":"PICK"},"warehouse":{"id":"1"},"account":{"id":"7"}},
		"shipment_lines":[{"id":"1","quantity":2,"product":{"code":"A"}}]}`
	p, err := decodeShipments([]byte(node(good)))
	if err != nil || len(p.Shipments) != 1 || p.Shipments[0].CarrierCode != "3" || p.Shipments[0].AccountID != "7" ||
		p.Shipments[0].DispatchedAt.Nanosecond() != 5e8 || p.Shipments[0].Lines[0].Quantity != 2 {
		t.Fatalf("%+v %v", p, err)
	}
	for name, body := range map[string]string{
		"not JSON":        `{`,
		"no connection":   `{"shipments":null}`,
		"no id":           node(strings.Replace(good, `"id":"5",`, "", 1)),
		"no goods out":    node(strings.Replace(good, `"goods_out":{`, `"goods_outx":{`, 1)),
		"bad time":        node(strings.Replace(good, `2026-03-02T09:00:00.5Z`, `yesterday`, 1)),
		"no line id":      node(strings.Replace(good, `{"id":"1","quantity"`, `{"quantity"`, 1)),
		"negative":        node(strings.Replace(good, `"quantity":2`, `"quantity":-2`, 1)),
		"fraction":        node(strings.Replace(good, `"quantity":2`, `"quantity":2.5`, 1)),
		"no product code": node(strings.Replace(good, `"product":{"code":"A"}`, `"product":{}`, 1)),
		"next, no cursor": strings.Replace(node(good), `"hasNextPage":false`, `"hasNextPage":true`, 1),
	} {
		if _, err := decodeShipments([]byte(body)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}
