package engine

import "time"

// tickScheduler turns wall-clock time into a number of fixed ticks. Time
// accumulates across frames, so Update runs TPS times per second of clock
// whatever the frame rate. A backlog of more than one second of ticks (a
// debugger pause, a suspended laptop) is dropped rather than replayed, so the
// game slows down instead of freezing in a catch-up spiral.
type tickScheduler struct {
	step     time.Duration
	maxTicks int
	acc      time.Duration
	last     time.Duration
	started  bool
}

func newTickScheduler(tps int) *tickScheduler {
	return &tickScheduler{step: time.Second / time.Duration(tps), maxTicks: tps}
}

// ticks returns how many Updates are due at clock reading now. The first
// call always returns 1, so the first frame draws an updated game.
func (s *tickScheduler) ticks(now time.Duration) int {
	if !s.started {
		s.started, s.last = true, now
		return 1
	}
	if now > s.last {
		s.acc += now - s.last
	}
	s.last = now
	n := int(s.acc / s.step)
	s.acc -= time.Duration(n) * s.step
	if n > s.maxTicks {
		n, s.acc = s.maxTicks, 0
	}
	return n
}
