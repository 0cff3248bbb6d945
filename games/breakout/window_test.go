package main

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input/inputtest"
)

// These tests open a real window (Xvfb + Mesa under `make test`).

func TestRunInWindow(t *testing.T) {
	enginetest.RequireDisplay(t)
	for _, size := range []image.Point{{640, 480}, {1280, 720}} {
		t.Run(fmt.Sprintf("%dx%d", size.X, size.Y), func(t *testing.T) {
			var stats engine.FrameStats
			err := engine.Run(newGame(1, true), engine.Options{Width: size.X, Height: size.Y, MaxFrames: 600, VSyncOff: true, CaptureOff: true, Stats: &stats,
				ConfigPath: testConfig(t)})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if stats.Frames != 600 || stats.Ticks == 0 {
				t.Fatalf("ran %d frames and %d ticks, want 600 frames and some ticks", stats.Frames, stats.Ticks)
			}
			t.Logf("%v", stats)
		})
	}
}

// shotGame is the game with a Draw that also reads back the last frame.
type shotGame struct {
	*game
	frame, last int
	now         time.Duration // the clock Run sees
	shot        *image.RGBA
	err         error
}

func (s *shotGame) Draw(screen *gfx.Canvas) {
	s.game.Draw(screen)
	s.frame++
	s.now += time.Second / engine.DefaultTPS // exactly one tick per frame
	if s.frame == s.last {
		s.shot, s.err = screen.ReadPixels()
	}
}

// TestDrawMatchesState checks the picture against the state: every brick,
// the paddle and the ball are where the game says, in their colours, on the
// flat background. The clock is driven one tick per frame, so the window run
// must also end in exactly the state of the same number of ticks without a
// window — with saves on (starting from none) in the window run and no
// saves at all in the other: saving changes nothing the game does.
func TestDrawMatchesState(t *testing.T) {
	enginetest.RequireDisplay(t)
	const frames = 600
	s := &shotGame{game: newGame(1, true), last: frames}
	err := engine.Run(s, engine.Options{Width: 1280, Height: 720, MaxFrames: frames, VSyncOff: true, CaptureOff: true,
		Clock: func() time.Duration { return s.now }, ConfigPath: testConfig(t)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s.err != nil {
		t.Fatalf("ReadPixels: %v", s.err)
	}
	img := s.shot
	if img.Bounds() != image.Rect(0, 0, screenW, screenH) {
		t.Fatalf("screen is %v, want the 640x480 logical screen", img.Bounds())
	}
	// Run returns right after the last frame: no Update ran since the shot.
	g := s.game
	ref := newGame(1, true)
	ref.saves = nil
	tick(t, ref, inputtest.New(), frames)
	ref.Finish() // as Run does when it ends
	if digest(g) != digest(ref) {
		t.Fatalf("after %d frames at one tick each, the state differs from %d ticks without a window", frames, frames)
	}
	t.Logf("shot in phase %v: score %d, %d bricks, paddle x=%.1f, ball (%.1f, %.1f)", g.phase, g.score, g.left, g.paddleX, g.ballX, g.ballY)

	ballShown := g.phase == phaseServe || g.phase == phasePlay
	nearBall := func(x, y float64, d float64) bool {
		return ballShown && math.Abs(x-g.ballX) < ballR+d && math.Abs(y-g.ballY) < ballR+d
	}
	want := func(what string, x, y int, c color.RGBA) {
		t.Helper()
		if got := img.RGBAAt(x, y); got != c {
			t.Errorf("%s: pixel (%d,%d) = %v, want %v", what, x, y, got, c)
		}
	}

	standing := 0
	for r := range brickRows {
		for c := range brickCols {
			x, y, w, h := brickRect(r, c)
			cx, cy := x+w/2, y+h/2
			if nearBall(cx, cy, w/2+1) {
				continue
			}
			if g.bricks[r][c] {
				standing++
				want(fmt.Sprintf("standing brick %d,%d", r, c), int(cx), int(cy), rowColors[r])
			} else {
				want(fmt.Sprintf("knocked-out brick %d,%d", r, c), int(cx), int(cy), bgColor)
			}
		}
	}
	if standing == 0 {
		t.Error("no standing brick was checked")
	}
	// The paddle, at whichever end is further from the ball.
	px := int(g.paddleX) + 2
	if g.ballX < g.paddleX+paddleW/2 {
		px = int(g.paddleX+paddleW) - 3
	}
	want("paddle", px, int(paddleY+paddleH)-2, paddleColor)
	want("above the paddle", px, int(paddleY)-20, bgColor)
	if ballShown {
		want("ball", int(g.ballX), int(g.ballY), ballColor)
	}
	for _, p := range []image.Point{{4, 240}, {635, 240}, {4, 470}, {635, 470}} {
		if !nearBall(float64(p.X), float64(p.Y), 2) {
			want("background", p.X, p.Y, bgColor)
		}
	}
	want("HUD line", 320, hudH-1, lineColor)
	text := 0
	for y := range hudH - 2 {
		for x := range screenW {
			if img.RGBAAt(x, y) != bgColor {
				text++
			}
		}
	}
	if text < 200 {
		t.Errorf("only %d HUD text pixels", text)
	}
}
