package engine

import (
	"fmt"
	"image"
	"image/color"
	"sync/atomic"
	"testing"

	"golang.org/x/image/font/gofont/gomono"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
)

// freshFaceSize hands every run of TestTextureUploadKeepsPendingBatch a
// font size no other test uses, so its face (faces are cached per font and
// size) has no glyph in its atlas yet, also under -count=N.
var freshFaceSize atomic.Int64

// framesGame draws the same scene every frame and reads back each frame.
type framesGame struct {
	w, h   int
	draw   func(c *gfx.Canvas)
	frames []*image.RGBA
	err    error
}

func (g *framesGame) Update(*input.State) error  { return nil }
func (g *framesGame) Layout(int, int) (int, int) { return g.w, g.h }
func (g *framesGame) Draw(c *gfx.Canvas) {
	g.draw(c)
	img, err := c.ReadPixels()
	if err != nil && g.err == nil {
		g.err = err
	}
	g.frames = append(g.frames, img)
}

type solidRect struct {
	r   image.Rectangle
	col color.RGBA
}

// TestTextureUploadKeepsPendingBatch draws, in one frame: shapes, text whose
// glyphs the face has never drawn (an atlas upload), more shapes, a sprite
// drawn for the first time (a new texture), text with more new glyphs,
// shapes, a sprite drawn, re-uploaded with new pixels and drawn again, and
// shapes again. Each upload happens while a batch of the previous texture
// is pending; the frame must come out exactly as the same frame drawn again
// once every glyph and texture is resident (frame 2 of the run), and every
// shape must be its exact colour in both.
func TestTextureUploadKeepsPendingBatch(t *testing.T) {
	enginetest.RequireDisplay(t)
	face, err := gfx.NewFace(gomono.TTF, 20+float64(freshFaceSize.Add(1))/8)
	if err != nil {
		t.Fatal(err)
	}
	sheet := image.NewRGBA(image.Rect(0, 0, 2, 2))
	sheetCols := []color.RGBA{red, green, blue, white}
	for i, c := range sheetCols {
		sheet.SetRGBA(i%2, i/2, c)
	}
	sprite := gfx.NewImageFromImage(sheet) // uploaded on first use, in frame 1
	yellowSq := solidRect{image.Rect(10, 10, 50, 50), yellow}
	redBar := solidRect{image.Rect(60, 10, 140, 30), red}
	greenSq := solidRect{image.Rect(10, 130, 40, 160), green}
	blueBar := solidRect{image.Rect(200, 130, 300, 150), blue}
	whiteSq := solidRect{image.Rect(260, 10, 300, 40), white}
	fill := func(c *gfx.Canvas, s solidRect) {
		c.FillRect(float64(s.r.Min.X), float64(s.r.Min.Y), float64(s.r.Dx()), float64(s.r.Dy()), s.col)
	}
	// A sprite whose pixels change mid-frame: drawn red, then replaced with
	// green and drawn again; the first copy must stay red.
	redPix, greenPix := image.NewRGBA(image.Rect(0, 0, 1, 1)), image.NewRGBA(image.Rect(0, 0, 1, 1))
	redPix.SetRGBA(0, 0, red)
	greenPix.SetRGBA(0, 0, green)
	changing := gfx.NewImage(1, 1)
	changingA := solidRect{image.Rect(60, 160, 80, 180), red}
	changingB := solidRect{image.Rect(90, 160, 110, 180), green}
	drawAt := func(c *gfx.Canvas, img *gfx.Image, s solidRect) {
		op := &gfx.DrawImageOptions{}
		op.GeoM.Scale(float64(s.r.Dx()), float64(s.r.Dy()))
		op.GeoM.Translate(float64(s.r.Min.X), float64(s.r.Min.Y))
		c.DrawImage(img, op)
	}
	spriteAt := image.Pt(200, 60)
	const spriteScale = 16
	g := &framesGame{w: 320, h: 200, draw: func(c *gfx.Canvas) {
		c.Clear(bg)
		fill(c, yellowSq) // the README's square: pending when the text uploads
		fill(c, redBar)
		c.Text("Score 0123", face, 10, 60, white) // new glyphs: atlas upload
		fill(c, greenSq)
		op := &gfx.DrawImageOptions{}
		op.GeoM.Scale(spriteScale, spriteScale)
		op.GeoM.Translate(float64(spriteAt.X), float64(spriteAt.Y))
		c.DrawImage(sprite, op)                    // new texture while the green square is pending
		c.Text("Wave 4567!", face, 10, 90, yellow) // new glyphs after the sprite
		fill(c, blueBar)
		if err := changing.ReplacePixels(redPix); err != nil {
			t.Error(err)
		}
		drawAt(c, changing, changingA)
		if err := changing.ReplacePixels(greenPix); err != nil {
			t.Error(err)
		}
		drawAt(c, changing, changingB)
		fill(c, whiteSq)
	}}
	if err := Run(g, Options{Width: 320, Height: 200, FixedSize: true, MaxFrames: 2, VSyncOff: true, CaptureOff: true}); err != nil {
		t.Fatal(err)
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	if len(g.frames) != 2 {
		t.Fatalf("%d frames drawn, want 2", len(g.frames))
	}
	rects := []solidRect{yellowSq, redBar, greenSq, blueBar, whiteSq, changingA, changingB}
	for i, c := range sheetCols {
		p := spriteAt.Add(image.Pt(i%2*spriteScale, i/2*spriteScale))
		rects = append(rects, solidRect{image.Rectangle{p, p.Add(image.Pt(spriteScale, spriteScale))}, c})
	}
	for fi, img := range g.frames {
		for _, s := range rects {
			if bad := countOff(img, s.r, s.col); bad != "" {
				t.Errorf("frame %d: %v should be %v everywhere: %s", fi+1, s.r, s.col, bad)
			}
		}
	}
	// The text is there (in both frames, so the comparison below is not
	// between two empty text rows).
	textBox := image.Rect(10, 60, 190, 125)
	for fi, img := range g.frames {
		if n := countNot(img, textBox, bg); n < 200 {
			t.Errorf("frame %d: only %d text pixels in %v", fi+1, n, textBox)
		}
	}
	cold, warm := g.frames[0], g.frames[1]
	diff := 0
	first := image.Point{-1, -1}
	for y := 0; y < cold.Rect.Dy(); y++ {
		for x := 0; x < cold.Rect.Dx(); x++ {
			if cold.RGBAAt(x, y) != warm.RGBAAt(x, y) {
				if diff == 0 {
					first = image.Pt(x, y)
				}
				diff++
			}
		}
	}
	if diff != 0 {
		t.Fatalf("the frame that uploaded glyphs and a texture differs from the same frame drawn warm in %d pixels (first at %v: %v, warm %v)",
			diff, first, cold.RGBAAt(first.X, first.Y), warm.RGBAAt(first.X, first.Y))
	}
}

// countOff describes the pixels of r in img that are not col ("" if none).
func countOff(img *image.RGBA, r image.Rectangle, col color.RGBA) string {
	n := 0
	var first image.Point
	var got color.RGBA
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if c := img.RGBAAt(x, y); c != col {
				if n == 0 {
					first, got = image.Pt(x, y), c
				}
				n++
			}
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d pixels differ, first %v is %v", n, first, got)
}

// countNot counts the pixels of r in img that are not col.
func countNot(img *image.RGBA, r image.Rectangle, col color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if img.RGBAAt(x, y) != col {
				n++
			}
		}
	}
	return n
}
