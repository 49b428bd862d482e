package clarus

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// The order sink's GraphQL documents, with the variables it sends, are
// valid against clarus.graphql without its assumed lines: what Clarus's
// documentation shows (contract_test.go does the same for the sweep's).
func TestGoodsOutQueriesFollowTheDocumentation(t *testing.T) {
	documented, err := Schema(false)
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]struct {
		doc, op string
		vars    map[string]any
	}{
		"products by code":       {productsQuery, "LockstepProducts", pageVars(map[string]any{"code": map[string]any{"in": []string{"SKU-1"}}}, lookupPageSize, "")},
		"goods outs by ref":      {goodsOutsQuery, "LockstepGoodsOuts", pageVars(map[string]any{"reference": map[string]any{"eq": "SO-1"}}, lookupPageSize, "YQ")},
		"lines of the goods out": {goodsOutLinesQuery, "LockstepGoodsOutLines", pageVars(map[string]any{"goods_out_id": map[string]any{"in": []string{"1", "2"}}}, lookupPageSize, "")},
	} {
		doc, errs := gqlparser.LoadQueryWithRules(documented, req.doc, rules.NewDefaultRules())
		if len(errs) > 0 {
			t.Errorf("%s: the document uses what the documentation does not show: %v", name, errs)
			continue
		}
		b, _ := json.Marshal(req.vars)
		var vars map[string]any
		_ = json.Unmarshal(b, &vars)
		if _, err := validator.VariableValues(documented, doc.Operations.ForName(req.op), vars); err != nil {
			t.Errorf("%s: the variables use what the documentation does not show: %v (%s)", name, err, b)
		}
	}
}

// The create body carries what the documentation requires
// (core-resources/goods-out) in the JSON:API envelope, and leaves out
// the optional fields it has no value for.
func TestNewGoodsOutBody(t *testing.T) {
	g := NewGoodsOut{Reference: "SO-1", AccountID: "1", WarehouseID: "2", ExpectedDispatch: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		ExternalRefs: [3]string{"SO-1"}, Strings: [5]string{"v3"},
		Address: &Address{Name: "A", Line1: "1 St", Town: "Leeds", Postcode: "LS1", CountryCode: "GB"},
		Lines:   []NewGoodsOutLine{{ProductID: "7", Quantity: 2}}}
	b, _ := json.Marshal(g.body())
	for _, want := range []string{`"type":"goods_outs"`, `"goods_out_type":"sales_order"`, `"account_id":1`, `"warehouse_id":2`,
		`"expected_date_of_dispatch":"2026-03-02T09:00:00Z"`, `"reference":"SO-1"`, `"external_system_reference1":"SO-1"`, `"string1":"v3"`,
		`"lines_changes":[{"attributes":{"order_quantity":2,"product_id":7},"type":"ADD"}]`,
		`"relationships":{"address":{"data":{"attributes":{"address_1":"1 St","address_3":"Leeds","country_code":"GB","name":"A","postcode":"LS1"},"type":"addresses"}}}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("body lacks %s: %s", want, b)
		}
	}
	for _, absent := range []string{"string2", "external_system_reference2", "address_2", "address_4"} {
		if strings.Contains(string(b), absent) {
			t.Errorf("body sends the empty %s: %s", absent, b)
		}
	}
}
