package engine

import (
	"image"
	"image/color"
	"math"
	"testing"
	"time"

	"github.com/go-gl/gl/v4.1-core/gl"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
)

// sceneGame draws a fixed scene and reads back its own canvas.
type sceneGame struct {
	w, h  int
	draw  func(c *gfx.Canvas)
	shot  *image.RGBA
	err   error
	ticks int
}

func (g *sceneGame) Update(*input.State) error  { g.ticks++; return nil }
func (g *sceneGame) Layout(int, int) (int, int) { return g.w, g.h }
func (g *sceneGame) Draw(c *gfx.Canvas) {
	g.draw(c)
	g.shot, g.err = c.ReadPixels()
}

func renderScene(t *testing.T, w, h int, draw func(c *gfx.Canvas)) *image.RGBA {
	t.Helper()
	enginetest.RequireDisplay(t)
	g := &sceneGame{w: w, h: h, draw: draw}
	if err := Run(g, Options{Width: w, Height: h, MaxFrames: 2, VSyncOff: true, CaptureOff: true}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if g.err != nil {
		t.Fatalf("ReadPixels: %v", g.err)
	}
	return g.shot
}

func wantPixel(t *testing.T, img *image.RGBA, x, y int, want color.RGBA) {
	t.Helper()
	if got := img.RGBAAt(x, y); got != want {
		t.Errorf("pixel (%d,%d) = %v, want %v", x, y, got, want)
	}
}

var (
	bg     = color.RGBA{0, 0, 64, 255}
	red    = color.RGBA{255, 0, 0, 255}
	green  = color.RGBA{0, 255, 0, 255}
	blue   = color.RGBA{0, 0, 255, 255}
	yellow = color.RGBA{255, 255, 0, 255}
	white  = color.RGBA{255, 255, 255, 255}
)

func TestRenderShapes(t *testing.T) {
	img := renderScene(t, 320, 240, func(c *gfx.Canvas) {
		c.Clear(bg)
		c.FillRect(10, 10, 50, 30, red)
		c.StrokeRect(100, 10, 40, 40, 4, green)
		c.FillCircle(260, 60, 20, yellow)
		c.Line(10, 200, 110, 200, 4, white)
		c.FillTriangle(200, 150, 240, 150, 200, 190, blue)
	})
	if img.Bounds() != image.Rect(0, 0, 320, 240) {
		t.Fatalf("screen is %v", img.Bounds())
	}
	// Rectangle: inside, its exact edges, and just outside.
	wantPixel(t, img, 10, 10, red)
	wantPixel(t, img, 59, 39, red)
	wantPixel(t, img, 60, 20, bg)
	wantPixel(t, img, 30, 40, bg)
	wantPixel(t, img, 9, 9, bg)
	// Outline: border drawn, inside empty.
	wantPixel(t, img, 101, 30, green)
	wantPixel(t, img, 138, 30, green)
	wantPixel(t, img, 120, 30, bg)
	// Circle: centre filled, outside the radius not.
	wantPixel(t, img, 260, 60, yellow)
	wantPixel(t, img, 260, 45, yellow)
	wantPixel(t, img, 285, 60, bg)
	// Line and triangle.
	wantPixel(t, img, 60, 200, white)
	wantPixel(t, img, 60, 205, bg)
	wantPixel(t, img, 205, 155, blue)
	wantPixel(t, img, 235, 185, bg) // beyond the hypotenuse
	// Row 0 is the top of the screen: the top-left background is untouched.
	wantPixel(t, img, 0, 0, bg)
}

func TestRenderSpriteSubImageAndTint(t *testing.T) {
	// A 4x4 sheet: four 2x2 quadrants of distinct colours.
	sheet := image.NewRGBA(image.Rect(0, 0, 4, 4))
	quad := []color.RGBA{red, green, blue, yellow}
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			sheet.SetRGBA(x, y, quad[(y/2)*2+x/2])
		}
	}
	sprite := gfx.NewImageFromImage(sheet)
	img := renderScene(t, 200, 100, func(c *gfx.Canvas) {
		c.Clear(bg)
		op := &gfx.DrawImageOptions{}
		op.GeoM.Scale(8, 8) // 32x32
		op.GeoM.Translate(10, 20)
		c.DrawImage(sprite, op)
		// Sub-image: the bottom-right (yellow) quadrant only, at 1:1 then x5.
		sub := sprite.SubImage(image.Rect(2, 2, 4, 4))
		op2 := &gfx.DrawImageOptions{}
		op2.GeoM.Scale(5, 5)
		op2.GeoM.Translate(100, 20)
		c.DrawImage(sub, op2)
		// Tint: white sprite at half colour → (128, 0, 0) from red.
		op3 := &gfx.DrawImageOptions{Color: color.RGBA{128, 128, 128, 255}}
		op3.GeoM.Scale(8, 8)
		op3.GeoM.Translate(150, 20)
		c.DrawImage(sprite, op3)
	})
	wantPixel(t, img, 10+4, 20+4, red)
	wantPixel(t, img, 10+20, 20+4, green)
	wantPixel(t, img, 10+4, 20+20, blue)
	wantPixel(t, img, 10+31, 20+31, yellow)
	wantPixel(t, img, 10+32, 20+32, bg)
	wantPixel(t, img, 100, 20, yellow)
	wantPixel(t, img, 109, 29, yellow)
	wantPixel(t, img, 110, 30, bg)
	if got := img.RGBAAt(154, 24); got.R < 127 || got.R > 129 || got.G != 0 || got.B != 0 {
		t.Errorf("tinted red = %v, want ~(128,0,0)", got)
	}
}

