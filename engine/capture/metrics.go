package capture

import (
	"fmt"
	"sync/atomic"
	"time"
)

// Metrics is a snapshot of the capture counters.
type Metrics struct {
	FramesRendered  uint64 // frames the engine drew while a Recorder existed
	FramesCaptured  uint64 // frames read back and handed to the queue
	FramesEncoded   uint64 // frames written into segments
	DroppedQueue    uint64 // dropped by the drop policy: the encoders were behind
	DroppedReadback uint64 // not read back: every PBO of the ring was still busy
	QueueDepth      int    // frames waiting for an encoder now
	EncodeTime      time.Duration
	RawBytes        uint64 // uncompressed bytes of encoded frames
	StoredBytes     uint64 // bytes of completed segments handed to the sink
	Segments        uint64 // segments handed to the sink
	SinkErrors      uint64
	KeyFrames       uint64
	RenderThread    time.Duration // total render-thread time spent in capture
}

// Dropped is every frame lost, whatever the reason.
func (m Metrics) Dropped() uint64 { return m.DroppedQueue + m.DroppedReadback }

func (m Metrics) String() string {
	enc := time.Duration(0)
	if m.FramesEncoded > 0 {
		enc = m.EncodeTime / time.Duration(m.FramesEncoded)
	}
	ratio := 0.0
	if m.StoredBytes > 0 {
		ratio = float64(m.RawBytes) / float64(m.StoredBytes)
	}
	return fmt.Sprintf("rendered %d  captured %d  encoded %d  dropped %d (queue %d, readback %d)  queue %d  encode %.2f ms/frame  segments %d  stored %.1f MB (%.0fx)",
		m.FramesRendered, m.FramesCaptured, m.FramesEncoded, m.Dropped(), m.DroppedQueue, m.DroppedReadback,
		m.QueueDepth, float64(enc)/1e6, m.Segments, float64(m.StoredBytes)/1e6, ratio)
}

// counters are the live, atomically updated metrics.
type counters struct {
	rendered, captured, encoded     atomic.Uint64
	droppedQueue, droppedReadback   atomic.Uint64
	encodeNanos, renderThreadNanos  atomic.Int64
	rawBytes, storedBytes, segments atomic.Uint64
	sinkErrors, keyFrames           atomic.Uint64
}

func (c *counters) snapshot() Metrics {
	return Metrics{
		FramesRendered:  c.rendered.Load(),
		FramesCaptured:  c.captured.Load(),
		FramesEncoded:   c.encoded.Load(),
		DroppedQueue:    c.droppedQueue.Load(),
		DroppedReadback: c.droppedReadback.Load(),
		EncodeTime:      time.Duration(c.encodeNanos.Load()),
		RawBytes:        c.rawBytes.Load(),
		StoredBytes:     c.storedBytes.Load(),
		Segments:        c.segments.Load(),
		SinkErrors:      c.sinkErrors.Load(),
		KeyFrames:       c.keyFrames.Load(),
		RenderThread:    time.Duration(c.renderThreadNanos.Load()),
	}
}
