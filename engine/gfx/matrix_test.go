package gfx

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestMatrix(t *testing.T) {
	var m Matrix
	if !m.IsIdentity() {
		t.Fatal("zero Matrix must be the identity")
	}
	if x, y := m.Apply(3, 4); x != 3 || y != 4 {
		t.Fatalf("identity moved the point to %v,%v", x, y)
	}
	// Operations apply in call order: scale, then rotate, then translate.
	m.Scale(2, 3)
	m.Rotate(math.Pi / 2)
	m.Translate(10, 20)
	x, y := m.Apply(1, 1) // scale → (2,3); rotate +90° (y down) → (-3,2); translate → (7,22)
	if !near(x, 7) || !near(y, 22) {
		t.Fatalf("Apply(1,1) = %v,%v, want 7,22", x, y)
	}
	var a, b Matrix
	a.Translate(5, 0)
	b.Scale(2, 2)
	a.Concat(b) // translate, then scale
	if x, y := a.Apply(1, 1); !near(x, 12) || !near(y, 2) {
		t.Fatalf("Concat: %v,%v, want 12,2", x, y)
	}
	a.Reset()
	if !a.IsIdentity() {
		t.Fatal("Reset")
	}
}
