package engine

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-gl/gl/v4.1-core/gl"

	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

func TestDefaultsMatchFlags(t *testing.T) {
	flags, err := ParseFlags("g", nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var o Options
	o.withDefaults()
	if flags.Width != 1280 || flags.Height != 720 || o.Width != flags.Width || o.Height != flags.Height || o.TPS != flags.TPS {
		t.Fatalf("flag defaults %dx%d at %d tps, Options defaults %dx%d at %d tps; want both 1280x720 at 60",
			flags.Width, flags.Height, flags.TPS, o.Width, o.Height, o.TPS)
	}
}

// overlaySample is the overlay's text as drawLines makes it, with large
// counters: the third line is long.
func overlaySample() []string {
	m := capture.Metrics{FramesRendered: 123456, FramesCaptured: 123450, FramesEncoded: 123400, DroppedQueue: 12, DroppedReadback: 3,
		QueueDepth: 4, EncodeTime: 9 * time.Second, RawBytes: 1 << 40, StoredBytes: 1 << 33, Segments: 4567}
	return []string{
		"fps 59.9  tps 60  frame 123456  draws 12  vertices 4096",
		"capture on, pbo, session 20240102T030405.123456789Z-abcdef",
		m.String(),
	}
}

// squash removes all white space: what a reader of the text gets, however
// it was wrapped.
func squash(lines []string) string { return strings.Join(strings.Fields(strings.Join(lines, " ")), "") }

func TestOverlayLayoutFitsTheWindow(t *testing.T) {
	lines := overlaySample()
	for _, win := range []image.Point{{1920, 1080}, {1280, 720}, {640, 480}, {320, 240}, {240, 160}, {160, 120}, {100, 80}, {60, 40}} {
		t.Run(fmt.Sprintf("%dx%d", win.X, win.Y), func(t *testing.T) {
			area := image.Rect(hudMargin, hudMargin, win.X-hudMargin, win.Y-hudMargin)
			lay := layoutOverlay(lines, area)
			if len(lay.lines) == 0 {
				t.Fatal("no line fits")
			}
			if !lay.box.In(area) {
				t.Fatalf("backdrop %v is not inside the window's area %v", lay.box, area)
			}
			textW := float64(lay.box.Dx() - 2*hudPad)
			for i, l := range lay.lines {
				if w, _ := lay.face.Measure(l); w > float64(area.Dx()-2*hudPad) || w > textW {
					t.Errorf("line %d %q is %.1f px wide: wider than the window (%d) or its backdrop (%v)", i, l, w, win.X, lay.box)
				}
			}
			if _, h := lay.face.Measure(strings.Join(lay.lines, "\n")); h > float64(lay.box.Dy()-2*hudPad) || lay.box.Max.Y > win.Y-hudMargin {
				t.Errorf("%d lines are %.1f px high, backdrop %v, window %d high", len(lay.lines), h, lay.box, win.Y)
			}
			// Lines are only dropped when even the smallest face cannot
			// show them all.
			small := gfx.MonoFace(overlaySizes[len(overlaySizes)-1])
			if squash(lay.lines) != squash(lines) && (lay.face != small || !strings.HasPrefix(squash(lines), squash(lay.lines))) {
				t.Errorf("text lost in wrapping at %v px:\n%q\nfrom\n%q", lay.face.LineHeight(), lay.lines, lines)
			}
			if win.X >= 240 && squash(lay.lines) != squash(lines) {
				t.Errorf("a %dx%d window cannot show all of the overlay: %q", win.X, win.Y, lay.lines)
			}
		})
	}
	// A big window shows the lines as they are, at full size; a small one
	// wraps the long third line rather than cutting it.
	big := layoutOverlay(lines[:2], image.Rect(4, 4, 1276, 716))
	if big.face != gfx.MonoFace(overlaySizes[0]) || strings.Join(big.lines, "\n") != strings.Join(lines[:2], "\n") {
		t.Errorf("1280x720: face %v px, lines %q; want the short lines unchanged at %v px", big.face.LineHeight(), big.lines, overlaySizes[0])
	}
	small := layoutOverlay(lines, image.Rect(4, 4, 316, 236))
	if len(small.lines) <= 3 {
		t.Errorf("320x240: %d lines %q; the counters line cannot fit 320 px unwrapped", len(small.lines), small.lines)
	}
}

// frameSink keeps every frame of every segment, by session prefix.
type frameSink struct {
	mu     sync.Mutex
	frames map[string][]segment.Frame
}

func (s *frameSink) PutSegment(_ context.Context, info capture.SegmentInfo, data []byte) error {
	fs, err := segment.Decode(data)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frames == nil {
		s.frames = map[string][]segment.Frame{}
	}
	p := info.Key[:len(info.Key)-len("00000000.seg")]
	s.frames[p] = append(s.frames[p], fs...)
	return nil
}

// all returns the frames of every session in session order.
func (s *frameSink) all() []segment.Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.frames))
	for k := range s.frames {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []segment.Frame
	for _, k := range keys {
		out = append(out, s.frames[k]...)
	}
	return out
}

