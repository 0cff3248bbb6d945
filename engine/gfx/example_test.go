package gfx_test

import (
	"fmt"
	"math"

	"github.com/skyloop-engine/skyloop/engine/gfx"
)

// A sprite's GeoM applies its operations in call order: here scale, then
// rotate a quarter turn (clockwise on screen, y points down), then move.
func ExampleMatrix() {
	var m gfx.Matrix
	m.Scale(2, 2)
	m.Rotate(math.Pi / 2)
	m.Translate(100, 50)
	for _, p := range [][2]float64{{0, 0}, {10, 0}, {0, 10}} {
		x, y := m.Apply(p[0], p[1])
		fmt.Printf("(%g, %g) -> (%.0f, %.0f)\n", p[0], p[1], x, y)
	}
	// Output:
	// (0, 0) -> (100, 50)
	// (10, 0) -> (100, 70)
	// (0, 10) -> (80, 50)
}

// Measure lays text out without drawing it, to centre or box it. The face
// is cached: calling DefaultFace in Draw every frame is a map lookup.
func ExampleFace_Measure() {
	face := gfx.DefaultFace(16)
	w, h := face.Measure("Game over")
	fmt.Printf("%.2f x %.0f px, line height %.0f\n", w, h, face.LineHeight())
	w, h = face.Measure("Game over\nPress Enter")
	fmt.Printf("two lines: %.2f x %.0f px\n", w, h)
	fmt.Println("same face:", gfx.DefaultFace(16) == face)
	// Output:
	// 78.00 x 19 px, line height 19
	// two lines: 84.00 x 38 px
	// same face: true
}
