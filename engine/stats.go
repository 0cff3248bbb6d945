package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/skyloop-engine/skyloop/engine/capture"
)

// FrameStats summarise a Run: how many frames and ticks, and how long frames
// took from the start of event polling to the buffer swap.
type FrameStats struct {
	Frames  int
	Ticks   int
	Elapsed time.Duration // sum of frame times
	Median  time.Duration
	P99     time.Duration
	Max     time.Duration
	FPS     float64 // Frames / Elapsed
	// Capture holds the recorder's counters when capture was on.
	Capture  capture.Metrics
	Sessions []string // recorded session ids
	Readback string   // readback mode used, "" when capture was off
	// CaptureMedian and CaptureP99 are the render-thread time spent in
	// capture per frame (issuing readbacks, polling, mapping).
	CaptureMedian, CaptureP99 time.Duration
}

func (s FrameStats) String() string {
	out := fmt.Sprintf("frames=%d ticks=%d fps=%.1f frame_time_median=%.2fms p99=%.2fms max=%.2fms",
		s.Frames, s.Ticks, s.FPS, ms(s.Median), ms(s.P99), ms(s.Max))
	if s.Readback != "" {
		out += fmt.Sprintf("\ncapture (%s): render_thread_median=%.3fms p99=%.3fms; %s", s.Readback, ms(s.CaptureMedian), ms(s.CaptureP99), s.Capture)
	}
	return out
}

// StatsJSON is the JSON form of FrameStats that -bench-json writes: times
// in milliseconds, so that tools (skyloop bench capture) read it without
// importing the engine.
type StatsJSON struct {
	Frames           int     `json:"frames"`
	FPS              float64 `json:"fps"`
	FrameMedianMS    float64 `json:"frame_median_ms"`
	FrameP99MS       float64 `json:"frame_p99_ms"`
	Readback         string  `json:"readback,omitempty"` // "" when capture was off
	CaptureMedianMS  float64 `json:"capture_render_thread_median_ms"`
	CaptureP99MS     float64 `json:"capture_render_thread_p99_ms"`
	FramesCaptured   uint64  `json:"frames_captured"`
	FramesEncoded    uint64  `json:"frames_encoded"`
	FramesDropped    uint64  `json:"frames_dropped"`
	EncodeMSPerFrame float64 `json:"encode_ms_per_frame"`
	RawBytes         uint64  `json:"raw_bytes"`
	StoredBytes      uint64  `json:"stored_bytes"`
	Segments         uint64  `json:"segments"`
	SinkErrors       uint64  `json:"sink_errors"`
	// Effort is the segment effort of the last frame sequenced and
	// EffortFrames the frames encoded at efforts 1..4; absent when
	// nothing was recorded.
	Effort       int        `json:"effort,omitempty"`
	EffortFrames *[4]uint64 `json:"effort_frames,omitempty"`
	Sessions     []string   `json:"sessions,omitempty"`
}

func (s FrameStats) writeJSON(path string) error {
	j := StatsJSON{
		Frames: s.Frames, FPS: s.FPS, FrameMedianMS: ms(s.Median), FrameP99MS: ms(s.P99),
		Readback: s.Readback, CaptureMedianMS: ms(s.CaptureMedian), CaptureP99MS: ms(s.CaptureP99),
		FramesCaptured: s.Capture.FramesCaptured, FramesEncoded: s.Capture.FramesEncoded, FramesDropped: s.Capture.Dropped(),
		RawBytes: s.Capture.RawBytes, StoredBytes: s.Capture.StoredBytes, Segments: s.Capture.Segments, SinkErrors: s.Capture.SinkErrors,
		Sessions: s.Sessions,
	}
	if s.Capture.Effort > 0 { // a recording sequenced frames
		j.Effort = s.Capture.Effort
		j.EffortFrames = (*[4]uint64)(s.Capture.EffortFrames[1:])
	}
	if s.Capture.FramesEncoded > 0 {
		j.EncodeMSPerFrame = ms(s.Capture.EncodeTime) / float64(s.Capture.FramesEncoded)
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("engine: -bench-json: %w", err)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// frameRecorder collects per-frame durations.
type frameRecorder struct {
	times   []time.Duration
	capture []time.Duration
	ticks   int
}

func (r *frameRecorder) recordCapture(d time.Duration) { r.capture = append(r.capture, d) }

// percentiles returns the median and 99th percentile of ts after warm-up.
func percentiles(ts []time.Duration) (median, p99 time.Duration) {
	if len(ts) > 2*warmupFrames {
		ts = ts[warmupFrames:]
	}
	if len(ts) == 0 {
		return 0, 0
	}
	sorted := slices.Clone(ts)
	slices.Sort(sorted)
	return sorted[len(sorted)/2], sorted[min(len(sorted)-1, len(sorted)*99/100)]
}

// warmupFrames are left out of the percentiles: the first frames compile
// shaders and upload textures.
const warmupFrames = 5

func (r *frameRecorder) record(d time.Duration) { r.times = append(r.times, d) }

func (r *frameRecorder) frames() int { return len(r.times) }

func (r *frameRecorder) summary() FrameStats {
	s := FrameStats{Frames: len(r.times), Ticks: r.ticks}
	s.CaptureMedian, s.CaptureP99 = percentiles(r.capture)
	ts := r.times
	if len(ts) > 2*warmupFrames {
		ts = ts[warmupFrames:]
	}
	if len(ts) == 0 {
		return s
	}
	sorted := slices.Clone(ts)
	slices.Sort(sorted)
	for _, d := range sorted {
		s.Elapsed += d
	}
	s.Median = sorted[len(sorted)/2]
	s.P99 = sorted[min(len(sorted)-1, len(sorted)*99/100)]
	s.Max = sorted[len(sorted)-1]
	if s.Elapsed > 0 {
		s.FPS = float64(len(sorted)) / s.Elapsed.Seconds()
	}
	return s
}
