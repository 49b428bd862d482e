package clarus

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// From Clarus shipments to lockstep's events, the same for the receiver
// and the shipment source, so that both say the same thing under the same
// ids: one clarus.shipments event per shipment (event id
// clarus:shipment:<id>:<status>), and for the receiver one pick per
// shipment line (movement path shipment/<id>/<line id>), each dated when
// its shipment left.

// shipmentMapper reads shipments under a configuration: the warehouses
// and account lockstep keeps in step.
type shipmentMapper struct {
	warehouses map[string]string // Clarus id -> code
	account    string
}

func newShipmentMapper(cfg Config) shipmentMapper {
	return shipmentMapper{warehouses: cfg.warehouseCodes(), account: cfg.AccountID}
}

// ShipmentEventID is the event id of a shipment's event on
// clarus.shipments: the receiver and the shipment source produce the same
// one, and consumers drop the second by it.
func ShipmentEventID(shipmentID string, status schemas.ShipmentStatus) string {
	return "clarus:shipment:" + shipmentID + ":" + string(status)
}

// shipped is a shipment read and checked: its event, and the goods-out
// reference and warehouse code its picks carry.
type shipped struct {
	sh        Shipment
	event     schemas.Shipment
	reference string
	warehouse string
}

// read checks sh and builds its event; picked are the units picked for
// its goods out, by product code. skip says why a shipment lockstep does
// not report is left out (not dispatched yet, another warehouse's or
// account's); an error is a shipment lockstep cannot read.
func (m shipmentMapper) read(sh Shipment, picked map[string]int64, now time.Time) (shipped, string, error) {
	var status schemas.ShipmentStatus
	switch strings.ToLower(sh.Status) {
	case ShipmentDispatched:
		status = schemas.ShipmentConfirmed
	case ShipmentCancelled:
		status = schemas.ShipmentCancelled
	default:
		return shipped{}, fmt.Sprintf("status %q", sh.Status), nil
	}
	wh, ok := m.warehouses[sh.WarehouseID]
	if !ok {
		return shipped{}, "warehouse " + sh.WarehouseID + " is not one lockstep keeps in step", nil
	}
	if m.account != "" && sh.AccountID != "" && sh.AccountID != m.account {
		return shipped{}, "account " + sh.AccountID + " is not lockstep's", nil
	}
	ref, err := Identifier("goods_out.reference", sh.Reference)
	if err != nil {
		return shipped{}, "", fmt.Errorf("shipment %s: %w", sh.ID, err)
	}
	at := sh.DispatchedAt
	switch {
	case at.IsZero() && status == schemas.ShipmentConfirmed:
		return shipped{}, "", fmt.Errorf("shipment %s is dispatched but has no dispatched_at", sh.ID)
	case at.IsZero():
		at = now // a shipment cancelled before it left
	}
	units := map[string]int64{}
	for i, l := range sh.Lines {
		code, err := Identifier(fmt.Sprintf("shipment_lines[%d].product.code", i), l.ProductCode)
		if err != nil {
			return shipped{}, "", fmt.Errorf("shipment %s: %w", sh.ID, err)
		}
		units[code] += l.Quantity
	}
	ev := schemas.Shipment{
		Meta:       schemas.Meta{EventID: ShipmentEventID(sh.ID, status), Source: schemas.SourceClarus, OccurredAt: at, IngestedAt: now},
		ShipmentID: sh.ID, OrderRef: ref, Status: status, Warehouse: wh, GoodsOutID: sh.GoodsOutID,
		OrderComplete: strings.EqualFold(sh.GoodsOutStatus, GoodsOutCompleted),
	}
	for _, code := range slices.Sorted(maps.Keys(units)) {
		if units[code] > 0 {
			ev.Lines = append(ev.Lines, schemas.ShipmentLine{SKU: code, Quantity: units[code], Picked: picked[code]})
		}
	}
	if sh.CarrierCode != "" {
		ev.Carrier = &sh.CarrierCode
	}
	if sh.TrackingNumber != "" {
		ev.TrackingNumber = &sh.TrackingNumber
	}
	return shipped{sh: sh, event: ev, reference: ref, warehouse: wh}, "", nil
}

// picks returns the stock movements of a dispatched shipment: one pick per
// line, dated when the shipment left. Snapshots taken after that already
// count those units gone, and the stock fold drops a movement dated at or
// before its snapshot: a pick dated later (at the goods out's completion)
// would take them off twice.
func (s shipped) picks() []schemas.StockMovement {
	if s.event.Status != schemas.ShipmentConfirmed {
		return nil
	}
	var out []schemas.StockMovement
	for _, l := range s.sh.Lines {
		if l.Quantity == 0 {
			continue
		}
		code, _ := Identifier("code", l.ProductCode) // read checked it
		out = append(out, movement("shipment/"+s.sh.ID+"/"+l.ID, schemas.MovementPick, code, s.warehouse, -l.Quantity,
			s.reference, "", s.sh.DispatchedAt))
	}
	return out
}

// sortShipments orders shipments by when they left, then id: the order
// their events are produced in.
func sortShipments(ss []Shipment) {
	slices.SortStableFunc(ss, func(a, b Shipment) int {
		return cmp.Or(a.DispatchedAt.Compare(b.DispatchedAt), cmp.Compare(len(a.ID), len(b.ID)), strings.Compare(a.ID, b.ID))
	})
}
