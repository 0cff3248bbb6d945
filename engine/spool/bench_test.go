package spool

import (
	"context"
	"testing"
)

// BenchmarkAccept measures Accept of 1 MiB items, each fsynced (file and
// directory) before Accept returns. MB/s is payload throughput.
func BenchmarkAccept(b *testing.B) {
	data := payload(1, 1<<20)
	run := func(b *testing.B, sink *fakeSink) {
		s := mustOpen(b, b.TempDir(), []Sink{sink}, testOpts(b))
		defer mustClose(b, s)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := s.Accept(context.Background(), Item{Key: segKey(i), Data: data}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	b.Run("sink=blocked", func(b *testing.B) {
		f := newFake("blocked")
		f.setHook(blockUntilCancelled)
		run(b, f)
	})
	b.Run("sink=delivering", func(b *testing.B) {
		f := newFake("fast")
		f.discard = true
		run(b, f)
	})
}
