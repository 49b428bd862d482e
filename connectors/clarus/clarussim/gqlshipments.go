package clarussim

import (
	"fmt"
	"time"
)

// The shipments connection (api-reference/shipments/list-shipments: the
// root, status and carrier are documented; the other fields and the
// filter are assumed, so strict mode refuses them before the executor
// runs). Shipments are listed by id.

var shipmentFilters = filterSpec{"goods_out_id": "Id", "dispatched_at": "Datetime"}

// shipmentRow is one shipment.
type shipmentRow struct {
	x  *executor
	sh *shipment
}

func (r shipmentRow) sortKey() string { return fmt.Sprintf("%020d", r.sh.ID) }

func (r shipmentRow) value(field string) any {
	switch field {
	case "goods_out_id":
		return r.sh.GoodsOutID
	case "dispatched_at":
		return r.sh.DispatchedAt
	}
	return nil
}

func (r shipmentRow) node(f *gqlField) (obj, error) {
	sh, st := r.sh, r.x.s.st
	carrier := nullObject()
	if sh.Carrier != "" {
		carrier = refObject("Carrier", map[string]any{"id": fmt.Sprint(st.carriers[sh.Carrier]), "code": sh.Carrier})
	}
	var dispatched, tracking any
	if !sh.DispatchedAt.IsZero() {
		dispatched = sh.DispatchedAt.Format(time.RFC3339Nano)
	}
	if sh.Tracking != "" {
		tracking = sh.Tracking
	}
	return selectObject("Shipment", f.Sel, map[string]gqlResolver{
		"id":              scalar(fmt.Sprint(sh.ID)),
		"status":          scalar(sh.Status),
		"carrier":         carrier,
		"dispatched_at":   scalar(dispatched),
		"tracking_number": scalar(tracking),
		"goods_out": {object: true, resolve: func(gf *gqlField) (any, error) {
			o, ok := st.orders[sh.GoodsOutID]
			if !ok { // only an unshipped goods out is ever deleted
				return nil, errAt(gf, "goods out %d of shipment %d is gone", sh.GoodsOutID, sh.ID)
			}
			return goodsOutRow{r.x, o}.node(gf)
		}},
		"shipment_lines": {object: true, resolve: func(lf *gqlField) (any, error) {
			out := make([]obj, 0, len(sh.Lines))
			for _, l := range sh.Lines {
				n, err := selectObject("ShipmentLine", lf.Sel, map[string]gqlResolver{
					"id":       scalar(fmt.Sprint(l.ID)),
					"quantity": scalar(l.Quantity),
					"product":  refObject("Product", map[string]any{"id": fmt.Sprint(st.products[l.SKU]), "code": l.SKU}),
				})
				if err != nil {
					return nil, err
				}
				out = append(out, n)
			}
			return out, nil
		}},
	})
}

func (x *executor) shipmentRows() []gqlRow {
	var rows []gqlRow
	for _, sh := range x.s.st.sortedShipments() {
		rows = append(rows, shipmentRow{x, sh})
	}
	return rows
}
