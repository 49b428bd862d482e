package clarussim_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
)

// balancesQuery asks for documented fields only, as lockstep's sweep does.
const balancesQuery = `query B($filter: StockBalancesFilterType, $first: Int, $after: String) {
  stock_balances {
    all(filter: $filter, first: $first, after: $after) {
      edges { cursor node { available allocated ordered received picked product { id code } account { id code } warehouse { id } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

func seeded(t *testing.T, cfg clarussim.Config) *env {
	e := newEnv(t, cfg)
	for i := 1; i <= 5; i++ {
		e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: fmt.Sprintf("SKU-%d", i), Quantity: int64(10 * i)})
		e.apply(clarussim.Event{Type: "receive", Warehouse: "WH2", SKU: fmt.Sprintf("SKU-%d", i), Quantity: 1})
	}
	e.apply(clarussim.Event{Type: "hold", Warehouse: "WH1", SKU: "SKU-2", Quantity: 3},
		clarussim.Event{Type: "allocate", Warehouse: "WH1", SKU: "SKU-2", Quantity: 4})
	return e
}

func TestGraphQLPagination(t *testing.T) {
	e := seeded(t, clarussim.Config{})
	var keys []string
	after := any(nil)
	pages := 0
	for {
		status, ans := e.gql(balancesQuery, map[string]any{"first": 3, "after": after})
		if status != 200 || ans["errors"] != nil {
			t.Fatalf("%d %v", status, ans)
		}
		conn := path(ans, "data", "stock_balances", "all")
		for _, edge := range path(conn, "edges").([]any) {
			n := path(edge, "node")
			keys = append(keys, fmt.Sprintf("%s@%s", path(n, "product", "code"), path(n, "warehouse", "id")))
			if path(n, "product", "code") == "SKU-2" && path(n, "warehouse", "id") == "1" &&
				(path(n, "available") != 13.0 || path(n, "allocated") != 4.0 || path(n, "received") != 20.0 || path(n, "account", "code") != "MAIN") {
				t.Fatalf("SKU-2@WH1 %v", n)
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, path(ans, "extensions", "read_at").(string)); err != nil {
			t.Fatalf("read_at: %v", err)
		}
		pages++
		if path(conn, "pageInfo", "hasNextPage") != true {
			break
		}
		after = path(conn, "pageInfo", "endCursor")
	}
	if pages != 4 || len(keys) != 10 || keys[0] != "SKU-1@1" || keys[1] != "SKU-1@2" || keys[9] != "SKU-5@2" {
		t.Fatalf("%d pages: %v", pages, keys)
	}
}

// In strict mode, the default, every field and filter clarus.graphql marks
// as assumed is a GraphQL error; with AllowAssumed it is served.
func TestGraphQLStrictMode(t *testing.T) {
	strict, lenient := seeded(t, clarussim.Config{}), seeded(t, clarussim.Config{AllowAssumed: true})
	for name, q := range map[string]string{
		"on_hand":           `{ stock_balances { all { edges { node { on_hand } } } } }`,
		"held":              `{ stock_balances { all { edges { node { held } } } } }`,
		"updated_at":        `{ stock_balances { all { edges { node { updated_at } } } } }`,
		"balance id":        `{ stock_balances { all { edges { node { id } } } } }`,
		"warehouse code":    `{ stock_balances { all { edges { node { warehouse { code } } } } } }`,
		"nodes":             `{ stock_balances { all { nodes { available } } } }`,
		"totalCount":        `{ stock_balances { all { totalCount } } }`,
		"hasPreviousPage":   `{ stock_balances { all { pageInfo { hasPreviousPage } } } }`,
		"startCursor":       `{ warehouses { all { pageInfo { startCursor } } } }`,
		"filter updated_at": `{ stock_balances { all(filter: {updated_at: {from: "2026-01-01T00:00:00Z"}}) { edges { cursor } } } }`,
		"filter wh code":    `{ stock_balances { all(filter: {warehouse_code: {eq: "WH1"}}) { edges { cursor } } } }`,
		"datetime gt":       `{ stocks { all(filter: {fifo_date: {gt: "2026-01-01T00:00:00Z"}}) { edges { cursor } } } }`,
		"stock warehouse":   `{ stocks { all { edges { node { warehouse { id } } } } } }`,
		"warehouses by id":  `{ warehouses { all(filter: {id: {eq: "1"}}) { edges { cursor } } } }`,
	} {
		if _, ans := strict.gql(q, nil); firstError(ans) == "" || ans["data"] != nil {
			t.Errorf("%s: strict mode answered %v", name, ans)
		}
		if _, ans := lenient.gql(q, nil); firstError(ans) != "" {
			t.Errorf("%s: with assumed fields allowed: %s", name, firstError(ans))
		}
	}
	// An assumed filter through a variable is refused too.
	_, ans := strict.gql(balancesQuery, map[string]any{"filter": map[string]any{"updated_at": map[string]any{"from": "2026-01-01T00:00:00Z"}}})
	if msg := firstError(ans); !strings.Contains(msg, "updated_at") {
		t.Errorf("assumed filter in a variable: %v", ans)
	}
}

func TestGraphQLFilters(t *testing.T) {
	e := seeded(t, clarussim.Config{})
	count := func(filter map[string]any) int {
		t.Helper()
		_, ans := e.gql(balancesQuery, map[string]any{"first": 100, "filter": filter})
		if msg := firstError(ans); msg != "" {
			t.Fatalf("filter %v: %s", filter, msg)
		}
		return len(path(ans, "data", "stock_balances", "all", "edges").([]any))
	}
	for _, tc := range []struct {
		want   int
		filter map[string]any
	}{
		{2, map[string]any{"product_code": map[string]any{"eq": "SKU-3"}, "picked": map[string]any{"eq": 0}}},
		{4, map[string]any{"product_code": map[string]any{"in": []any{"SKU-1", "SKU-5"}}}},
		{6, map[string]any{"product_code": map[string]any{"between": []any{"SKU-2", "SKU-4"}}}},
		{5, map[string]any{"warehouse_id": map[string]any{"eq": "2"}}},
		{8, map[string]any{"warehouse_id": map[string]any{"in": []any{"1", "2"}}, "product_code": map[string]any{"ilike": "sku-%"}, "product_id": map[string]any{"lteq": 4}}},
		{1, map[string]any{"allocated": map[string]any{"gt": 0}}},
		{2, map[string]any{"available": map[string]any{"between": []any{20, 40}}}}, // SKU-3 and SKU-4 in WH1 (SKU-2 is 20 - 3 held - 4 allocated)
		{7, map[string]any{"account_id": map[string]any{"eq": "1"}, "available": map[string]any{"lt": 30}}},
	} {
		if got := count(tc.filter); got != tc.want {
			t.Errorf("filter %v: %d balances, want %d", tc.filter, got, tc.want)
		}
	}
}

func TestGraphQLStocksAndWarehouses(t *testing.T) {
	e := seeded(t, clarussim.Config{})
	e.apply(clarussim.Event{Type: "hold", Warehouse: "WH1", SKU: "SKU-2", Quantity: 1},
		clarussim.Event{Type: "hold", Warehouse: "WH2", SKU: "SKU-4", Quantity: 1})
	q := `query S($filter: StockFilterType) { stocks { all(filter: $filter, first: 100) {
		edges { node { id quantity status product { id code } location { code } account { id } storage_unit { id } } } pageInfo { hasNextPage } } } }`
	_, ans := e.gql(q, map[string]any{"filter": map[string]any{"status": map[string]any{"eq": "held"}, "warehouse_id": map[string]any{"eq": "1"}}})
	edges, _ := path(ans, "data", "stocks", "all", "edges").([]any)
	if len(edges) != 2 || path(edges[0], "node", "quantity") != 3.0 || path(edges[1], "node", "quantity") != 1.0 ||
		path(edges[0], "node", "product", "code") != "SKU-2" || path(edges[0], "node", "storage_unit") != nil ||
		path(edges[0], "node", "location", "code") != "WH1-BULK" {
		t.Fatalf("held stock of WH1: %v", ans)
	}
	_, ans = e.gql(q, map[string]any{"filter": map[string]any{"status": map[string]any{"eq": "available"}, "product_code": map[string]any{"in": []any{"SKU-2"}}}})
	edges, _ = path(ans, "data", "stocks", "all", "edges").([]any)
	if len(edges) != 2 || path(edges[0], "node", "quantity") != 16.0 { // 20 on hand, 4 held: allocated stock is still available stock
		t.Fatalf("available stock of SKU-2: %v", ans)
	}
	_, ans = e.gql(`{ warehouses { all(filter: {code: {in: ["WH2", "WH9"]}}) { edges { node { id code name } } } } }`, nil)
	edges, _ = path(ans, "data", "warehouses", "all", "edges").([]any)
	if len(edges) != 1 || path(edges[0], "node", "id") != "2" || path(edges[0], "node", "code") != "WH2" {
		t.Fatalf("warehouses: %v", ans)
	}
}

func TestGraphQLErrors(t *testing.T) {
	e := seeded(t, clarussim.Config{})
	for q, want := range map[string]string{
		`{ stock_balances { all { edges { node { price } } } } }`:                                                         `"price" on type "StockBalance"`,
		`{ goods_in_receipt_lines { all { edges { cursor } } } }`:                                                         `"goods_in_receipt_lines" on type "Query"`,
		`mutation { stock_balances { all { edges { cursor } } } }`:                                                        "mutation",
		`{ stock_balances { all { ...F } } } fragment F on StockBalanceConnection { totalCount }`:                         "totalCount",
		`{ stock_balances { all { ...F } } } fragment F on StockBalanceConnection { edges { cursor } }`:                   "Fragments are not supported",
		`{ stock_balances @include(if: true) { all { edges { cursor } } } }`:                                              "Directives are not supported",
		`{ stock_balances { all(after: "!!") { edges { cursor } } } }`:                                                    "Invalid cursor",
		`{ stock_balances { all(last: 2) { edges { cursor } } } }`:                                                        `"last"`,
		`{ stock_balances { all(first: "x") { edges { cursor } } } }`:                                                     "Int",
		`{ stock_balances { all(filter: {price: {eq: 1}}) { edges { cursor } } } }`:                                       `"price"`,
		`{ stock_balances { all(filter: {product_code: {gt: "A"}}) { edges { cursor } } } }`:                              `"gt"`,
		`{ stock_balances { all { edges { cursor { x } } } } }`:                                                           `"x"`,
		`{ stock_balances { all { edges { node } } } }`:                                                                   "node",
		`{ stock_balances { all { edges { cursor } }`:                                                                     "Expected",
		`query A { stock_balances { all { edges { cursor } } } } query B { stock_balances { all { edges { cursor } } } }`: "operation name is required",
		`query($first: Int!) { stock_balances { all(first: $first) { edges { cursor } } } }`:                              "first",
		`{ stock_balances { all(first: $n) { edges { cursor } } } }`:                                                      "$n",
	} {
		status, ans := e.gql(q, nil)
		if status != 200 || !strings.Contains(firstError(ans), want) || ans["data"] != nil {
			t.Errorf("%s: %d %v, want an error with %q", q, status, ans, want)
		}
	}
	status, _, body := e.do("POST", "/graphql", `{"query":`, map[string]string{"Authorization": "Bearer " + e.token(), "X-Clarus-Subdomain": "acme"})
	if status != 400 || !strings.Contains(body, `"errors"`) {
		t.Fatalf("invalid body: %d %s", status, body)
	}
	_, ans := e.gql("{\n  stock_balances {\n    all { edges { cursor } \n  }\n", nil)
	if loc := path(ans, "errors", 0, "locations", 0, "line"); loc != 5.0 {
		t.Fatalf("error location %v in %v", loc, ans)
	}
}
