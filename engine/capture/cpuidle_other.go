//go:build !linux

package capture

import "time"

// idleMeter knows no idle CPU outside Linux.
type idleMeter struct{}

func (*idleMeter) sample(time.Time) float64 { return -1 }
func (*idleMeter) close()                   {}
