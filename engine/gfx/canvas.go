package gfx

import (
	"image"
	"image/color"
	"math"
)

// Canvas is the surface a game draws on in Draw: the logical screen, (0, 0)
// at the top-left, y pointing down, one unit per screen pixel. Everything
// drawn goes through the canvas's current transform (Translate, Rotate,
// Scale, Push, Pop), and through a sprite's own GeoM first.
type Canvas struct {
	r     *renderer
	w, h  int
	xform Matrix
	stack []Matrix
}

// DrawImageOptions say how DrawImage places and tints an image.
type DrawImageOptions struct {
	// GeoM maps image pixels (0, 0)–(w, h) to canvas coordinates, before the
	// canvas transform. The zero value draws the image at (0, 0) unscaled.
	GeoM Matrix
	// Color multiplies every texel (tinting and fading); nil means unchanged.
	Color color.Color
	// Filter used when the image is scaled or rotated.
	Filter Filter
}

func (c *Canvas) reset(w, h int) {
	c.w, c.h = w, h
	c.xform = Matrix{}
	c.stack = c.stack[:0]
}

// Size returns the logical screen size.
func (c *Canvas) Size() (w, h int) { return c.w, c.h }

// Bounds returns the logical screen rectangle.
func (c *Canvas) Bounds() image.Rectangle { return image.Rect(0, 0, c.w, c.h) }

// Push saves the current transform; Pop restores it.
func (c *Canvas) Push() { c.stack = append(c.stack, c.xform) }

// Pop restores the transform saved by the matching Push. An unmatched Pop
// resets to the identity.
func (c *Canvas) Pop() {
	if n := len(c.stack); n > 0 {
		c.xform = c.stack[n-1]
		c.stack = c.stack[:n-1]
		return
	}
	c.xform = Matrix{}
}

// Translate moves subsequent drawing by (x, y) in the current coordinates.
func (c *Canvas) Translate(x, y float64) { c.prepend(func(m *Matrix) { m.Translate(x, y) }) }

// Rotate rotates subsequent drawing by theta radians about the current origin.
func (c *Canvas) Rotate(theta float64) { c.prepend(func(m *Matrix) { m.Rotate(theta) }) }

// Scale scales subsequent drawing about the current origin.
func (c *Canvas) Scale(sx, sy float64) { c.prepend(func(m *Matrix) { m.Scale(sx, sy) }) }

// Transform returns the current transform.
func (c *Canvas) Transform() Matrix { return c.xform }

// prepend applies op in local coordinates: new = xform · op.
func (c *Canvas) prepend(op func(*Matrix)) {
	var m Matrix
	op(&m)
	m.Concat(c.xform)
	c.xform = m
}

// Clear fills the whole screen with col, ignoring the transform.
func (c *Canvas) Clear(col color.Color) {
	c.r.flush()
	r, g, b, a := col.RGBA()
	glClear(float32(r)/0xffff, float32(g)/0xffff, float32(b)/0xffff, float32(a)/0xffff)
}

func premul(col color.Color) (r, g, b, a uint8) {
	if col == nil {
		return 255, 255, 255, 255
	}
	cr, cg, cb, ca := col.RGBA()
	return uint8(cr >> 8), uint8(cg >> 8), uint8(cb >> 8), uint8(ca >> 8)
}

// emit appends a convex fan or indexed triangles in canvas coordinates.
func (c *Canvas) emitTriangles(pts []float64, idx []uint32, col color.Color) {
	n := len(pts) / 2
	c.r.use(c.r.white, FilterNearest, n)
	rr, gg, bb, aa := premul(col)
	base := uint32(len(c.r.verts))
	for i := 0; i < n; i++ {
		x, y := c.xform.Apply(pts[2*i], pts[2*i+1])
		c.r.verts = append(c.r.verts, vertex{x: float32(x), y: float32(y), u: 0.5, v: 0.5, r: rr, g: gg, b: bb, a: aa})
	}
	for _, i := range idx {
		c.r.indices = append(c.r.indices, base+i)
	}
}

var quadIndices = []uint32{0, 1, 2, 1, 3, 2}

// FillRect fills the rectangle with top-left (x, y) and size w×h.
func (c *Canvas) FillRect(x, y, w, h float64, col color.Color) {
	c.emitTriangles([]float64{x, y, x + w, y, x, y + h, x + w, y + h}, quadIndices, col)
}

