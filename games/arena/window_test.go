package main

import (
	"fmt"
	"image"
	"math"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
)

func TestRunInWindow(t *testing.T) {
	enginetest.RequireDisplay(t)
	for _, size := range [][2]int{{960, 540}, {1920, 1080}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			var stats engine.FrameStats
			// CaptureOff: a test run should not record into the player's data directory.
			opts := engine.Options{Width: size[0], Height: size[1], MaxFrames: 600, VSyncOff: true, CaptureOff: true, Stats: &stats}
			if err := engine.Run(newGame(1, true), opts); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if stats.Frames != 600 {
				t.Errorf("drew %d frames, want 600", stats.Frames)
			}
			t.Log(stats)
		})
	}
}

// shotGame runs the game with exactly one tick per frame (it drives the
// engine's injected clock from Draw) and reads back the last two frames.
type shotGame struct {
	*game
	now         time.Duration
	frame, last int
	prev, shot  *image.RGBA
	err         error
	p           player // the ship when the last frame was drawn
	over        bool
	shake       int
}

func (s *shotGame) Draw(c *gfx.Canvas) {
	s.game.Draw(c)
	s.frame++
	s.now += time.Second / 60
	if s.frame < s.last-1 {
		return
	}
	img, err := c.ReadPixels()
	if err != nil {
		s.err = err
	}
	s.prev, s.shot = s.shot, img
	s.p, s.over, s.shake = s.game.p, s.game.over, s.game.shake
}

func TestDrawShowsState(t *testing.T) {
	enginetest.RequireDisplay(t)
	g := &shotGame{game: newGame(1, true), last: 180}
	opts := engine.Options{Width: screenW, Height: screenH, MaxFrames: g.last, VSyncOff: true, CaptureOff: true,
		Clock: func() time.Duration { return g.now }}
	if err := engine.Run(g, opts); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if g.err != nil || g.shot == nil || g.prev == nil {
		t.Fatalf("ReadPixels: %v", g.err)
	}
	if g.tick != g.last {
		t.Fatalf("%d ticks in %d frames, want one a frame", g.tick, g.last)
	}

	// The background flows every tick: most pixels differ between frames.
	changed := 0
	for i := 0; i < len(g.shot.Pix); i += 4 {
		if [3]byte(g.shot.Pix[i:i+3]) != [3]byte(g.prev.Pix[i:i+3]) {
			changed++
		}
	}
	frac := float64(changed) / float64(screenW*screenH)
	t.Logf("%.1f%% of pixels changed between the last two frames; %d enemies, %d particles", 100*frac, len(g.enemies), len(g.particles))
	if frac < 0.5 {
		t.Errorf("only %.1f%% of pixels changed between consecutive frames, want > 50%%", 100*frac)
	}

	// The ship is drawn, unshaken and not blinking, at the player's position.
	if g.over || g.shake != 0 || (g.p.invuln/4)%2 != 0 {
		t.Fatalf("at the last frame the ship is not plainly visible (over=%v shake=%d invuln=%d): pick another frame", g.over, g.shake, g.p.invuln)
	}
	x, y := int(math.Floor(g.p.x)), int(math.Floor(g.p.y))
	got := g.shot.RGBAAt(x, y)
	near := func(a, b uint8) bool { return max(a, b)-min(a, b) <= 8 }
	if !near(got.R, shipColor.R) || !near(got.G, shipColor.G) || !near(got.B, shipColor.B) {
		t.Errorf("pixel at the ship (%d, %d) = %v, want about %v", x, y, got, shipColor)
	}
}