func TestRenderTransform(t *testing.T) {
	img := renderScene(t, 320, 240, func(c *gfx.Canvas) {
		c.Clear(bg)
		c.Push()
		c.Translate(200, 100)
		c.Rotate(math.Pi / 2) // y points down: +90° turns +x into +y
		c.FillRect(0, 0, 40, 10, green)
		c.Pop()
		c.Push()
		c.Translate(20, 120)
		c.Scale(3, 2)
		c.FillRect(0, 0, 10, 10, red) // covers 20..50 × 120..140
		c.Pop()
		c.FillRect(300, 0, 10, 10, white) // after Pop: untransformed
	})
	wantPixel(t, img, 195, 130, green)
	wantPixel(t, img, 220, 105, bg) // where the unrotated rect would be
	wantPixel(t, img, 49, 139, red)
	wantPixel(t, img, 51, 125, bg)
	wantPixel(t, img, 30, 141, bg)
	wantPixel(t, img, 305, 5, white)
}

func TestRenderText(t *testing.T) {
	face := gfx.DefaultFace(32)
	const msg = "HELLO"
	tw, th := face.Measure(msg)
	if tw < 60 || th < 30 {
		t.Fatalf("Measure(%q) = %v x %v, implausible at 32 px", msg, tw, th)
	}
	img := renderScene(t, 320, 120, func(c *gfx.Canvas) {
		c.Clear(bg)
		c.Text(msg, face, 20, 30, white)
	})
	inside, outside := 0, 0
	for y := 0; y < 120; y++ {
		for x := 0; x < 320; x++ {
			p := img.RGBAAt(x, y)
			if p == bg {
				continue
			}
			if x >= 20 && x < 20+int(tw)+1 && y >= 30 && y < 30+int(th)+1 {
				inside++
			} else {
				outside++
			}
		}
	}
	if inside < 150 {
		t.Errorf("only %d text pixels inside the measured box", inside)
	}
	if outside != 0 {
		t.Errorf("%d text pixels outside the measured box", outside)
	}
	// The letter H: its left stem is solid white somewhere in the first columns.
	found := false
	for y := 30; y < 30+int(th) && !found; y++ {
		for x := 20; x < 30; x++ {
			if img.RGBAAt(x, y) == white {
				found = true
			}
		}
	}
	if !found {
		t.Error("no fully white pixel in the H stem")
	}
}