// hudGame fills its screen (the window's size) with a flat colour and a
// box that moves every frame, runs a script of engine controls from Update
// and keeps what it drew and what the window showed.
type hudGame struct {
	w, h   int
	script func(tick int)
	tick   int
	now    time.Duration // the engine's clock, +100 ms a frame
	drawn  []*image.RGBA // per frame, the canvas
	window []*image.RGBA // per frame, the window's back buffer before the swap
}

var hudBG = color.RGBA{200, 200, 200, 255}

func (g *hudGame) Update(*input.State) error {
	g.tick++
	g.script(g.tick)
	return nil
}

func (g *hudGame) Layout(int, int) (int, int) { return g.w, g.h }

func (g *hudGame) Draw(c *gfx.Canvas) {
	g.now += 100 * time.Millisecond
	c.Clear(hudBG)
	n := len(g.drawn)
	c.FillRect(float64(10+n*3), float64(g.h-60), 20, 20, color.RGBA{0, 0, 255, 255})
	img, _ := c.ReadPixels()
	g.drawn = append(g.drawn, img)
}

func readWindow(w, h int) *image.RGBA {
	pix := image.NewRGBA(image.Rect(0, 0, w, h))
	gl.BindFramebuffer(gl.READ_FRAMEBUFFER, 0)
	gl.ReadBuffer(gl.BACK)
	gl.ReadPixels(0, 0, int32(w), int32(h), gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(pix.Pix))
	win := image.NewRGBA(pix.Bounds())
	for y := 0; y < h; y++ {
		copy(win.Pix[y*win.Stride:(y+1)*win.Stride], pix.Pix[(h-1-y)*pix.Stride:(h-y)*pix.Stride])
	}
	return win
}

// hudRun runs hudGame for frames frames in lockstep, recording from source
// with a real pipeline into a frameSink; the script gets the running loop.
func hudRun(t *testing.T, w, h, frames int, source capture.Source, logs io.Writer, script func(l *loop, tick int)) (*hudGame, *frameSink, FrameStats) {
	t.Helper()
	sink := &frameSink{}
	g := &hudGame{w: w, h: h}
	g.script = func(tick int) { script(current, tick) }
	var stats FrameStats
	opts := Options{Width: w, Height: h, FixedSize: true, MaxFrames: frames, VSyncOff: true, Lockstep: true, Stats: &stats,
		Clock:  func() time.Duration { return g.now },
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Capture: &capture.Options{Game: "hud", Player: "p", Source: source, Readback: capture.ReadbackSync,
			Pipeline: capture.PipelineConfig{Sink: sink, Codec: segment.CodecS2, Drop: capture.Block}},
	}
	opts.afterPresent = func(ww, wh int) { g.window = append(g.window, readWindow(ww, wh)) }
	if err := Run(g, opts); err != nil {
		t.Fatal(err)
	}
	if len(g.drawn) != frames || len(g.window) != frames {
		t.Fatalf("drew %d frames, read %d windows; want %d", len(g.drawn), len(g.window), frames)
	}
	return g, sink, stats
}

