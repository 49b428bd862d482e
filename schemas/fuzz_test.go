package schemas

import (
	"context"
	"math/rand/v2"
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

	ref := NewSerde(reg)
	ref.goavroOnly = true

	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := s.DecodeAny(ctx, b)
		want, werr := ref.DecodeAny(ctx, b)
		if err := sameError(err, werr); err != nil {
			t.Fatal(err)
		}
		if err == nil && !reflect.DeepEqual(ev, want) {
			t.Fatalf("decoded\n%+v\ngoavro path\n%+v", ev, want)
		}
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

// FuzzDirectDecode feeds arbitrary bodies, as if written with the reader's
// own schema, to the direct codec and to the goavro path: both must decode to
// equal events, or both fail, in the same error class (ErrMalformed for
// malformed bytes). The first byte picks the event type. Seeds are the golden
// samples and generated bodies with multi-block arrays, overlong varints and
// odd decimals.
func FuzzDirectDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for i, e := range catalog {
		f.Add(append([]byte{byte(i)}, readGoldenHex(f, shortName(e.name)+".sample.hex")...))
		g := bodyGen{r: r, buf: []byte{byte(i)}}
		g.value(e.typ)
		f.Add(g.buf)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		e := catalog[int(b[0])%len(catalog)]
		if err := sameDecode(e, b[1:]); err != nil {
			t.Fatal(err)
		}
	})
}
