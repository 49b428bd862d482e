package schemas

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/linkedin/goavro/v2"
)

// Serde encodes events to Confluent-framed Avro and back. It registers each
// event's schema on first use and caches writer schemas by id; it is safe for
// concurrent use, and one per process is enough.
type Serde struct {
	reg     Registry
	ids     []atomic.Int64 // by catalog index: registered id + 1, 0 until registered
	writers sync.Map       // schema id -> *writer
	// goavroOnly turns the direct codec off: the reference it is tested
	// and benchmarked against.
	goavroOnly bool
}

// writer is a schema some producer wrote with, compiled once per id.
type writer struct {
	name  string // full Avro name of the record
	codec *goavro.Codec
	// own is set when the schema is the catalog entry's own, so its bodies
	// need no resolution and can take the direct codec.
	own bool
}

// NewSerde returns a Serde that registers and looks up schemas in reg.
func NewSerde(reg Registry) *Serde {
	return &Serde{reg: reg, ids: make([]atomic.Int64, len(catalog))}
}

// RegisterAll registers every embedded schema now, so a service fails at
// start when the registry refuses one rather than on its first record.
func (s *Serde) RegisterAll(ctx context.Context) error {
	for _, e := range catalog {
		if _, err := s.id(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// Encode returns ev, a pointer to an event type, framed for Kafka.
func (s *Serde) Encode(ctx context.Context, ev Event) ([]byte, error) {
	e, rv, err := lookup(ev)
	if err != nil {
		return nil, err
	}
	id, err := s.id(ctx, e)
	if err != nil {
		return nil, err
	}
	buf := appendHeader(make([]byte, 0, e.sizeHint.Load()+64), id)
	if e.direct != nil && !s.goavroOnly {
		buf, err = e.direct.appendBody(buf, rv)
	} else {
		buf, err = appendBodyGoavro(buf, e, rv)
	}
	if err != nil {
		return nil, err
	}
	e.sizeHint.Store(int64(len(buf)))
	return buf, nil
}

// appendBodyGoavro is Encode's goavro path, which the direct codec matches
// byte for byte.
func appendBodyGoavro(buf []byte, e *entry, rv reflect.Value) ([]byte, error) {
	native, err := e.plan.encode(rv)
	if err != nil {
		return nil, fmt.Errorf("schemas: encode %w", err)
	}
	if buf, err = e.codec.BinaryFromNative(buf, native); err != nil {
		return nil, fmt.Errorf("schemas: encode %s: %w", e.name, err)
	}
	return buf, nil
}

// Decode decodes framed bytes into into, a pointer to the event type the
// frame holds. It decodes with the writer's schema, then takes each field of
// into by name, the reader's default standing in for fields the writer did
// not have. On error, into may be partly written.
func (s *Serde) Decode(ctx context.Context, b []byte, into Event) error {
	e, rv, err := lookup(into)
	if err != nil {
		return err
	}
	id, body, err := ParseFrame(b)
	if err != nil {
		return err
	}
	w, err := s.writer(ctx, id)
	if err != nil {
		return err
	}
	if w.name != e.name {
		return fmt.Errorf("%w: schema %d is %s, not %s", ErrSchemaMismatch, id, w.name, e.name)
	}
	return s.decodeBody(w, body, e, rv)
}

// DecodeAny decodes framed bytes into a new event of whatever type they
// hold, for code that handles more than one (the DLQ, replays).
func (s *Serde) DecodeAny(ctx context.Context, b []byte) (Event, error) {
	id, body, err := ParseFrame(b)
	if err != nil {
		return nil, err
	}
	w, err := s.writer(ctx, id)
	if err != nil {
		return nil, err
	}
	e, ok := catalogByName[w.name]
	if !ok {
		return nil, fmt.Errorf("%w: schema %d is %s, which has no Go type here", ErrUnknownSchema, id, w.name)
	}
	ev := e.newEvent()
	if err := s.decodeBody(w, body, e, reflect.ValueOf(ev).Elem()); err != nil {
		return nil, err
	}
	return ev, nil
}

// decodeBody decodes body, written with w, into rv of e's type: directly
// when w is e's own schema, else through goavro, which resolves w to e.
func (s *Serde) decodeBody(w *writer, body []byte, e *entry, rv reflect.Value) error {
	if w.own && e.direct != nil && !s.goavroOnly {
		return e.direct.decodeBody(body, rv)
	}
	return decodeBody(w, body, e, rv)
}

// decodeBody is the goavro path.
func decodeBody(w *writer, body []byte, e *entry, rv reflect.Value) (err error) {
	// goavro is third-party code reading outside bytes; if it ever panics,
	// that is one bad record for the DLQ, not a dead processor.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: decoder panic: %v", ErrMalformed, e.name, r)
		}
	}()
	native, rest, err := w.codec.NativeFromBinary(body)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, e.name, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %s: %d bytes after the record", ErrMalformed, e.name, len(rest))
	}
	if err := e.plan.decode(native, rv); err != nil {
		return fmt.Errorf("schemas: decode %w", err)
	}
	return nil
}