// TestOverlayAndRecIndicatorOnlyOnTheWindow switches the F3 overlay and
// recording (F9 and SetRecording) on and off, and checks that the window
// shows the overlay's backdrop and text, the REC indicator while recording
// and "REC off" for a moment after, and nothing once that passed, while the
// recording is byte for byte that of the same run with none of it.
func TestOverlayAndRecIndicatorOnlyOnTheWindow(t *testing.T) {
	enginetest.RequireDisplay(t)
	const w, h, frames = 320, 240, 48
	// Tick k runs before frame k is drawn (lockstep, one tick a frame).
	const (
		overlayOn, recOn1, recOff1, overlayOff, recOn2, recOff2 = 2, 4, 10, 14, 36, 42
	)
	type shows struct{ overlay, rec, recOff bool }
	expect := func(frame int) shows {
		return shows{
			overlay: frame >= overlayOn && frame < overlayOff,
			rec:     frame >= recOn1 && frame < recOff1 || frame >= recOn2 && frame < recOff2,
			// "REC off" stays up 2 s: 20 frames at 100 ms; checked well
			// inside and well after that.
			recOff: frame >= recOff1 && frame < recOff1+15 || frame >= recOff2,
		}
	}
	hidden := func(frame int) bool { // nothing at all, with margin around the 2 s
		return frame < overlayOn || frame >= recOff1+22 && frame < recOn2
	}
	unsure := func(frame int) bool { // "REC off" may or may not be up
		return frame >= recOff1+15 && frame < recOff1+22
	}
	for _, source := range []capture.Source{capture.SourceScreen, capture.SourceWindow} {
		t.Run(map[capture.Source]string{capture.SourceScreen: "screen", capture.SourceWindow: "window"}[source], func(t *testing.T) {
			var logs bytes.Buffer
			g, sink, stats := hudRun(t, w, h, frames, source, &logs, func(l *loop, tick int) {
				switch tick {
				case overlayOn, overlayOff:
					l.hotkey(l.hk.overlay)
				case recOn1, recOff2:
					l.hotkey(l.hk.record)
				case recOff1:
					SetRecording(false)
				case recOn2:
					SetRecording(true)
				}
			})
			// The same run with no overlay and no indicator: recording is
			// switched behind the engine's back.
			_, plainSink, plainStats := hudRun(t, w, h, frames, source, io.Discard, func(l *loop, tick int) {
				switch tick {
				case recOn1, recOn2:
					l.rec.SetRecording(true)
				case recOff1, recOff2:
					l.rec.SetRecording(false)
				}
			})
			got, want := sink.all(), plainSink.all()
			if len(stats.Sessions) != 2 || len(plainStats.Sessions) != 2 {
				t.Fatalf("sessions %v and %v, want 2 each", stats.Sessions, plainStats.Sessions)
			}
			if n := (recOff1 - recOn1) + (recOff2 - recOn2); len(got) != n || len(want) != n {
				t.Fatalf("recorded %d frames, plain run %d; want %d", len(got), len(want), n)
			}
			recorded := make([]int, 0, len(got)) // frame numbers, 1-based
			for f := 1; f <= frames; f++ {
				if expect(f).rec {
					recorded = append(recorded, f)
				}
			}
			for i := range got {
				if !bytes.Equal(got[i].Image.Pix, want[i].Image.Pix) {
					t.Fatalf("recorded frame %d (frame %d) differs from the run without overlay and indicator", i, recorded[i])
				}
				if !bytes.Equal(got[i].Image.Pix, g.drawn[recorded[i]-1].Pix) {
					t.Fatalf("recorded frame %d differs from frame %d as the game drew it", i, recorded[i])
				}
			}

			dark := func(c color.RGBA) bool { // the backdrop over hudBG
				return c.R < 60 && c.G < 60 && c.B < 60 && c.R == c.G && c.G == c.B
			}
			recBox, dot, _ := recLayout(w)
			for f := 1; f <= frames; f++ {
				win, drawn := g.window[f-1], g.drawn[f-1]
				e := expect(f)
				if hidden(f) {
					if !bytes.Equal(win.Pix, drawn.Pix) {
						t.Errorf("frame %d: the window differs from the game's frame, with no overlay or indicator on", f)
					}
					continue
				}
				outside, inside := 0, 0 // window pixels the engine drew over, outside and inside the indicator's box
				for y := 0; y < h; y++ {
					for x := 0; x < w; x++ {
						if win.RGBAAt(x, y) != drawn.RGBAAt(x, y) {
							if image.Pt(x, y).In(recBox) {
								inside++
							} else {
								outside++
							}
						}
					}
				}
				if e.overlay {
					backdrop := countMatching(win, image.Rect(0, 0, recBox.Min.X, h), dark)
					text := countMatching(win, image.Rect(0, 0, w, h), func(c color.RGBA) bool { return c.G > c.R+80 && c.G > c.B })
					if backdrop < 3000 || text < 100 {
						t.Errorf("frame %d: overlay on, but %d backdrop and %d green text pixels", f, backdrop, text)
					}
				} else if outside != 0 {
					t.Errorf("frame %d: overlay off, but %d pixels outside the indicator's box %v are drawn over", f, outside, recBox)
				}
				// Nothing touches the window's last column or row.
				for y := 0; y < h; y++ {
					if win.RGBAAt(w-1, y) != drawn.RGBAAt(w-1, y) {
						t.Errorf("frame %d: drawn over the window's right edge at y=%d", f, y)
						break
					}
				}
				for x := 0; x < w; x++ {
					if win.RGBAAt(x, h-1) != drawn.RGBAAt(x, h-1) {
						t.Errorf("frame %d: drawn over the window's bottom edge at x=%d", f, x)
						break
					}
				}
				boxCorner := win.RGBAAt(recBox.Min.X+1, recBox.Max.Y-2)
				dotPix := win.RGBAAt(dot.X, dot.Y)
				switch {
				case unsure(f):
				case e.rec:
					if dotPix != recRed || !dark(boxCorner) {
						t.Errorf("frame %d: recording, but the REC dot is %v and its box corner %v", f, dotPix, boxCorner)
					}
				case e.recOff:
					grey := countMatching(win, recBox, func(c color.RGBA) bool { return c.R > 120 && c.R == c.G && c.G == c.B })
					if dotPix == recRed || !dark(boxCorner) || grey < 30 {
						t.Errorf("frame %d: just stopped, but the dot is %v, the box corner %v, %d grey text pixels; want \"REC off\"", f, dotPix, boxCorner, grey)
					}
				case !e.overlay:
					if inside != 0 {
						t.Errorf("frame %d: no indicator due, but %d pixels of its box are drawn over", f, inside)
					}
				}
			}

			// One line when each session starts (its id) and stops (its
			// frames).
			out := logs.String()
			for i, id := range stats.Sessions {
				if !regexp.MustCompile(`msg="recording started" session=` + regexp.QuoteMeta(id)).MatchString(out) {
					t.Errorf("no start line for session %d (%s) in:\n%s", i, id, out)
				}
				if !regexp.MustCompile(`msg="recording stopped" session=` + regexp.QuoteMeta(id) + ` frames=6 dropped=0`).MatchString(out) {
					t.Errorf("no stop line with 6 frames for session %d (%s) in:\n%s", i, id, out)
				}
			}
		})
	}
}

