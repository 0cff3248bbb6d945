package main

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/saves"
)

// The logical screen and everything on it, in screen pixels. The screen is
// fixed: the engine scales it into whatever window the player has, so the
// game never deals with window sizes.
const (
	screenW, screenH = 640, 480
	hudH             = 40 // the score line; the playfield starts below it

	brickCols, brickRows = 10, 6
	cellW, cellH         = screenW / brickCols, 24 // a brick and its gap
	brickGap             = 2                       // empty border inside each cell
	wallTop              = 72

	paddleW, paddleH = 80.0, 12.0
	paddleY          = 440.0
	// paddleSpeed is faster than the ball ever moves sideways (maxSpeed ·
	// sin(maxBounce) ≈ 6.1), so a ball can always be reached.
	paddleSpeed = 8.0

	ballR         = 6.0
	baseSpeed     = 4.5 // pixels per tick at level 1
	speedPerLevel = 0.5
	maxSpeed      = 7.0
	maxBounce     = math.Pi / 3 // steepest angle off the paddle, from vertical

	startLives = 3
	serveDelay = 40  // ticks before the autoplayer launches the ball
	clearPause = 90  // ticks showing "level cleared"
	overPause  = 120 // ticks before the autoplayer starts a new game
)

// phase is what the game is doing; Update and Draw both switch on it.
type phase int

const (
	phaseServe   phase = iota // the ball rests on the paddle until launched
	phasePlay                 // the ball is moving
	phaseCleared              // the wall is gone; a pause, then the next level
	phaseOver                 // no lives left; waiting for a restart
)

// game is the whole game state. Only Update changes it; Draw (draw.go) only
// reads it, because the engine calls them at different rates.
type game struct {
	rng      *rand.Rand // all randomness comes from here, so a seed replays exactly
	autoplay bool

	phase        phase
	timer        int // ticks since the phase began
	score        int
	lives, level int
	levelLives   int                        // lives when the level began (no-lives-lost-level)
	bricks       [brickRows][brickCols]bool // true while standing
	left         int                        // bricks standing

	paddleX        float64 // left edge
	ballX, ballY   float64 // centre
	ballVX, ballVY float64 // pixels per tick

	aim         float64 // autoplay: where on the paddle to catch the ball, from its centre
	lastCursorX float64 // the mouse steers only when it moves

	// The record kept through engine.Saves() (record.go): best score,
	// bricks broken in all, achievements.
	rec        record
	toast      string // the achievement just unlocked, shown for a while
	toastTimer int
	saves      func() *saves.Store // engine.Saves; tests put their own store here
	loaded     bool                // the saved record was read (first Update)
	noSave     bool                // it could not be read: this run does not write it
	unsaved    int64               // bricks broken since the last Save
	dirty      bool                // the record changed since the last Save
	// Play time saved with the record (saves.Meta): what the record had
	// when it was read, plus this run's ticks (at the default 60 a second).
	playedBefore time.Duration
	ticks        int
	// This run's part, for the log line at the end.
	runBricks, runBest int

	hud, banner *gfx.Face // fonts (render resources, not state)
}

// newGame returns a game at level 1, ready to serve. The same seed and the
// same input always give the same game.
func newGame(seed int64, autoplay bool) *game {
	g := &game{
		rng:      rand.New(rand.NewPCG(uint64(seed), 0x627265616b6f7574)), // "breakout"
		autoplay: autoplay,
		saves:    engine.Saves,
		hud:      gfx.DefaultFace(18),
		banner:   gfx.DefaultFace(36),
	}
	g.restart()
	return g
}

// Layout fixes the logical screen whatever the window size.
func (g *game) Layout(int, int) (int, int) { return screenW, screenH }

func (g *game) restart() {
	g.score, g.lives, g.level = 0, startLives, 1
	g.newLevel()
}

func (g *game) newLevel() {
	for r := range g.bricks {
		for c := range g.bricks[r] {
			g.bricks[r][c] = true
		}
	}
	g.left = brickRows * brickCols
	g.levelLives = g.lives
	if g.level >= 2 {
		g.achieve(achLevel2)
	}
	g.paddleX = (screenW - paddleW) / 2
	g.serve()
}

