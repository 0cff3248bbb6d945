package main

import (
	"fmt"
	"image/color"
	"math"

	"github.com/skyloop-engine/skyloop/engine/gfx"
)

// Draw renders the state; it never changes it. It draws in passes grouped by
// texture — shapes (the engine's white texture), then sprites (the sheet),
// then the HUD — because every texture switch ends a batch: the whole frame
// is a handful of draw calls however many things are on screen.
func (g *game) Draw(screen *gfx.Canvas) {
	g.drawBackground(screen)

	screen.Push()
	if g.shake > 0 {
		// Shake is a function of the tick, so Draw stays a pure read.
		s := float64(g.shake) * 0.4
		t := float64(g.tick)
		screen.Translate(s*math.Sin(t*1.9), s*math.Cos(t*2.7))
	}
	g.drawShapes(screen)
	g.drawSprites(screen)
	screen.Pop()

	g.drawHUD(screen)
}

const bandH = 4 // background band height

// drawBackground paints bands of colour flowing down one band per tick, and
// over them a grainy floor tile drifting diagonally. Nearly every pixel
// changes every tick, and the grain is noise: this is the hard-to-compress
// frame the capture benchmarks want.
func (g *game) drawBackground(screen *gfx.Canvas) {
	for i := 0; i*bandH < screenH; i++ {
		screen.FillRect(0, float64(i*bandH), screenW, bandH, bandColor(i-g.tick))
	}
	var op gfx.DrawImageOptions
	ox, oy := -float64(g.tick%floorTile), -float64(g.tick/2%floorTile)
	for y := oy; y < screenH; y += floorTile {
		for x := ox; x < screenW; x += floorTile {
			op.GeoM.Reset()
			op.GeoM.Translate(x, y)
			screen.DrawImage(g.floor, &op)
		}
	}
}

// bandColor is a looping palette of 256 dark blues and purples. Neighbouring
// entries always differ, so a band changes colour on every tick.
func bandColor(i int) color.RGBA {
	k := i & 255
	tri := func(k int) int { // 0, 1, …, 127, 127, …, 0
		if k &= 255; k < 128 {
			return k
		}
		return 255 - k
	}
	return color.RGBA{uint8(8 + tri(k+64)/2), uint8(6 + tri(k+160)/4), uint8(24 + tri(k)), 255}
}

// drawShapes draws the shockwaves, the shield, the aim marker and the bullets.
func (g *game) drawShapes(screen *gfx.Canvas) {
	for _, p := range g.particles {
		if p.ringSize > 0 {
			f := float64(p.life) / float64(p.maxLife)
			screen.StrokeCircle(p.x, p.y, 6+(1-f)*p.ringSize, 1+3*f, fade(p.col, f))
		}
	}
	if g.over {
		return
	}
	p := g.p
	if p.invuln > 0 {
		screen.StrokeCircle(p.x, p.y, 22, 2, fade(shipColor, float64(p.invuln)/invulnTicks))
	}
	sin, cos := math.Sincos(p.aim)
	screen.StrokeCircle(p.x+cos*90, p.y+sin*90, 6, 2, color.RGBA{120, 120, 120, 120})
	tracer := color.RGBA{255, 240, 150, 255}
	for _, b := range g.bullets {
		screen.Line(b.x-b.vx*1.5, b.y-b.vy*1.5, b.x, b.y, 3, tracer)
	}
}

// drawSprites draws particles, enemies and the ship from the one sheet.
func (g *game) drawSprites(screen *gfx.Canvas) {
	var op gfx.DrawImageOptions
	op.Filter = gfx.FilterLinear // smooth when rotated and scaled
	// place sets op.GeoM to centre a sprite on (x, y), scaled and rotated.
	place := func(x, y, scale, angle float64) {
		op.GeoM.Reset()
		op.GeoM.Translate(-cell/2, -cell/2)
		op.GeoM.Scale(scale, scale)
		op.GeoM.Rotate(angle)
		op.GeoM.Translate(x, y)
	}

	for _, p := range g.particles {
		if p.ringSize > 0 {
			continue // drawn with the shapes
		}
		f := float64(p.life) / float64(p.maxLife)
		place(p.x, p.y, 0.4+0.6*f, 0)
		// Alpha 0 with colour left in makes the blend additive (the engine
		// blends premultiplied colour): overlapping sparks glow brighter.
		c := fade(p.col, f)
		c.A = 0
		op.Color = c
		screen.DrawImage(g.sprites[spriteDot], &op)
	}

	for _, e := range g.enemies {
		k := kinds[e.kind]
		angle := e.angle
		if e.kind == weaver {
			angle = float64(g.tick) * 0.1 // spins instead of facing
		}
		place(e.x, e.y, k.scale, angle)
		op.Color = k.tint
		if e.flash > 0 {
			op.Color = nil // untinted: the grey sprite shows as a white flash
		}
		screen.DrawImage(g.sprites[k.sprite], &op)
	}

	// The ship blinks while invulnerable.
	if !g.over && (g.p.invuln/4)%2 == 0 {
		place(g.p.x, g.p.y, 2, g.p.aim)
		op.Color = nil
		screen.DrawImage(g.sprites[spriteShip], &op)
	}
}

func (g *game) drawHUD(screen *gfx.Canvas) {
	screen.FillRect(0, 0, screenW, hudH, color.RGBA{0, 0, 0, 170})
	for i := range playerMaxHP {
		col := color.RGBA{60, 20, 30, 255}
		if i < g.p.hp {
			col = color.RGBA{255, 70, 90, 255}
		}
		screen.FillRect(float64(12+i*22), 8, 16, 16, col)
	}
	hud := fmt.Sprintf("SCORE %d    WAVE %d    ENEMIES %d    BEST %d", g.score, g.wave, len(g.enemies), max(g.best, g.score))
	screen.Text(hud, g.hudFace, 130, 4, color.White)
	if g.autoplay {
		w, _ := g.hudFace.Measure("AUTOPLAY")
		screen.Text("AUTOPLAY", g.hudFace, screenW-w-12, 4, color.RGBA{255, 220, 80, 255})
	}

	if g.over {
		screen.FillRect(0, hudH, screenW, screenH-hudH, color.RGBA{0, 0, 0, 140})
		centred(screen, g.bigFace, "GAME OVER", screenH/2-60, color.RGBA{255, 80, 100, 255})
		msg := fmt.Sprintf("score %d  ·  press Enter to play again, Escape to quit", g.score)
		centred(screen, g.hudFace, msg, screenH/2+10, color.White)
	}
}

func centred(screen *gfx.Canvas, face *gfx.Face, s string, y float64, col color.Color) {
	w, _ := face.Measure(s)
	screen.Text(s, face, (screenW-w)/2, y, col)
}

// fade scales a colour and its alpha by f in [0, 1] (premultiplied alpha).
func fade(c color.RGBA, f float64) color.RGBA {
	f = max(0, min(f, 1))
	return color.RGBA{uint8(float64(c.R) * f), uint8(float64(c.G) * f), uint8(float64(c.B) * f), uint8(float64(c.A) * f)}
}