func countMatching(img *image.RGBA, r image.Rectangle, ok func(color.RGBA) bool) int {
	n := 0
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if ok(img.RGBAAt(x, y)) {
				n++
			}
		}
	}
	return n
}

// A recording that starts with the game shows REC on the window for its
// first recStartShown (3 s on the game's clock: 100 ms a frame here), then
// not; the recording itself never holds it.
func TestRecIndicatorAtStartOnlyOnTheWindow(t *testing.T) {
	enginetest.RequireDisplay(t)
	const w, h, frames = 320, 240, 40
	sink := &frameSink{}
	g := &hudGame{w: w, h: h, script: func(int) {}}
	opts := Options{Width: w, Height: h, FixedSize: true, MaxFrames: frames, VSyncOff: true, Lockstep: true,
		Clock:  func() time.Duration { return g.now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Capture: &capture.Options{Game: "hud", Player: "p", Source: capture.SourceScreen, Readback: capture.ReadbackSync, Recording: true,
			Pipeline: capture.PipelineConfig{Sink: sink, Codec: segment.CodecS2, Drop: capture.Block}},
	}
	opts.afterPresent = func(ww, wh int) { g.window = append(g.window, readWindow(ww, wh)) }
	if err := Run(g, opts); err != nil {
		t.Fatal(err)
	}
	if len(g.window) != frames {
		t.Fatalf("read %d windows, want %d", len(g.window), frames)
	}
	red := func(img *image.RGBA) int {
		n := 0
		for y := 0; y < 40; y++ {
			for x := img.Bounds().Dx() - 100; x < img.Bounds().Dx(); x++ {
				if c := img.RGBAAt(x, y); c.R > 180 && c.G < 90 && c.B < 90 {
					n++
				}
			}
		}
		return n
	}
	// The clock reads 100 ms more at each Draw; the indicator is drawn
	// after Draw, so frame k shows it while (k+1)·100 ms < 3 s.
	for k, win := range g.window {
		shown := red(win) > 0
		if want := k < 28; k < 28 || k > 31 {
			if shown != want {
				t.Errorf("frame %d: REC shown on the window = %v, want %v", k, shown, want)
			}
		}
	}
	if n := red(g.window[0]); n == 0 {
		t.Fatal("no red dot on the first frame's window")
	}
	rec := sink.all()
	if len(rec) != frames {
		t.Fatalf("%d frames recorded, want %d", len(rec), frames)
	}
	for _, f := range rec {
		if !bytes.Equal(f.Image.Pix, g.drawn[f.Seq].Pix) || red(f.Image) > 0 {
			t.Fatalf("recorded frame %d differs from what the game drew, or holds the indicator", f.Seq)
		}
	}
}
