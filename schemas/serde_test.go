package schemas

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := NewSerde(NewMemRegistry())
	for _, want := range samples() {
		t.Run(want.SchemaName(), func(t *testing.T) {
			b, err := s.Encode(ctx, want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := NewEvent(want.SchemaName())
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Decode(ctx, b, got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// A fresh Serde over the same registry decodes what another wrote: the writer
// schema comes from the registry, not from the encoder's cache.
func TestDecodeFetchesWriterSchema(t *testing.T) {
	ctx := context.Background()
	reg := NewMemRegistry()
	want := sampleOf("lockstep.v1.SalesOrder")
	b, err := NewSerde(reg).Encode(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewSerde(reg).DecodeAny(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestDecodeOverwritesEveryField(t *testing.T) {
	ctx := context.Background()
	s := NewSerde(NewMemRegistry())
	// Nil pointers and zero times too: optional fields come back nil.
	want := &StockMovement{Meta: Meta{Source: SourceClarus}, MovementID: "second", Kind: MovementPick}
	b, err := s.Encode(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	got := sampleOf("lockstep.v1.StockMovement").(*StockMovement)
	if err := s.Decode(ctx, b, got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stale fields survived: %+v", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	ctx := context.Background()
	s := NewSerde(NewMemRegistry())
	good, err := s.Encode(ctx, sampleOf("lockstep.v1.StockMovement"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		into Event
		want error
	}{
		{"empty", nil, &StockMovement{}, ErrShortFrame},
		{"header only short", []byte{0, 0, 0}, &StockMovement{}, ErrShortFrame},
		{"bad magic", append([]byte{1}, good[1:]...), &StockMovement{}, ErrBadMagic},
		{"unknown id", AppendFrame(nil, 999, good[5:]), &StockMovement{}, ErrUnknownSchema},
		{"other event", good, &StockLevel{}, ErrSchemaMismatch},
		{"truncated body", good[:len(good)-3], &StockMovement{}, ErrMalformed},
		{"trailing bytes", append(append([]byte{}, good...), 0), &StockMovement{}, ErrMalformed},
		{"nil pointer", good, (*StockMovement)(nil), ErrUnknownSchema},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Decode(ctx, tc.b, tc.into)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !IsPermanent(err) {
				t.Errorf("IsPermanent(%v) = false", err)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	ctx := context.Background()
	s := NewSerde(NewMemRegistry())
	if _, err := s.Encode(ctx, &StockMovement{Kind: "teleport"}); err == nil {
		t.Error("unknown enum symbol encoded")
	}
	if _, err := s.Encode(ctx, &Item{UnitCost: Decimal(decimalMax + 1)}); !errors.Is(err, ErrDecimalRange) {
		t.Errorf("decimal beyond precision 18: %v", err)
	}
	if _, err := s.Encode(ctx, nil); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("nil event: %v", err)
	}
}

// A registry that is down is not the record's fault: the error must not send
// the record to the DLQ.
func TestRegistryErrorIsNotPermanent(t *testing.T) {
	down := errors.New("connection refused")
	s := NewSerde(failingRegistry{down})
	_, err := s.Encode(context.Background(), &StockMovement{})
	if !errors.Is(err, down) || IsPermanent(err) {
		t.Errorf("encode: %v (permanent %v)", err, IsPermanent(err))
	}
	err = s.Decode(context.Background(), AppendFrame(nil, 1, nil), &StockMovement{})
	if !errors.Is(err, down) || IsPermanent(err) {
		t.Errorf("decode: %v (permanent %v)", err, IsPermanent(err))
	}
}

type failingRegistry struct{ err error }

func (f failingRegistry) Register(context.Context, string, string) (int, error) { return 0, f.err }
func (f failingRegistry) SchemaByID(context.Context, int) (string, error)       { return "", f.err }

func TestConcurrentSerde(t *testing.T) {
	ctx := context.Background()
	reg := NewMemRegistry()
	enc, dec := NewSerde(reg), NewSerde(reg)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, want := range samples() {
				b, err := enc.Encode(ctx, want)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := dec.DecodeAny(ctx, b)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %v", want.SchemaName(), err)
				}
			}
		})
	}
	wg.Wait()
}

func TestCatalog(t *testing.T) {
	if len(Schemas()) != len(events) {
		t.Fatalf("%d schemas for %d event types", len(Schemas()), len(events))
	}
	if len(samples()) != len(events) {
		t.Fatalf("%d samples for %d event types", len(samples()), len(events))
	}
	for _, sc := range Schemas() {
		if sampleOf(sc.Name) == nil {
			t.Errorf("no sample for %s", sc.Name)
		}
	}
	if _, err := NewEvent("lockstep.v1.Nope"); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("NewEvent of unknown name: %v", err)
	}
}
