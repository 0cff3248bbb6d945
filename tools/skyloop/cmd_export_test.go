package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// exportReference is the reference frames of the recorded session, by
// sequence number.
func exportReference(t *testing.T) (recording, []segment.Frame) {
	t.Helper()
	rec := recordedSession(t)
	frames, err := decodeStored(rec)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(frames, func(a, b segment.Frame) int { return int(a.Seq) - int(b.Seq) })
	return rec, frames
}

func sameRGB(a image.Image, b *image.RGBA) (diffs int, sumAbs float64) {
	r := b.Rect
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.RGBAModel.Convert(a.At(x-r.Min.X+a.Bounds().Min.X, y-r.Min.Y+a.Bounds().Min.Y)).(color.RGBA)
			w := b.RGBAAt(x, y)
			d := absDiff(c.R, w.R) + absDiff(c.G, w.G) + absDiff(c.B, w.B)
			if d != 0 {
				diffs++
			}
			sumAbs += float64(d)
		}
	}
	return diffs, sumAbs / float64(3*r.Dx()*r.Dy())
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestExportPNGRoundTrip(t *testing.T) {
	rec, ref := exportReference(t)
	out := filepath.Join(t.TempDir(), "png")
	start := time.Now()
	stdout, stderr, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--format", "png", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	t.Logf("png export of %d frames: %v; %s", len(ref), time.Since(start), strings.TrimSpace(stdout))
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(ref) {
		t.Fatalf("%d files, want %d", len(ents), len(ref))
	}
	for _, f := range ref {
		name := filepath.Join(out, fmt.Sprintf("frame-%08d.png", f.Seq))
		img := decodePNG(t, name)
		if n, _ := sameRGB(img, f.Image); n != 0 || img.Bounds().Size() != f.Image.Rect.Size() {
			t.Fatalf("%s: %d pixels differ from the recorded frame (size %v, want %v)", name, n, img.Bounds().Size(), f.Image.Rect.Size())
		}
	}

	// A range, into a new directory.
	out2 := filepath.Join(t.TempDir(), "range")
	if o, e, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--format", "png", "--out", out2, "--from", "10", "--to", "19"); code != 0 {
		t.Fatalf("exit %d: %s%s", code, o, e)
	}
	ents, _ = os.ReadDir(out2)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	var want []string
	for s := 10; s <= 19; s++ {
		want = append(want, fmt.Sprintf("frame-%08d.png", s))
	}
	if !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}

	// Non-empty directory: refused, then allowed with --force.
	_, e, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--format", "png", "--out", out2, "--from", "0", "--to", "1")
	if code != 2 || !strings.Contains(e, "is not empty") || !strings.Contains(e, "--force") {
		t.Fatalf("non-empty dir: exit %d, stderr %q", code, e)
	}
	if o, e, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--format", "png", "--out", out2, "--from", "0", "--to", "1", "--force"); code != 0 {
		t.Fatalf("--force: exit %d: %s%s", code, o, e)
	}
	if ents, _ := os.ReadDir(out2); len(ents) != 12 {
		t.Fatalf("--force: %d files, want 12", len(ents))
	}

	// --scale 2: every pixel doubled.
	out3 := filepath.Join(t.TempDir(), "scaled")
	if o, e, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--format", "png", "--out", out3, "--from", "5", "--to", "5", "--scale", "2"); code != 0 {
		t.Fatalf("--scale 2: exit %d: %s%s", code, o, e)
	}
	img := decodePNG(t, filepath.Join(out3, "frame-00000005.png"))
	if img.Bounds().Dx() != 2*rec.Width || img.Bounds().Dy() != 2*rec.Height {
		t.Fatalf("--scale 2: %v", img.Bounds())
	}
	r5 := ref[5].Image
	for y := 0; y < rec.Height; y += 7 {
		for x := 0; x < rec.Width; x += 5 {
			want := r5.RGBAAt(r5.Rect.Min.X+x, r5.Rect.Min.Y+y)
			for _, d := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				got := color.RGBAModel.Convert(img.At(2*x+d[0], 2*y+d[1])).(color.RGBA)
				if got.R != want.R || got.G != want.G || got.B != want.B {
					t.Fatalf("--scale 2: pixel (%d,%d) is %v, want %v", 2*x+d[0], 2*y+d[1], got, want)
				}
			}
		}
	}
}

func decodePNG(t *testing.T, name string) image.Image {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return img
}

func TestExportGIF(t *testing.T) {
	rec, ref := exportReference(t)
	out := filepath.Join(t.TempDir(), "session.gif")
	start := time.Now()
	stdout, stderr, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--format", "gif", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	t.Logf("gif export: %v; %s %s", time.Since(start), strings.TrimSpace(stdout), strings.TrimSpace(stderr))
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) != len(ref) {
		t.Fatalf("%d GIF frames, want %d", len(g.Image), len(ref))
	}
	if g.Config.Width != rec.Width || g.Config.Height != rec.Height {
		t.Fatalf("GIF is %dx%d, want %dx%d", g.Config.Width, g.Config.Height, rec.Width, rec.Height)
	}
	// breakout is flat colour: the per-frame exact palette makes every
	// frame lossless.
	for i, f := range ref {
		if n, _ := sameRGB(g.Image[i], f.Image); n != 0 {
			t.Fatalf("GIF frame %d: %d pixels differ from the recorded frame", i, n)
		}
	}
	// Delays: the recording's span plus the last frame's (median) interval,
	// each frame at least 1/100 s.
	var sum int
	for _, d := range g.Delay {
		if d < 1 {
			t.Fatalf("delay %d", d)
		}
		sum += d
	}
	var iv []time.Duration
	for i := 1; i < len(ref); i++ {
		iv = append(iv, ref[i].Time.Sub(ref[i-1].Time))
	}
	slices.Sort(iv)
	med := iv[len(iv)/2]
	want := ref[len(ref)-1].Time.Sub(ref[0].Time) + med
	got := time.Duration(sum) * 10 * time.Millisecond
	t.Logf("GIF delays sum to %v, recording %v (median interval %v)", got, want, med)
	if diff := (got - want).Abs(); diff > time.Duration(len(ref))*10*time.Millisecond {
		t.Fatalf("GIF delays sum to %v, recording lasts %v", got, want)
	}
}

func TestExportMP4(t *testing.T) {
	rec, ref := exportReference(t)
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("SKYLOOP_REQUIRE_DISPLAY") == "1" {
			t.Fatal("ffmpeg is not on PATH; the README's test command installs it")
		}
		t.Skip("ffmpeg is not on PATH: install ffmpeg to test mp4 export")
	}
	out := filepath.Join(t.TempDir(), "session.mp4")
	start := time.Now()
	stdout, stderr, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--format", "mp4", "--out", out, "--fps", "30")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	t.Logf("mp4 export: %v; %s %s", time.Since(start), strings.TrimSpace(stdout), strings.TrimSpace(stderr))
	_ = ref
	probe, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream=width,height,nb_read_frames", "-of", "csv=p=0", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ffprobe: %s", probe)
	_ = strconv.Itoa
	_ = math.Abs
}
