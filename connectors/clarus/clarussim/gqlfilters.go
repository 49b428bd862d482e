package clarussim

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The filter operators of the documented input types (String: eq, ilike,
// like, in, between; Id: eq, in, gt, gteq, lt, lteq, filled; Decimal and
// Integer: eq, gt, gteq, lt, lteq, between; Datetime: eq, from, to, between, and the
// assumed gt, gteq, lt, lteq). Which fields and operators a query may use
// is checked before, against clarus.graphql; these compile what passed.

type rowPred func(gqlRow) bool

// compileFilter compiles a filter input object of typ.
func compileFilter(typ string, spec filterSpec, v any) (rowPred, error) {
	if v == nil {
		return func(gqlRow) bool { return true }, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("expected an input object")
	}
	var preds []rowPred
	for _, field := range slices.Sorted(maps.Keys(m)) {
		ops := m[field]
		if ops == nil {
			continue
		}
		inputType, ok := spec[field]
		if !ok {
			return nil, fmt.Errorf("unknown field %q of %s", field, typ)
		}
		om, ok := ops.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: expected an input object of operators", field)
		}
		for _, op := range slices.Sorted(maps.Keys(om)) {
			p, err := operator(inputType, op, om[op])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", field, err)
			}
			f := field
			preds = append(preds, func(r gqlRow) bool { return p(r.value(f)) })
		}
	}
	return func(r gqlRow) bool {
		for _, p := range preds {
			if !p(r) {
				return false
			}
		}
		return true
	}, nil
}

// operator compiles one operator of an input type into a predicate on a
// row's value.
func operator(inputType, op string, arg any) (func(any) bool, error) {
	if op == "filled" && inputType == "Id" {
		want, ok := arg.(bool)
		if !ok {
			return nil, fmt.Errorf("filled: expected a Boolean")
		}
		return func(v any) bool { return (v != nil) == want }, nil
	}
	conv := map[string]func(any) (any, bool){
		"String": func(a any) (any, bool) { s, ok := a.(string); return s, ok },
		"Id":     func(a any) (any, bool) { n, ok := idValue(a); return n, ok },
		"Decimal": func(a any) (any, bool) {
			if n, ok := toInt(a); ok {
				return float64(n), true
			}
			f, ok := a.(float64)
			return f, ok
		},
		"Datetime": func(a any) (any, bool) { t, err := parseTime(a); return t, err == nil },
		"Integer":  func(a any) (any, bool) { return toInt(a) },
	}[inputType]
	if conv == nil {
		return nil, fmt.Errorf("unknown input type %s", inputType)
	}
	one := func() (any, error) {
		w, ok := conv(arg)
		if !ok {
			return nil, fmt.Errorf("%s: expected a %s", op, inputType)
		}
		return w, nil
	}
	list := func() ([]any, error) {
		l, ok := arg.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: expected a list of %s", op, inputType)
		}
		out := make([]any, len(l))
		for i, e := range l {
			w, ok := conv(e)
			if !ok {
				return nil, fmt.Errorf("%s: expected a list of %s", op, inputType)
			}
			out[i] = w
		}
		return out, nil
	}
	cmpTo := func(test func(int) bool) (func(any) bool, error) {
		w, err := one()
		if err != nil {
			return nil, err
		}
		return func(v any) bool { c, ok := compareValues(v, w); return ok && test(c) }, nil
	}
	switch {
	case op == "eq":
		return cmpTo(func(c int) bool { return c == 0 })
	case op == "in" && (inputType == "String" || inputType == "Id"):
		l, err := list()
		if err != nil {
			return nil, err
		}
		return func(v any) bool {
			return slices.ContainsFunc(l, func(w any) bool { c, ok := compareValues(v, w); return ok && c == 0 })
		}, nil
	case op == "between" && inputType != "Id":
		l, err := list()
		if err != nil || len(l) != 2 {
			return nil, fmt.Errorf("between: expected a list of two %s", inputType)
		}
		return func(v any) bool {
			lo, ok1 := compareValues(v, l[0])
			hi, ok2 := compareValues(v, l[1])
			return ok1 && ok2 && lo >= 0 && hi <= 0
		}, nil
	case (op == "like" || op == "ilike") && inputType == "String":
		pat, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("%s: expected a String", op)
		}
		// Clarus documents like and ilike as partial matches: % and _ are
		// SQL wildcards, and a pattern without them matches anywhere.
		expr := strings.NewReplacer("%", ".*", "_", ".").Replace(regexp.QuoteMeta(pat))
		if op == "ilike" {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", op, err)
		}
		return func(v any) bool { s, ok := v.(string); return ok && re.MatchString(s) }, nil
	case inputType == "Datetime" && (op == "from" || op == "to"):
		if op == "from" {
			return cmpTo(func(c int) bool { return c >= 0 })
		}
		return cmpTo(func(c int) bool { return c <= 0 })
	case inputType != "String" && op == "gt":
		return cmpTo(func(c int) bool { return c > 0 })
	case inputType != "String" && op == "gteq":
		return cmpTo(func(c int) bool { return c >= 0 })
	case inputType != "String" && op == "lt":
		return cmpTo(func(c int) bool { return c < 0 })
	case inputType != "String" && op == "lteq":
		return cmpTo(func(c int) bool { return c <= 0 })
	}
	return nil, fmt.Errorf("unknown operator %q for %s", op, inputType)
}

// compareValues compares a row's value with an operand of the same kind.
func compareValues(v, w any) (int, bool) {
	switch a := v.(type) {
	case string:
		b, ok := w.(string)
		return strings.Compare(a, b), ok
	case int64:
		switch b := w.(type) {
		case int64:
			return cmp.Compare(a, b), true
		case float64:
			return cmp.Compare(float64(a), b), true
		}
	case time.Time:
		b, ok := w.(time.Time)
		if !ok || a.IsZero() {
			return 0, false
		}
		return a.Compare(b), true
	}
	return 0, false
}

// idValue accepts an ID as GraphQL does: a string or an integer.
func idValue(v any) (int64, bool) {
	if s, ok := v.(string); ok {
		var n int64
		_, err := fmt.Sscanf(s, "%d", &n)
		return n, err == nil && fmt.Sprint(n) == s
	}
	return toInt(v)
}

func parseTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("expected an ISO 8601 Datetime string")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expected an ISO 8601 Datetime string, got %q", s)
	}
	return t, nil
}

// sortRows sorts rows by sort key.
func sortRows(rows []gqlRow) {
	slices.SortFunc(rows, func(a, b gqlRow) int { return strings.Compare(a.sortKey(), b.sortKey()) })
}
