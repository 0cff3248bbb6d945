package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"
	"math"
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

func TestExportMedianInterval(t *testing.T) {
	if m := MedianInterval(at(0, 10, 20, 500, 530)); m != 30*time.Millisecond {
		t.Fatalf("median %v", m)
	}
	if m := MedianInterval(at(0)); m != DefaultInterval {
		t.Fatalf("one frame: %v", m)
	}
}

// A measured rate becomes a clean rational: a standard rate when within
// 2%, the closest one when two are near (59.94 is not 60), else a whole
// number — never 62497/1000.
func TestExportSnapRate(t *testing.T) {
	for _, c := range []struct {
		fps  float64
		want Rate
	}{
		{60, Rate{60, 1}}, {60.02, Rate{60, 1}}, {60.6, Rate{60, 1}}, {61.1, Rate{60, 1}}, {59.2, Rate{60000, 1001}},
		{59.94, Rate{60000, 1001}}, {59.9401, Rate{60000, 1001}},
		{29.97, Rate{30000, 1001}}, {30.3, Rate{30, 1}}, {23.976, Rate{24000, 1001}}, {24.3, Rate{24, 1}},
		{25.4, Rate{25, 1}}, {49.2, Rate{50, 1}}, {118, Rate{120, 1}}, {143.1, Rate{144, 1}},
		{62.497, Rate{62, 1}}, {62.6, Rate{63, 1}}, {37.2, Rate{37, 1}}, {200, Rate{200, 1}},
		{0.25, Rate{1, 4}}, {0.5, Rate{1, 2}},
	} {
		if got := SnapRate(c.fps); got != c.want {
			t.Errorf("SnapRate(%v) = %v, want %v", c.fps, got, c.want)
		}
	}
	if got := RateOfInterval(time.Second / 60); got != (Rate{60, 1}) {
		t.Errorf("RateOfInterval(1/60 s) = %v", got)
	}
	if got := RateOfInterval(16683333 * time.Nanosecond); got != (Rate{60000, 1001}) {
		t.Errorf("RateOfInterval(16.683 ms) = %v", got)
	}
	// What --fps asks for is taken as it is, not snapped.
	for _, c := range []struct {
		fps  float64
		want Rate
	}{
		{50, Rate{50, 1}}, {59, Rate{59, 1}}, {61, Rate{61, 1}}, {29.97, Rate{30000, 1001}}, {23.976, Rate{24000, 1001}},
		{12.5, Rate{25, 2}}, {59.5, Rate{119, 2}}, {0.5, Rate{1, 2}},
	} {
		if got := RateOf(c.fps); got != c.want {
			t.Errorf("RateOf(%v) = %v, want %v", c.fps, got, c.want)
		}
	}
}

