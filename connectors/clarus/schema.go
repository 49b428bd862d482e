package clarus

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// SchemaSDL is clarus.graphql: the part of Clarus's GraphQL schema lockstep
// reads, with what the documentation does not show marked AssumedMarker.
//
//go:embed clarus.graphql
var SchemaSDL string

// AssumedMarker ends every line of SchemaSDL that declares something the
// public documentation does not show.
const AssumedMarker = "# [assumed]"

// DocumentedSDL returns SchemaSDL without its assumed lines: the schema as
// far as the documentation shows it.
func DocumentedSDL() string {
	lines := strings.SplitAfter(SchemaSDL, "\n")
	out := lines[:0:0]
	for _, l := range lines {
		if strings.HasSuffix(strings.TrimRight(l, " \t\r\n"), AssumedMarker) {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

// AssumedLines returns the declarations SchemaSDL marks as assumed, trimmed.
func AssumedLines() []string {
	var out []string
	for l := range strings.Lines(SchemaSDL) {
		l = strings.TrimSpace(l)
		if strings.HasSuffix(l, AssumedMarker) {
			out = append(out, strings.TrimSpace(strings.TrimSuffix(l, AssumedMarker)))
		}
	}
	return out
}

var gqlSchemas = sync.OnceValues(func() ([2]*ast.Schema, error) {
	var out [2]*ast.Schema
	for i, sdl := range []string{DocumentedSDL(), SchemaSDL} {
		s, err := gqlparser.LoadSchema(&ast.Source{Name: "clarus.graphql", Input: sdl})
		if err != nil {
			return out, fmt.Errorf("clarus: clarus.graphql (assumed lines kept: %t): %w", i == 1, err)
		}
		out[i] = s
	}
	return out, nil
})

// Schema returns the parsed schema: with assumed false only what the
// documentation shows, with assumed true the assumed declarations too.
func Schema(assumed bool) (*ast.Schema, error) {
	s, err := gqlSchemas()
	if err != nil {
		return nil, err
	}
	if assumed {
		return s[1], nil
	}
	return s[0], nil
}
