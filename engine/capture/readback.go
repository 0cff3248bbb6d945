package capture

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-gl/gl/v4.1-core/gl"
)

// ReadbackMode selects how frames leave the GPU.
type ReadbackMode int

const (
	// ReadbackAuto picks sync on software renderers and PBO elsewhere.
	ReadbackAuto ReadbackMode = iota
	// ReadbackSync reads synchronously with glReadPixels.
	ReadbackSync
	// ReadbackPBO reads into a ring of pixel buffer objects with fences.
	ReadbackPBO
)

func (m ReadbackMode) String() string {
	switch m {
	case ReadbackSync:
		return "sync"
	case ReadbackPBO:
		return "pbo"
	}
	return "auto"
}

// ParseReadbackMode accepts "auto", "sync" and "pbo".
func ParseReadbackMode(s string) (ReadbackMode, error) {
	switch s {
	case "auto", "":
		return ReadbackAuto, nil
	case "sync":
		return ReadbackSync, nil
	case "pbo":
		return ReadbackPBO, nil
	}
	return 0, fmt.Errorf("capture: readback %q: want auto, pbo or sync", s)
}

// IsSoftwareRenderer reports whether a GL_RENDERER string names a CPU
// rasteriser, where rendering is synchronous and PBOs buy nothing.
func IsSoftwareRenderer(renderer string) bool {
	r := strings.ToLower(renderer)
	for _, s := range []string{"llvmpipe", "softpipe", "swrast", "software", "swr", "lavapipe"} {
		if strings.Contains(r, s) {
			return true
		}
	}
	return false
}

// resolveMode turns auto into a concrete mode for the current context.
func resolveMode(m ReadbackMode, renderer string) ReadbackMode {
	if m != ReadbackAuto {
		return m
	}
	if IsSoftwareRenderer(renderer) {
		return ReadbackSync
	}
	return ReadbackPBO
}

// readTarget says who takes a frame that is read back, each under its own
// sequence number: the recording (pipe, seq), the replay buffer
// (replay, replaySeq), or both — one read, one frame, shared.
type readTarget struct {
	pipe      *Pipeline // the recording session's pipeline; nil: not recorded
	seq       uint64    // the frame's sequence number in that session
	replay    bool      // the replay buffer takes it
	replaySeq uint64    // ... under its own sequence number
}

// readbacksIssued counts the reads of the framebuffer the readbacks have
// issued (glReadPixels calls; screenshots not counted), for tests.
var readbacksIssued atomic.Uint64

// readback is the render-thread side of capture. One per Recorder serves
// the recording and the replay buffer: a frame due for both is read once.
type readback interface {
	// issue starts reading framebuffer fbo (w×h) for the frame rendered at
	// t, for to. It never waits for the GPU.
	issue(fbo uint32, w, h int, t time.Time, to readTarget)
	// poll completes what is ready without waiting.
	poll()
	// flush completes every read in flight, waiting as needed, and returns
	// once each frame has been handed on (so a session's pipeline can be
	// closed after it). Render thread.
	flush()
	// close flushes and frees the GL objects. Render thread; idempotent.
	close()
}

// syncReadback reads straight into a pooled frame.
type syncReadback struct {
	pool    *framePool
	deliver func(*Frame, readTarget)
}

func (s *syncReadback) issue(fbo uint32, w, h int, t time.Time, to readTarget) {
	f := s.pool.get(w, h)
	f.Time = t
	gl.BindFramebuffer(gl.READ_FRAMEBUFFER, fbo)
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, 0)
	gl.ReadPixels(0, 0, int32(w), int32(h), gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(f.Pix))
	readbacksIssued.Add(1)
	s.deliver(f, to)
}

func (s *syncReadback) poll()  {}
func (s *syncReadback) flush() {}
func (s *syncReadback) close() {}

// pboSlot is one pixel buffer object of the ring and the frame it holds.
type pboSlot struct {
	pbo    uint32
	size   int
	fence  uintptr
	state  slotState
	to     readTarget
	t      time.Time
	w, h   int
	copied atomic.Bool // set by the copier when the mapped bytes are out
}

type slotState int

const (
	slotFree    slotState = iota
	slotReading           // readback issued, fence pending
	slotMapped            // mapped, copier working on it
)

type copyJob struct {
	slot *pboSlot
	src  unsafe.Pointer
	f    *Frame
	to   readTarget
}

// pboReadback is the ring of PBOs. The render thread issues reads, polls
// fences, maps and unmaps; a copier goroutine moves mapped bytes into pooled
// frames so the render thread never pays for the copy.
type pboReadback struct {
	slots   []*pboSlot
	next    int
	pool    *framePool
	deliver func(*Frame, readTarget) // on the copier goroutine
	dropped func(readTarget)         // a read skipped or failed; render thread
	jobs    chan copyJob
	wg      sync.WaitGroup
	copying sync.WaitGroup // frames sent to the copier and not yet delivered
	closed  bool
	order   []*pboSlot // slots in issue order, to deliver frames in order
	// block makes a full ring wait instead of dropping the frame: the Block
	// drop policy (tests only) promises no loss at the cost of stalls.
	block bool
}

