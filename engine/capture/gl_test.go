package capture_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"testing"

	"go.uber.org/goleak"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/capture/capturetest"
	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

// sceneColor and sceneRects define frame n's picture; expected renders the
// same picture on the CPU.
func sceneColor(n int) color.RGBA { return color.RGBA{uint8(n * 3), uint8(255 - n), 40, 255} }

func sceneRects(n, w, h int) []image.Rectangle {
	x := (n * 17) % (w - 40)
	return []image.Rectangle{
		image.Rect(x, 10, x+40, 50),
		image.Rect(w/2, h/2+n%20, w/2+25, h/2+n%20+15),
		image.Rect(0, h-3, w, h), // the bottom rows: catches a vertical flip
	}
}

var rectColors = []color.RGBA{{255, 255, 255, 255}, {255, 0, 128, 255}, {0, 200, 255, 255}}

func expected(n, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	c := sceneColor(n)
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	for i, r := range sceneRects(n, w, h) {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				img.SetRGBA(x, y, rectColors[i])
			}
		}
	}
	return img.Pix
}

type sceneGame struct {
	w, h, n int
}

func (g *sceneGame) Update(*input.State) error  { return nil }
func (g *sceneGame) Layout(int, int) (int, int) { return g.w, g.h }
func (g *sceneGame) Draw(c *gfx.Canvas) {
	c.Clear(sceneColor(g.n))
	for i, r := range sceneRects(g.n, g.w, g.h) {
		c.FillRect(float64(r.Min.X), float64(r.Min.Y), float64(r.Dx()), float64(r.Dy()), rectColors[i])
	}
	g.n++
}

// Every captured frame, in both readback modes and at two sizes, decodes to
// exactly what was drawn, with no frame missing.
func TestCapturedFramesMatchWhatWasDrawn(t *testing.T) {
	enginetest.RequireDisplay(t)
	for _, mode := range []capture.ReadbackMode{capture.ReadbackSync, capture.ReadbackPBO} {
		for _, size := range []image.Point{{640, 480}, {1920, 1080}} {
			frames := 90
			if size.X > 1000 {
				frames = 20
			}
			t.Run(fmt.Sprintf("%s/%dx%d", mode, size.X, size.Y), func(t *testing.T) {
				defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
				sink := &capturetest.MemorySink{}
				var stats engine.FrameStats
				g := &sceneGame{w: size.X, h: size.Y}
				err := engine.Run(g, engine.Options{
					Width: size.X, Height: size.Y, MaxFrames: frames, VSyncOff: true, Lockstep: true, Stats: &stats,
					Capture: &capture.Options{
						Game: "scene", Player: "tester", Readback: mode, Recording: true,
						Pipeline: capture.PipelineConfig{Sink: sink, Codec: segment.CodecZstd, Drop: capture.Block, KeyInterval: 30},
					},
				})
				if err != nil {
					t.Fatal(err)
				}
				if stats.Readback != mode.String() {
					t.Fatalf("readback %q, want %q", stats.Readback, mode)
				}
				got := sink.Frames(t)
				if len(got) != frames {
					t.Fatalf("decoded %d frames, want %d (metrics: %s)", len(got), frames, stats.Capture)
				}
				for i, f := range got {
					if f.Seq != uint64(i) {
						t.Fatalf("frame %d has seq %d", i, f.Seq)
					}
					if f.Image.Bounds().Dx() != size.X || f.Image.Bounds().Dy() != size.Y {
						t.Fatalf("frame %d is %v", i, f.Image.Bounds())
					}
					if want := expected(i, size.X, size.Y); !bytes.Equal(f.Image.Pix, want) {
						t.Fatalf("frame %d differs from what was drawn (first difference at byte %d)", i, firstDiff(f.Image.Pix, want))
					}
				}
				m := stats.Capture
				if m.FramesCaptured != uint64(frames) || m.FramesEncoded != uint64(frames) || m.Dropped() != 0 {
					t.Fatalf("metrics: %s", m)
				}
			})
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// With source "window" the recording is what the player sees: the screen
// scaled into the window with black bars.
func TestCaptureWindowSourceIsTheLetterboxedWindow(t *testing.T) {
	enginetest.RequireDisplay(t)
	const sw, sh, ww, wh, frames = 320, 240, 800, 480, 5
	sink := &capturetest.MemorySink{}
	err := engine.Run(&sceneGame{w: sw, h: sh}, engine.Options{
		Width: ww, Height: wh, FixedSize: true, MaxFrames: frames, VSyncOff: true, Lockstep: true,
		Capture: &capture.Options{
			Game: "scene", Player: "tester", Readback: capture.ReadbackSync, Source: capture.SourceWindow, Recording: true,
			Pipeline: capture.PipelineConfig{Sink: sink, Codec: segment.CodecS2, Drop: capture.Block},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := sink.Frames(t)
	if len(got) != frames {
		t.Fatalf("%d frames, want %d", len(got), frames)
	}
	// Scale 2 (480/240), centred: the screen spans x 80..720.
	for i, f := range got {
		if f.Image.Bounds() != image.Rect(0, 0, ww, wh) {
			t.Fatalf("frame %d is %v, want the %dx%d window", i, f.Image.Bounds(), ww, wh)
		}
		want := expected(i, sw, sh)
		for y := 0; y < wh; y++ {
			for x := 0; x < ww; x++ {
				o := (y*ww + x) * 4
				px := f.Image.Pix[o : o+4]
				var w []byte
				if x < 80 || x >= 720 {
					w = []byte{0, 0, 0, 255}
				} else {
					so := ((y/2)*sw + (x-80)/2) * 4
					w = want[so : so+4]
				}
				if !bytes.Equal(px, w) {
					t.Fatalf("frame %d pixel (%d,%d) = %v, want %v", i, x, y, px, w)
				}
			}
		}
	}
}