func TestLetterboxedPresent(t *testing.T) {
	enginetest.RequireDisplay(t)
	var win *image.RGBA
	g := &sceneGame{w: 100, h: 100, draw: func(c *gfx.Canvas) {
		c.Clear(red)
		c.FillRect(0, 0, 25, 25, green) // top-left of the logical screen
	}}
	opts := Options{Width: 400, Height: 200, FixedSize: true, MaxFrames: 2, VSyncOff: true, CaptureOff: true}
	opts.afterPresent = func(w, h int) {
		pix := image.NewRGBA(image.Rect(0, 0, w, h))
		gl.BindFramebuffer(gl.READ_FRAMEBUFFER, 0)
		gl.ReadBuffer(gl.BACK)
		gl.ReadPixels(0, 0, int32(w), int32(h), gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(pix.Pix))
		// GL rows are bottom-up; flip to compare in window coordinates.
		win = image.NewRGBA(pix.Bounds())
		for y := 0; y < h; y++ {
			copy(win.Pix[y*win.Stride:(y+1)*win.Stride], pix.Pix[(h-1-y)*pix.Stride:(h-y)*pix.Stride])
		}
	}
	if err := Run(g, opts); err != nil {
		t.Fatal(err)
	}
	if win.Bounds().Dx() != 400 || win.Bounds().Dy() != 200 {
		t.Fatalf("window framebuffer is %v, want 400x200", win.Bounds())
	}
	black := color.RGBA{0, 0, 0, 255}
	wantPixel(t, win, 50, 100, black)  // left bar
	wantPixel(t, win, 350, 100, black) // right bar
	wantPixel(t, win, 99, 100, black)
	wantPixel(t, win, 100, 199, red) // the screen spans x 100..300 at 2x
	wantPixel(t, win, 299, 100, red)
	wantPixel(t, win, 300, 100, black)
	wantPixel(t, win, 101, 1, green) // logical top-left lands at the window's top-left of the viewport
	wantPixel(t, win, 149, 49, green)
	wantPixel(t, win, 151, 51, red)
	wantPixel(t, win, 101, 198, red) // not flipped: bottom-left is red
}

func TestRunTicksFollowInjectedClock(t *testing.T) {
	enginetest.RequireDisplay(t)
	step := time.Second / 60
	frameTimes := []time.Duration{time.Millisecond, 33 * time.Millisecond, 7 * time.Millisecond, 50 * time.Millisecond, step}
	var now time.Duration
	frame := 0
	g := &sceneGame{w: 32, h: 32, draw: func(c *gfx.Canvas) {
		now += frameTimes[frame%len(frameTimes)]
		frame++
	}}
	const frames = 120
	var stats FrameStats
	// sceneGame reads back every frame; that's fine at 32x32.
	err := Run(g, Options{Width: 32, Height: 32, MaxFrames: frames, VSyncOff: true, CaptureOff: true, Clock: func() time.Duration { return now }, Stats: &stats})
	if err != nil {
		t.Fatal(err)
	}
	// Ticks are decided before each frame's Draw: the last decision sees the
	// time after frames-1 Draws. The first frame always ticks once.
	var before time.Duration
	for i := 0; i < frames-1; i++ {
		before += frameTimes[i%len(frameTimes)]
	}
	want := 1 + int(before/step)
	if g.ticks != want || stats.Ticks != want || stats.Frames != frames {
		t.Fatalf("Update ran %d times (stats %d) in %d frames over %v, want %d", g.ticks, stats.Ticks, stats.Frames, before, want)
	}
}

type quitGame struct {
	sceneGame
	quitAt int
}

func (g *quitGame) Update(in *input.State) error {
	g.ticks++
	if g.ticks == g.quitAt {
		return ErrQuit
	}
	return nil
}

func TestErrQuitEndsRunCleanly(t *testing.T) {
	enginetest.RequireDisplay(t)
	g := &quitGame{sceneGame: sceneGame{w: 16, h: 16, draw: func(*gfx.Canvas) {}}, quitAt: 3}
	if err := Run(g, Options{Width: 16, Height: 16, VSyncOff: true, TPS: 1000, CaptureOff: true}); err != nil {
		t.Fatalf("Run after ErrQuit = %v, want nil", err)
	}
	if g.ticks != 3 {
		t.Fatalf("ticks = %d, want 3", g.ticks)
	}
}
