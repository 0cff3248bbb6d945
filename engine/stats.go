package engine

import (
	"fmt"

	"github.com/skyloop-engine/skyloop/engine/capture"
	"slices"
	"time"
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
