package gfx

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"image"
	"image/color"
	"math"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

const atlasSize = 1024

// Face is a font at one size, with a texture atlas of the glyphs drawn so
// far. Faces come from DefaultFace, MonoFace and NewFace, which cache them:
// the same font at the same size is always the same *Face, sharing one
// atlas, so calling them inside Draw every frame is cheap. Faces can be made
// before the engine runs; they are not safe for concurrent use (measure and
// draw text on the render thread, where Update and Draw run).
type Face struct {
	face   font.Face
	ascent float64
	height float64

	atlas      *Image
	glyphs     map[rune]glyph
	penX, penY int
	rowH       int
}

type glyph struct {
	img     *Image // nil for blank glyphs (space)
	offX    int    // from the dot to the glyph's top-left
	offY    int
	advance fixed.Int26_6
}

// fontEntry is a parsed font file, shared by every face made from it.
type fontEntry struct {
	ttf  []byte // the file's bytes (the parsed font reads them lazily)
	font *opentype.Font
}

type faceKey struct {
	font *fontEntry
	size float64
}

// faces caches parsed fonts, found by a hash of their bytes, and the faces
// made from them, for the life of the program.
var faces struct {
	sync.Mutex
	seed   maphash.Seed
	byHash map[uint64][]*fontEntry // hash of the bytes → fonts (collisions compared byte by byte)
	faces  map[faceKey]*Face
}

var (
	goRegular = sync.OnceValue(func() *fontEntry { return mustFont(goregular.TTF) })
	goMono    = sync.OnceValue(func() *fontEntry { return mustFont(gomono.TTF) })
)

func mustFont(ttf []byte) *fontEntry {
	faces.Lock()
	defer faces.Unlock()
	e, err := fontOf(ttf, false)
	if err != nil {
		panic("gfx: embedded Go font: " + err.Error()) // cannot happen: the font is compiled in
	}
	return e
}

// NewFace returns a face of a TrueType/OpenType font at size pixels
// (0 < size <= 512).
//
// Faces are cached by the font's bytes and the size: a second call with the
// same bytes (the same slice or a copy) and size returns the same *Face, and
// so the same glyph atlas, without parsing anything again; it still hashes
// and compares ttf, about 20 µs for a 150 KB font, so keep the face in a
// variable rather than calling NewFace in Draw. The first call for a font
// copies and parses it (a few ms for a large font); each new size makes a
// face (microseconds), which allocates its 1024×1024 glyph atlas (4 MiB, and
// as much on the GPU) when it first draws a glyph. Cached fonts and faces
// are never freed: every distinct size is one more face and atlas, so to
// animate the size of text, scale the canvas (Canvas.Scale) instead.
func NewFace(ttf []byte, size float64) (*Face, error) {
	if !(size > 0 && size <= 512) {
		return nil, fmt.Errorf("gfx: font size %g out of range (0, 512]", size)
	}
	faces.Lock()
	defer faces.Unlock()
	e, err := fontOf(ttf, true)
	if err != nil {
		return nil, err
	}
	return faceOf(e, size)
}

// fontOf returns the cached font whose file is ttf, parsing it (from a copy
// of ttf when copyBytes) on first use. faces must be locked.
func fontOf(ttf []byte, copyBytes bool) (*fontEntry, error) {
	if faces.byHash == nil {
		faces.seed = maphash.MakeSeed()
		faces.byHash = map[uint64][]*fontEntry{}
		faces.faces = map[faceKey]*Face{}
	}
	h := maphash.Bytes(faces.seed, ttf)
	for _, e := range faces.byHash[h] {
		if bytes.Equal(e.ttf, ttf) {
			return e, nil
		}
	}
	if copyBytes {
		ttf = bytes.Clone(ttf) // the caller may reuse its slice; the font keeps reading it
	}
	fnt, err := opentype.Parse(ttf)
	if err != nil {
		return nil, fmt.Errorf("gfx: parse font: %w", err)
	}
	e := &fontEntry{ttf: ttf, font: fnt}
	faces.byHash[h] = append(faces.byHash[h], e)
	return e, nil
}

// faceOf returns the cached face of e at size, making it on first use.
// faces must be locked.
func faceOf(e *fontEntry, size float64) (*Face, error) {
	key := faceKey{e, size}
	if f, ok := faces.faces[key]; ok {
		return f, nil
	}
	f, err := newFace(e.font, size)
	if err != nil {
		return nil, err
	}
	faces.faces[key] = f
	return f, nil
}

func newFace(f *opentype.Font, size float64) (*Face, error) {
	ff, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("gfx: font face: %w", err)
	}
	m := ff.Metrics()
	return &Face{
		face:   ff,
		ascent: float64(m.Ascent) / 64,
		height: float64(m.Height) / 64,
		glyphs: map[rune]glyph{},
	}, nil
}

