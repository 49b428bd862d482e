package clarussim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

// The GraphQL endpoint: a request is first validated against
// clarus.graphql (in strict mode without its assumed declarations), as
// Clarus's own GraphQL server validates against its schema; then executed
// over stock_balances, stocks, warehouses, products, goods_outs,
// goods_out_lines, shipments, goods_in_receipts and product_storage_units,
// each a Relay connection,
// answering exactly the fields asked for.

const (
	defaultPageSize = 25  // assumed
	maxPageSize     = 100 // assumed: larger requests are clamped, as graphql-ruby's max_page_size does
)

type gqlRequest struct {
	Query         string         `json:"query"`
	Variables     map[string]any `json:"variables"`
	OperationName string         `json:"operationName"`
}

func (s *Sim) handleGraphQL(w http.ResponseWriter, r *http.Request) {
	var req gqlRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 256<<10))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		simkit.WriteJSON(w, http.StatusBadRequest, gqlErrors(&gqlError{Message: "Invalid request body: " + err.Error()}))
		return
	}
	if errs := s.validate(req); len(errs) > 0 {
		simkit.WriteJSON(w, http.StatusOK, gqlErrorList(errs))
		return
	}
	ops, err := parseGraphQL(req.Query)
	if err != nil {
		simkit.WriteJSON(w, http.StatusOK, gqlErrors(err))
		return
	}
	op, err := pickOperation(ops, req.OperationName)
	if err != nil {
		simkit.WriteJSON(w, http.StatusOK, gqlErrors(err))
		return
	}
	vars, err := coerceVariables(op, req.Variables)
	if err != nil {
		simkit.WriteJSON(w, http.StatusOK, gqlErrors(err))
		return
	}
	s.mu.Lock()
	readAt := s.tick()
	x := &executor{s: s, vars: vars}
	data, err := selectObject("Query", op.Sel, map[string]gqlResolver{
		"stock_balances":        x.root("StockBalancesQuery", "StockBalancesFilterType", balanceFilters, x.balanceRows),
		"stocks":                x.root("StocksQuery", "StockFilterType", stockFilters, x.stockRows),
		"warehouses":            x.root("WarehousesQuery", "WarehouseFilterType", warehouseFilters, x.warehouseRows),
		"products":              x.root("ProductsQuery", "ProductsFilterType", productFilters, x.productRows),
		"goods_outs":            x.root("GoodsOutsQuery", "GoodsOutsFilterType", goodsOutFilters, x.goodsOutRows),
		"goods_out_lines":       x.root("GoodsOutLinesQuery", "GoodsOutLineFilterType", goodsOutLineFilters, x.goodsOutLineRows),
		"shipments":             x.root("ShipmentsQuery", "ShipmentsFilterType", shipmentFilters, x.shipmentRows),
		"goods_in_receipts":     x.root("GoodsInReceiptsQuery", "InboundGoodFilterType", goodsInFilters, x.goodsInRows),
		"product_storage_units": x.root("ProductStorageUnitsQuery", "ProductStorageUnitFilterType", unitFilters, x.unitRows),
	})
	s.mu.Unlock()
	if err != nil {
		simkit.WriteJSON(w, http.StatusOK, gqlErrors(err))
		return
	}
	// read_at is an assumed extension: the server's clock when the page was
	// read, so a snapshot can say as of when it holds.
	simkit.WriteJSON(w, http.StatusOK, obj{{"data", data}, {"extensions", obj{{"read_at", readAt.Format(time.RFC3339Nano)}}}})
}

// validate checks the request against the schema the simulator serves:
// clarus.graphql, without the assumed declarations unless AllowAssumed.
func (s *Sim) validate(req gqlRequest) gqlerror.List {
	schema, err := clarus.Schema(s.cfg.AllowAssumed)
	if err != nil {
		return gqlerror.List{gqlerror.Wrap(err)}
	}
	doc, errs := gqlparser.LoadQueryWithRules(schema, req.Query, rules.NewDefaultRules())
	if len(errs) > 0 {
		return errs
	}
	op := doc.Operations.ForName(req.OperationName)
	if op == nil {
		return nil // no such operation, or several: the executor says which
	}
	if _, err := validator.VariableValues(schema, op, req.Variables); err != nil {
		var ge *gqlerror.Error
		if errors.As(err, &ge) {
			return gqlerror.List{ge}
		}
		return gqlerror.List{gqlerror.Wrap(err)}
	}
	return nil
}

