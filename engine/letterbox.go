package engine

import (
	"image"
	"math"
)

// letterbox returns where a screenW×screenH logical screen lands inside a
// winW×winH framebuffer: scaled uniformly as large as fits, centred, with
// bars on the sides that don't fit. Origin top-left.
func letterbox(winW, winH, screenW, screenH int) image.Rectangle {
	if winW <= 0 || winH <= 0 || screenW <= 0 || screenH <= 0 {
		return image.Rectangle{}
	}
	scale := math.Min(float64(winW)/float64(screenW), float64(winH)/float64(screenH))
	w := int(math.Round(float64(screenW) * scale))
	h := int(math.Round(float64(screenH) * scale))
	x := (winW - w) / 2
	y := (winH - h) / 2
	return image.Rect(x, y, x+w, y+h)
}

// windowToScreen maps a framebuffer position to logical screen coordinates.
func windowToScreen(px, py float64, viewport image.Rectangle, screenW, screenH int) (float64, float64) {
	if viewport.Empty() {
		return px, py
	}
	x := (px - float64(viewport.Min.X)) * float64(screenW) / float64(viewport.Dx())
	y := (py - float64(viewport.Min.Y)) * float64(screenH) / float64(viewport.Dy())
	return x, y
}
