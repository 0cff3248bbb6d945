package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/input/inputtest"
)

// These tests drive Update directly, as the engine's loop does (a tick
// applies the queued input, then Update), with no window: inputtest stands
// in for the window's events.

// digest sums up the whole game state; %v prints floats exactly.
func digest(g *game) string {
	s := fmt.Sprintf("%d %d %d %d %d %d %d %v %v %v %v %v %v %v %v %d %v %q %d",
		g.phase, g.timer, g.score, g.rec.Best.Value(), g.lives, g.level, g.left,
		g.paddleX, g.ballX, g.ballY, g.ballVX, g.ballVY, g.aim, g.lastCursorX, g.bricks,
		g.rec.Bricks.Value(), g.rec.Achievements.Names(), g.toast, g.toastTimer)
	return fmt.Sprintf("%x", sha256.Sum256([]byte(s)))
}

// tick runs n ticks with the given input state, failing on an error.
func tick(t *testing.T, g *game, in *inputtest.Driver, n int) {
	t.Helper()
	for range n {
		if err := g.Update(in.Tick()); err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
}

func TestAutoplayPlays(t *testing.T) {
	g := newGame(1, true)
	in := inputtest.New()
	for i := range 3000 {
		tick(t, g, in, 1)
		if g.ballX < ballR || g.ballX > screenW-ballR || g.ballY < hudH+ballR || g.ballY > screenH-ballR {
			t.Fatalf("tick %d: ball at (%v, %v), outside the playfield", i+1, g.ballX, g.ballY)
		}
		if g.paddleX < 0 || g.paddleX > screenW-paddleW {
			t.Fatalf("tick %d: paddle at %v, off screen", i+1, g.paddleX)
		}
	}
	if g.score == 0 && g.rec.Best.Value() == 0 {
		t.Fatal("no points after 3000 ticks of autoplay")
	}
}

// TestAutoplayGoesOn runs ten minutes of game time: the autoplayer must clear
// a wall, lose a game, and carry on after both.
func TestAutoplayGoesOn(t *testing.T) {
	g := newGame(2, true)
	in := inputtest.New()
	seen := map[phase]int{}
	prev := g.phase
	for range 60 * 60 * 10 {
		tick(t, g, in, 1)
		if g.phase != prev {
			seen[g.phase]++
			prev = g.phase
		}
	}
	if seen[phaseCleared] == 0 || seen[phaseOver] == 0 {
		t.Fatalf("phases entered in 10 minutes: %v; want at least one cleared wall and one game over", seen)
	}
	if g.phase == phaseOver && g.timer > overPause {
		t.Fatalf("stuck at game over for %d ticks", g.timer)
	}
}

func TestSameSeedSameGame(t *testing.T) {
	run := func(seed int64) string {
		g := newGame(seed, true)
		tick(t, g, inputtest.New(), 5000)
		return digest(g)
	}
	a, b, c := run(7), run(7), run(8)
	if a != b {
		t.Fatalf("seed 7 twice: %s != %s", a, b)
	}
	if a == c {
		t.Fatalf("seeds 7 and 8 ended in the same state %s", a)
	}
}

func TestKeyboardMovesPaddle(t *testing.T) {
	g := newGame(1, false)
	in := inputtest.New()
	x0 := g.paddleX
	in.Press(input.KeyRight)
	tick(t, g, in, 5)
	if want := x0 + 5*paddleSpeed; g.paddleX != want {
		t.Fatalf("after 5 ticks of Right: paddle at %v, want %v", g.paddleX, want)
	}
	if g.ballX != g.paddleX+paddleW/2 {
		t.Fatalf("serving ball at x=%v, want it riding on the paddle at %v", g.ballX, g.paddleX+paddleW/2)
	}
	in.Release(input.KeyRight)
	in.Press(input.KeyA)
	tick(t, g, in, 200) // far past the left wall
	if g.paddleX != 0 {
		t.Fatalf("after holding A: paddle at %v, want 0 (stopped by the wall)", g.paddleX)
	}
}

func TestMouseMovesPaddle(t *testing.T) {
	g := newGame(1, false)
	in := inputtest.New()
	in.Cursor(100, 300)
	tick(t, g, in, 1)
	if g.paddleX+paddleW/2 != 100 {
		t.Fatalf("paddle centre at %v, want 100 under the cursor", g.paddleX+paddleW/2)
	}
	// A cursor that rests does not hold the paddle against the keys.
	in.Press(input.KeyD)
	tick(t, g, in, 1)
	if g.paddleX+paddleW/2 != 100+paddleSpeed {
		t.Fatalf("paddle centre at %v, want %v", g.paddleX+paddleW/2, 100+paddleSpeed)
	}
}

func TestLaunchAndQuit(t *testing.T) {
	g := newGame(1, false)
	in := inputtest.New()
	tick(t, g, in, 100)
	if g.phase != phaseServe {
		t.Fatalf("phase %v without input, want serve (a player launches)", g.phase)
	}
	in.Press(input.KeySpace)
	tick(t, g, in, 1)
	if g.phase != phasePlay || g.ballVY >= 0 {
		t.Fatalf("after Space: phase %v, ball velocity (%v, %v); want play, going up", g.phase, g.ballVX, g.ballVY)
	}
	in.Press(input.KeyEscape)
	if err := g.Update(in.Tick()); !errors.Is(err, engine.ErrQuit) {
		t.Fatalf("Update after Escape = %v, want engine.ErrQuit", err)
	}
}

func TestLevelCleared(t *testing.T) {
	g := newGame(1, false)
	in := inputtest.New()
	// Leave one brick and put the ball just under it, going up.
	g.bricks = [brickRows][brickCols]bool{}
	g.bricks[brickRows-1][3] = true
	g.left = 1
	x, y, w, h := brickRect(brickRows-1, 3)
	g.phase, g.ballX, g.ballY, g.ballVX, g.ballVY = phasePlay, x+w/2, y+h+ballR+1, 0, -g.speed()
	tick(t, g, in, 1)
	if g.phase != phaseCleared || g.score != 10 {
		t.Fatalf("after the last brick: phase %v score %d, want cleared and 10", g.phase, g.score)
	}
	tick(t, g, in, clearPause)
	if g.level != 2 || g.left != brickRows*brickCols || g.phase != phaseServe || g.score != 10 {
		t.Fatalf("after the pause: level %d, %d bricks, phase %v, score %d; want level 2, a full wall, serving, score kept",
			g.level, g.left, g.phase, g.score)
	}
	if g.speed() <= baseSpeed {
		t.Fatalf("level 2 ball speed %v, want faster than level 1 (%v)", g.speed(), baseSpeed)
	}
}

func TestGameOverAndRestart(t *testing.T) {
	g := newGame(1, false)
	in := inputtest.New()
	g.lives, g.score = 1, 120
	g.paddleX = 0 // out of the way
	g.phase, g.ballX, g.ballY, g.ballVX, g.ballVY = phasePlay, 400, screenH-ballR-1, 0, 4
	tick(t, g, in, 1)
	if g.phase != phaseOver || g.lives != 0 || g.rec.Best.Value() != 120 {
		t.Fatalf("after the last ball: phase %v, lives %d, best %d; want game over, 0, 120", g.phase, g.lives, g.rec.Best.Value())
	}
	tick(t, g, in, 1000)
	if g.phase != phaseOver {
		t.Fatal("a player's game restarted by itself")
	}
	in.Press(input.KeyEnter)
	tick(t, g, in, 1)
	if g.phase != phaseServe || g.lives != startLives || g.score != 0 || g.level != 1 || g.rec.Best.Value() != 120 {
		t.Fatalf("after Enter: phase %v lives %d score %d level %d best %d; want a new game keeping the best score",
			g.phase, g.lives, g.score, g.level, g.rec.Best.Value())
	}
}
