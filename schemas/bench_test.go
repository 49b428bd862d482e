package schemas

import (
	"context"
	"testing"
)

func BenchmarkEncode(b *testing.B) {
	ctx := context.Background()
	s := NewSerde(NewMemRegistry())
	for _, ev := range samples() {
		b.Run(shortName(ev.SchemaName()), func(b *testing.B) {
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

func BenchmarkDecode(b *testing.B) {
	ctx := context.Background()
	s := NewSerde(NewMemRegistry())
	for _, ev := range samples() {
		b.Run(shortName(ev.SchemaName()), func(b *testing.B) {
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
