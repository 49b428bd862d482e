package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"reflect"
	"sort"
	"sync/atomic"

	"github.com/linkedin/goavro/v2"
)

//go:embed avsc/*.avsc
var avscFiles embed.FS

// entry is one event type with everything the hot path needs, built once.
type entry struct {
	index    int
	name     string // full Avro name, also the registry subject
	text     string // the .avsc, compacted: what is registered
	typ      *avroType
	codec    *goavro.Codec
	plan     *recordPlan
	direct   *directRecord // nil if the schema has a construct the direct codec refuses: goavro then does it all
	ptrType  reflect.Type
	newEvent func() Event
	sizeHint atomic.Int64 // size of the last frame, to size the next buffer in one allocation
}

var (
	catalog       = mustLoadCatalog()
	catalogByName = func() map[string]*entry {
		m := make(map[string]*entry, len(catalog))
		for _, e := range catalog {
			m[e.name] = e
		}
		return m
	}()
)

func init() {
	// goavro sizes an array from the block count it reads before reading
	// any item, and accepts counts up to MaxInt32: a few hostile bytes would
	// allocate 32 GiB. No record on a Kafka topic holds a million items in
	// one block. goavro is used only from this package, which makes the
	// global ours to set.
	goavro.MaxBlockCount = 1 << 20
}

// newCodec compiles schema text with spec-compliant decimals. Binary
// encoding is the same either way; the option fixes the textual form.
func newCodec(text string) (*goavro.Codec, error) {
	return goavro.NewCodecWithOptions(text, &goavro.CodecOption{EnableDecimalBinarySpecCompliantEncoding: true})
}

// mustLoadCatalog pairs every embedded .avsc with its Go type. The schemas
// and types are compiled in, so a mismatch is a build defect: it panics, and
// every test of the package reports it.
func mustLoadCatalog() []*entry {
	byName := map[string]func() Event{}
	for _, f := range events {
		byName[f().SchemaName()] = f
	}
	files, err := avscFiles.ReadDir("avsc")
	if err != nil {
		panic(err)
	}
	var out []*entry
	for _, fi := range files {
		raw, err := avscFiles.ReadFile(path.Join("avsc", fi.Name()))
		if err != nil {
			panic(err)
		}
		e, err := loadEntry(raw, byName)
		if err != nil {
			panic(fmt.Sprintf("schemas: %s: %v", fi.Name(), err))
		}
		if want := e.name[len("lockstep.v1."):] + ".avsc"; fi.Name() != want {
			panic(fmt.Sprintf("schemas: %s holds %s; name it %s", fi.Name(), e.name, want))
		}
		delete(byName, e.name)
		out = append(out, e)
	}
	for name := range byName {
		panic(fmt.Sprintf("schemas: event type %s has no .avsc", name))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	for i, e := range out {
		e.index = i
	}
	return out
}

func loadEntry(raw []byte, types map[string]func() Event) (*entry, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, err
	}
	text := compact.String()
	typ, err := parseSchema(text)
	if err != nil {
		return nil, err
	}
	if typ.kind != "record" {
		return nil, fmt.Errorf("top level is a %s, not a record", typ.kind)
	}
	newEvent, ok := types[typ.name]
	if !ok {
		return nil, fmt.Errorf("no event type has SchemaName %s", typ.name)
	}
	codec, err := newCodec(text)
	if err != nil {
		return nil, err
	}
	ptr := reflect.TypeOf(newEvent())
	plan, err := buildPlan(typ, ptr.Elem())
	if err != nil {
		return nil, err
	}
	direct, err := buildDirect(typ, ptr.Elem())
	if err != nil {
		direct = nil // TestDirectCoversCatalog names the schema and the reason
	}
	return &entry{name: typ.name, text: text, typ: typ, codec: codec, plan: plan, direct: direct, ptrType: ptr, newEvent: newEvent}, nil
}

// lookup finds the entry for ev and checks ev is a usable pointer to its
// type, so a stray SchemaName cannot make the plan walk the wrong struct.
func lookup(ev Event) (*entry, reflect.Value, error) {
	if ev == nil {
		return nil, reflect.Value{}, fmt.Errorf("%w: nil event", ErrUnknownSchema)
	}
	e, ok := catalogByName[ev.SchemaName()]
	if !ok {
		return nil, reflect.Value{}, fmt.Errorf("%w: %s", ErrUnknownSchema, ev.SchemaName())
	}
	rv := reflect.ValueOf(ev)
	if rv.Type() != e.ptrType || rv.IsNil() {
		return nil, reflect.Value{}, fmt.Errorf("%w: %T is not a non-nil %s", ErrUnknownSchema, ev, e.ptrType)
	}
	return e, rv.Elem(), nil
}

// Schema is one embedded event schema.
type Schema struct {
	// Name is the full Avro name, e.g. lockstep.v1.StockMovement; it is also
	// the registry subject.
	Name string
	// Text is the .avsc as registered: compact JSON, docs and defaults kept.
	Text string
}

// Schemas lists every embedded schema, sorted by name.
func Schemas() []Schema {
	out := make([]Schema, len(catalog))
	for i, e := range catalog {
		out[i] = Schema{Name: e.name, Text: e.text}
	}
	return out
}

// NewEvent returns a new zero event of the type whose schema is named name,
// for tools that learn the type from the data (the DLQ inspector).
func NewEvent(name string) (Event, error) {
	e, ok := catalogByName[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownSchema, name)
	}
	return e.newEvent(), nil
}

func checkID(id int) error {
	if id < 0 || id > math.MaxInt32 {
		return fmt.Errorf("schemas: registry returned id %d, outside the wire format's range", id)
	}
	return nil
}
