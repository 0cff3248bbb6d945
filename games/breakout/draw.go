package main

import (
	"fmt"
	"image/color"
	"math"

	"github.com/skyloop-engine/skyloop/engine/gfx"
)

// Colours. The background is one flat colour and nothing animates on its
// own, so from one frame to the next only the ball, the paddle and the odd
// brick or score digit change: the recording compresses well.
var (
	bgColor     = color.RGBA{16, 20, 36, 255}
	lineColor   = color.RGBA{44, 52, 84, 255}
	textColor   = color.RGBA{210, 214, 230, 255}
	paddleColor = color.RGBA{120, 200, 255, 255}
	ballColor   = color.RGBA{255, 255, 255, 255}
	rowColors   = [brickRows]color.RGBA{
		{220, 64, 64, 255},  // red
		{232, 140, 52, 255}, // orange
		{224, 200, 64, 255}, // yellow
		{84, 188, 92, 255},  // green
		{72, 140, 228, 255}, // blue
		{152, 92, 212, 255}, // purple
	}
)

// Draw renders the current state. It reads the game and changes nothing.
func (g *game) Draw(screen *gfx.Canvas) {
	screen.Clear(bgColor)

	// HUD: score on the left, level in the middle, best and lives on the right.
	left, middle, right := g.hudText()
	screen.Text(left, g.hud, 12, 10, textColor)
	centreText(screen, middle, g.hud, 10)
	w, _ := g.hud.Measure(right)
	screen.Text(right, g.hud, math.Round(screenW-12-w), 10, textColor)
	screen.FillRect(0, hudH-2, screenW, 2, lineColor)
	if g.toastTimer > 0 {
		// Between the HUD line and the wall, under the ball's path.
		centreText(screen, toastText(g.toast), g.hud, hudH+6)
	}

	for r := range brickRows {
		for c := range brickCols {
			if g.bricks[r][c] {
				x, y, w, h := brickRect(r, c)
				screen.FillRect(x, y, w, h, rowColors[r])
			}
		}
	}
	screen.FillRect(g.paddleX, paddleY, paddleW, paddleH, paddleColor)

	switch g.phase {
	case phaseServe:
		screen.FillCircle(g.ballX, g.ballY, ballR, ballColor)
		if !g.autoplay {
			centreText(screen, "Space, Enter or click to launch", g.hud, 300)
		}
	case phasePlay:
		screen.FillCircle(g.ballX, g.ballY, ballR, ballColor)
	case phaseCleared:
		centreText(screen, fmt.Sprintf("LEVEL %d CLEARED", g.level), g.banner, 280)
		centreText(screen, g.recordText(), g.hud, 330)
	case phaseOver:
		centreText(screen, "GAME OVER", g.banner, 250)
		centreText(screen, g.recordText(), g.hud, 300)
		centreText(screen, "Space or Enter to play again", g.hud, 330)
	}
}

// hudText is the HUD's three parts: score; level; best (the saved best,
// or this game's score when higher) and lives.
func (g *game) hudText() (left, middle, right string) {
	middle = fmt.Sprintf("LEVEL %d", g.level)
	if g.autoplay {
		middle += " · AUTOPLAY"
	}
	return fmt.Sprintf("SCORE %d", g.score), middle, fmt.Sprintf("BEST %d · LIVES %d", g.shownBest(), g.lives)
}

// recordText is the record as the cleared and game-over screens show it:
// the best, the bricks broken in all (every device, this run included) and
// the achievements.
func (g *game) recordText() string {
	return fmt.Sprintf("best %d · %d bricks broken in all · %d of %d achievements",
		g.shownBest(), g.rec.Bricks.Value(), len(g.rec.Achievements.Names()), achievementsAll)
}

// toastText announces an achievement.
func toastText(name string) string { return "ACHIEVEMENT: " + name }

// centreText draws s centred across the screen with its top at y, on whole
// pixels so the text stays crisp.
func centreText(screen *gfx.Canvas, s string, face *gfx.Face, y float64) {
	w, _ := face.Measure(s)
	screen.Text(s, face, math.Round((screenW-w)/2), y, textColor)
}