// --fps picks frames by capture time: at 25 fps a 60 fps recording shows
// about every 2.4th frame, at 120 fps every frame is held twice; the GIF
// and the video last the same.
func TestExportPickByCaptureTime(t *testing.T) {
	var ms []float64
	for i := range 60 {
		ms = append(ms, float64(i)*1000/60)
	}
	times := at(ms...)
	for _, fps := range []float64{10, 25, 30, 50, 60, 100} {
		reps := pick(times, time.Second/60, fps)
		if got, want := sum(reps), int(fps); got != want {
			t.Errorf("fps %v: %d ticks over one second, want %d: %v", fps, got, want, reps)
		}
		job := Job{FPS: fps}
		for _, tm := range times {
			job.Frames = append(job.Frames, FrameTime{Time: tm})
		}
		delays := gifDelays(&job)
		if sum(delays) != 100 {
			t.Errorf("fps %v: GIF delays sum to %d cs, want 100: %v", fps, sum(delays), delays)
		}
		shown := 0
		for i := range reps {
			if (reps[i] > 0) != (delays[i] > 0) {
				t.Fatalf("fps %v: frame %d is in the video %d times but has GIF delay %d", fps, i, reps[i], delays[i])
			}
			if reps[i] > 0 {
				shown++
				// each GIF frame lasts its ticks, to the centisecond
				if want := float64(reps[i]) * 100 / fps; math.Abs(float64(delays[i])-want) >= 1 {
					t.Fatalf("fps %v: frame %d holds %d ticks (%.2f cs) but has delay %d", fps, i, reps[i], want, delays[i])
				}
			}
		}
		if fps <= 60 && shown != int(fps) {
			t.Errorf("fps %v: %d frames shown, want %d (one per tick)", fps, shown, int(fps))
		}
	}
	// Twice the recorded rate: every frame held for two ticks.
	if reps := pick(times, time.Second/60, 120); slices.Min(reps) != 2 || slices.Max(reps) != 2 {
		t.Errorf("fps 120 over a 60 fps recording: %v, want every frame twice", reps)
	}
	// Each tick shows the frame on screen at its middle: at 25 fps tick 0
	// (0-40 ms) shows the frame captured at 16.7 ms, tick 1 (40-80 ms)
	// the one captured at 50 ms.
	for _, fps := range []float64{7, 25, 33, 48} {
		reps := pick(times, time.Second/60, fps)
		j := 0
		for i, r := range reps {
			start := times[i].Sub(t0).Seconds()
			end := 1.0
			if i+1 < len(times) {
				end = times[i+1].Sub(t0).Seconds()
			}
			for range r {
				mid := (float64(j) + 0.5) / fps
				if mid < start-1e-9 || mid > end+1e-9 {
					t.Fatalf("fps %v: tick %d (middle %.4f s) shows frame %d, on screen %.4f-%.4f s", fps, j, mid, i, start, end)
				}
				j++
			}
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

// source is frames in memory, with gaps where the index has none; a frame
// with no image is damaged.
type source []segment.Frame

func (s source) Walk(ctx context.Context, from, to uint64, fn func(segment.Frame, error) error) error {
	for _, f := range s {
		if f.Seq >= from && f.Seq <= to {
			if err := ctx.Err(); err != nil {
				return err
			}
			var damage error
			if f.Image == nil {
				damage = fmt.Errorf("frame %d: payload CRC32C mismatch", f.Seq)
			}
			if err := fn(f, damage); err != nil {
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
	if err := CheckOut("png", dir, false); !errors.Is(err, ErrExists) {
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
	if res.Rate != (Rate{25, 1}) || res.VideoFrames != 40 || len(res.Notes) != 1 {
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

func (c cancelAfter) Walk(ctx context.Context, from, to uint64, fn func(segment.Frame, error) error) error {
	i := 0
	return c.source.Walk(ctx, from, to, func(f segment.Frame, damage error) error {
		if i++; i == c.n {
			c.cancel()
		}
		return fn(f, damage)
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
	ff, err := StartFFmpeg(context.Background(), out, VideoOptions{Width: 16, Height: 16, Rate: Rate{30, 1}, CRF: 18})
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

func TestExportFormatOf(t *testing.T) {
	dir := t.TempDir()
	for out, want := range map[string]string{
		"a.gif": "gif", "A.GIF": "gif", "b.mp4": "mp4", "c.Mp4": "mp4", "frames": "png", filepath.Join(dir, "x", "y"): "png", dir: "png",
	} {
		if got, err := FormatOf(out); err != nil || got != want {
			t.Errorf("FormatOf(%q) = %q, %v; want %q", out, got, err, want)
		}
	}
	for _, out := range []string{"a.webm", "a.png", "a.gif.txt"} {
		if got, err := FormatOf(out); err == nil || !strings.Contains(err.Error(), "--format") {
			t.Errorf("FormatOf(%q) = %q, %v; want an error asking for --format", out, got, err)
		}
	}
	for _, c := range [][2]string{{"gif", "a.mp4"}, {"mp4", "a.GIF"}, {"png", "a.gif"}, {"png", "a.mp4"}} {
		err := CheckFormat(c[0], c[1])
		if err == nil || !strings.Contains(err.Error(), "--format "+c[0]) || !strings.Contains(err.Error(), c[1]) {
			t.Errorf("CheckFormat(%s, %s) = %v, want an error naming both", c[0], c[1], err)
		}
	}
	for _, c := range [][2]string{{"gif", "a.gif"}, {"gif", "anim"}, {"png", "frames"}, {"mp4", "v.MP4"}, {"png", "frames.v2"}} {
		if err := CheckFormat(c[0], c[1]); err != nil {
			t.Errorf("CheckFormat(%s, %s) = %v", c[0], c[1], err)
		}
	}
}

// One overwrite rule: Run refuses an existing output without Force and
// replaces it with Force, for every format.
func TestExportRunOverwriteRule(t *testing.T) {
	src, ft := testSession()
	formats := []string{"png", "gif"}
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		formats = append(formats, "mp4")
	}
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out."+format)
			job := Job{Format: format, Out: out, Frames: ft, From: 0, To: 39, Width: 33, Height: 21, CRF: 18}
			if _, err := Run(context.Background(), src, job); err != nil {
				t.Fatal(err)
			}
			read := func() string {
				if format != "png" {
					b, _ := os.ReadFile(out)
					return string(b)
				}
				ents, _ := os.ReadDir(out)
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				return strings.Join(names, ",")
			}
			before := read()
			job.Frames, job.From, job.To = ft[:5], 0, 4
			if _, err := Run(context.Background(), src[:5], job); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), out) || !strings.Contains(err.Error(), "--force") {
				t.Fatalf("existing output: %v, want ErrExists naming %s and --force", err, out)
			}
			if read() != before {
				t.Fatal("the refused export changed the output")
			}
			job.Force = true
			if _, err := Run(context.Background(), src[:5], job); err != nil {
				t.Fatalf("Force: %v", err)
			}
			after := read()
			if after == before {
				t.Fatal("Force did not replace the output")
			}
			if format == "png" && after != "frame-00000000.png,frame-00000001.png,frame-00000002.png,frame-00000003.png,frame-00000004.png" {
				t.Fatalf("Force left %s", after)
			}
			if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
				t.Fatalf("left beside the output: %v", ents)
			}
		})
	}
	// A directory with other files is not replaced, even with Force.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "frame-00000001.png"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "frame-1.png"), nil, 0o644)
	if err := CheckOut("png", dir, true); !errors.Is(err, ErrNotAnExport) || !strings.Contains(err.Error(), "frame-1.png") {
		t.Fatalf("foreign file: %v", err)
	}
	if err := CheckOut("gif", dir, true); err == nil || errors.Is(err, ErrExists) {
		t.Fatalf("gif over a directory: %v", err)
	}
	if err := CheckOut("png", filepath.Join(dir, "frame-1.png"), true); err == nil {
		t.Fatal("png over a file: no error")
	}
}

// withDamage is testSession with the frames of seqs damaged (no image: the
// source passes them with their damage), and the same session with those
// frames simply missing.
func withDamage(seqs ...uint64) (damaged source, dft []FrameTime, missing source, mft []FrameTime) {
	src, ft := testSession()
	for i, f := range src {
		if slices.Contains(seqs, f.Seq) {
			f.Image = nil
		} else {
			missing = append(missing, f)
			mft = append(mft, ft[i])
		}
		damaged = append(damaged, f)
	}
	return damaged, ft, missing, mft
}

// A damaged frame is exported exactly as a missing one: a GIF and PNG
// files identical to those of the session without the damaged frames
// (delays included: the frame before is held until the next intact one),
// the damaged frames listed in the result. Frame 0 damaged too: nothing
// before it to hold, so the export starts at the first intact frame, as
// after a gap at the start.
func TestExportRunDamagedIsMissing(t *testing.T) {
	dmg, dft, miss, mft := withDamage(0, 5, 6, 7, 33)
	dir := t.TempDir()
	run := func(src Source, ft []FrameTime, format, name string) Result {
		t.Helper()
		res, err := Run(context.Background(), src, Job{Format: format, Out: filepath.Join(dir, name), Frames: ft, From: 0, To: 39, Width: 33, Height: 21, Workers: 3})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res
	}
	res := run(dmg, dft, "gif", "damaged.gif")
	want := run(miss, mft, "gif", "missing.gif")
	var seqs []uint64
	for _, d := range res.Damaged {
		seqs = append(seqs, d.Seq)
		if d.Err == nil || !strings.Contains(d.Err.Error(), "CRC32C") {
			t.Errorf("damaged frame %d: %v", d.Seq, d.Err)
		}
	}
	if !slices.Equal(seqs, []uint64{0, 5, 6, 7, 33}) || res.Frames != 25 || res.Frames != want.Frames || res.Duration != want.Duration {
		t.Fatalf("gif with damage: %d frames, %v, damaged %v; without the frames: %d frames, %v", res.Frames, res.Duration, seqs, want.Frames, want.Duration)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "damaged.gif"))
	b, _ := os.ReadFile(filepath.Join(dir, "missing.gif"))
	if !bytes.Equal(a, b) {
		t.Fatalf("the GIF with damaged frames differs from the GIF without them (%d and %d bytes)", len(a), len(b))
	}

	res = run(dmg, dft, "png", "damaged")
	want = run(miss, mft, "png", "missing")
	da, _ := os.ReadDir(filepath.Join(dir, "damaged"))
	db, _ := os.ReadDir(filepath.Join(dir, "missing"))
	if res.Frames != 25 || len(res.Damaged) != 5 || len(da) != 25 || len(db) != len(da) {
		t.Fatalf("png with damage: %d frames, %d damaged, %d files; without: %d files", res.Frames, len(res.Damaged), len(da), len(db))
	}
	for i := range da {
		if da[i].Name() != db[i].Name() {
			t.Fatalf("png file %d: %s, want %s", i, da[i].Name(), db[i].Name())
		}
	}

	if _, err := exec.LookPath("ffmpeg"); err == nil {
		// Frames 5-7's ticks show frame 4, as over a gap; frame 0's tick has
		// nothing before it to show, so the video starts a tick later, as
		// one without frame 0 does: as long as the one without the frames.
		ref := run(miss, mft, "mp4", "missing.mp4")
		res := run(dmg, dft, "mp4", "damaged.mp4")
		if res.Frames != 25 || len(res.Damaged) != 5 || res.VideoFrames != ref.VideoFrames || res.Duration != ref.Duration {
			t.Fatalf("mp4 with damage: %d frames, %d damaged, %d video frames, %v; without the damaged frames: %d video frames, %v",
				res.Frames, len(res.Damaged), res.VideoFrames, res.Duration, ref.VideoFrames, ref.Duration)
		}
	}
}

// With Strict the first damaged frame stops the export and nothing is left;
// an export whose every frame is damaged fails whatever Strict says.
func TestExportRunStrictAndNothingIntact(t *testing.T) {
	dmg, dft, _, _ := withDamage(12)
	for _, format := range []string{"png", "gif", "mp4"} {
		if format == "mp4" {
			if _, err := exec.LookPath("ffmpeg"); err != nil {
				continue
			}
		}
		dir := t.TempDir()
		out := filepath.Join(dir, "out")
		if format != "png" {
			out += "." + format
		}
		_, err := Run(context.Background(), dmg, Job{Format: format, Out: out, Frames: dft, From: 0, To: 39, Width: 33, Height: 21, Workers: 2, Strict: true})
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "frame 12") {
			t.Fatalf("%s --strict: %v, want ErrDamaged naming frame 12", format, err)
		}
		ents, _ := os.ReadDir(dir)
		if format == "png" {
			ents, _ = os.ReadDir(out)
		}
		if len(ents) != 0 {
			t.Fatalf("%s --strict left %v", format, ents)
		}
		all, aft, _, _ := withDamage(0, 1, 2)
		_, err = Run(context.Background(), all[:3], Job{Format: format, Out: out, Frames: aft[:3], From: 0, To: 2, Width: 33, Height: 21, Workers: 2})
		if !errors.Is(err, ErrNothingIntact) || !strings.Contains(err.Error(), "all 3 stored frames from 0 to 2 are damaged") {
			t.Fatalf("%s of damaged frames only: %v", format, err)
		}
	}
}
