package export

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(ms ...float64) []time.Time {
	out := make([]time.Time, len(ms))
	for i, m := range ms {
		out[i] = t0.Add(time.Duration(m * float64(time.Millisecond)))
	}
	return out
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func TestExportTicksCarriesRounding(t *testing.T) {
	// 60 fps for one second: 1.666… cs a frame. Rounded one by one that
	// would be 2 cs each (1.2 s); carried over it is exactly 100 cs.
	var ms []float64
	for i := range 60 {
		ms = append(ms, float64(i)*1000/60)
	}
	d := Ticks(at(ms...), time.Second/60, 100, 1)
	if sum(d) != 100 {
		t.Fatalf("delays sum to %d cs, want 100: %v", sum(d), d)
	}
	for _, x := range d {
		if x != 1 && x != 2 {
			t.Fatalf("delay %d: want 1 or 2: %v", x, d)
		}
	}
}

func TestExportTicksHoldsGaps(t *testing.T) {
	// Frames at 0, 100, 200 ms, then a gap (frames lost) until 1000 ms.
	d := Ticks(at(0, 100, 200, 1000), 100*time.Millisecond, 100, 1)
	if want := []int{10, 10, 80, 10}; !slices.Equal(d, want) {
		t.Fatalf("delays %v, want %v", d, want)
	}
	// The same at 30 fps: the frame before the gap is repeated.
	r := Ticks(at(0, 100, 200, 1000), 100*time.Millisecond, 30, 0)
	if want := []int{3, 3, 24, 3}; !slices.Equal(r, want) {
		t.Fatalf("repeats %v, want %v", r, want)
	}
}

func TestExportTicksMinimum(t *testing.T) {
	// Frames 1 ms apart: GIF gives each 1 cs at least; the video at 100 fps
	// drops all but every tenth.
	var ms []float64
	for i := range 30 {
		ms = append(ms, float64(i))
	}
	d := Ticks(at(ms...), time.Millisecond, 100, 1)
	if sum(d) != 30 || slices.Min(d) != 1 {
		t.Fatalf("gif delays %v", d)
	}
	r := Ticks(at(ms...), time.Millisecond, 100, 0)
	if sum(r) != 3 {
		t.Fatalf("video frames %v: sum %d, want 3", r, sum(r))
	}
}

func TestExportFixedTicks(t *testing.T) {
	d := FixedTicks(30, 30, 100, 1) // 3.33 cs each
	if sum(d) != 100 {
		t.Fatalf("sum %d, want 100: %v", sum(d), d)
	}
	if d := FixedTicks(5, 25, 100, 1); !slices.Equal(d, []int{4, 4, 4, 4, 4}) {
		t.Fatal(d)
	}
}

func TestExportMedianIntervalAndFPS(t *testing.T) {
	if m := MedianInterval(at(0, 10, 20, 500, 530)); m != 30*time.Millisecond {
		t.Fatalf("median %v", m)
	}
	if m := MedianInterval(at(0)); m != DefaultInterval {
		t.Fatalf("one frame: %v", m)
	}
	for _, c := range []struct {
		iv   time.Duration
		want float64
	}{{time.Second / 60, 60}, {16683333 * time.Nanosecond, 59.94}, {time.Second / 30, 30}, {40 * time.Millisecond, 25}} {
		if got := RoundFPS(c.iv); got != c.want {
			t.Errorf("RoundFPS(%v) = %v, want %v", c.iv, got, c.want)
		}
	}
}

// flat is a frame of a few flat colours, like a game's.
func flat(w, h int, cols ...color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, cols[(x/7+y/5)%len(cols)])
		}
	}
	return img
}

func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255})
		}
	}
	return img
}