func newPBOReadback(n int, pool *framePool, deliver func(*Frame, readTarget), dropped func(readTarget), block bool) *pboReadback {
	r := &pboReadback{pool: pool, deliver: deliver, dropped: dropped, jobs: make(chan copyJob, n), block: block}
	for i := 0; i < n; i++ {
		s := &pboSlot{}
		gl.GenBuffers(1, &s.pbo)
		r.slots = append(r.slots, s)
	}
	r.wg.Add(1)
	go r.copier()
	return r
}

// copier copies mapped PBO memory into frames. Frames are submitted in the
// order the jobs arrive, which is issue order.
func (r *pboReadback) copier() {
	defer r.wg.Done()
	for j := range r.jobs {
		copy(j.f.Pix, unsafe.Slice((*byte)(j.src), len(j.f.Pix)))
		j.slot.copied.Store(true) // the render thread may unmap from here on
		r.deliver(j.f, j.to)
		r.copying.Done()
	}
}

func (r *pboReadback) issue(fbo uint32, w, h int, t time.Time, to readTarget) {
	r.poll()
	s := r.slots[r.next]
	for s.state != slotFree && r.block {
		r.waitOldest()
	}
	if s.state != slotFree {
		// Every buffer is still in flight: skip this frame rather than wait.
		r.dropped(to)
		return
	}
	r.next = (r.next + 1) % len(r.slots)
	size := w * h * 4
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, s.pbo)
	if s.size != size {
		gl.BufferData(gl.PIXEL_PACK_BUFFER, size, nil, gl.STREAM_READ)
		s.size = size
	}
	gl.BindFramebuffer(gl.READ_FRAMEBUFFER, fbo)
	gl.ReadPixels(0, 0, int32(w), int32(h), gl.RGBA, gl.UNSIGNED_BYTE, nil)
	readbacksIssued.Add(1)
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, 0)
	s.fence = gl.FenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0)
	gl.Flush() // so the fence can signal without a later flush from us
	s.state, s.to, s.t, s.w, s.h = slotReading, to, t, w, h
	r.order = append(r.order, s)
}

// poll unmaps slots whose copy is done and maps slots whose fence has
// signalled, oldest first; it stops at the first slot still reading so that
// frames leave in order.
func (r *pboReadback) poll() {
	for len(r.order) > 0 {
		s := r.order[0]
		if s.state == slotMapped {
			if !s.copied.Load() {
				return
			}
			r.unmap(s)
			r.order = r.order[1:]
			continue
		}
		// slotReading
		st := gl.ClientWaitSync(s.fence, 0, 0)
		if st != gl.ALREADY_SIGNALED && st != gl.CONDITION_SATISFIED {
			return
		}
		r.mapSlot(s)
	}
}

func (r *pboReadback) mapSlot(s *pboSlot) {
	gl.DeleteSync(s.fence)
	s.fence = 0
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, s.pbo)
	ptr := gl.MapBufferRange(gl.PIXEL_PACK_BUFFER, 0, s.size, gl.MAP_READ_BIT)
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, 0)
	if ptr == nil {
		r.dropped(s.to)
		s.state = slotFree
		r.order = r.order[1:]
		return
	}
	f := r.pool.get(s.w, s.h)
	f.Time = s.t
	s.copied.Store(false)
	s.state = slotMapped
	r.copying.Add(1)
	r.jobs <- copyJob{slot: s, src: ptr, f: f, to: s.to} // cap = ring size: never blocks
}

func (r *pboReadback) unmap(s *pboSlot) {
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, s.pbo)
	gl.UnmapBuffer(gl.PIXEL_PACK_BUFFER)
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, 0)
	s.state = slotFree
}

// waitOldest completes the oldest slot in flight, waiting as needed.
func (r *pboReadback) waitOldest() {
	if len(r.order) == 0 {
		return
	}
	s := r.order[0]
	switch s.state {
	case slotReading:
		gl.ClientWaitSync(s.fence, gl.SYNC_FLUSH_COMMANDS_BIT, uint64(time.Second))
		r.mapSlot(s)
	case slotMapped:
		for !s.copied.Load() {
			time.Sleep(50 * time.Microsecond)
		}
		r.unmap(s)
		r.order = r.order[1:]
	default:
		r.order = r.order[1:]
	}
}

// flush waits for the frames in flight and returns once the copier has
// delivered them.
func (r *pboReadback) flush() {
	if r.closed {
		return
	}
	for len(r.order) > 0 {
		r.waitOldest()
	}
	r.copying.Wait()
}

// close waits for the frames in flight (shutdown may wait), delivers them,
// and deletes the buffers.
func (r *pboReadback) close() {
	if r.closed {
		return
	}
	r.flush()
	r.closed = true
	close(r.jobs)
	r.wg.Wait()
	for _, s := range r.slots {
		gl.DeleteBuffers(1, &s.pbo)
	}
}
