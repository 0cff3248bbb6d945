package main

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"

	"github.com/skyloop-engine/skyloop/engine/gfx"
)

// The sprites are drawn in code at startup, so the game ships no asset files.
// They all live in one sheet (one texture): drawing hundreds of sub-images of
// it, each rotated, scaled and tinted, stays in a single batch — one draw call.

const cell = 16 // each sprite is a cell×cell square of the sheet

const (
	spriteShip = iota
	spriteChaser
	spriteWeaver
	spriteBrute
	spriteDot // particles
	spriteCount
)

// shipColor is the ship's body colour (the window test looks for it).
var shipColor = color.RGBA{90, 220, 255, 255}

// newSprites paints the sheet and cuts it into one sub-image per sprite.
// Enemies and the dot are painted in greys so a tint colours them; the ship
// keeps its own colours.
func newSprites() [spriteCount]*gfx.Image {
	// Each shade function is asked for the colour at (x, y) in [-1, 1], x to
	// the right, y down; sprites face +x, the direction of angle 0. In sprite order:
	shades := [spriteCount]func(x, y float64) color.RGBA{shipPixel, chaserPixel, weaverPixel, brutePixel, dotPixel}
	sheet := image.NewRGBA(image.Rect(0, 0, cell*spriteCount, cell))
	for i, shade := range shades {
		for py := range cell {
			for px := range cell {
				x, y := (float64(px)+0.5)/cell*2-1, (float64(py)+0.5)/cell*2-1
				sheet.SetRGBA(i*cell+px, py, shade(x, y))
			}
		}
	}
	tex := gfx.NewImageFromImage(sheet)
	var out [spriteCount]*gfx.Image
	for i := range out {
		out[i] = tex.SubImage(image.Rect(i*cell, 0, (i+1)*cell, cell))
	}
	return out
}

var (
	none  = color.RGBA{}
	white = color.RGBA{255, 255, 255, 255}
	light = color.RGBA{215, 215, 215, 255}
	mid   = color.RGBA{150, 150, 150, 255}
	dark  = color.RGBA{40, 40, 40, 255}
)

// shipPixel: an arrowhead pointing right with a white rim.
func shipPixel(x, y float64) color.RGBA {
	half := 0.75 * (0.95 - x) / 1.75 // half-width of the hull at x
	switch {
	case x < -0.8 || math.Abs(y) > half:
		return none
	case x < -0.45 && math.Abs(y) < 0.3: // notch between the engines
		return none
	case half-math.Abs(y) < 0.14 || x < -0.65:
		return white
	}
	return shipColor
}

// chaserPixel: a diamond with an eye near its nose.
func chaserPixel(x, y float64) color.RGBA {
	d := math.Abs(x) + math.Abs(y)
	switch {
	case d > 0.95:
		return none
	case math.Hypot(x-0.35, y) < 0.2:
		return dark
	case d > 0.78:
		return white
	}
	return light
}

// weaverPixel: a ring in four arcs around a core (it spins, so that shows).
func weaverPixel(x, y float64) color.RGBA {
	r := math.Hypot(x, y)
	switch {
	case r > 0.92 || r > 0.6 && min(math.Abs(x), math.Abs(y)) < 0.12:
		return none
	case r > 0.6:
		return light
	case r > 0.38:
		return none
	case r > 0.2:
		return white
	}
	return mid
}

// brutePixel: an armoured square.
func brutePixel(x, y float64) color.RGBA {
	m := max(math.Abs(x), math.Abs(y))
	switch {
	case m > 0.88:
		return none
	case m > 0.7 || m < 0.3:
		return white
	}
	return mid
}

// dotPixel: a soft round glow, premultiplied (colour scaled by alpha).
func dotPixel(x, y float64) color.RGBA {
	a := 1 - math.Hypot(x, y)
	if a <= 0 {
		return none
	}
	v := uint8(255 * a * a)
	return color.RGBA{v, v, v, v}
}

const floorTile = 256

// newFloor makes the background tile: random grain and a grid, with alpha 0.
// In premultiplied colour that means "add, cover nothing", so the tile
// brightens the bands under it instead of hiding them.
func newFloor(rng *rand.Rand) *gfx.Image {
	img := image.NewRGBA(image.Rect(0, 0, floorTile, floorTile))
	for y := range floorTile {
		for x := range floorTile {
			grain := func(n int) uint8 { return uint8(rng.IntN(n)) }
			c := color.RGBA{grain(20), grain(20), grain(28), 0}
			if x%64 == 0 || y%64 == 0 {
				c.G, c.B = c.G+30, c.B+45
			}
			img.SetRGBA(x, y, c)
		}
	}
	return gfx.NewImageFromImage(img)
}
