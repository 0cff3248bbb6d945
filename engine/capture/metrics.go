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
	DroppedNoRoom   uint64 // encoded, but their segment found no room in the spool (disk full)
	QueueDepth      int    // frames waiting for an encoder now
	EncodeTime      time.Duration
	RawBytes        uint64 // uncompressed bytes of encoded frames
	StoredBytes     uint64 // bytes of completed segments handed to the sink
	Segments        uint64 // segments handed to the sink
	SinkErrors      uint64
	KeyFrames       uint64
	RenderThread    time.Duration // total render-thread time spent in capture
	// Effort is the segment effort (1..4) of the last frame the pipeline
	// sequenced (0: none yet), and EffortFrames[e] how many frames were
	// written at effort e (index 0 unused).
	Effort       int
	EffortFrames [5]uint64

	// Filled in by the engine from its spool (zero in a bare Recorder):
	// where the recorded work stands with each sink, and the spool's disk.
	Sinks     []SinkMetrics
	SpoolFull bool  // the spool's disk is full: the oldest segments are being evicted
	Evicted   int64 // segments evicted from the spool since the game started

	// Instant replay (capture.mode "replay" or "both"; zero otherwise).
	Replay            bool          // a replay buffer is kept
	ReplayBuffered    time.Duration // capture time from the first frame a save would store to the newest
	ReplayFrames      int           // frames a save now would store
	ReplayBytes       int64         // bytes the buffer holds (the window, and the key frame it decodes from)
	ReplayPeakBytes   int64         // the most it held at once: never above ReplayCapBytes
	ReplayCapBytes    int64         // capture.replay_memory_mb
	ReplayCapped      uint64        // frames inside the window dropped to stay under the cap
	ReplayDropped     uint64        // frames the buffer never got (encoders behind, readback busy)
	ReplaySaving      int           // saves under way
	ReplayClips       uint64        // clips saved
	ReplaySavesFailed uint64        // saves refused or failed
}

// SinkMetrics is one sink's delivery state.
type SinkMetrics struct {
	Name         string
	Down         bool          // deliveries are failing and being retried
	DownFor      time.Duration // how long, while Down
	Outages      int64         // times it went down since the game started
	Pending      int           // items in the spool it does not have yet
	PendingBytes int64
	Delivered    int64
}

// Dropped is every frame lost, whatever the reason.
func (m Metrics) Dropped() uint64 { return m.DroppedQueue + m.DroppedReadback + m.DroppedNoRoom }

func (m Metrics) String() string {
	enc := time.Duration(0)
	if m.FramesEncoded > 0 {
		enc = m.EncodeTime / time.Duration(m.FramesEncoded)
	}
	ratio := 0.0
	if m.StoredBytes > 0 {
		ratio = float64(m.RawBytes) / float64(m.StoredBytes)
	}
	out := fmt.Sprintf("rendered %d  captured %d  encoded %d  dropped %d (queue %d, readback %d, no room %d)  queue %d  encode %.2f ms/frame  segments %d  stored %.1f MB (%.0fx)",
		m.FramesRendered, m.FramesCaptured, m.FramesEncoded, m.Dropped(), m.DroppedQueue, m.DroppedReadback, m.DroppedNoRoom,
		m.QueueDepth, float64(enc)/1e6, m.Segments, float64(m.StoredBytes)/1e6, ratio)
	if m.Effort > 0 || m.EffortFrames != [5]uint64{} {
		out += "  " + m.EffortString()
	}
	if m.SpoolFull || m.Evicted > 0 {
		out += fmt.Sprintf("  spool: evicted %d", m.Evicted)
		if m.SpoolFull {
			out += " (DISK FULL)"
		}
	}
	if m.Replay {
		out += fmt.Sprintf("  replay: %.1f s buffered, %d frames, %.1f of %.0f MB, clips %d, failed %d",
			m.ReplayBuffered.Seconds(), m.ReplayFrames, float64(m.ReplayBytes)/(1<<20), float64(m.ReplayCapBytes)/(1<<20), m.ReplayClips, m.ReplaySavesFailed)
		if m.ReplaySaving > 0 {
			out += fmt.Sprintf(", saving %d", m.ReplaySaving)
		}
	}
	for _, sk := range m.Sinks {
		state := "up"
		if sk.Down {
			state = fmt.Sprintf("DOWN %v", sk.DownFor.Round(time.Second))
		}
		out += fmt.Sprintf("  sink %s: %s, pending %d (%.1f MB), delivered %d", sk.Name, state, sk.Pending, float64(sk.PendingBytes)/1e6, sk.Delivered)
	}
	return out
}

// EffortString is the effort part of String: "effort 2 (1:40 2:560 3:0
// 4:0)", the current level and the frames written at each.
func (m Metrics) EffortString() string {
	return fmt.Sprintf("effort %d (1:%d 2:%d 3:%d 4:%d)", m.Effort, m.EffortFrames[1], m.EffortFrames[2], m.EffortFrames[3], m.EffortFrames[4])
}

// counters are the live, atomically updated metrics.
type counters struct {
	rendered, captured, encoded     atomic.Uint64
	droppedQueue, droppedReadback   atomic.Uint64
	droppedNoRoom                   atomic.Uint64
	encodeNanos, renderThreadNanos  atomic.Int64
	rawBytes, storedBytes, segments atomic.Uint64
	sinkErrors, keyFrames           atomic.Uint64
	effort                          atomic.Int32 // of the last frame sequenced
	effortFrames                    [5]atomic.Uint64
}

func (c *counters) snapshot() Metrics {
	return Metrics{
		FramesRendered:  c.rendered.Load(),
		FramesCaptured:  c.captured.Load(),
		FramesEncoded:   c.encoded.Load(),
		DroppedQueue:    c.droppedQueue.Load(),
		DroppedReadback: c.droppedReadback.Load(),
		DroppedNoRoom:   c.droppedNoRoom.Load(),
		EncodeTime:      time.Duration(c.encodeNanos.Load()),
		RawBytes:        c.rawBytes.Load(),
		StoredBytes:     c.storedBytes.Load(),
		Segments:        c.segments.Load(),
		SinkErrors:      c.sinkErrors.Load(),
		KeyFrames:       c.keyFrames.Load(),
		RenderThread:    time.Duration(c.renderThreadNanos.Load()),
		Effort:          int(c.effort.Load()),
		EffortFrames: [5]uint64{0, c.effortFrames[1].Load(), c.effortFrames[2].Load(),
			c.effortFrames[3].Load(), c.effortFrames[4].Load()},
	}
}
