package clarus

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// The shipment reads cannot follow the documentation alone: it shows a
// shipment's status and carrier, nothing that ties a shipment to its goods
// out or says when it left. shipmentAssumptions are the assumed
// declarations of clarus.graphql they may use, and no others: a new
// dependency on an undocumented field fails here until it is listed, and
// each listed one is a question for Clarus before going live.
var shipmentAssumptions = []string{
	"filter: ShipmentsFilterType",
	"id: ID!",
	"dispatched_at: ISO8601DateTime",
	"tracking_number: String",
	"goods_out: GoodsOut!",
	"shipment_lines: [ShipmentLine!]!",
	"type ShipmentLine { id: ID! quantity: Int! product: Product! }",
	"input ShipmentsFilterType { goods_out_id: IdInputType dispatched_at: DatetimeInputType }",
}

// schemaWith is clarus.graphql without its assumed lines but those
// declaring keep (the line's declaration, trimmed).
func schemaWith(t *testing.T, keep []string) *ast.Schema {
	t.Helper()
	var b strings.Builder
	for l := range strings.Lines(SchemaSDL) {
		decl, assumed := strings.CutSuffix(strings.TrimSpace(l), AssumedMarker)
		if assumed && !slices.Contains(keep, strings.TrimSpace(decl)) {
			continue
		}
		b.WriteString(l)
	}
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "clarus.graphql", Input: b.String()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestShipmentQueriesUseOnlyTheListedAssumptions(t *testing.T) {
	for _, a := range shipmentAssumptions {
		if !slices.Contains(AssumedLines(), a) {
			t.Errorf("%q is listed but not marked assumed in clarus.graphql", a)
		}
	}
	from := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	reqs := map[string]map[string]any{
		"of a goods out":     ShipmentQuery{GoodsOutIDs: []string{"77"}, First: 100}.vars(),
		"of two goods outs":  ShipmentQuery{GoodsOutIDs: []string{"77", "78"}, First: 100, After: "YQ"}.vars(),
		"dispatched since":   ShipmentQuery{From: from, First: 100}.vars(),
		"no filter":          ShipmentQuery{First: 1}.vars(),
		"lines of the goods": pageVars(map[string]any{"goods_out_id": map[string]any{"in": []string{"1"}}}, lookupPageSize, ""),
	}
	allowed := schemaWith(t, shipmentAssumptions)
	documented, err := Schema(false)
	if err != nil {
		t.Fatal(err)
	}
	for name, vars := range reqs {
		q, op := shipmentsQuery, "LockstepShipments"
		if name == "lines of the goods" {
			q, op = goodsOutLinesQuery, "LockstepGoodsOutLines"
		}
		doc, errs := gqlparser.LoadQueryWithRules(allowed, q, rules.NewDefaultRules())
		if len(errs) > 0 {
			t.Errorf("%s: the document uses an assumption not listed: %v", name, errs)
			continue
		}
		b, _ := json.Marshal(vars)
		var v map[string]any
		_ = json.Unmarshal(b, &v)
		if _, err := validator.VariableValues(allowed, doc.Operations.ForName(op), v); err != nil {
			t.Errorf("%s: the variables use an assumption not listed: %v (%s)", name, err, b)
		}
		// Datetime filters take the documented operators only (not the
		// assumed gt), even where assumed fields are allowed.
		if strings.Contains(string(b), `"gt"`) || strings.Contains(string(b), `"gteq"`) {
			t.Errorf("%s: an assumed Datetime operator: %s", name, b)
		}
	}
	// The shipment document does need the assumptions: against the
	// documentation alone it fails (so the list above is not stale), while
	// the goods-out lines document stays documented.
	if _, errs := gqlparser.LoadQueryWithRules(documented, shipmentsQuery, rules.NewDefaultRules()); len(errs) == 0 {
		t.Error("the shipments document passes the documented schema: drop what it no longer assumes from shipmentAssumptions")
	}
	if _, errs := gqlparser.LoadQueryWithRules(documented, goodsOutLinesQuery, rules.NewDefaultRules()); len(errs) > 0 {
		t.Errorf("goods-out lines: %v", errs)
	}
	for _, a := range shipmentAssumptions {
		rest := slices.DeleteFunc(slices.Clone(shipmentAssumptions), func(s string) bool { return s == a })
		if strings.HasPrefix(a, "type ") || strings.HasPrefix(a, "input ") {
			continue // removing a type breaks the schema's own references, not the query
		}
		if _, errs := gqlparser.LoadQueryWithRules(schemaWith(t, rest), shipmentsQuery, rules.NewDefaultRules()); len(errs) == 0 {
			t.Errorf("the shipments document does not use %q: drop it from shipmentAssumptions", a)
		}
	}
}