// DefaultFace returns the Go Regular font at size pixels, clamped to
// [1, 512]: the face NewFace(goregular.TTF, size) returns, without hashing
// the font. After the first call for a size it is a map lookup (tens of
// nanoseconds, no allocation), so calling it in Draw every frame costs
// nothing, and every call with that size returns the same *Face. See NewFace
// for what a face holds and that it is kept for the life of the program.
func DefaultFace(size float64) *Face { return mustFace(goRegular(), size) }

// MonoFace returns the Go Mono font at size pixels, clamped to [1, 512],
// cached like DefaultFace.
func MonoFace(size float64) *Face { return mustFace(goMono(), size) }

func mustFace(e *fontEntry, size float64) *Face {
	if !(size >= 1) { // also NaN
		size = 1
	}
	faces.Lock()
	defer faces.Unlock()
	face, err := faceOf(e, min(size, 512))
	if err != nil {
		panic("gfx: embedded Go font: " + err.Error()) // cannot happen: the font is compiled in
	}
	return face
}

// LineHeight is the distance between baselines of consecutive lines.
func (f *Face) LineHeight() float64 { return f.height }

// Measure returns the width of the widest line of s and the height of all
// its lines.
func (f *Face) Measure(s string) (w, h float64) {
	var line fixed.Int26_6
	widest := fixed.Int26_6(0)
	lines := 1
	prev := rune(-1)
	for _, r := range s {
		if r == '\n' {
			widest = max(widest, line)
			line, prev = 0, -1
			lines++
			continue
		}
		if prev >= 0 {
			line += f.face.Kern(prev, r)
		}
		adv, _ := f.face.GlyphAdvance(r)
		line += adv
		prev = r
	}
	widest = max(widest, line)
	return float64(widest) / 64, float64(lines) * f.height
}

// glyph returns the cached glyph for r, rasterising it into the atlas.
func (f *Face) glyph(r rune) glyph {
	if g, ok := f.glyphs[r]; ok {
		return g
	}
	dr, mask, maskp, adv, ok := f.face.Glyph(fixed.P(0, 0), r)
	if !ok {
		dr, mask, maskp, adv, _ = f.face.Glyph(fixed.P(0, 0), '\uFFFD')
	}
	g := glyph{advance: adv, offX: dr.Min.X, offY: dr.Min.Y}
	w, h := dr.Dx(), dr.Dy()
	if w > 0 && h > 0 && mask != nil {
		if f.atlas == nil {
			f.newAtlas()
		}
		if f.penX+w+1 > atlasSize {
			f.penX, f.penY, f.rowH = 0, f.penY+f.rowH+1, 0
		}
		if f.penY+h+1 > atlasSize {
			f.newAtlas()
		}
		pix := f.atlas.root.pix
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				_, _, _, a := mask.At(maskp.X+x, maskp.Y+y).RGBA()
				v := uint8(a >> 8)
				pix.SetRGBA(f.penX+x, f.penY+y, color.RGBA{v, v, v, v})
			}
		}
		f.atlas.root.mu.Lock()
		f.atlas.root.dirty = true
		f.atlas.root.mu.Unlock()
		g.img = f.atlas.SubImage(image.Rect(f.penX, f.penY, f.penX+w, f.penY+h))
		f.penX += w + 1
		f.rowH = max(f.rowH, h)
	}
	f.glyphs[r] = g
	return g
}

// newAtlas starts an empty atlas. Glyphs already batched keep the old one
// alive until they are drawn.
func (f *Face) newAtlas() {
	f.atlas = NewImage(atlasSize, atlasSize)
	f.glyphs = map[rune]glyph{}
	f.penX, f.penY, f.rowH = 0, 0, 0
}

// Text draws s with the top-left of its first line at (x, y); '\n' starts
// a new line.
func (c *Canvas) Text(s string, face *Face, x, y float64, col color.Color) {
	dot := fixed.Point26_6{X: fixed.Int26_6(math.Round(x * 64)), Y: fixed.Int26_6(math.Round((y + face.ascent) * 64))}
	startX := dot.X
	prev := rune(-1)
	for _, r := range s {
		if r == '\n' {
			dot.X = startX
			dot.Y += fixed.Int26_6(face.height * 64)
			prev = -1
			continue
		}
		if prev >= 0 {
			dot.X += face.face.Kern(prev, r)
		}
		g := face.glyph(r)
		if g.img != nil {
			// Snap glyphs to whole pixels so hinted text stays crisp.
			var m Matrix
			m.Translate(float64(dot.X.Round()+g.offX), float64(dot.Y.Round()+g.offY))
			m.Concat(c.xform)
			w, h := g.img.Size()
			u0, v0, u1, v1 := quadUV(g.img)
			c.quad(g.img, FilterNearest, m, float64(w), float64(h), u0, v0, u1, v1, col)
		}
		dot.X += g.advance
		prev = r
	}
}
