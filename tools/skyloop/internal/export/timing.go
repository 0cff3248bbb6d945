package export

import (
	"math"
	"slices"
	"time"
)

// DefaultInterval is the frame interval assumed when an export has a single
// frame and nothing to measure.
const DefaultInterval = time.Second / 60

// MedianInterval is the median of the intervals between consecutive
// times, or DefaultInterval when there are fewer than two (or all equal).
func MedianInterval(times []time.Time) time.Duration {
	if len(times) < 2 {
		return DefaultInterval
	}
	d := make([]time.Duration, 0, len(times)-1)
	for i := 1; i < len(times); i++ {
		if iv := times[i].Sub(times[i-1]); iv > 0 {
			d = append(d, iv)
		}
	}
	if len(d) == 0 {
		return DefaultInterval
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// Ticks says for how many ticks of a clock running at rate ticks a second
// each frame is shown, frame i being shown from times[i] until times[i+1]
// and the last one for last. Rounding error is carried from frame to frame
// (each frame ends at its ideal end time rounded to a tick), so the total
// is the whole span rounded, not the sum of per-frame roundings.
//
// min is the least number of ticks a frame gets (1 for GIF, where a zero
// delay means "as fast as the viewer likes"; 0 for a constant-rate video,
// where a frame shorter than a tick may be dropped). Ticks given to a
// frame beyond its share are taken back from the frames after it.
func Ticks(times []time.Time, last time.Duration, rate float64, min int) []int {
	out := make([]int, len(times))
	if len(times) == 0 {
		return out
	}
	t0 := times[0]
	emitted := 0
	for i := range times {
		var end time.Duration
		if i+1 < len(times) {
			end = times[i+1].Sub(t0)
		} else {
			end = times[i].Sub(t0) + last
		}
		target := int(math.Round(end.Seconds() * rate))
		n := max(target-emitted, min)
		out[i] = n
		emitted += n
	}
	return out
}
