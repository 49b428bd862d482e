package clarussim_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
)

// lockstepQuery is the document the Clarus sweep sends.
const lockstepQuery = `query LockstepStockBalances($filter: StockBalancesFilterType, $first: Int!, $after: String) {
  stock_balances {
    all(filter: $filter, first: $first, after: $after) {
      edges { cursor node { product { code } warehouse { code } available allocated on_hand held updated_at } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

func seeded(t *testing.T) *env {
	e := newEnv(t, clarussim.Config{})
	for i := 1; i <= 5; i++ {
		e.apply(clarussim.Event{Type: "receive", Warehouse: "WH1", SKU: fmt.Sprintf("SKU-%d", i), Quantity: int64(10 * i)})
		e.apply(clarussim.Event{Type: "receive", Warehouse: "WH2", SKU: fmt.Sprintf("SKU-%d", i), Quantity: 1})
	}
	e.apply(clarussim.Event{Type: "hold", Warehouse: "WH1", SKU: "SKU-2", Quantity: 3},
		clarussim.Event{Type: "allocate", Warehouse: "WH1", SKU: "SKU-2", Quantity: 4})
	return e
}

func TestGraphQLPagination(t *testing.T) {
	e := seeded(t)
	var keys []string
	after := any(nil)
	pages := 0
	for {
		status, ans := e.gql(lockstepQuery, map[string]any{"first": 3, "after": after})
		if status != 200 || ans["errors"] != nil {
			t.Fatalf("%d %v", status, ans)
		}
		conn := path(ans, "data", "stock_balances", "all")
		for _, edge := range path(conn, "edges").([]any) {
			n := path(edge, "node")
			keys = append(keys, fmt.Sprintf("%s@%s", path(n, "product", "code"), path(n, "warehouse", "code")))
			if path(n, "product", "code") == "SKU-2" && path(n, "warehouse", "code") == "WH1" &&
				(path(n, "on_hand") != 20.0 || path(n, "held") != 3.0 || path(n, "allocated") != 4.0 || path(n, "available") != 13.0) {
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
	if pages != 4 || len(keys) != 10 || keys[0] != "SKU-1@WH1" || keys[1] != "SKU-1@WH2" || keys[9] != "SKU-5@WH2" {
		t.Fatalf("%d pages: %v", pages, keys)
	}
}

func TestGraphQLFiltersAndShapes(t *testing.T) {
	e := seeded(t)
	e.clock.Advance(time.Minute)
	e.apply(clarussim.Event{Type: "adjust", Warehouse: "WH2", SKU: "SKU-4", Quantity: 2})
	since := e.clock.Now().Add(-time.Second).Format(time.RFC3339Nano)
	count := func(filter map[string]any) int {
		t.Helper()
		_, ans := e.gql(lockstepQuery, map[string]any{"first": 100, "filter": filter})
		if msg := firstError(ans); msg != "" {
			t.Fatalf("filter %v: %s", filter, msg)
		}
		return len(path(ans, "data", "stock_balances", "all", "edges").([]any))
	}
	for want, filter := range map[int]map[string]any{
		1:  {"updated_at": map[string]any{"gt": since}},
		9:  {"updated_at": map[string]any{"lt": since}},
		10: {"updated_at": map[string]any{"from": "2026-03-02T09:00:00Z", "to": "2026-03-02T10:00:00Z"}},
		2:  {"product_code": map[string]any{"eq": "SKU-3"}},
		4:  {"product_code": map[string]any{"in": []any{"SKU-1", "SKU-5"}}},
		5:  {"warehouse_code": map[string]any{"ilike": "wh%1"}},
		3:  {"warehouse_id": map[string]any{"eq": "2"}, "product_code": map[string]any{"like": "SKU-_"}, "updated_at": map[string]any{"between": []any{"2026-03-02T09:00:00Z", since}}, "product_id": map[string]any{"lteq": 4}},
	} {
		if got := count(filter); got != want {
			t.Errorf("filter %v: %d balances, want %d", filter, got, want)
		}
	}
	// Aliases, __typename, nodes, totalCount and a literal filter.
	_, ans := e.gql(`{ sb: stock_balances { __typename all(first: 2, filter: {product_code: {eq: "SKU-1"}}) { totalCount nodes { id qty: on_hand account { code } } } } }`, nil)
	if got := path(ans, "data", "sb", "all", "nodes", 1, "qty"); got != 1.0 || path(ans, "data", "sb", "__typename") != "StockBalancesQuery" ||
		path(ans, "data", "sb", "all", "totalCount") != 2.0 || path(ans, "data", "sb", "all", "nodes", 0, "account", "code") != "MAIN" {
		t.Fatalf("shape: %v", ans)
	}
}

func TestGraphQLErrors(t *testing.T) {
	e := seeded(t)
	for q, want := range map[string]string{
		`{ stock_balances { all { edges { node { price } } } } }`:                                                         "Field 'price' doesn't exist on type 'StockBalance'",
		`{ stocks { all { edges { cursor } } } }`:                                                                         "Field 'stocks' doesn't exist on type 'Query'",
		`mutation { stock_balances { all { edges { cursor } } } }`:                                                        "not configured for mutations",
		`{ stock_balances { all { ...F } } } fragment F on X { a }`:                                                       "Fragments are not supported",
		`{ stock_balances @include(if: true) { all { edges { cursor } } } }`:                                              "Directives are not supported",
		`{ stock_balances { all(after: "!!") { edges { cursor } } } }`:                                                    "Invalid cursor",
		`{ stock_balances { all(last: 2) { edges { cursor } } } }`:                                                        "doesn't accept argument 'last'",
		`{ stock_balances { all(first: "x") { edges { cursor } } } }`:                                                     "Argument 'first'",
		`{ stock_balances { all(filter: {price: {eq: 1}}) { edges { cursor } } } }`:                                       "unknown field \"price\"",
		`{ stock_balances { all(filter: {updated_at: {gt: "yesterday"}}) { edges { cursor } } } }`:                        "ISO 8601",
		`{ stock_balances { all { edges { cursor { x } } } } }`:                                                           "Selections can't be made on scalars",
		`{ stock_balances { all { edges { node } } } }`:                                                                   "Field must have selections",
		`{ stock_balances { all { edges { cursor } }`:                                                                     "Parse error",
		`query A { stock_balances { all { edges { cursor } } } } query B { stock_balances { all { edges { cursor } } } }`: "operation name is required",
		`query($first: Int!) { stock_balances { all(first: $first) { edges { cursor } } } }`:                              "Variable $first of type Int! was provided invalid value",
		`{ stock_balances { all(first: $n) { edges { cursor } } } }`:                                                      "Variable $n is used",
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