// serve puts the ball back on the paddle (which stays where the player left it).
func (g *game) serve() {
	g.phase, g.timer = phaseServe, 0
	g.ballVX, g.ballVY = 0, 0
	g.rideOnPaddle()
	g.newAim()
}

func (g *game) rideOnPaddle() { g.ballX, g.ballY = g.paddleX+paddleW/2, paddleY-ballR }

// speed is the ball's speed, a little faster each level.
func (g *game) speed() float64 {
	return min(baseSpeed+speedPerLevel*float64(g.level-1), maxSpeed)
}

// Update advances the game by one tick.
func (g *game) Update(in *input.State) error {
	if in.JustPressed(input.KeyEscape) {
		return engine.ErrQuit
	}
	if !g.loaded {
		g.loadRecord("loaded")
	}
	g.timer++
	g.ticks++
	if g.toastTimer > 0 {
		g.toastTimer--
	}
	switch g.phase {
	case phaseServe:
		if !g.autoplay {
			g.steer(in)
		}
		g.rideOnPaddle()
		if actionPressed(in) || (g.autoplay && g.timer >= serveDelay) {
			g.launch()
		}
	case phasePlay:
		g.steer(in)
		g.moveBall()
	case phaseCleared:
		if g.timer >= clearPause {
			g.level++
			g.newLevel()
		}
	case phaseOver:
		if actionPressed(in) || (g.autoplay && g.timer >= overPause) {
			g.restart()
		}
	}
	return nil
}

// actionPressed is the one "go" button: launch, or play again.
func actionPressed(in *input.State) bool {
	if in.JustPressed(input.KeySpace) || in.JustPressed(input.KeyEnter) || in.MouseJustPressed(input.MouseLeft) {
		return true
	}
	for _, id := range in.Gamepads() {
		if in.GamepadJustPressed(id, input.GamepadA) || in.GamepadJustPressed(id, input.GamepadStart) {
			return true
		}
	}
	return false
}

// steer moves the paddle: the autoplayer chases the ball, a player uses the
// keys, a gamepad or the mouse.
func (g *game) steer(in *input.State) {
	if g.autoplay {
		target := g.ballX + g.aim - paddleW/2
		g.paddleX += clamp(target-g.paddleX, -paddleSpeed, paddleSpeed)
	} else {
		dx := 0.0
		if in.Pressed(input.KeyLeft) || in.Pressed(input.KeyA) {
			dx--
		}
		if in.Pressed(input.KeyRight) || in.Pressed(input.KeyD) {
			dx++
		}
		for _, id := range in.Gamepads() {
			if in.GamepadPressed(id, input.GamepadDpadLeft) {
				dx--
			}
			if in.GamepadPressed(id, input.GamepadDpadRight) {
				dx++
			}
			// A dead zone, since sticks rarely rest at exactly zero.
			if ax := float64(in.GamepadAxisValue(id, input.GamepadLeftX)); math.Abs(ax) > 0.2 {
				dx += ax
			}
		}
		g.paddleX += clamp(dx, -1, 1) * paddleSpeed
		// The mouse puts the paddle's centre under the cursor, but only when
		// it moved: a cursor resting over the window must not fight the keys.
		if cx, _ := in.Cursor(); cx != g.lastCursorX {
			g.lastCursorX = cx
			g.paddleX = cx - paddleW/2
		}
	}
	g.paddleX = clamp(g.paddleX, 0, screenW-paddleW)
}

// launch sends the ball up from the paddle at a random angle.
func (g *game) launch() {
	a := (g.rng.Float64()*2 - 1) * math.Pi / 6
	g.ballVX, g.ballVY = g.speed()*math.Sin(a), -g.speed()*math.Cos(a)
	g.phase, g.timer = phasePlay, 0
}

