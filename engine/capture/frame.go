package capture

import (
	"sync"
	"sync/atomic"
	"time"
)

// Frame is one captured frame: RGBA8 pixels, rows top-down. Frames come
// from a pool; whoever holds one calls Release when done with it.
type Frame struct {
	// Seq is the capture sequence number in the recording session (or,
	// for a frame only the replay buffer takes, the buffer's). A frame
	// read once for both is shared: the replay buffer carries its own
	// number beside it and never reads Seq.
	Seq    uint64
	Time   time.Time // when the frame was rendered
	Width  int
	Height int
	Pix    []byte // Width*Height*4 bytes

	refs atomic.Int32
	pool *framePool
}

// Retain adds a reference; each Retain needs a matching Release.
func (f *Frame) Retain() { f.refs.Add(1) }

// Release drops a reference; the last one returns the buffer to its pool.
func (f *Frame) Release() {
	if n := f.refs.Add(-1); n == 0 && f.pool != nil {
		f.pool.put(f)
	} else if n < 0 {
		panic("capture: Frame released more often than retained")
	}
}

// framePool recycles frame buffers of one size. Frames of another size
// (after a resize) are simply left to the garbage collector.
type framePool struct {
	mu     sync.Mutex
	w, h   int
	free   []*Frame
	allocs atomic.Int64
}

func (p *framePool) get(w, h int) *Frame {
	p.mu.Lock()
	if w != p.w || h != p.h {
		p.w, p.h, p.free = w, h, nil
	}
	var f *Frame
	if n := len(p.free); n > 0 {
		f, p.free = p.free[n-1], p.free[:n-1]
	}
	p.mu.Unlock()
	if f == nil {
		p.allocs.Add(1)
		f = &Frame{Width: w, Height: h, Pix: make([]byte, w*h*4), pool: p}
	}
	f.refs.Store(1)
	return f
}

func (p *framePool) put(f *Frame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.Width == p.w && f.Height == p.h && len(p.free) < 64 {
		p.free = append(p.free, f)
	}
}
