package schemas

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// evolved says, for each schema with a previous version under
// testdata/previous, what a current reader sees in data written with the
// previous version: the sample with each added field at its default.
var evolved = map[string]func(Event){
	"StockMovement": func(e Event) { e.(*StockMovement).Reason = nil },
	"SalesOrder": func(e Event) {
		so := e.(*SalesOrder)
		so.Channel = nil
		for i := range so.Lines {
			so.Lines[i].Description = nil
		}
	},
	"Item":       func(e Event) { e.(*Item).Active = true }, // the sample has false
	"DeadLetter": func(e Event) { e.(*DeadLetter).Attempts = 1 },
	"DriftEvent": func(e Event) { e.(*DriftEvent).ShipmentID = nil },
	"Shipment": func(e Event) {
		s := e.(*Shipment)
		s.GoodsOutID, s.OrderComplete = "", false
		for i := range s.Lines {
			s.Lines[i].Picked = 0
		}
	},
	"OrderAck":           func(e Event) {},
	"StockLevel":         func(e Event) { e.(*StockLevel).OpenGoodsOut = 0 },
	"ClarusOrderCommand": func(e Event) {},
}

// TestCompatibleWithPrevious checks every schema that has a previous version:
// statically, against the evolution rule, and by decoding data the previous
// version wrote into the current Go type.
func TestCompatibleWithPrevious(t *testing.T) {
	files, err := filepath.Glob("testdata/previous/*.avsc")
	if err != nil || len(files) == 0 {
		t.Fatalf("no previous versions: %v", err)
	}
	ctx := context.Background()
	reg := NewMemRegistry()
	s := NewSerde(reg)
	for _, file := range files {
		short := strings.TrimSuffix(filepath.Base(file), ".avsc")
		t.Run(short, func(t *testing.T) {
			e, ok := catalogByName["lockstep.v1."+short]
			if !ok {
				t.Fatalf("%s has no current schema", file)
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			prev, err := parseSchema(string(raw))
			if err != nil {
				t.Fatal(err)
			}
			if problems := evolution(prev, e.typ, ""); len(problems) > 0 {
				t.Fatalf("breaks the evolution rule:\n%s", strings.Join(problems, "\n"))
			}

			apply, ok := evolved[short]
			if !ok {
				t.Fatalf("add %s to evolved: what the current type reads from previous data", short)
			}
			frame := encodeWith(t, reg, string(raw), prev, sampleOf(e.name))
			got, _ := NewEvent(e.name)
			if err := s.Decode(ctx, frame, got); err != nil {
				t.Fatal(err)
			}
			want := sampleOf(e.name)
			apply(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("previous data read as:\n %+v\nwant\n %+v", got, want)
			}
		})
	}
}

// A writer newer than the reader may add fields: the reader ignores them.
func TestDecodeIgnoresFieldsTheReaderLacks(t *testing.T) {
	e := catalogByName["lockstep.v1.StockMovement"]
	next := strings.Replace(e.text, `"fields":[`, `"fields":[{"name":"lot","type":"string","default":""},`, 1)
	typ, err := parseSchema(next)
	if err != nil {
		t.Fatal(err)
	}
	reg := NewMemRegistry()
	ev := sampleOf(e.name)
	native := nativeOf(t, ev)
	native.(map[string]any)["lot"] = "L-1"
	frame := encodeNative(t, reg, next, typ, native)
	var got StockMovement
	if err := NewSerde(reg).Decode(context.Background(), frame, &got); err != nil || !reflect.DeepEqual(&got, ev) {
		t.Errorf("got %+v, %v", got, err)
	}
}

// A writer that lacks a field the reader has no default for breaks the
// rule; the record is refused, not half-filled with zeros.
func TestDecodeRefusesMissingFieldWithoutDefault(t *testing.T) {
	e := catalogByName["lockstep.v1.StockMovement"]
	older := strings.Replace(e.text, `{"name":"warehouse","type":"string"},`, "", 1)
	typ, err := parseSchema(older)
	if err != nil || typ.field("warehouse") != nil {
		t.Fatalf("schema edit failed: %v", err)
	}
	reg := NewMemRegistry()
	frame := encodeWith(t, reg, older, typ, sampleOf(e.name))
	err = NewSerde(reg).Decode(context.Background(), frame, &StockMovement{})
	if !errors.Is(err, ErrIncompatible) {
		t.Errorf("got %v, want ErrIncompatible", err)
	}
	if problems := evolution(typ, e.typ, ""); len(problems) != 1 {
		t.Errorf("evolution found %q, want the one added field without default", problems)
	}
}

func TestEvolutionRuleCatchesBreaks(t *testing.T) {
	cur := catalogByName["lockstep.v1.Item"]
	for _, tc := range []struct{ name, from, to string }{
		{"retyped", `{"name":"stock_item","type":"boolean"`, `{"name":"stock_item","type":"string"`},
		{"rescaled", `"scale":4`, `"scale":2`},
		{"renamed", `{"name":"sku"`, `{"name":"code"`},
		{"enum symbol dropped", `"symbols":["clarus","prima","lockstep"]`, `"symbols":["clarus","prima","lockstep","legacy"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prevText := strings.Replace(cur.text, tc.from, tc.to, 1)
			prev, err := parseSchema(prevText)
			if err != nil || prevText == cur.text {
				t.Fatalf("schema edit failed: %v", err)
			}
			if problems := evolution(prev, cur.typ, ""); len(problems) == 0 {
				t.Error("not caught")
			}
		})
	}
}

// evolution lists how cur breaks the rule for data written with prev: every
// field of prev is in cur with the same type, and every field cur adds has a
// default.
func evolution(prev, cur *avroType, path string) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, path+": "+fmt.Sprintf(format, args...)) }
	if prev.kind != cur.kind || prev.name != cur.name {
		bad("%s became %s", prev.signature(), cur.signature())
		return out
	}
	switch cur.kind {
	case "record":
		for _, pf := range prev.fields {
			cf := cur.field(pf.name)
			if cf == nil {
				bad("field %s removed or renamed", pf.name)
				continue
			}
			out = append(out, evolution(pf.typ, cf.typ, path+"."+pf.name)...)
		}
		for _, cf := range cur.fields {
			if prev.field(cf.name) == nil && !cf.hasDefault() {
				bad("field %s added without a default", cf.name)
			}
		}
	case "union":
		if len(prev.branches) != len(cur.branches) {
			bad("union %s became %s", prev.signature(), cur.signature())
			return out
		}
		for i := range cur.branches {
			out = append(out, evolution(prev.branches[i], cur.branches[i], fmt.Sprintf("%s|%d", path, i))...)
		}
	case "array", "map":
		out = append(out, evolution(prev.items, cur.items, path+"[]")...)
	case "enum":
		for _, s := range prev.symbols {
			if !slices.Contains(cur.symbols, s) {
				bad("enum symbol %s removed", s)
			}
		}
	default:
		if prev.signature() != cur.signature() {
			bad("%s became %s", prev.signature(), cur.signature())
		}
	}
	return out
}

// encodeWith frames ev as a writer of schema text (typ parsed from it) would:
// the fields text lacks are left out.
func encodeWith(t testing.TB, reg *MemRegistry, text string, typ *avroType, ev Event) []byte {
	t.Helper()
	return encodeNative(t, reg, text, typ, project(nativeOf(t, ev), typ))
}

func encodeNative(t testing.TB, reg *MemRegistry, text string, typ *avroType, native any) []byte {
	t.Helper()
	codec, err := newCodec(text)
	if err != nil {
		t.Fatal(err)
	}
	id, err := reg.Register(context.Background(), typ.name, text)
	if err != nil {
		t.Fatal(err)
	}
	b, err := codec.BinaryFromNative(appendHeader(nil, id), native)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func nativeOf(t testing.TB, ev Event) any {
	t.Helper()
	e, rv, err := lookup(ev)
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.plan.encode(rv)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// project keeps only what typ has of a native value.
func project(n any, typ *avroType) any {
	switch typ.kind {
	case "record":
		m := n.(map[string]any)
		out := make(map[string]any, len(typ.fields))
		for _, f := range typ.fields {
			out[f.name] = project(m[f.name], f.typ)
		}
		return out
	case "union":
		m, ok := n.(map[string]any)
		if !ok {
			return n
		}
		for _, b := range typ.branches {
			if v, ok := m[b.unionName()]; ok {
				return map[string]any{b.unionName(): project(v, b)}
			}
		}
		return n
	case "array":
		arr := n.([]any)
		out := make([]any, len(arr))
		for i, v := range arr {
			out[i] = project(v, typ.items)
		}
		return out
	}
	return n
}
