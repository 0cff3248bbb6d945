package capture

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

type discardSegments struct{}

func (discardSegments) PutSegment(context.Context, SegmentInfo, []byte) error { return nil }

// pipelineLoop feeds a pipeline (discard sink, one segment, Block policy)
// frames of changing content; step submits one and waits until it has been
// written.
type pipelineLoop struct {
	p     *Pipeline
	c     *counters
	pool  framePool
	frame [][]byte // pixel contents to cycle through
	w, h  int
	seq   uint64
	t0    time.Time
}

func newPipelineLoop(tb testing.TB, w, h int, codec segment.Codec) *pipelineLoop {
	l := &pipelineLoop{c: &counters{}, t0: time.Unix(1e9, 0), w: w, h: h}
	for i := range 8 {
		pix := make([]byte, w*h*4)
		fillTestPixels(pix, w, h, uint64(i))
		l.frame = append(l.frame, pix)
	}
	p, err := NewPipeline(PipelineConfig{Sink: discardSegments{}, Codec: codec, Drop: Block, SegmentTime: time.Hour}, l.c)
	if err != nil {
		tb.Fatal(err)
	}
	l.p = p
	tb.Cleanup(func() { p.Close() })
	return l
}

func (l *pipelineLoop) step() {
	f := l.pool.get(l.w, l.h)
	copy(f.Pix, l.frame[l.seq%uint64(len(l.frame))])
	f.Seq, f.Time = l.seq, l.t0.Add(time.Duration(l.seq)*time.Second/60)
	l.seq++
	l.p.Submit(f)
	for l.c.encoded.Load() < l.seq {
		runtime.Gosched()
	}
}

// A frame costs the pipeline no allocation once it is warm: jobs, payload
// storage and segment buffers are recycled and frames come from the pool.
// (Allocations of one segment — its writer and index — are amortised; the
// test stays in one segment.)
func TestPipelineAllocsPerFrame(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count only")
	}
	for _, codec := range []segment.Codec{segment.CodecZstd, segment.CodecS2} {
		l := newPipelineLoop(t, 320, 240, codec)
		for range 130 { // warm up: pools filled, past the first key intervals
			l.step()
		}
		allocs := testing.AllocsPerRun(200, l.step)
		t.Logf("%s: %.2f allocations per frame", codec, allocs)
		if allocs > 1 {
			t.Errorf("%s: %.2f allocations per frame, want at most 1 (amortised index growth)", codec, allocs)
		}
	}
}

// BenchmarkPipelineFrame is one 1280x720 frame through the pipeline to a
// discarding sink, for allocs/frame and bytes/frame (go test -bench
// PipelineFrame -benchmem).
func BenchmarkPipelineFrame(b *testing.B) {
	l := newPipelineLoop(b, 1280, 720, segment.CodecZstd)
	for range 70 {
		l.step()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		l.step()
	}
}
