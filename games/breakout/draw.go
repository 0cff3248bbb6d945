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

	// HUD: score on the left, level in the middle, lives on the right.
	screen.Text(fmt.Sprintf("SCORE %d", g.score), g.hud, 12, 10, textColor)
	level := fmt.Sprintf("LEVEL %d", g.level)
	if g.autoplay {
		level += " · AUTOPLAY"
	}
	centreText(screen, level, g.hud, 10)
	lives := fmt.Sprintf("LIVES %d", g.lives)
	w, _ := g.hud.Measure(lives)
	screen.Text(lives, g.hud, math.Round(screenW-12-w), 10, textColor)
	screen.FillRect(0, hudH-2, screenW, 2, lineColor)

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
	case phaseOver:
		centreText(screen, "GAME OVER", g.banner, 260)
		msg := "Space or Enter to play again"
		if g.best > 0 {
			msg = fmt.Sprintf("best %d · %s", g.best, msg)
		}
		centreText(screen, msg, g.hud, 310)
	}
}

// centreText draws s centred across the screen with its top at y, on whole
// pixels so the text stays crisp.
func centreText(screen *gfx.Canvas, s string, face *gfx.Face, y float64) {
	w, _ := face.Measure(s)
	screen.Text(s, face, math.Round((screenW-w)/2), y, textColor)
}
