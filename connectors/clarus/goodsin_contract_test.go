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

// The goods-in reads cannot follow the documentation alone: it shows a
// receipt's header, not its lines, and no filter on when it was received.
// receiptAssumptions are the assumed declarations of clarus.graphql they
// may use, and no others (shipments_contract_test.go does the same for the
// shipment reads); the storage unit read is documented.
var receiptAssumptions = []string{
	"lines: [GoodsInReceiptLine!]!",
	"type GoodsInReceiptLine { id: ID! expected_quantity: Int! received_quantity: Int! product: Product! }",
	"actual_date_of_receipt: DatetimeInputType",
}

// sentRequest is a document the client sends, with representative
// variables.
type sentRequest struct {
	doc, op string
	vars    map[string]any
}

// validAgainst reports whether schema takes req, variables included
// (through JSON, as they travel).
func validAgainst(schema *ast.Schema, req sentRequest) bool {
	doc, errs := gqlparser.LoadQueryWithRules(schema, req.doc, rules.NewDefaultRules())
	if len(errs) > 0 {
		return false
	}
	b, _ := json.Marshal(req.vars)
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	_, err := validator.VariableValues(schema, doc.Operations.ForName(req.op), v)
	return err == nil
}

func TestGoodsInQueriesUseOnlyTheListedAssumptions(t *testing.T) {
	for _, a := range receiptAssumptions {
		if !slices.Contains(AssumedLines(), a) {
			t.Errorf("%q is listed but not marked assumed in clarus.graphql", a)
		}
	}
	since := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	units := sentRequest{storageUnitsQuery, "LockstepStorageUnits",
		pageVars(map[string]any{"product_code": map[string]any{"in": []string{"A"}}, "priority": map[string]any{"eq": 0}}, lookupPageSize, "")}
	receipts := map[string]sentRequest{
		"by reference":    {goodsInReceiptsQuery, "LockstepGoodsInReceipts", pageVars(map[string]any{"reference": map[string]any{"eq": "PO-1"}}, lookupPageSize, "")},
		"completed since": {goodsInReceiptsQuery, "LockstepGoodsInReceipts", GoodsInQuery{From: since, First: 100, After: "YQ"}.vars()},
	}
	documented, err := Schema(false)
	if err != nil {
		t.Fatal(err)
	}
	if !validAgainst(documented, units) {
		t.Error("the storage units read uses what the documentation does not show")
	}
	allowed := schemaWith(t, receiptAssumptions)
	for name, req := range receipts {
		if !validAgainst(allowed, req) {
			t.Errorf("receipts %s: uses an assumption not listed", name)
		}
		// The receipt reads do need their assumptions: the list is not
		// stale.
		if validAgainst(documented, req) {
			t.Errorf("receipts %s passes the documented schema: drop what it no longer assumes from receiptAssumptions", name)
		}
		// Datetime filters take the documented operators only (not the
		// assumed gt), even where assumed fields are allowed.
		if b, _ := json.Marshal(req.vars); strings.Contains(string(b), `"gt"`) || strings.Contains(string(b), `"gteq"`) {
			t.Errorf("receipts %s: an assumed Datetime operator: %s", name, b)
		}
	}
	for _, a := range receiptAssumptions {
		if strings.HasPrefix(a, "type ") {
			continue // removing a type breaks the schema's own references, not the query
		}
		narrower := schemaWith(t, slices.DeleteFunc(slices.Clone(receiptAssumptions), func(s string) bool { return s == a }))
		if validAgainst(narrower, receipts["by reference"]) && validAgainst(narrower, receipts["completed since"]) {
			t.Errorf("no goods-in read uses %q: drop it from receiptAssumptions", a)
		}
	}
}

// The create body carries what the documentation requires
// (core-resources/goods-in-receipt: account_id and warehouse_id) in the
// JSON:API envelope, each line its storage unit of priority 0, and leaves
// out the optional fields it has no value for; an update sends its line
// changes as documented (UPDATE and DESTROY by line id).
func TestNewGoodsInReceiptBody(t *testing.T) {
	at := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	g := NewGoodsInReceipt{Reference: "PO-1", AccountID: "1", WarehouseID: "2", ExpectedArrival: &at,
		ExternalRefs: [3]string{"PO-1"}, Strings: [5]string{"v3"},
		Lines: []NewGoodsInLine{{ProductID: "7", StorageUnitID: "70", Quantity: 5, LineNumber: "1"}}}
	b, _ := json.Marshal(g.body())
	for _, want := range []string{`"type":"goods_in_receipts"`, `"account_id":1`, `"warehouse_id":2`, `"reference":"PO-1"`,
		`"expected_date_of_arrival":"2026-03-09T08:00:00Z"`, `"external_system_reference1":"PO-1"`, `"string1":"v3"`,
		`"lines_changes":[{"attributes":{"alt_line_number":"1","expected_quantity":5,"product_id":7,"product_storage_unit_id":70},"type":"ADD"}]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("body lacks %s: %s", want, b)
		}
	}
	for _, absent := range []string{"string2", "external_system_reference2", "expected_date_of_receipt", "supplier_id"} {
		if strings.Contains(string(b), absent) {
			t.Errorf("body sends %s: %s", absent, b)
		}
	}
	u := GoodsInUpdate{Changes: []GoodsInLineChange{{Type: LineUpdate, ID: "9", Line: NewGoodsInLine{Quantity: 3}}, {Type: LineDestroy, ID: "10"}}}
	var ch []map[string]any
	for _, c := range u.Changes {
		ch = append(ch, c.body())
	}
	b, _ = json.Marshal(ch)
	if string(b) != `[{"attributes":{"expected_quantity":3},"id":9,"type":"UPDATE"},{"id":10,"type":"DESTROY"}]` {
		t.Fatalf("line changes %s", b)
	}
}