func gqlErrorList(errs gqlerror.List) obj {
	var out []obj
	for _, e := range errs {
		text := e.Message
		if len(e.Path) > 0 {
			text = e.Path.String() + ": " + text
		}
		msg := obj{{"message", text}}
		if len(e.Locations) > 0 {
			msg = append(msg, kv{"locations", []obj{{{"line", e.Locations[0].Line}, {"column", e.Locations[0].Column}}}})
		}
		out = append(out, msg)
	}
	return obj{{"errors", out}}
}

func gqlErrors(err error) obj {
	e, ok := err.(*gqlError)
	if !ok {
		e = &gqlError{Message: err.Error()}
	}
	msg := obj{{"message", e.Message}}
	if e.Line > 0 {
		msg = append(msg, kv{"locations", []obj{{{"line", e.Line}, {"column", e.Col}}}})
	}
	return obj{{"errors", []obj{msg}}}
}

func errAt(f *gqlField, format string, args ...any) error {
	return &gqlError{Message: fmt.Sprintf(format, args...), Line: f.Line, Col: f.Col}
}

func pickOperation(ops []*gqlOp, name string) (*gqlOp, error) {
	var op *gqlOp
	switch {
	case name != "":
		for _, o := range ops {
			if o.Name == name {
				op = o
			}
		}
		if op == nil {
			return nil, &gqlError{Message: fmt.Sprintf("Unknown operation named %q", name)}
		}
	case len(ops) == 1:
		op = ops[0]
	default:
		return nil, &gqlError{Message: "An operation name is required when the document holds several operations"}
	}
	if op.Kind != "query" {
		return nil, &gqlError{Message: fmt.Sprintf("Schema is not configured for %ss", op.Kind)}
	}
	return op, nil
}

func coerceVariables(op *gqlOp, given map[string]any) (map[string]any, error) {
	vars := map[string]any{}
	for _, v := range op.Vars {
		val, ok := given[v.Name]
		if !ok && v.HasDefault {
			val, ok = v.Default, true
		}
		if v.NonNull && (!ok || val == nil) {
			return nil, &gqlError{Message: fmt.Sprintf("Variable $%s of type %s! was provided invalid value", v.Name, v.Type)}
		}
		vars[v.Name] = val
	}
	return vars, nil
}

// obj is a JSON object that keeps its keys in selection order.
type obj []kv

type kv struct {
	K string
	V any
}

// MarshalJSON implements json.Marshaler.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.K)
		v, err := json.Marshal(e.V)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type gqlResolver struct {
	object  bool
	args    []string
	resolve func(f *gqlField) (any, error)
}

// selectObject answers sel against the fields of type typ.
func selectObject(typ string, sel []*gqlField, fields map[string]gqlResolver) (obj, error) {
	out := make(obj, 0, len(sel))
	for _, f := range sel {
		key := f.Alias
		if key == "" {
			key = f.Name
		}
		if f.Name == "__typename" {
			out = append(out, kv{key, typ})
			continue
		}
		r, ok := fields[f.Name]
		switch {
		case !ok:
			return nil, errAt(f, "Field '%s' doesn't exist on type '%s'", f.Name, typ)
		case r.object && !f.HasSel:
			return nil, errAt(f, "Field must have selections (field '%s' on type '%s')", f.Name, typ)
		case !r.object && f.HasSel:
			return nil, errAt(f, "Selections can't be made on scalars (field '%s' on type '%s')", f.Name, typ)
		}
		for _, a := range f.Args {
			if !slices.Contains(r.args, a.Name) {
				return nil, errAt(f, "Field '%s' doesn't accept argument '%s'", f.Name, a.Name)
			}
		}
		v, err := r.resolve(f)
		if err != nil {
			return nil, err
		}
		out = append(out, kv{key, v})
	}
	return out, nil
}

// resolveValue replaces variables in an argument value.
func (x *executor) resolveValue(f *gqlField, v any) (any, error) {
	switch t := v.(type) {
	case gqlVar:
		val, ok := x.vars[string(t)]
		if !ok {
			return nil, errAt(f, "Variable $%s is used by %s but not declared", t, f.Name)
		}
		return val, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := x.resolveValue(f, e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			r, err := x.resolveValue(f, e)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}
