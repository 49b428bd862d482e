package clarus

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// The contract test: every GraphQL document the client sends, with the
// variables it sends, is valid against clarus.graphql with the assumed
// declarations removed, that is against what Clarus's documentation shows.
// A field or filter lockstep starts to rely on without a documented source
// fails here, whatever the simulator answers.

// sentRequests are the client's documents with representative variables,
// built by the same code the client uses.
func sentRequests() map[string]struct {
	doc, op string
	vars    map[string]any
} {
	full := BalanceFilter{WarehouseIDs: []string{"1", "2"}, AccountID: "7", ProductCodes: []string{"SKU-1", "Cafe\u0301"}}
	stock := StockQuery{Status: StatusHeld, WarehouseID: "1", ProductCodes: []string{"SKU-1"}, AccountID: "7", First: 100, After: "YQ"}
	stockFilter := map[string]any{"status": map[string]any{"eq": stock.Status}, "warehouse_id": map[string]any{"eq": stock.WarehouseID},
		"product_code": map[string]any{"in": stock.ProductCodes}, "account_id": map[string]any{"eq": stock.AccountID}}
	return map[string]struct {
		doc, op string
		vars    map[string]any
	}{
		"balances, full sweep":         {stockBalancesQuery, "LockstepStockBalances", pageVars(BalanceFilter{WarehouseIDs: []string{"1"}}.vars(), 100, "")},
		"balances, by product code":    {stockBalancesQuery, "LockstepStockBalances", pageVars(full.vars(), 100, "YQ")},
		"balances, no filter":          {stockBalancesQuery, "LockstepStockBalances", pageVars(BalanceFilter{}.vars(), 1, "")},
		"held stock":                   {heldStockQuery, "LockstepHeldStock", pageVars(stockFilter, stock.First, stock.After)},
		"warehouses of the configured": {warehousesQuery, "LockstepWarehouses", pageVars(map[string]any{"code": map[string]any{"in": []string{"WH1"}}}, 100, "")},
	}
}

func TestQueriesFollowTheDocumentation(t *testing.T) {
	documented, err := Schema(false)
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range sentRequests() {
		doc, errs := gqlparser.LoadQueryWithRules(documented, req.doc, rules.NewDefaultRules())
		if len(errs) > 0 {
			t.Errorf("%s: the document uses what the documentation does not show: %v", name, errs)
			continue
		}
		op := doc.Operations.ForName(req.op)
		if op == nil {
			t.Errorf("%s: no operation %s", name, req.op)
			continue
		}
		// Through JSON, as the variables travel.
		b, _ := json.Marshal(req.vars)
		var vars map[string]any
		_ = json.Unmarshal(b, &vars)
		if _, err := validator.VariableValues(documented, op, vars); err != nil {
			t.Errorf("%s: the variables use what the documentation does not show: %v (%s)", name, err, b)
		}
	}
}

// The marker does what clarus.graphql says: removing the marked lines
// leaves a valid schema without exactly those declarations, and both
// schemas load.
func TestSchemaMarkers(t *testing.T) {
	documented, err := Schema(false)
	if err != nil {
		t.Fatal(err)
	}
	full, err := Schema(true)
	if err != nil {
		t.Fatal(err)
	}
	assumed := AssumedLines()
	if len(assumed) == 0 {
		t.Fatal("no line of clarus.graphql is marked assumed")
	}
	for l := range strings.Lines(DocumentedSDL()) {
		if strings.HasSuffix(strings.TrimSpace(l), AssumedMarker) {
			t.Fatalf("the documented schema keeps the assumed line %q", l)
		}
	}
	for _, want := range []string{"on_hand: Int!", "held: Int!", "updated_at: ISO8601DateTime!", "code: String!", "updated_at: DatetimeInputType", "gt: ISO8601DateTime"} {
		if !slices.Contains(assumed, want) {
			t.Errorf("%q is not marked assumed", want)
		}
	}
	// What the issue names as undocumented is absent from the documented
	// schema and present in the full one.
	for typ, fields := range map[string][]string{
		"StockBalance":            {"on_hand", "held", "updated_at", "id"},
		"BalanceWarehouse":        {"code"},
		"StockBalancesFilterType": {"updated_at", "warehouse_code"},
		"DatetimeInputType":       {"gt", "gteq", "lt", "lteq"},
	} {
		for _, f := range fields {
			if documented.Types[typ].Fields.ForName(f) != nil {
				t.Errorf("%s.%s is in the documented schema", typ, f)
			}
			if full.Types[typ].Fields.ForName(f) == nil {
				t.Errorf("%s.%s is missing from the full schema", typ, f)
			}
		}
	}
	// And the documented fields the sweep reads are there.
	for typ, fields := range map[string][]string{
		"StockBalance":            {"available", "allocated", "ordered", "received", "picked", "product", "account", "warehouse"},
		"Stock":                   {"id", "quantity", "status", "product", "location", "account"},
		"StockBalancesFilterType": {"product_code", "warehouse_id", "account_id"},
		"StockFilterType":         {"status", "warehouse_id", "product_code", "account_id"},
		"StringInputType":         {"eq", "ilike", "like", "in", "between"},
		"DatetimeInputType":       {"eq", "from", "to", "between"},
	} {
		for _, f := range fields {
			if documented.Types[typ].Fields.ForName(f) == nil {
				t.Errorf("%s.%s is missing from the documented schema", typ, f)
			}
		}
	}
}

// The documents of the previous sweep fail the contract: the test can see
// what it guards against.
func TestContractRefusesAssumedQueries(t *testing.T) {
	documented, err := Schema(false)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`query { stock_balances { all { edges { node { on_hand held updated_at } } } } }`,
		`query { stock_balances { all { edges { node { warehouse { code } } } } } }`,
		`query { stock_balances { all(filter: {updated_at: {gt: "2026-01-01T00:00:00Z"}}) { edges { cursor } } } }`,
	} {
		if _, errs := gqlparser.LoadQueryWithRules(documented, q, rules.NewDefaultRules()); len(errs) == 0 {
			t.Errorf("%s passed the contract", q)
		}
	}
}
