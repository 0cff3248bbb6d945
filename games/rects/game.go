package main

import (
	"fmt"
	"image/color"
	"math/rand/v2"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
)

const (
	numRects         = 200
	minSide, maxSide = 8, 64
	maxSpeed         = 6 // pixels a tick, on each axis
	minAlpha         = 160
)

var (
	background = color.RGBA{12, 14, 24, 255}
	palette    = [8]color.RGBA{
		{230, 70, 60, 0}, {250, 160, 40, 0}, {240, 220, 70, 0}, {90, 210, 90, 0},
		{60, 190, 220, 0}, {70, 110, 240, 0}, {170, 90, 230, 0}, {240, 240, 240, 0},
	}
)

// rect is one rectangle; x and y are its top-left corner.
type rect struct {
	x, y, w, h, vx, vy float64
	col                color.RGBA
}

type game struct {
	seed  int64
	w, h  int // the logical screen, which is the window
	rects []rect
	tick  uint64
	face  *gfx.Face
}

func newGame(seed int64) *game { return &game{seed: seed} }

// place scatters the rectangles over a w×h screen, from the seed alone.
func (g *game) place(w, h int) {
	rng := rand.New(rand.NewPCG(uint64(g.seed), 0x5eed))
	g.rects = make([]rect, numRects)
	for i := range g.rects {
		r := &g.rects[i]
		r.w = float64(minSide + rng.IntN(maxSide-minSide+1))
		r.h = float64(minSide + rng.IntN(maxSide-minSide+1))
		r.x = rng.Float64() * max(0, float64(w)-r.w)
		r.y = rng.Float64() * max(0, float64(h)-r.h)
		for r.vx == 0 && r.vy == 0 {
			r.vx = float64(rng.IntN(2*maxSpeed+1) - maxSpeed)
			r.vy = float64(rng.IntN(2*maxSpeed+1) - maxSpeed)
		}
		r.col = palette[rng.IntN(len(palette))]
		r.col.A = uint8(minAlpha + rng.IntN(256-minAlpha))
	}
}

// Update moves every rectangle and bounces it off the screen's edges.
func (g *game) Update(in *input.State) error {
	if in.JustPressed(input.KeyEscape) {
		return engine.ErrQuit
	}
	if g.rects == nil {
		g.place(max(g.w, maxSide), max(g.h, maxSide))
	}
	g.tick++
	W, H := float64(max(g.w, maxSide)), float64(max(g.h, maxSide))
	for i := range g.rects {
		r := &g.rects[i]
		r.x, r.vx = bounce(r.x+r.vx, r.vx, W-r.w)
		r.y, r.vy = bounce(r.y+r.vy, r.vy, H-r.h)
	}
	return nil
}

// bounce keeps p in [0, hi], reversing v at an edge.
func bounce(p, v, hi float64) (float64, float64) {
	switch {
	case p < 0:
		return -p, -v
	case p > hi:
		return max(0, 2*hi-p), -v
	}
	return p, v
}

// Draw clears to the dark background, fills the rectangles in order (later
// ones blend over earlier ones) and writes one line of text.
func (g *game) Draw(screen *gfx.Canvas) {
	screen.Clear(background)
	for _, r := range g.rects {
		screen.FillRect(r.x, r.y, r.w, r.h, r.col)
	}
	if g.face == nil {
		g.face = gfx.DefaultFace(16)
	}
	screen.Text(fmt.Sprintf("rects: %d alpha-blended rectangles, tick %d", len(g.rects), g.tick), g.face, 8, 8, color.White)
}

// Layout makes the logical screen the window itself.
func (g *game) Layout(windowW, windowH int) (int, int) {
	g.w, g.h = windowW, windowH
	return windowW, windowH
}
