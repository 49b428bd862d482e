package clarussim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

// The GraphQL executor: stock_balances { all(filter, first, after) } as a
// Relay connection, answering exactly the fields asked for and GraphQL
// errors for everything else.

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
		"stock_balances": {object: true, resolve: x.stockBalances},
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

// encodeCursor makes the opaque cursor of a balance: its position in the
// (sku, warehouse) order, which updates do not move.
func encodeCursor(k skuKey) string {
	return base64.RawURLEncoding.EncodeToString([]byte(k.SKU + "\x00" + k.Warehouse))
}

func decodeCursor(c string) (skuKey, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return skuKey{}, false
	}
	sku, wh, ok := strings.Cut(string(b), "\x00")
	return skuKey{sku, wh}, ok
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
