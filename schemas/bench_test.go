package schemas

import (
	"context"
	"testing"
)

// benchPaths are the two ways a Serde can encode and decode, compared per
// event type: goavro with the plan, and the direct codec.
var benchPaths = []struct {
	name       string
	goavroOnly bool
}{{"goavro", true}, {"direct", false}}

func BenchmarkEncode(b *testing.B) {
	ctx := context.Background()
	for _, ev := range samples() {
		for _, p := range benchPaths {
			b.Run(shortName(ev.SchemaName())+"/"+p.name, func(b *testing.B) {
				s := NewSerde(NewMemRegistry())
				s.goavroOnly = p.goavroOnly
				if _, err := s.Encode(ctx, ev); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Encode(ctx, ev); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	ctx := context.Background()
	for _, ev := range samples() {
		for _, p := range benchPaths {
			b.Run(shortName(ev.SchemaName())+"/"+p.name, func(b *testing.B) {
				s := NewSerde(NewMemRegistry())
				s.goavroOnly = p.goavroOnly
				frame, err := s.Encode(ctx, ev)
				if err != nil {
					b.Fatal(err)
				}
				into, _ := NewEvent(ev.SchemaName())
				b.SetBytes(int64(len(frame)))
				b.ReportAllocs()
				for b.Loop() {
					if err := s.Decode(ctx, frame, into); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
