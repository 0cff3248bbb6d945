package sdk

import (
	"errors"
	"io"
	"math/bits"
	"sync"
	"sync/atomic"
)

// The shared-memory data plane: at Launch the host creates a memfd of
// shmDefaultSize bytes, maps it and hands it to the plugin as file
// descriptor 3 (exec.Cmd.ExtraFiles), naming its size in envShmSize. The
// plugin maps it too (Serve). A Put then copies the payload into free
// slots of the region and sends only their offsets (PutShared); the plugin
// reads them in place. Slots are reused only after the plugin has answered.
const (
	// envShmSize names the region's size in bytes in the plugin's
	// environment; the region itself is file descriptor shmFD.
	envShmSize = "SKYLOOP_SHM_SIZE"
	shmFD      = 3
	// shmSlotSize is the allocation unit of the region.
	shmSlotSize = 1 << 20
	// shmDefaultSize is the region's size: 64 slots, one bit each in the
	// allocator's mask.
	shmDefaultSize = 64 * shmSlotSize
	// shmThreshold: payloads of known size below it go in one stream
	// message, which is cheaper than a trip through the region.
	shmThreshold = 64 << 10
)

// shmRegion is the host's view of the region: a mapping and an allocator
// of fixed-size slots.
type shmRegion struct {
	mem []byte

	mu     sync.Mutex
	free   uint64 // bit i set: slot i is free
	inUse  int    // slots allocated and not yet freed (leaked ones included)
	closed bool
	unmap  func([]byte) error
}

func newShmRegion(mem []byte, unmap func([]byte) error) *shmRegion {
	n := len(mem) / shmSlotSize
	r := &shmRegion{mem: mem, unmap: unmap}
	if n >= 64 {
		r.free = ^uint64(0)
	} else {
		r.free = 1<<n - 1
	}
	return r
}

// alloc takes a free slot without waiting; false when all are busy or
// the region is closed.
func (r *shmRegion) alloc() (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.free == 0 {
		return 0, false
	}
	i := bits.TrailingZeros64(r.free)
	r.free &^= 1 << i
	r.inUse++
	return i, true
}

func (r *shmRegion) slot(i int) []byte {
	return r.mem[i*shmSlotSize : (i+1)*shmSlotSize : (i+1)*shmSlotSize]
}

// release returns slots to the allocator, or, with leak set, keeps them
// out of it for good (the plugin may still be reading them). The mapping
// goes once the region is closed and no slot is in use.
func (r *shmRegion) release(slots []int, leak bool) {
	if len(slots) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if leak {
		return
	}
	for _, i := range slots {
		r.free |= 1 << i
	}
	r.inUse -= len(slots)
	r.unmapIfIdle()
}

// close stops allocations; the mapping is removed now or when the last
// slot in use is released.
func (r *shmRegion) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.unmapIfIdle()
}

func (r *shmRegion) unmapIfIdle() {
	if r.closed && r.inUse == 0 && r.mem != nil {
		if r.unmap != nil {
			r.unmap(r.mem)
		}
		r.mem = nil
	}
}

// extent is a byte range of a region.
type extent struct{ off, n int64 }

// extentReader reads the extents of a region that arrive on more, which
// is closed after the last ones; it fails once done is closed. After
// close, Read fails too: a backend must not read its payload after its Put
// returned, and the region's space is then reused.
type extentReader struct {
	mem    []byte
	cur    []extent
	more   <-chan []extent
	done   <-chan struct{}
	ctxErr func() error
	closed atomic.Bool
}

var errReaderClosed = errors.New("payload read after Put returned")

// next makes cur non-empty; io.EOF after the last extent.
func (e *extentReader) next() error {
	if e.closed.Load() {
		return errReaderClosed
	}
	for {
		for len(e.cur) > 0 && e.cur[0].n == 0 {
			e.cur = e.cur[1:]
		}
		if len(e.cur) > 0 {
			return nil
		}
		select {
		case x, ok := <-e.more:
			if !ok {
				return io.EOF
			}
			e.cur = x
		case <-e.done:
			return e.ctxErr()
		}
	}
}

func (e *extentReader) Read(p []byte) (int, error) {
	if err := e.next(); err != nil {
		return 0, err
	}
	x := &e.cur[0]
	n := copy(p, e.mem[x.off:x.off+x.n])
	x.off += int64(n)
	x.n -= int64(n)
	return n, nil
}

// WriteTo hands the extents to w without an intermediate buffer.
func (e *extentReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if err := e.next(); err != nil {
			if err == io.EOF {
				err = nil
			}
			return total, err
		}
		x := &e.cur[0]
		n, err := w.Write(e.mem[x.off : x.off+x.n])
		total += int64(n)
		x.off += int64(n)
		x.n -= int64(n)
		if err != nil {
			return total, err
		}
	}
}

// checkExtents verifies that the extents lie within a region of size
// bytes.
func checkExtents(ext []extent, size int64) error {
	for _, x := range ext {
		if x.off < 0 || x.n < 0 || x.off > size || x.n > size-x.off {
			return errors.New("protocol error: shared-memory extent out of the region")
		}
	}
	return nil
}