// id returns the registered id of e's schema, registering it the first time.
// Concurrent first calls may both register; registries answer the same
// schema with the same id, so that is harmless.
func (s *Serde) id(ctx context.Context, e *entry) (int, error) {
	if v := s.ids[e.index].Load(); v != 0 {
		return int(v - 1), nil
	}
	id, err := s.reg.Register(ctx, e.name, e.text)
	if err != nil {
		return 0, fmt.Errorf("schemas: register %s: %w", e.name, err)
	}
	if err := checkID(id); err != nil {
		return 0, err
	}
	// What this process encodes it usually decodes too: seed the writer
	// cache so that costs no registry round trip.
	s.writers.LoadOrStore(id, &writer{name: e.name, codec: e.codec, own: true})
	s.ids[e.index].Store(int64(id) + 1)
	return id, nil
}

// writer returns the compiled writer schema for id, fetching it once.
func (s *Serde) writer(ctx context.Context, id int) (*writer, error) {
	if w, ok := s.writers.Load(id); ok {
		return w.(*writer), nil
	}
	text, err := s.reg.SchemaByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("schemas: schema %d: %w", id, err)
	}
	w, err := compileWriter(text)
	if err != nil {
		return nil, fmt.Errorf("%w: schema %d: %v", ErrUnknownSchema, id, err)
	}
	actual, _ := s.writers.LoadOrStore(id, w)
	return actual.(*writer), nil
}

func compileWriter(text string) (*writer, error) {
	t, err := parseSchema(text)
	if err != nil {
		return nil, err
	}
	if t.kind != "record" {
		return nil, fmt.Errorf("a %s is not an event", t.kind)
	}
	// The current schema comes back from the registry as registered: reuse
	// its codec rather than compile it again.
	var compact bytes.Buffer
	e, ok := catalogByName[t.name]
	if ok && json.Compact(&compact, []byte(text)) == nil && compact.String() == e.text {
		return &writer{name: t.name, codec: e.codec, own: true}, nil
	}
	codec, err := newCodec(text)
	if err != nil {
		return nil, err
	}
	return &writer{name: t.name, codec: codec, own: ok && sameSchema(t, codec, e)}, nil
}

// sameSchema reports whether a writer's schema, t compiled to codec, reads
// as e's own: the same parsing canonical form, so the same bytes, and the
// same logical types, which that form drops but which shape the values (a
// decimal of scale 2 has the canonical form of one of scale 4). Docs,
// defaults and formatting may differ.
func sameSchema(t *avroType, codec *goavro.Codec, e *entry) bool {
	return codec.CanonicalSchema() == e.codec.CanonicalSchema() && t.signature() == e.typ.signature()
}