func diff(p *image.Paletted, src *image.RGBA) (n int, mean float64) {
	var total int
	for y := range src.Rect.Dy() {
		for x := range src.Rect.Dx() {
			a := p.Palette[p.ColorIndexAt(x, y)].(color.RGBA)
			b := src.RGBAAt(x, y)
			d := absd(a.R, b.R) + absd(a.G, b.G) + absd(a.B, b.B)
			if d != 0 {
				n++
			}
			total += d
		}
	}
	return n, float64(total) / float64(3*src.Rect.Dx()*src.Rect.Dy())
}

func absd(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestExportQuantizeExact(t *testing.T) {
	cols := []color.RGBA{{0, 0, 0, 255}, {255, 0, 0, 255}, {12, 200, 7, 255}, {250, 250, 250, 255}}
	src := flat(97, 61, cols...)
	p := Quantize(src)
	if len(p.Palette) != 4 {
		t.Fatalf("palette of %d colours, want 4", len(p.Palette))
	}
	if n, _ := diff(p, src); n != 0 {
		t.Fatalf("%d pixels differ", n)
	}
	// Exactly 256 colours: still exact.
	var many []color.RGBA
	for i := range 256 {
		many = append(many, color.RGBA{uint8(i), uint8(255 - i), uint8(i * 7), 255})
	}
	src = image.NewRGBA(image.Rect(0, 0, 200, 200))
	for i := range 200 * 200 {
		src.SetRGBA(i%200, i/200, many[i%256])
	}
	p = Quantize(src)
	if n, _ := diff(p, src); n != 0 || len(p.Palette) != 256 {
		t.Fatalf("256 colours: %d pixels differ, palette %d", n, len(p.Palette))
	}
}

func TestExportQuantizeMedianCut(t *testing.T) {
	src := gradient(256, 256) // far more than 256 colours
	pal := MedianCut(src, 256)
	if len(pal) < 200 || len(pal) > 256 {
		t.Fatalf("palette of %d colours", len(pal))
	}
	p := Quantize(src)
	_, mean := diff(p, src)
	// Plan9's fixed palette on the same image, for comparison: the
	// per-frame palette must do better.
	p9 := image.NewPaletted(src.Rect, palette.Plan9)
	draw.FloydSteinberg.Draw(p9, src.Rect, src, image.Point{})
	_, mean9 := diff(p9, src)
	t.Logf("median cut + Floyd–Steinberg: mean abs error %.2f; Plan9 palette: %.2f", mean, mean9)
	if mean > 8 || mean >= mean9 {
		t.Fatalf("mean abs error %.2f, want at most 8 and below Plan9's %.2f", mean, mean9)
	}
	// A colour that covers most of the frame is in the palette exactly.
	src = gradient(64, 64)
	big := flat(256, 256, color.RGBA{10, 20, 30, 255})
	for y := range 64 {
		copy(big.Pix[y*big.Stride:y*big.Stride+64*4], src.Pix[y*src.Stride:])
	}
	if !slices.Contains(MedianCut(big, 256), color.Color(color.RGBA{10, 20, 30, 255})) {
		t.Fatal("the dominant colour is not in the palette")
	}
}

func TestExportScale(t *testing.T) {
	src := flat(5, 3, color.RGBA{1, 2, 3, 255}, color.RGBA{200, 100, 50, 255})
	src.SetRGBA(4, 2, color.RGBA{9, 9, 9, 255})
	s, err := ParseScale("3")
	if err != nil {
		t.Fatal(err)
	}
	w, h := s.Size(5, 3)
	if w != 15 || h != 9 {
		t.Fatalf("size %dx%d", w, h)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	s.Apply(dst, src)
	for y := range h {
		for x := range w {
			if dst.RGBAAt(x, y) != src.RGBAAt(x/3, y/3) {
				t.Fatalf("(%d,%d) = %v, want %v", x, y, dst.RGBAAt(x, y), src.RGBAAt(x/3, y/3))
			}
		}
	}
	half, _ := ParseScale("0.5")
	if w, h := half.Size(641, 480); w != 321 || h != 240 {
		t.Fatalf("0.5 of 641x480: %dx%d", w, h)
	}
	for _, bad := range []string{"0", "-2", "x", "17", "NaN"} {
		if _, err := ParseScale(bad); err == nil {
			t.Errorf("ParseScale(%q) accepted", bad)
		}
	}
}

// source is frames in memory, with gaps where the index has none.
type source []segment.Frame

func (s source) Each(ctx context.Context, from, to uint64, fn func(segment.Frame) error) error {
	for _, f := range s {
		if f.Seq >= from && f.Seq <= to {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// testSession is 40 frames 40 ms apart of 3 flat colours, frames 20-29
// missing; each frame differs.
func testSession() (source, []FrameTime) {
	var s source
	var ft []FrameTime
	for i := range 40 {
		if i >= 20 && i < 30 {
			continue
		}
		img := flat(33, 21, color.RGBA{0, 0, 0, 255}, color.RGBA{uint8(i * 6), 100, 200, 255}, color.RGBA{255, 255, uint8(i), 255})
		tm := t0.Add(time.Duration(i) * 40 * time.Millisecond)
		s = append(s, segment.Frame{Seq: uint64(i), Time: tm, Image: img})
		ft = append(ft, FrameTime{Seq: uint64(i), Time: tm})
	}
	return s, ft
}

func TestExportRunGIFStreamsInOrderAndHoldsGaps(t *testing.T) {
	src, ft := testSession()
	out := filepath.Join(t.TempDir(), "s.gif")
	res, err := Run(context.Background(), src, Job{Format: "gif", Out: out, Frames: ft, From: 0, To: 39, Width: 33, Height: 21, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	g, err := gif.DecodeAll(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) != 30 || res.Frames != 30 || res.Bytes != int64(len(data)) {
		t.Fatalf("%d frames (result %d, %d bytes of %d)", len(g.Image), res.Frames, res.Bytes, len(data))
	}
	for i, f := range src {
		if n, _ := diff(g.Image[i], f.Image); n != 0 {
			t.Fatalf("frame %d: %d pixels differ (out of order?)", i, n)
		}
		want := 4
		if f.Seq == 19 {
			want = 44 // held through the gap of frames 20-29
		}
		if g.Delay[i] != want {
			t.Fatalf("frame %d: delay %d, want %d", f.Seq, g.Delay[i], want)
		}
	}
	if g.LoopCount != 0 {
		t.Fatalf("loop count %d, want 0 (forever)", g.LoopCount)
	}
}

func TestExportRunPNG(t *testing.T) {
	src, ft := testSession()
	dir := filepath.Join(t.TempDir(), "out")
	res, err := Run(context.Background(), src, Job{Format: "png", Out: dir, Frames: ft[5:25], From: 5, To: 34, Width: 33, Height: 21, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 20 || res.Frames != 20 {
		t.Fatalf("%d files, result %d", len(ents), res.Frames)
	}
	f, err := os.Open(filepath.Join(dir, "frame-00000034.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	want := src[24].Image
	for y := range 21 {
		for x := range 33 {
			if color.RGBAModel.Convert(img.At(x, y)) != want.At(x, y) {
				t.Fatalf("(%d,%d) differs", x, y)
			}
		}
	}
	if err := CheckPNGDir(dir, false); !errors.Is(err, ErrDirNotEmpty) {
		t.Fatalf("non-empty dir: %v", err)
	}
}

func TestExportRunCancelled(t *testing.T) {
	src, ft := testSession()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	for _, format := range []string{"gif", "mp4"} {
		if format == "mp4" {
			if _, err := exec.LookPath("ffmpeg"); err != nil {
				continue
			}
		}
		out := filepath.Join(dir, "s."+format)
		if _, err := Run(ctx, src, Job{Format: format, Out: out, Frames: ft, From: 0, To: 39, Width: 33, Height: 21}); !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: %v, want context.Canceled", format, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("cancelled exports left %v", ents)
	}
}

func TestExportRunMP4OddSizePadded(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not on PATH")
	}
	src, ft := testSession()
	out := filepath.Join(t.TempDir(), "s.mp4")
	res, err := Run(context.Background(), src, Job{Format: "mp4", Out: out, Frames: ft, From: 0, To: 39, Width: 33, Height: 21, CRF: 18})
	if err != nil {
		t.Fatal(err)
	}
	// 25 fps from the 40 ms interval; 40 frames' time (the gap held).
	if res.FPS != 25 || res.VideoFrames != 40 || len(res.Notes) != 1 {
		t.Fatalf("%+v", res)
	}
	probe, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream=width,height,nb_read_frames", "-of", "csv=p=0", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(bytes.TrimSpace(probe)); got != "34,22,40" {
		t.Fatalf("ffprobe: %s, want 34,22,40", got)
	}
}

// cancelAfter cancels the export's context once n frames are read.
type cancelAfter struct {
	source
	n      int
	cancel func()
}

func (c cancelAfter) Each(ctx context.Context, from, to uint64, fn func(segment.Frame) error) error {
	i := 0
	return c.source.Each(ctx, from, to, func(f segment.Frame) error {
		if i++; i == c.n {
			c.cancel()
		}
		return fn(f)
	})
}

func TestExportRunCancelledMidway(t *testing.T) {
	src, ft := testSession()
	dir := t.TempDir()
	for _, format := range []string{"gif", "mp4", "png"} {
		if format == "mp4" {
			if _, err := exec.LookPath("ffmpeg"); err != nil {
				continue
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		out := filepath.Join(dir, "s."+format)
		_, err := Run(ctx, cancelAfter{src, 10, cancel}, Job{Format: format, Out: out, Frames: ft, From: 0, To: 39, Width: 33, Height: 21, Workers: 2})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: %v, want context.Canceled", format, err)
		}
		if format == "png" {
			ents, _ := os.ReadDir(out)
			for _, e := range ents {
				if filepath.Ext(e.Name()) != ".png" {
					t.Fatalf("png: temporary file %s left", e.Name())
				}
			}
			os.RemoveAll(out)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("cancelled exports left %v", ents)
	}
}

func TestExportFFmpegFailureSaysWhy(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not on PATH")
	}
	out := filepath.Join(t.TempDir(), "no", "such", "dir", "v.mp4")
	ff, err := StartFFmpeg(context.Background(), out, VideoOptions{Width: 16, Height: 16, FPS: 30, CRF: 18})
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 16*16*4)
	for range 5 {
		if err = ff.Write(frame); err != nil {
			break
		}
	}
	if err == nil {
		err = ff.Close()
	}
	ff.Abort()
	if err == nil || !strings.Contains(err.Error(), "ffmpeg failed") || !strings.Contains(err.Error(), "No such file or directory") {
		t.Fatalf("err = %v, want ffmpeg's complaint", err)
	}
}

func TestExportNoFFmpeg(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	src, ft := testSession()
	_, err := Run(context.Background(), src, Job{Format: "mp4", Out: filepath.Join(t.TempDir(), "v.mp4"), Frames: ft, To: 39, Width: 33, Height: 21})
	if !errors.Is(err, ErrNoFFmpeg) {
		t.Fatalf("err = %v", err)
	}
}

func TestChangedRect(t *testing.T) {
	a := image.NewRGBA(image.Rect(0, 0, 40, 30))
	b := image.NewRGBA(a.Rect)
	if r := changedRect(a, b); !r.Empty() {
		t.Fatalf("equal frames: %v", r)
	}
	b.Pix[b.PixOffset(7, 5)+2] = 1 // one channel of one pixel
	if r := changedRect(a, b); r != image.Rect(7, 5, 8, 6) {
		t.Fatalf("one pixel: %v", r)
	}
	b.Pix[b.PixOffset(39, 29)] = 9
	b.Pix[b.PixOffset(0, 12)] = 9
	if r := changedRect(a, b); r != image.Rect(0, 5, 40, 30) {
		t.Fatalf("three pixels: %v", r)
	}
}
