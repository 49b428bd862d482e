package schemas

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must return an error
// or an event, never panic or hang, and an event it returns must survive a
// round trip. Seeds are the golden samples, framed, and the same samples
// written with the previous schema versions, so mutations reach the
// projection of older writers too.
func FuzzDecode(f *testing.F) {
	ctx := context.Background()
	reg := NewMemRegistry()
	s := NewSerde(reg)
	if err := s.RegisterAll(ctx); err != nil {
		f.Fatal(err)
	}
	for _, e := range catalog {
		id, _ := s.id(ctx, e)
		f.Add(AppendFrame(nil, id, readGoldenHex(f, shortName(e.name)+".sample.hex")))
	}
	previous, _ := filepath.Glob("testdata/previous/*.avsc")
	for _, file := range previous {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		prev, err := parseSchema(string(raw))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(encodeWith(f, reg, string(raw), prev, sampleOf(prev.name)))
	}
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})

	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := s.DecodeAny(ctx, b)
		if err != nil {
			// The registry never fails here, so every error is the record's.
			if !IsPermanent(err) {
				t.Fatalf("error not marked permanent: %v", err)
			}
			return
		}
		if !strings.HasPrefix(ev.SchemaName(), "lockstep.v1.") {
			t.Fatalf("decoded %T", ev)
		}
		again, err := s.Encode(ctx, ev)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", ev, err)
		}
		back, _ := NewEvent(ev.SchemaName())
		if err := s.Decode(ctx, again, back); err != nil || !reflect.DeepEqual(back, ev) {
			t.Fatalf("round trip of decoded event: %v\n got %+v\nwant %+v", err, back, ev)
		}
	})
}