// StrokeRect outlines the rectangle with a border of the given width drawn
// inside it.
func (c *Canvas) StrokeRect(x, y, w, h, width float64, col color.Color) {
	if width*2 >= w || width*2 >= h {
		c.FillRect(x, y, w, h, col)
		return
	}
	c.FillRect(x, y, w, width, col)
	c.FillRect(x, y+h-width, w, width, col)
	c.FillRect(x, y+width, width, h-2*width, col)
	c.FillRect(x+w-width, y+width, width, h-2*width, col)
}

// FillTriangle fills the triangle with the given corners.
func (c *Canvas) FillTriangle(x0, y0, x1, y1, x2, y2 float64, col color.Color) {
	c.emitTriangles([]float64{x0, y0, x1, y1, x2, y2}, []uint32{0, 1, 2}, col)
}

// Line draws a segment of the given width from (x0, y0) to (x1, y1).
func (c *Canvas) Line(x0, y0, x1, y1, width float64, col color.Color) {
	dx, dy := x1-x0, y1-y0
	l := math.Hypot(dx, dy)
	if l == 0 {
		return
	}
	nx, ny := -dy/l*width/2, dx/l*width/2
	c.emitTriangles([]float64{x0 + nx, y0 + ny, x1 + nx, y1 + ny, x0 - nx, y0 - ny, x1 - nx, y1 - ny}, quadIndices, col)
}

func circleSegments(r float64) int {
	n := int(math.Ceil(r * 0.75))
	return max(12, min(n, 128))
}

// FillCircle fills the circle of radius r centred at (cx, cy).
func (c *Canvas) FillCircle(cx, cy, r float64, col color.Color) {
	n := circleSegments(r)
	pts := make([]float64, 0, 2*(n+1))
	idx := make([]uint32, 0, 3*n)
	pts = append(pts, cx, cy)
	for i := 0; i < n; i++ {
		s, co := math.Sincos(2 * math.Pi * float64(i) / float64(n))
		pts = append(pts, cx+co*r, cy+s*r)
		idx = append(idx, 0, uint32(1+i), uint32(1+(i+1)%n))
	}
	c.emitTriangles(pts, idx, col)
}

// StrokeCircle outlines the circle of radius r with a ring of the given
// width drawn inside it.
func (c *Canvas) StrokeCircle(cx, cy, r, width float64, col color.Color) {
	if width >= r {
		c.FillCircle(cx, cy, r, col)
		return
	}
	n := circleSegments(r)
	pts := make([]float64, 0, 4*n)
	idx := make([]uint32, 0, 6*n)
	for i := 0; i < n; i++ {
		s, co := math.Sincos(2 * math.Pi * float64(i) / float64(n))
		pts = append(pts, cx+co*r, cy+s*r, cx+co*(r-width), cy+s*(r-width))
		j := (i + 1) % n
		o, in, o2, in2 := uint32(2*i), uint32(2*i+1), uint32(2*j), uint32(2*j+1)
		idx = append(idx, o, o2, in, in, o2, in2)
	}
	c.emitTriangles(pts, idx, col)
}

// DrawImage draws img transformed by opts.GeoM and then the canvas
// transform. opts may be nil.
func (c *Canvas) DrawImage(img *Image, opts *DrawImageOptions) {
	var geo Matrix
	var col color.Color
	filter := FilterNearest
	if opts != nil {
		geo, col, filter = opts.GeoM, opts.Color, opts.Filter
	}
	geo.Concat(c.xform)
	w, h := float64(img.rect.Dx()), float64(img.rect.Dy())
	u0, v0, u1, v1 := quadUV(img)
	c.quad(img, filter, geo, w, h, u0, v0, u1, v1, col)
}

// quad appends one textured quad of size w×h through m.
func (c *Canvas) quad(img *Image, filter Filter, m Matrix, w, h float64, u0, v0, u1, v1 float32, col color.Color) {
	c.r.use(img, filter, 4)
	rr, gg, bb, aa := premul(col)
	base := uint32(len(c.r.verts))
	corner := func(x, y float64, u, v float32) {
		tx, ty := m.Apply(x, y)
		c.r.verts = append(c.r.verts, vertex{x: float32(tx), y: float32(ty), u: u, v: v, r: rr, g: gg, b: bb, a: aa})
	}
	corner(0, 0, u0, v0)
	corner(w, 0, u1, v0)
	corner(0, h, u0, v1)
	corner(w, h, u1, v1)
	for _, i := range quadIndices {
		c.r.indices = append(c.r.indices, base+i)
	}
}

// ReadPixels returns what has been drawn on the canvas so far this frame
// (rows top-down). It stalls the GPU pipeline: use it for tests and
// screenshots, not every frame.
func (c *Canvas) ReadPixels() (*image.RGBA, error) { return c.r.ReadPixels() }
