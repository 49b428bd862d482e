package schemas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

func TestRegistryClientAgainstSRFake(t *testing.T) {
	ctx := context.Background()
	fake := srfake.New()
	t.Cleanup(fake.Close)
	reg, err := NewRegistryClient(sr.URLs(fake.URL()))
	if err != nil {
		t.Fatal(err)
	}
	testRegistry(t, reg)

	// What the client registered is what any Confluent tool sees.
	s := NewSerde(reg)
	if err := s.RegisterAll(ctx); err != nil {
		t.Fatal(err)
	}
	got, ok := fake.GetSchema("lockstep.v1.StockMovement", 1)
	if !ok || got.Schema.Schema != catalogByName["lockstep.v1.StockMovement"].text {
		t.Errorf("subject lockstep.v1.StockMovement v1: %+v, %v", got, ok)
	}
}

// testRegistry checks the Registry contract every implementation keeps.
func testRegistry(t *testing.T, reg Registry) {
	t.Helper()
	ctx := context.Background()
	a, b := Schemas()[0], Schemas()[1]
	idA, err := reg.Register(ctx, a.Name, a.Text)
	if err != nil {
		t.Fatal(err)
	}
	idB, err := reg.Register(ctx, b.Name, b.Text)
	if err != nil {
		t.Fatal(err)
	}
	again, err := reg.Register(ctx, a.Name, a.Text)
	if err != nil || again != idA || idA == idB {
		t.Fatalf("ids %d, %d, then %d again (%v)", idA, idB, again, err)
	}
	text, err := reg.SchemaByID(ctx, idB)
	if err != nil || compact(t, text) != b.Text {
		t.Fatalf("SchemaByID(%d) = %.60q..., %v", idB, text, err)
	}
	if _, err := reg.SchemaByID(ctx, 4242); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("unknown id: %v", err)
	}
}

func TestMemRegistry(t *testing.T) { testRegistry(t, NewMemRegistry()) }

func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
