package clarus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// The shipment reads of the receiver and the shipment source. The
// documentation (api-reference/shipments/list-shipments) shows a
// shipment's status and carrier only; which goods out it belongs to, when
// it left, its tracking number, its lines and the filter are assumed
// (clarus.graphql), and shipments_contract_test.go lists exactly which
// assumed declarations these reads depend on.

const shipmentsQuery = `query LockstepShipments($filter: ShipmentsFilterType, $first: Int, $after: String) {
  shipments {
    all(filter: $filter, first: $first, after: $after) {
      edges { node { id status dispatched_at tracking_number carrier { id code }
        goods_out { id reference goods_out_status { code } warehouse { id } account { id } }
        shipment_lines { id quantity product { code } } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

// Shipment statuses lockstep acts on: "dispatched" is the documented
// example; "cancelled" is assumed (POST /api/shipments/{id}/cancel is
// documented, the status it leaves is not).
const (
	ShipmentDispatched = "dispatched"
	ShipmentCancelled  = "cancelled"
)

// Shipment is a Clarus shipment: one dispatch of some of a goods out's
// units. Codes are as Clarus spells them (not yet checked or normalised).
type Shipment struct {
	ID             string
	Status         string
	DispatchedAt   time.Time // zero until it left
	CarrierCode    string    // "" for none (the carrier's id when it has no code)
	TrackingNumber string
	GoodsOutID     string
	Reference      string // the goods out's
	GoodsOutStatus string // goods_out_status.code when read
	WarehouseID    string
	AccountID      string
	Lines          []ShipmentLine
}

// ShipmentLine is one line of a Shipment.
type ShipmentLine struct {
	ID          string
	ProductCode string
	Quantity    int64
}

// ShipmentQuery selects a page of shipments: of the goods outs GoodsOutIDs
// (none: any), dispatched at or after From (zero: any time).
type ShipmentQuery struct {
	GoodsOutIDs []string
	From        time.Time
	First       int
	After       string
}

func (q ShipmentQuery) vars() map[string]any {
	f := map[string]any{}
	switch len(q.GoodsOutIDs) {
	case 0:
	case 1:
		f["goods_out_id"] = map[string]any{"eq": q.GoodsOutIDs[0]}
	default:
		f["goods_out_id"] = map[string]any{"in": q.GoodsOutIDs}
	}
	if !q.From.IsZero() {
		// from, not gt: Datetime filters take eq, from, to and between
		// only (documented).
		f["dispatched_at"] = map[string]any{"from": q.From.UTC().Format(time.RFC3339Nano)}
	}
	if len(f) == 0 {
		f = nil
	}
	return pageVars(f, q.First, q.After)
}

// ShipmentPage is one page of a shipments connection.
type ShipmentPage struct {
	Shipments   []Shipment
	HasNextPage bool
	EndCursor   string
	ReadAt      time.Time // the server's clock when it read the page
}

// Shipments reads one page of shipments.
func (c *Client) Shipments(ctx context.Context, q ShipmentQuery) (ShipmentPage, error) {
	var page ShipmentPage
	readAt, err := c.query(ctx, "LockstepShipments", shipmentsQuery, q.vars(), func(data []byte) error {
		var err error
		page, err = decodeShipments(data)
		return err
	})
	if err != nil {
		return ShipmentPage{}, err
	}
	page.ReadAt = readAt
	return page, nil
}

// GoodsOutShipments returns every shipment of goods out id, as Clarus
// lists them (by id in the simulator).
func (c *Client) GoodsOutShipments(ctx context.Context, id string) ([]Shipment, error) {
	var out []Shipment
	q := ShipmentQuery{GoodsOutIDs: []string{id}, First: lookupPageSize}
	for {
		p, err := c.Shipments(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, s := range p.Shipments {
			if s.GoodsOutID == id { // eq, and a server that matched loosely must not add another order's
				out = append(out, s)
			}
		}
		if !p.HasNextPage {
			return out, nil
		}
		if p.EndCursor == q.After {
			return nil, fmt.Errorf("clarus: graphql shipments: the next page has the same cursor %q", p.EndCursor)
		}
		q.After = p.EndCursor
	}
}

// decodeShipments reads the data of a shipments answer. It takes outside
// bytes: it must never panic, and it refuses a page it cannot trust whole.
func decodeShipments(data []byte) (ShipmentPage, error) {
	var r struct {
		Shipments *struct {
			All *struct {
				Edges []struct {
					Node *struct {
						ID           clarusID `json:"id"`
						Status       string   `json:"status"`
						DispatchedAt *string  `json:"dispatched_at"`
						Tracking     *string  `json:"tracking_number"`
						Carrier      *ref     `json:"carrier"`
						GoodsOut     *struct {
							ID        clarusID `json:"id"`
							Reference string   `json:"reference"`
							Status    struct {
								Code string `json:"code"`
							} `json:"goods_out_status"`
							Warehouse *ref `json:"warehouse"`
							Account   *ref `json:"account"`
						} `json:"goods_out"`
						Lines []struct {
							ID       clarusID `json:"id"`
							Quantity quantity `json:"quantity"`
							Product  *ref     `json:"product"`
						} `json:"shipment_lines"`
					} `json:"node"`
				} `json:"edges"`
				PageInfo pageInfo `json:"pageInfo"`
			} `json:"all"`
		} `json:"shipments"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return ShipmentPage{}, fmt.Errorf("%w: %v", errMalformedResponse, err)
	}
	if r.Shipments == nil || r.Shipments.All == nil {
		return ShipmentPage{}, fmt.Errorf("%w: no data.shipments.all", errMalformedResponse)
	}
	all := r.Shipments.All
	var page ShipmentPage
	var err error
	if page.HasNextPage, page.EndCursor, err = all.PageInfo.next(); err != nil {
		return ShipmentPage{}, err
	}
	for i, e := range all.Edges {
		n := e.Node
		switch {
		case n == nil || n.ID == "" || n.Status == "":
			return ShipmentPage{}, fmt.Errorf("clarus: graphql: shipment %d lacks an id or a status", i)
		case n.GoodsOut == nil || n.GoodsOut.ID == "" || n.GoodsOut.Warehouse == nil || n.GoodsOut.Warehouse.ID == "":
			return ShipmentPage{}, fmt.Errorf("clarus: graphql: shipment %s lacks goods_out { id warehouse { id } }", n.ID)
		}
		s := Shipment{ID: string(n.ID), Status: n.Status, GoodsOutID: string(n.GoodsOut.ID), Reference: n.GoodsOut.Reference,
			GoodsOutStatus: n.GoodsOut.Status.Code, WarehouseID: string(n.GoodsOut.Warehouse.ID)}
		if n.DispatchedAt != nil {
			if s.DispatchedAt, err = time.Parse(time.RFC3339Nano, *n.DispatchedAt); err != nil {
				return ShipmentPage{}, fmt.Errorf("clarus: graphql: shipment %s: dispatched_at %q is not an ISO 8601 time", n.ID, *n.DispatchedAt)
			}
			s.DispatchedAt = s.DispatchedAt.UTC()
		}
		if n.Tracking != nil {
			s.TrackingNumber = *n.Tracking
		}
		if c := n.Carrier; c != nil {
			s.CarrierCode = string(c.ID)
			if c.Code != nil && *c.Code != "" {
				s.CarrierCode = *c.Code
			}
		}
		if a := n.GoodsOut.Account; a != nil {
			s.AccountID = string(a.ID)
		}
		for j, l := range n.Lines {
			if l.ID == "" || !l.Quantity.Set || l.Quantity.N < 0 || l.Quantity.N > maxQuantity || l.Product == nil || l.Product.Code == nil {
				return ShipmentPage{}, fmt.Errorf("clarus: graphql: shipment %s: line %d lacks an id, a quantity in range or product { code }", n.ID, j)
			}
			s.Lines = append(s.Lines, ShipmentLine{ID: string(l.ID), ProductCode: *l.Product.Code, Quantity: l.Quantity.N})
		}
		page.Shipments = append(page.Shipments, s)
	}
	return page, nil
}
