package export

import (
	"fmt"
	"math"
	"time"
)

// Rate is a video frame rate as the rational Num/Den frames a second, the
// way containers store it (MP4's timescale, ffmpeg's -r): 60/1,
// 30000/1001.
type Rate struct{ Num, Den int64 }

// Float is the rate in frames a second.
func (r Rate) Float() float64 { return float64(r.Num) / float64(r.Den) }

// String is "Num/Den", what ffmpeg's -r and ffprobe's r_frame_rate say.
func (r Rate) String() string { return fmt.Sprintf("%d/%d", r.Num, r.Den) }

// StandardRates are the frame rates of film, television and displays. A
// measured rate close to one of them is taken to be it.
var StandardRates = []Rate{
	{24000, 1001}, {24, 1}, {25, 1}, {30000, 1001}, {30, 1}, {48, 1}, {50, 1},
	{60000, 1001}, {60, 1}, {72, 1}, {75, 1}, {90, 1}, {100, 1}, {120, 1}, {144, 1},
}

// SnapTolerance is how far (relative) a measured frame rate may be from a
// standard one to be taken for it: frame times measured on a busy machine
// wobble by a percent or so.
const SnapTolerance = 0.02

// nearestStandard is the standard rate closest to fps and its relative
// distance.
func nearestStandard(fps float64) (Rate, float64) {
	best, dist := StandardRates[0], math.Inf(1)
	for _, r := range StandardRates {
		if d := math.Abs(fps-r.Float()) / r.Float(); d < dist {
			best, dist = r, d
		}
	}
	return best, dist
}

// SnapRate turns a measured frame rate into a clean rational one: the
// nearest standard rate when within SnapTolerance (59.4 → 60/1, 59.94 →
// 60000/1001, 24.2 → 24/1), else the nearest whole number (62.497 →
// 62/1), and under one frame a second a fraction in thousandths
// (0.25 → 1/4).
func SnapRate(fps float64) Rate {
	if !(fps > 0) || math.IsInf(fps, 0) {
		return Rate{60, 1}
	}
	if r, d := nearestStandard(fps); d <= SnapTolerance {
		return r
	}
	if fps >= 1 {
		return Rate{int64(math.Round(fps)), 1}
	}
	return reduce(max(int64(math.Round(fps*1000)), 1), 1000)
}

// RateOf is the rate a user asked for with --fps: a whole number as it is
// (50 → 50/1), a standard rate written with decimals as that rate (29.97 →
// 30000/1001, 23.976 → 24000/1001), anything else to a thousandth of a
// frame (12.5 → 25/2).
func RateOf(fps float64) Rate {
	if r := math.Round(fps); r >= 1 && math.Abs(fps-r) < 1e-9 {
		return Rate{int64(r), 1}
	}
	if r, d := nearestStandard(fps); d < 0.0005 {
		return r
	}
	return reduce(max(int64(math.Round(fps*1000)), 1), 1000)
}

// RateOfInterval is SnapRate of the rate of one frame every interval.
func RateOfInterval(interval time.Duration) Rate {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return SnapRate(float64(time.Second) / float64(interval))
}

func reduce(num, den int64) Rate {
	a, b := num, den
	for b != 0 {
		a, b = b, a%b
	}
	return Rate{num / a, den / a}
}