// moveBall advances the ball one tick in steps of at most 3 pixels, so even
// at top speed it cannot jump through a brick or the paddle between checks.
func (g *game) moveBall() {
	steps := int(math.Ceil(g.speed() / 3))
	for range steps {
		g.ballX += g.ballVX / float64(steps)
		g.ballY += g.ballVY / float64(steps)
		// Walls: bounce, and clamp so the ball never leaves the playfield.
		if g.ballX < ballR {
			g.ballX, g.ballVX = ballR, math.Abs(g.ballVX)
		}
		if g.ballX > screenW-ballR {
			g.ballX, g.ballVX = screenW-ballR, -math.Abs(g.ballVX)
		}
		if g.ballY < hudH+ballR {
			g.ballY, g.ballVY = hudH+ballR, math.Abs(g.ballVY)
		}
		if g.ballY >= screenH-ballR {
			g.ballY = screenH - ballR
			g.loseLife()
			return
		}
		g.hitPaddle()
		if g.hitBrick() && g.left == 0 {
			g.phase, g.timer = phaseCleared, 0
			g.wallCleared()
			return
		}
	}
}

func (g *game) loseLife() {
	g.lives--
	if g.lives > 0 {
		g.serve()
		return
	}
	g.phase, g.timer = phaseOver, 0
	g.gameOver()
}

// hitPaddle bounces a falling ball off the paddle. Where it lands sets the
// angle — straight up from the centre, up to maxBounce from the ends — which
// is what lets the player aim.
func (g *game) hitPaddle() {
	if g.ballVY <= 0 || g.ballY+ballR < paddleY || g.ballY-ballR > paddleY+paddleH ||
		g.ballX+ballR < g.paddleX || g.ballX-ballR > g.paddleX+paddleW {
		return
	}
	off := clamp((g.ballX-(g.paddleX+paddleW/2))/(paddleW/2+ballR), -1, 1)
	g.ballVX, g.ballVY = g.speed()*math.Sin(off*maxBounce), -g.speed()*math.Cos(off*maxBounce)
	g.ballY = paddleY - ballR
	g.newAim()
}

// hitBrick knocks out the first standing brick the ball overlaps and bounces
// the ball away from it, along the axis where they overlap least (the side
// the ball came through).
func (g *game) hitBrick() bool {
	for r := range brickRows {
		for c := range brickCols {
			if !g.bricks[r][c] {
				continue
			}
			x, y, w, h := brickRect(r, c)
			ox := min(g.ballX+ballR-x, x+w-(g.ballX-ballR))
			oy := min(g.ballY+ballR-y, y+h-(g.ballY-ballR))
			if ox <= 0 || oy <= 0 {
				continue
			}
			// "Away from the brick" rather than a plain sign flip, so a ball
			// grazing two neighbours does not bounce back into the second.
			if ox < oy {
				g.ballVX = math.Copysign(g.ballVX, g.ballX-(x+w/2))
			} else {
				g.ballVY = math.Copysign(g.ballVY, g.ballY-(y+h/2))
			}
			g.bricks[r][c] = false
			g.left--
			g.score += (brickRows - r) * 10 // higher rows are worth more
			g.brickBroken()
			return true
		}
	}
	return false
}

// brickRect is where brick (row, col) is drawn and collides.
func brickRect(row, col int) (x, y, w, h float64) {
	return float64(col*cellW + brickGap), float64(wallTop + row*cellH + brickGap),
		cellW - 2*brickGap, cellH - 2*brickGap
}

// newAim picks where the autoplayer catches the ball next: somewhere on the
// paddle, so the angles vary and the whole wall gets cleared — and one time
// in 40 just past its end, so it also loses lives and plays through game
// over. Drawn from the seeded rng, so a seed always plays the same game.
func (g *game) newAim() {
	if !g.autoplay {
		return
	}
	if g.rng.IntN(40) == 0 {
		g.aim = math.Copysign(paddleW/2+ballR+10, g.rng.Float64()-0.5)
		return
	}
	g.aim = (g.rng.Float64()*2 - 1) * (paddleW/2 - 4)
}

func clamp(v, lo, hi float64) float64 { return max(lo, min(v, hi)) }
