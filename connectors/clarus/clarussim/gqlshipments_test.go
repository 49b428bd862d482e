package clarussim_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
)

const shipmentsQuery = `query S($filter: ShipmentsFilterType, $first: Int, $after: String) {
  shipments {
    all(filter: $filter, first: $first, after: $after) {
      edges { node { id status dispatched_at tracking_number carrier { id code }
        goods_out { id reference goods_out_status { code } warehouse { id } }
        shipment_lines { id quantity product { code } } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

// shipped has SO-1 shipped in two (at 09:00 and 10:00, completing it) and
// SO-2 in one at 11:00, still picking.
func shipped(t *testing.T, cfg clarussim.Config) (*env, []clarussim.Shipment) {
	t.Helper()
	e, _ := shipEnv(t, cfg)
	e.apply(clarussim.Event{Type: "allocate", Warehouse: "WH1", Reference: "SO-2", SKU: "B", Quantity: 4},
		clarussim.Event{Type: "ship", Reference: "SO-1", SKU: "A", Quantity: 6, Carrier: "DPD", Tracking: "T-1"})
	e.clock.Advance(time.Hour)
	e.apply(clarussim.Event{Type: "dispatch", Reference: "SO-1"})
	e.clock.Advance(time.Hour)
	e.apply(clarussim.Event{Type: "ship", Reference: "SO-2", SKU: "B", Quantity: 1})
	return e, e.sim.Shipments()
}

// shipmentIDs runs the shipments query with filter and returns the ids of
// the shipments, in order, or the first error.
func shipmentIDs(t *testing.T, e *env, filter map[string]any) ([]string, string) {
	t.Helper()
	status, ans := e.gql(shipmentsQuery, map[string]any{"filter": filter})
	if status != http.StatusOK {
		t.Fatalf("%d %v", status, ans)
	}
	if msg := firstError(ans); msg != "" {
		return nil, msg
	}
	var ids []string
	for _, edge := range path(ans, "data", "shipments", "all", "edges").([]any) {
		ids = append(ids, path(edge, "node", "id").(string))
	}
	return ids, ""
}

func TestGraphQLShipments(t *testing.T) {
	e, sh := shipped(t, clarussim.Config{AllowAssumed: true})
	if len(sh) != 3 {
		t.Fatalf("shipments %+v", sh)
	}
	id := func(i int) string { return fmt.Sprint(sh[i].ID) }
	_, ans := e.gql(shipmentsQuery, map[string]any{"first": 1})
	n := path(ans, "data", "shipments", "all", "edges", 0, "node")
	if path(n, "status") != "dispatched" || path(n, "dispatched_at") != sh[0].DispatchedAt.Format(time.RFC3339Nano) ||
		path(n, "tracking_number") != "T-1" || path(n, "carrier", "code") != "DPD" || path(n, "carrier", "id") == nil ||
		path(n, "goods_out", "reference") != "SO-1" || path(n, "goods_out", "goods_out_status", "code") != "COMPLETED" ||
		path(n, "goods_out", "warehouse", "id") != "1" || path(n, "shipment_lines", 1, "quantity") != 2.0 ||
		path(n, "shipment_lines", 1, "product", "code") != "A" || path(ans, "data", "shipments", "all", "pageInfo", "hasNextPage") != true {
		t.Fatalf("first shipment %v", ans)
	}
	if _, ans := e.gql(shipmentsQuery, map[string]any{"first": 1, "after": nil, "filter": map[string]any{"goods_out_id": map[string]any{"eq": fmt.Sprint(sh[2].GoodsOutID)}}}); path(ans, "data", "shipments", "all", "edges", 0, "node", "carrier") != nil ||
		path(ans, "data", "shipments", "all", "edges", 0, "node", "tracking_number") != nil {
		t.Fatalf("a shipment without carrier or tracking: %v", ans)
	}

	t0, t1, t2 := sh[0].DispatchedAt, sh[1].DispatchedAt, sh[2].DispatchedAt
	iso := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	for _, c := range []struct {
		name   string
		filter map[string]any
		want   []string
	}{
		{"none", nil, []string{id(0), id(1), id(2)}},
		{"goods out eq", map[string]any{"goods_out_id": map[string]any{"eq": fmt.Sprint(sh[0].GoodsOutID)}}, []string{id(0), id(1)}},
		{"goods out eq as a number", map[string]any{"goods_out_id": map[string]any{"eq": sh[2].GoodsOutID}}, []string{id(2)}},
		{"goods out in", map[string]any{"goods_out_id": map[string]any{"in": []string{fmt.Sprint(sh[2].GoodsOutID), "99999"}}}, []string{id(2)}},
		{"dispatched from", map[string]any{"dispatched_at": map[string]any{"from": iso(t1)}}, []string{id(1), id(2)}},
		{"dispatched to", map[string]any{"dispatched_at": map[string]any{"to": iso(t1)}}, []string{id(0), id(1)}},
		{"dispatched between", map[string]any{"dispatched_at": map[string]any{"between": []string{iso(t0.Add(time.Minute)), iso(t2.Add(-time.Minute))}}}, []string{id(1)}},
		{"both", map[string]any{"goods_out_id": map[string]any{"eq": fmt.Sprint(sh[0].GoodsOutID)}, "dispatched_at": map[string]any{"from": iso(t1)}}, []string{id(1)}},
	} {
		got, msg := shipmentIDs(t, e, c.filter)
		if msg != "" || !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v %q, want %v", c.name, got, msg, c.want)
		}
	}
	// An operator Id or Datetime does not take.
	for name, f := range map[string]map[string]any{
		"ilike on an id":       {"goods_out_id": map[string]any{"ilike": "1"}},
		"in on a datetime":     {"dispatched_at": map[string]any{"in": []string{iso(t0)}}},
		"not a datetime":       {"dispatched_at": map[string]any{"from": "yesterday"}},
		"unknown filter field": {"reference": map[string]any{"eq": "SO-1"}},
	} {
		if _, msg := shipmentIDs(t, e, f); msg == "" {
			t.Errorf("%s: accepted", name)
		}
	}
}

// In strict mode only the documented status and carrier are served: the
// filter and the other fields are assumed.
func TestGraphQLShipmentsStrict(t *testing.T) {
	e, _ := shipped(t, clarussim.Config{})
	if _, ans := e.gql(`{ shipments { all(first: 2) { edges { node { status carrier { code } } } pageInfo { hasNextPage endCursor } } } }`, nil); firstError(ans) != "" ||
		path(ans, "data", "shipments", "all", "edges", 0, "node", "status") != "dispatched" {
		t.Fatalf("documented fields: %v", ans)
	}
	for name, q := range map[string]string{
		"id":              `{ shipments { all { edges { node { id } } } } }`,
		"dispatched_at":   `{ shipments { all { edges { node { dispatched_at } } } } }`,
		"tracking_number": `{ shipments { all { edges { node { tracking_number } } } } }`,
		"goods_out":       `{ shipments { all { edges { node { goods_out { id } } } } } }`,
		"shipment_lines":  `{ shipments { all { edges { node { shipment_lines { quantity } } } } } }`,
		"filter":          `{ shipments { all(filter: {goods_out_id: {eq: "1"}}) { edges { cursor } } } }`,
	} {
		if _, ans := e.gql(q, nil); firstError(ans) == "" {
			t.Errorf("%s served in strict mode: %v", name, ans)
		}
	}
}
