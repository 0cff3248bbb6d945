package capture

import (
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// fakeEncoder is a deterministic model of the encoders: a cost per frame
// at each effort level, a budget per frame (the interval between frames),
// and a queue that grows by what the encoder cannot keep up with. No clock
// is read: time advances one Interval per frame.
type fakeEncoder struct {
	cost     [segment.MaxEffort + 1]time.Duration
	interval time.Duration
	queueCap int
	backlog  time.Duration // encoder work not done yet
	busy     float64       // the machine's busy CPU fraction; 0 unknown
}

// step encodes one frame at level and returns the sample the controller
// sees next.
func (e *fakeEncoder) step(level int) EffortSample {
	e.backlog += e.cost[level] - e.interval
	e.backlog = max(0, e.backlog)
	depth := min(int(e.backlog/e.interval), e.queueCap)
	return EffortSample{QueueDepth: depth, QueueCap: e.queueCap, Workers: 1, Interval: e.interval, Encoded: e.cost[level], Level: level, Busy: e.busy}
}

// run drives the controller for n frames and returns the level chosen for
// each.
func run(c *EffortController, e *fakeEncoder, n int) []int {
	levels := make([]int, n)
	level := c.Level()
	for i := range n {
		level = c.Observe(e.step(level))
		levels[i] = level
	}
	return levels
}

func changes(levels []int) int {
	n := 0
	for i := 1; i < len(levels); i++ {
		if levels[i] != levels[i-1] {
			n++
		}
	}
	return n
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// Encoders slower than the frames at the start level: the controller goes
// down to the level that fits, within a few settle periods, and stays.
func TestEffortLowersWhenBehind(t *testing.T) {
	e := &fakeEncoder{cost: [5]time.Duration{0, ms(3), ms(14), ms(25), ms(40)}, interval: ms(16.7), queueCap: 8}
	c := NewEffortController(4)
	levels := run(c, e, 300)
	if got := levels[len(levels)-1]; got != 2 {
		t.Fatalf("settled at effort %d, want 2 (the highest whose 14 ms fits a 16.7 ms frame): %v", got, levels[:40])
	}
	for i, l := range levels[:3*c.Settle+4] {
		if l == 2 {
			t.Logf("reached effort 2 after %d frames", i+1)
			break
		}
	}
	if levels[3*c.Settle+3] > 2 {
		t.Errorf("still above effort 2 after %d frames: %v", 3*c.Settle+4, levels[:3*c.Settle+4])
	}
	if n := changes(levels[40:]); n != 0 {
		t.Errorf("%d changes after settling: %v", n, levels[40:])
	}
}

// A nearly full queue lowers the effort at once, without waiting to settle.
func TestEffortLowersAtOnceWhenTheQueueIsNearlyFull(t *testing.T) {
	c := NewEffortController(3)
	// Effort 3 measured too slow to drain the queue, just after a change
	// as far as settling goes.
	s := EffortSample{QueueDepth: 1, QueueCap: 8, Workers: 1, Interval: ms(16), Encoded: ms(20), Level: 3}
	if got := c.Observe(s); got != 3 {
		t.Fatalf("lowered to %d before settling, with the queue short", got)
	}
	s.QueueDepth, s.Encoded = 6, 0 // 6 of 8: urgent
	if got := c.Observe(s); got != 2 {
		t.Fatalf("queue 6/8: effort %d, want 2", got)
	}
	if got := c.Observe(s); got != 1 {
		t.Fatalf("queue still 6/8: effort %d, want 1", got)
	}
	if got := c.Observe(s); got != 1 {
		t.Fatalf("effort %d below the minimum", got)
	}
}

// Idle encoders: the controller climbs one step per RaiseAfter idle
// frames while the next level fits. Level 4 is unmeasured and guessed to
// fit, is tried once, found too slow (15 of 16.7 ms) and left for good.
func TestEffortRaisesWhenIdle(t *testing.T) {
	e := &fakeEncoder{cost: [5]time.Duration{0, ms(1), ms(2), ms(5), ms(15)}, interval: ms(16.7), queueCap: 8}
	c := NewEffortController(1)
	levels := run(c, e, 3000)
	first := -1
	for i, l := range levels {
		if l > 1 {
			first = i
			break
		}
	}
	if first < c.RaiseAfter-1 {
		t.Errorf("raised after %d frames, want at least RaiseAfter=%d", first+1, c.RaiseAfter)
	}
	if got := levels[len(levels)-1]; got != 3 {
		t.Fatalf("settled at effort %d, want 3: %v", got, levels[:200])
	}
	if n := changes(levels); n > 4 {
		t.Errorf("%d changes, want at most 4 (1→2→3→4→3): %v", n, levels[:200])
	}
	if l := levels[len(levels)/2:]; changes(l) != 0 {
		t.Errorf("still changing in the second half")
	}
}

// A level that looks affordable from a guess but is not: the controller
// tries it, comes back down, and waits longer each time before trying
// again; it never changes every frame.
func TestEffortDoesNotOscillate(t *testing.T) {
	// Level 3 is just too slow; 2 is comfortably idle, so the guess (twice
	// 2's cost) says 3 fits until 3 has been measured.
	e := &fakeEncoder{cost: [5]time.Duration{0, ms(1), ms(5), ms(18), ms(30)}, interval: ms(16.7), queueCap: 8}
	c := NewEffortController(2)
	levels := run(c, e, 3000)
	n := changes(levels)
	if n > 4 {
		t.Errorf("%d changes in 3000 frames: oscillating", n)
	}
	for i := 2; i < len(levels); i++ {
		if levels[i] != levels[i-1] && levels[i-1] != levels[i-2] {
			t.Fatalf("changed on two frames in a row at %d: %v", i, levels[max(0, i-10):i+1])
		}
	}
	if got := levels[len(levels)-1]; got != 2 {
		t.Errorf("ended at effort %d, want 2", got)
	}
}

// A measured level that would not fit is never tried: with level 3 known
// to cost more than the budget, idle time at 2 does not raise.
func TestEffortRaiseNeedsTheNextLevelToFit(t *testing.T) {
	c := NewEffortController(3)
	c.Observe(EffortSample{QueueCap: 8, Workers: 1, Interval: ms(16), Encoded: ms(20), Level: 3})
	for range c.Settle {
		c.Observe(EffortSample{QueueDepth: 4, QueueCap: 8, Workers: 1, Interval: ms(16)})
	}
	if c.Level() != 2 {
		t.Fatalf("effort %d, want 2 after falling behind at 3", c.Level())
	}
	for range 2000 {
		c.Observe(EffortSample{QueueCap: 8, Workers: 1, Interval: ms(16), Encoded: ms(2), Level: 2})
	}
	if c.Level() != 2 {
		t.Fatalf("raised to %d although 3 costs 20 ms of a 16 ms frame", c.Level())
	}
	// Frames arrive half as often: 3 fits now (20/32 < Fit).
	for range 200 {
		c.Observe(EffortSample{QueueCap: 8, Workers: 1, Interval: ms(32), Encoded: ms(2), Level: 2})
	}
	if c.Level() != 3 {
		t.Fatalf("effort %d, want 3 once it fits", c.Level())
	}
}

// Whatever it is fed, the level stays in 1..4, and in Min..Max when set.
func TestEffortStaysInBounds(t *testing.T) {
	for _, b := range [][2]int{{0, 0}, {2, 3}, {-5, 9}, {4, 4}} {
		c := &EffortController{Min: b[0], Max: b[1]}
		lo := min(max(b[0], segment.MinEffort), segment.MaxEffort)
		hi := min(max(b[1], lo), segment.MaxEffort)
		if b[1] == 0 {
			hi = segment.MaxEffort
		}
		samples := []EffortSample{
			{QueueDepth: 8, QueueCap: 8, Workers: 1, Interval: ms(16), Encoded: ms(100), Level: 4},
			{QueueDepth: 0, QueueCap: 8, Workers: 1, Interval: ms(16), Encoded: ms(0.1), Level: 1},
			{QueueDepth: 0, QueueCap: 0, Workers: 0, Interval: 0, Encoded: -1, Level: 7},
		}
		for i := range 5000 {
			s := samples[(i/97)%len(samples)]
			if l := c.Observe(s); l < lo || l > hi {
				t.Fatalf("bounds %v: level %d outside %d..%d", b, l, lo, hi)
			}
		}
	}
	if l := NewEffortController(9).Level(); l != segment.MaxEffort {
		t.Errorf("start 9: level %d", l)
	}
	if l := NewEffortController(0).Level(); l != segment.DefaultEffort {
		t.Errorf("start 0: level %d", l)
	}
}

// Encoders with time to spare on a machine whose cores are busy (the
// renderer on every core) do not raise the effort: the time would come
// from the game. With idle cores they do.
func TestEffortRaisesOnlyWithIdleCores(t *testing.T) {
	e := &fakeEncoder{cost: [5]time.Duration{0, ms(1), ms(2), ms(3), ms(4)}, interval: ms(16.7), queueCap: 8, busy: 0.85}
	c := NewEffortController(1)
	if levels := run(c, e, 2000); changes(levels) != 0 || levels[len(levels)-1] != 1 {
		t.Fatalf("busy cores (15 %% idle): effort changed to %d", levels[len(levels)-1])
	}
	e.busy = 0.5
	if levels := run(c, e, 2000); levels[len(levels)-1] != 4 {
		t.Fatalf("idle cores: effort %d, want 4", levels[len(levels)-1])
	}
}

// A busy machine (under IdleMin idle) lowers the effort to the minimum
// even though the encoders keep up easily: each millisecond they spend is
// one the game does not get. It goes back up once cores are idle again.
func TestEffortLowersOnASaturatedMachine(t *testing.T) {
	e := &fakeEncoder{cost: [5]time.Duration{0, ms(1), ms(2), ms(3), ms(4)}, interval: ms(16.7), queueCap: 8, busy: 0.97}
	c := NewEffortController(4)
	levels := run(c, e, 200)
	if l := levels[len(levels)-1]; l != segment.MinEffort {
		t.Fatalf("saturated machine, encoders at a quarter of their budget: effort %d, want %d", l, segment.MinEffort)
	}
	if changes(levels) != 3 {
		t.Errorf("went down in %d changes, want 3 (one level at a time): %v", changes(levels), levels[:40])
	}
	e.busy = 0.4
	if levels := run(c, e, 4000); levels[len(levels)-1] != 4 {
		t.Fatalf("cores idle again: effort %d, want 4", levels[len(levels)-1])
	}
}

func TestParseCPULine(t *testing.T) {
	idle, total, ok := parseCPULine([]byte("cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 1 2 3 4\n"))
	if !ok || idle != 820 || total != 981 {
		t.Fatalf("idle %d total %d ok %v, want 820 981 true", idle, total, ok)
	}
	if _, _, ok := parseCPULine([]byte("intr 1 2")); ok {
		t.Error("parsed a line that is not cpu")
	}
}

// Idle cores are not enough: a raise must leave IdleMin (25 %) of the
// machine idle. A game at 200 fps on 2 cores with 40 % idle has 4 ms of
// idle CPU a frame, 1.5 ms of it above IdleMin: level 2, measured at 2 ms
// more than level 1, leaves 20 % idle: it is left within a settle period
// and not tried again for long (the wait doubles); once it costs 1 ms
// more it is tried again when its old cost is forgotten, taken and kept.
func TestEffortRaiseMustFitTheIdleCPU(t *testing.T) {
	e := &fakeEncoder{cost: [5]time.Duration{0, ms(0.5), ms(2.5), ms(4), ms(4.5)}, interval: ms(5), queueCap: 8, busy: 0.6}
	step := func(level int) EffortSample {
		s := e.step(level)
		s.Workers, s.Cores = 2, 2
		// The encoder's own CPU shows in the machine's busy share.
		s.Busy = e.busy + float64(e.cost[level]-e.cost[1])/float64(2*e.interval)
		return s
	}
	c := NewEffortController(1)
	level, at2 := c.Level(), 0
	for range 4000 {
		level = c.Observe(step(level))
		if level == 2 {
			at2++
		}
	}
	if level != 1 || at2 > 50 {
		t.Fatalf("level 2 costs 2 ms more a frame, 1.5 ms is spare: effort %d, %d of 4000 frames at 2", level, at2)
	}
	e.cost[2] = ms(1.5) // remeasured only once the old cost is forgotten
	for range 8000 {
		level = c.Observe(step(level))
	}
	if level != 2 {
		t.Fatalf("level 2 now costs 1 ms more: effort %d, want 2", level)
	}
}

// A short idle spell (start-up) raises nothing: the encoders must have
// been idle for RaiseHold.
func TestEffortRaiseWaitsForASustainedIdle(t *testing.T) {
	e := &fakeEncoder{cost: [5]time.Duration{0, ms(0.2), ms(0.4), ms(0.6), ms(0.8)}, interval: ms(4), queueCap: 8, busy: 0.3}
	c := NewEffortController(1)
	for cycle := range 20 {
		e.busy = 0.3 // 0.8 s idle: 200 frames at 4 ms, well past RaiseAfter samples
		if levels := run(c, e, 200); levels[len(levels)-1] != 1 {
			t.Fatalf("cycle %d: raised to %d after 0.8 s of idle", cycle, levels[len(levels)-1])
		}
		e.busy = 0.85
		run(c, e, 10)
	}
	e.busy = 0.3
	if levels := run(c, e, 300); levels[len(levels)-1] != 2 {
		t.Fatalf("1.2 s of idle: effort %d, want 2", levels[len(levels)-1])
	}
}
