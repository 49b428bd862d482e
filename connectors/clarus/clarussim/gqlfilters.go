package clarussim

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The filter operators of the documented filter input types: String (eq,
// in, like, ilike), Id (eq, in, gt, gteq, lt, lteq) and Datetime (eq, from,
// to, between; gt, gteq, lt and lteq are an assumed extension that
// lockstep's sweep uses).

func stringFilter(ops map[string]any, get func(*store, skuKey, *balance) string) (balancePred, error) {
	var preds []func(string) bool
	for op, v := range ops {
		switch op {
		case "eq":
			want, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("eq: expected a String")
			}
			preds = append(preds, func(s string) bool { return s == want })
		case "in":
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("in: expected a list of String")
			}
			var want []string
			for _, e := range list {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("in: expected a list of String")
				}
				want = append(want, s)
			}
			preds = append(preds, func(s string) bool { return slices.Contains(want, s) })
		case "like", "ilike":
			pat, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("%s: expected a String", op)
			}
			expr := "^" + strings.NewReplacer("%", ".*", "_", ".").Replace(regexp.QuoteMeta(pat)) + "$"
			if op == "ilike" {
				expr = "(?i)" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", op, err)
			}
			preds = append(preds, re.MatchString)
		default:
			return nil, fmt.Errorf("unknown operator %q for String", op)
		}
	}
	return func(st *store, k skuKey, b *balance) bool {
		s := get(st, k, b)
		for _, p := range preds {
			if !p(s) {
				return false
			}
		}
		return true
	}, nil
}

func idFilter(ops map[string]any, get func(*store, skuKey, *balance) int64) (balancePred, error) {
	var preds []func(int64) bool
	for op, v := range ops {
		if op == "in" {
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("in: expected a list of ID")
			}
			var want []int64
			for _, e := range list {
				n, ok := idValue(e)
				if !ok {
					return nil, fmt.Errorf("in: expected a list of ID")
				}
				want = append(want, n)
			}
			preds = append(preds, func(id int64) bool { return slices.Contains(want, id) })
			continue
		}
		n, ok := idValue(v)
		if !ok {
			return nil, fmt.Errorf("%s: expected an ID", op)
		}
		cmp, ok := compare[op]
		if !ok {
			return nil, fmt.Errorf("unknown operator %q for ID", op)
		}
		preds = append(preds, func(id int64) bool { return cmp(id, n) })
	}
	return func(st *store, k skuKey, b *balance) bool {
		id := get(st, k, b)
		for _, p := range preds {
			if !p(id) {
				return false
			}
		}
		return true
	}, nil
}

var compare = map[string]func(a, b int64) bool{
	"eq":   func(a, b int64) bool { return a == b },
	"gt":   func(a, b int64) bool { return a > b },
	"gteq": func(a, b int64) bool { return a >= b },
	"lt":   func(a, b int64) bool { return a < b },
	"lteq": func(a, b int64) bool { return a <= b },
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

func timeFilter(ops map[string]any) (balancePred, error) {
	var preds []func(time.Time) bool
	for op, v := range ops {
		if op == "between" {
			list, ok := v.([]any)
			if !ok || len(list) != 2 {
				return nil, fmt.Errorf("between: expected a list of two Datetime")
			}
			lo, err1 := parseTime(list[0])
			hi, err2 := parseTime(list[1])
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("between: expected a list of two Datetime")
			}
			preds = append(preds, func(t time.Time) bool { return !t.Before(lo) && !t.After(hi) })
			continue
		}
		at, err := parseTime(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", op, err)
		}
		switch op {
		case "eq":
			preds = append(preds, func(t time.Time) bool { return t.Equal(at) })
		case "from", "gteq":
			preds = append(preds, func(t time.Time) bool { return !t.Before(at) })
		case "to", "lteq":
			preds = append(preds, func(t time.Time) bool { return !t.After(at) })
		case "gt":
			preds = append(preds, func(t time.Time) bool { return t.After(at) })
		case "lt":
			preds = append(preds, func(t time.Time) bool { return t.Before(at) })
		default:
			return nil, fmt.Errorf("unknown operator %q for Datetime", op)
		}
	}
	return func(_ *store, _ skuKey, b *balance) bool {
		for _, p := range preds {
			if !p(b.UpdatedAt) {
				return false
			}
		}
		return true
	}, nil
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
