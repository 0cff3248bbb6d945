package capture

import (
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// EffortSample is what the pipeline knows when it picks the effort of the
// next frame. Everything in it is measured by the caller; the controller
// reads no clock.
type EffortSample struct {
	QueueDepth int // frames waiting for an encoder
	QueueCap   int // the queue's capacity
	Workers    int // encoder goroutines (at least 1)
	// Interval is the time between frames arriving from the render thread
	// (a smoothed average): each frame's budget of encoder time, per
	// worker. Zero: not known yet.
	Interval time.Duration
	// Encoded is the encode time of a frame finished since the last
	// sample, and Level the effort it was encoded at; Level 0: none
	// finished.
	Encoded time.Duration
	Level   int
	// Busy is the fraction of the machine's CPU time (all cores) spent
	// busy lately; 0: unknown. Raising needs idle cores, and a machine
	// with almost none idle lowers the effort: with the renderer on every
	// core (llvmpipe), or a game that keeps them busy, every millisecond
	// of compression is taken from the game, whatever the encoders'
	// headroom.
	Busy float64
	// Cores is the number of CPUs Busy is a fraction of (0: unknown).
	// With it, a raise must fit the next level's extra encode time per
	// frame into the idle CPU time there is per frame and still leave
	// IdleMin of the machine idle, not just find some idle.
	Cores int
}

// EffortController picks the segment effort (segment.MinEffort to
// segment.MaxEffort) frame by frame from the encoders' headroom: it lowers
// the effort when the encoders fall behind — encoding at this effort takes
// more than High of the frames' budget, or the queue fills at a level not
// measured to drain it — or the machine has less than IdleMin of its CPU
// idle, and raises it when they have had time to spare for a while,
// the machine has idle cores (IdleMin), and the next effort is expected to
// fit. It never changes more than once in Settle samples except to go
// down when the queue is nearly full, it waits RaiseAfter idle samples
// before raising, and a raise that had to be undone doubles the wait for
// that level (up to MaxRaiseAfter), so it does not oscillate between two
// levels. It is a pure type: the pipeline's sequencer owns it and feeds it
// one EffortSample per frame.
type EffortController struct {
	Min, Max      int     // bounds; default segment.MinEffort, segment.MaxEffort
	High          float64 // load above which the effort goes down; default 0.85
	Low           float64 // load under which it may go up; default 0.5
	Fit           float64 // the next level's expected load must be under this; default 0.7
	Settle        int     // samples after a change before the next (unless urgent); default 8
	RaiseAfter    int     // idle samples in a row before raising; default 30
	MaxRaiseAfter int     // the longest the wait may grow to; default 960
	// IdleMin: raising needs at least this share of the machine's CPU
	// idle (when known) and must leave it idle; less idle lowers the
	// effort. Default 0.25.
	IdleMin float64
	// RaiseHold is how long (summed sample Intervals) the encoders must
	// have been idle before a raise; default 1 s, so a moment of idle at
	// start-up (plugins launching) raises nothing.
	RaiseHold time.Duration

	level    int
	cost     [segment.MaxEffort + 1]float64 // smoothed encode seconds per frame, by level; 0: unknown
	since    int                            // samples since the last change
	idle     int                            // idle samples in a row
	idleFor  time.Duration                  // their summed Intervals
	refused  int                            // samples a raise was due but the next level's known cost did not fit
	wait     [segment.MaxEffort + 1]int     // RaiseAfter for raising from each level
	raisedTo int                            // the level last raised to, while on probation (0: none)
	started  bool
}

// NewEffortController starts at the given level (0: segment.DefaultEffort).
func NewEffortController(start int) *EffortController {
	c := &EffortController{}
	c.init(start)
	return c
}

func (c *EffortController) init(start int) {
	if c.Min == 0 {
		c.Min = segment.MinEffort
	}
	if c.Max == 0 {
		c.Max = segment.MaxEffort
	}
	c.Min = min(max(c.Min, segment.MinEffort), segment.MaxEffort)
	c.Max = min(max(c.Max, c.Min), segment.MaxEffort)
	if c.High == 0 {
		c.High = 0.85
	}
	if c.Low == 0 {
		c.Low = 0.5
	}
	if c.Fit == 0 {
		c.Fit = 0.7
	}
	if c.Settle == 0 {
		c.Settle = 8
	}
	if c.RaiseAfter == 0 {
		c.RaiseAfter = 30
	}
	if c.MaxRaiseAfter == 0 {
		c.MaxRaiseAfter = 960
	}
	if c.IdleMin == 0 {
		c.IdleMin = 0.25
	}
	if c.RaiseHold == 0 {
		c.RaiseHold = time.Second
	}
	if start == 0 {
		start = segment.DefaultEffort
	}
	c.level = min(max(start, c.Min), c.Max)
	for i := range c.wait {
		c.wait[i] = c.RaiseAfter
	}
	c.started = true
}

// Level is the effort chosen by the last Observe (or the start level).
func (c *EffortController) Level() int {
	if !c.started {
		c.init(0)
	}
	return c.level
}

// Cost is the smoothed encode time per frame measured at a level (0:
// never measured).
func (c *EffortController) Cost(level int) time.Duration {
	if level < 0 || level >= len(c.cost) {
		return 0
	}
	return time.Duration(c.cost[level] * float64(time.Second))
}

// load is the fraction of the encoders' time a frame at level takes.
func (c *EffortController) load(level int, s EffortSample) (float64, bool) {
	if c.cost[level] == 0 || s.Interval <= 0 {
		return 0, false
	}
	return c.cost[level] / (s.Interval.Seconds() * float64(max(1, s.Workers))), true
}

// Observe takes one sample and returns the effort for the next frame.
func (c *EffortController) Observe(s EffortSample) int {
	if !c.started {
		c.init(0)
	}
	if s.Level >= segment.MinEffort && s.Level <= segment.MaxEffort && s.Encoded > 0 {
		sec := s.Encoded.Seconds()
		if c.cost[s.Level] == 0 {
			c.cost[s.Level] = sec
		} else {
			c.cost[s.Level] += (sec - c.cost[s.Level]) / 8
		}
	}
	c.since++
	qcap := max(1, s.QueueCap)
	load, known := c.load(c.level, s)
	// A deep queue means behind unless this level is measured to drain
	// it (load under 1): then lowering more would only cost bytes. A
	// nearly full queue at a level that does not drain it is urgent.
	deep := s.QueueDepth*2 >= qcap && s.QueueDepth >= 2
	draining := known && load < 1
	urgent := s.QueueDepth*4 >= qcap*3 && s.QueueDepth >= 2 && !draining
	saturated := s.Busy > 0 && 1-s.Busy < c.IdleMin
	behind := urgent || (deep && !draining) || (known && load > c.High) || saturated
	switch {
	case behind && c.level > c.Min && (urgent || c.since >= c.Settle):
		if c.raisedTo == c.level {
			// The last raise did not hold: wait longer before trying again.
			c.wait[c.level-1] = min(2*c.wait[c.level-1], c.MaxRaiseAfter)
		}
		c.raisedTo = 0
		c.level--
		c.since, c.idle, c.idleFor = 0, 0, 0
		return c.level
	case behind:
		c.idle, c.idleFor = 0, 0
		return c.level
	}
	if s.QueueDepth <= 1 && known && load < c.Low && (s.Busy <= 0 || 1-s.Busy >= c.IdleMin) {
		c.idle++
		c.idleFor += s.Interval
	} else {
		c.idle, c.idleFor = 0, 0
	}
	if c.raisedTo == c.level && c.since >= 4*c.wait[c.level-1] {
		// The raise held for a good while: forgive the level below.
		c.wait[c.level-1] = c.RaiseAfter
		c.raisedTo = 0
	}
	if c.level < c.Max && c.since >= c.Settle && c.idle >= c.wait[c.level] && c.idleFor >= c.RaiseHold {
		next, ok := c.load(c.level+1, s)
		extra := c.cost[c.level+1] - c.cost[c.level]
		if !ok {
			// Never measured: guess it costs twice this level.
			next, extra = 2*load, c.cost[c.level]
		}
		fits := next < c.Fit
		if s.Busy > 0 && s.Cores > 0 {
			// The raise must leave IdleMin of the machine idle: its extra
			// encode time comes out of the idle CPU there is per frame.
			spare := (1 - s.Busy - c.IdleMin) * float64(s.Cores) * s.Interval.Seconds()
			fits = fits && extra <= spare
		}
		if fits {
			c.level++
			c.raisedTo = c.level
			c.since, c.idle, c.idleFor, c.refused = 0, 0, 0, 0
		} else if ok {
			// Content changes, and with it what a level costs: a cost
			// that has kept a raise out for 4×MaxRaiseAfter samples (a
			// minute at 60 fps) is forgotten, so the level is tried (and
			// measured) again.
			if c.refused++; c.refused >= 4*c.MaxRaiseAfter {
				c.cost[c.level+1], c.refused = 0, 0
			}
		}
	}
	return c.level
}
