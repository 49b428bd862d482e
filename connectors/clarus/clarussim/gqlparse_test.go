package clarussim

import (
	"errors"
	"testing"
	"time"
)

func FuzzParseGraphQL(f *testing.F) {
	for _, q := range []string{
		`query Q($f: StockBalancesFilterType = {updated_at: {gt: "2026-01-01T00:00:00Z"}}, $n: Int!) { stock_balances { all(filter: $f, first: $n) { edges { cursor node { product { code } } } pageInfo { hasNextPage endCursor } } } }`,
		`{ a: stock_balances { all(first: 1.5e3, after: "x\u0041\n") { nodes { id } } } }`,
		`# comment
		{ stock_balances { all(filter: {product_code: {in: ["a", "b"]}}) { totalCount } } }`,
		`"""block""" { x }`, `{ ...F }`, `query { x @skip(if: true) }`, `{`, `[`, "\ufeff{ x }",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		ops, err := parseGraphQL(q)
		if err != nil {
			var ge *gqlError
			if !errors.As(err, &ge) || ge.Message == "" {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if len(ops) == 0 {
			t.Fatal("no operation and no error")
		}
		for _, op := range ops {
			if len(op.Sel) == 0 {
				t.Fatal("an operation without a selection")
			}
		}
	})
}

func TestParseGraphQLLiterals(t *testing.T) {
	ops, err := parseGraphQL(`query Q($a: [Int!]! = [1], $b: String) {
		x: f(s: "a\"\u00e9\n", b: """ block """, i: -12, fl: 1.5e2, t: true, n: null, e: ENUM, l: [1 "2"], o: {k: $b}) { g }
	}`)
	if err != nil {
		t.Fatal(err)
	}
	op := ops[0]
	if op.Name != "Q" || len(op.Vars) != 2 || op.Vars[0].Type != "[Int!]" || !op.Vars[0].NonNull || !op.Vars[0].HasDefault || op.Vars[1].NonNull {
		t.Fatalf("operation %+v", op)
	}
	f := op.Sel[0]
	got := map[string]any{}
	for _, a := range f.Args {
		got[a.Name] = a.Value
	}
	if f.Alias != "x" || f.Name != "f" || got["s"] != "a\"é\n" || got["b"] != "block" || got["i"] != int64(-12) || got["fl"] != 150.0 ||
		got["t"] != true || got["n"] != nil || got["e"] != gqlEnum("ENUM") || got["o"].(map[string]any)["k"] != gqlVar("b") ||
		len(got["l"].([]any)) != 2 || len(f.Sel) != 1 {
		t.Fatalf("field %+v args %v", f, got)
	}
	for _, bad := range []string{`{ f(s: "unterminated) }`, `{ f(i: 99999999999999999999) }`, `{ f(i: 1.) }`, `{}`, ``, `{ f(s: "\q") }`, `{ f } }`} {
		if _, err := parseGraphQL(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestTicks(t *testing.T) {
	frozen := time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.UTC)
	s, err := New(Config{ClientID: "c", ClientSecret: "s", Subdomain: "d"}, WithClock(func() time.Time { return frozen }))
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	a, b := s.tick(), s.tick()
	s.mu.Unlock()
	if !a.Equal(frozen.Truncate(time.Millisecond)) || b.Sub(a) != time.Millisecond {
		t.Fatalf("ticks %v %v under a frozen clock", a, b)
	}
}
