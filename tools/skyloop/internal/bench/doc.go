// Package bench measures the three costs a skyloop user cares about and
// returns them as rows for tables: encoding frames into segments (pure Go,
// in this process), moving bytes to a storage plugin (shared memory against
// the gRPC stream, through a real plugin process), and capture in a running
// game (a game binary run with -bench-json, capture off and on).
//
// Where it sits in the flow: beside the flow, measuring it; `skyloop bench`
// prints what this package returns. The Go benchmarks (go test -bench) in
// engine/segment, sdk and plugins measure the same paths for developers;
// this package is for players and plugin authors, who have a binary and no
// source tree.
package bench

import (
	"slices"
	"time"
)

// Dist is the median and 99th percentile of a set of durations.
type Dist struct {
	Median, P99 time.Duration
}

func dist(ds []time.Duration) Dist {
	if len(ds) == 0 {
		return Dist{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return Dist{Median: s[len(s)/2], P99: s[min(len(s)-1, len(s)*99/100)]}
}

// MS is a duration in milliseconds, for tables.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
