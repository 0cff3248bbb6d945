package gfx

import "math"

// Matrix is a 2D affine transform:
//
//	| a  c  tx |
//	| b  d  ty |
//
// Its zero value is the identity, so a DrawImageOptions needs no setup.
type Matrix struct {
	// a and d are stored minus one so that the zero value is the identity.
	a1, b, c, d1, tx, ty float64
}

func (m Matrix) elems() (a, b, c, d, tx, ty float64) {
	return m.a1 + 1, m.b, m.c, m.d1 + 1, m.tx, m.ty
}

func fromElems(a, b, c, d, tx, ty float64) Matrix {
	return Matrix{a1: a - 1, b: b, c: c, d1: d - 1, tx: tx, ty: ty}
}

// Reset makes m the identity.
func (m *Matrix) Reset() { *m = Matrix{} }

// Concat applies other after m: m = other · m.
func (m *Matrix) Concat(other Matrix) {
	a1, b1, c1, d1, tx1, ty1 := m.elems()
	a2, b2, c2, d2, tx2, ty2 := other.elems()
	*m = fromElems(
		a2*a1+c2*b1,
		b2*a1+d2*b1,
		a2*c1+c2*d1,
		b2*c1+d2*d1,
		a2*tx1+c2*ty1+tx2,
		b2*tx1+d2*ty1+ty2,
	)
}

// Translate moves by (x, y) after the current transform.
func (m *Matrix) Translate(x, y float64) { m.tx += x; m.ty += y }

// Scale scales by (sx, sy) about the origin after the current transform.
func (m *Matrix) Scale(sx, sy float64) {
	a, b, c, d, tx, ty := m.elems()
	*m = fromElems(a*sx, b*sy, c*sx, d*sy, tx*sx, ty*sy)
}

// Rotate rotates by theta radians (clockwise on screen, as y points down)
// about the origin after the current transform.
func (m *Matrix) Rotate(theta float64) {
	s, c := math.Sincos(theta)
	m.Concat(fromElems(c, s, -s, c, 0, 0))
}

// Apply transforms the point (x, y).
func (m Matrix) Apply(x, y float64) (float64, float64) {
	a, b, c, d, tx, ty := m.elems()
	return a*x + c*y + tx, b*x + d*y + ty
}

// IsIdentity reports whether m is the identity.
func (m Matrix) IsIdentity() bool { return m == Matrix{} }
