package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
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

	// Non-empty directory: refused, then replaced with --force (the
	// overwrite rule is tested for every format in TestExportOverwriteRule).
	_, e, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--format", "png", "--out", out2, "--from", "0", "--to", "1")
	if code != 2 || !strings.Contains(e, "is not empty") || !strings.Contains(e, "--force") {
		t.Fatalf("non-empty dir: exit %d, stderr %q", code, e)
	}
	if o, e, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--format", "png", "--out", out2, "--from", "0", "--to", "1", "--force"); code != 0 {
		t.Fatalf("--force: exit %d: %s%s", code, o, e)
	}
	if ents, _ := os.ReadDir(out2); len(ents) != 2 {
		t.Fatalf("--force: %d files, want the 2 of the new export", len(ents))
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
	// frame, as a viewer composes it, lossless.
	shown := composeGIF(g)
	// Frames after the first store only what changed.
	if b := g.Image[1].Bounds(); b == image.Rect(0, 0, rec.Width, rec.Height) {
		t.Errorf("GIF frame 1 covers the whole picture %v: the unchanged part is stored again", b)
	}
	for i, f := range ref {
		if n, _ := sameRGB(shown[i], f.Image); n != 0 {
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

	// --fps 25: the frames on a 25 fps clock, each 4/100 s (held through
	// ticks when the recording is slower, skipped when it is faster); a
	// range and a scale.
	out2 := filepath.Join(t.TempDir(), "fixed.gif")
	if o, e, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--format", "gif", "--out", out2, "--fps", "25", "--from", "30", "--to", "59", "--scale", "0.5"); code != 0 {
		t.Fatalf("--fps 25: exit %d: %s%s", code, o, e)
	}
	data, _ = os.ReadFile(out2)
	g, err = gif.DecodeAll(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if g.Config.Width != rec.Width/2 || g.Config.Height != rec.Height/2 {
		t.Fatalf("--fps 25 --scale 0.5: %dx%d", g.Config.Width, g.Config.Height)
	}
	iv = iv[:0]
	for i := 31; i < 60; i++ {
		iv = append(iv, ref[i].Time.Sub(ref[i-1].Time))
	}
	slices.Sort(iv)
	span := ref[59].Time.Sub(ref[30].Time) + iv[len(iv)/2]
	ticks := max(int(math.Round(span.Seconds()*25)), 1)
	sum = 0
	for i, d := range g.Delay {
		if d%4 != 0 {
			t.Fatalf("--fps 25: delay %d is %d/100 s, not a multiple of 4", i, d)
		}
		sum += d
	}
	if sum != 4*ticks || len(g.Image) > min(ticks, 30) {
		t.Fatalf("--fps 25: %d frames lasting %d/100 s; the 30 frames span %v: want %d ticks of 4/100 s", len(g.Image), sum, span, ticks)
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
	probe, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream=width,height,nb_read_frames", "-of", "csv=p=0", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	// Expected: the recording's span plus one median interval, at 30 fps.
	var iv []time.Duration
	for i := 1; i < len(ref); i++ {
		iv = append(iv, ref[i].Time.Sub(ref[i-1].Time))
	}
	slices.Sort(iv)
	span := ref[len(ref)-1].Time.Sub(ref[0].Time) + iv[len(iv)/2]
	wantFrames := int(math.Round(span.Seconds() * 30))
	want := fmt.Sprintf("%d,%d,%d", rec.Width, rec.Height, wantFrames)
	if got := strings.TrimSpace(string(probe)); got != want {
		t.Fatalf("ffprobe says width,height,frames = %s, want %s", got, want)
	}
	// Frame 0 back to PNG: close to the recorded frame (yuv420p is lossy).
	frame0 := filepath.Join(t.TempDir(), "frame0.png")
	if o, err := exec.Command("ffmpeg", "-v", "error", "-i", out, "-frames:v", "1", frame0).CombinedOutput(); err != nil {
		t.Fatalf("decode frame 0: %v\n%s", err, o)
	}
	_, mae := sameRGB(decodePNG(t, frame0), ref[0].Image)
	t.Logf("frame 0: mean absolute error %.3f (of 255)", mae)
	if mae > 3 {
		t.Fatalf("frame 0: mean absolute error %.2f, want at most 3", mae)
	}

	// --lossless: exact pixels back.
	out2 := filepath.Join(t.TempDir(), "all.mp4")
	if o, e, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--format", "mp4", "--out", out2, "--fps", "1000", "--lossless", "--from", "0", "--to", "9"); code != 0 {
		t.Fatalf("--lossless: exit %d: %s%s", code, o, e)
	}
	frame0 = filepath.Join(t.TempDir(), "lossless0.png")
	if o, err := exec.Command("ffmpeg", "-v", "error", "-i", out2, "-frames:v", "1", frame0).CombinedOutput(); err != nil {
		t.Fatalf("decode lossless frame 0: %v\n%s", err, o)
	}
	if n, _ := sameRGB(decodePNG(t, frame0), ref[0].Image); n != 0 {
		t.Fatalf("--lossless: frame 0 has %d pixels unlike the recording", n)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
		t.Fatalf("temporary files left beside the mp4: %v", ents)
	}
}

func TestExportErrors(t *testing.T) {
	rec := recordedSession(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unknown format", []string{"--format", "webm", "--out", filepath.Join(dir, "x.webm")}, 2, []string{"--format", "webm", "png, gif, mp4"}},
		{"format not known from the extension", []string{"--out", filepath.Join(dir, "x.webm")}, 2, []string{"x.webm", "--format"}},
		{"no out", []string{"--format", "gif"}, 2, []string{"--out is required"}},
		{"fps for png", []string{"--out", filepath.Join(dir, "p"), "--fps", "10"}, 2, []string{"--fps"}},
		{"gif too fast", []string{"--out", filepath.Join(dir, "f.gif"), "--fps", "120"}, 2, []string{"--fps 120", "100"}},
		{"from after to", []string{"--format", "gif", "--out", filepath.Join(dir, "a.gif"), "--from", "20", "--to", "10"}, 2, []string{"--from 20", "--to 10", "frames 0-89"}},
		{"to beyond the end", []string{"--format", "gif", "--out", filepath.Join(dir, "b.gif"), "--to", "500"}, 2, []string{"--to 500", "frames 0-89"}},
		{"from beyond the end", []string{"--format", "png", "--out", filepath.Join(dir, "p"), "--from", "90"}, 2, []string{"--from 90", "frames 0-89"}},
		{"bad scale", []string{"--format", "png", "--out", filepath.Join(dir, "p"), "--scale", "-1"}, 2, []string{"--scale"}},
		{"out is a directory", []string{"--format", "gif", "--out", dir}, 2, []string{"is a directory"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, e, code := runTool(t, append([]string{"--config", rec.Config, "export", rec.Ref}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, e)
			}
			for _, w := range c.want {
				if !strings.Contains(e, w) {
					t.Errorf("stderr %q does not say %q", e, w)
				}
			}
		})
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("failed exports left files: %v", ents)
	}

	t.Run("no ffmpeg", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, e, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--format", "mp4", "--out", filepath.Join(dir, "v.mp4"))
		if code != 1 || !strings.Contains(e, "mp4 export needs ffmpeg: install it (Debian/Ubuntu: apt install ffmpeg)") {
			t.Fatalf("exit %d, stderr %q", code, e)
		}
	})
}

// TestExportGap exports a copy of the recorded session with its middle
// segment (frames 30-59) deleted: PNG skips the missing frames, GIF holds
// frame 29 for the gap's duration.
func TestExportGap(t *testing.T) {
	rec, ref := exportReference(t)
	root := filepath.Join(t.TempDir(), "sink")
	if err := os.CopyFS(root, os.DirFS(rec.Root)); err != nil {
		t.Fatal(err)
	}
	k := strings.Split(rec.Ref, "/")
	segs, _ := filepath.Glob(filepath.Join(root, k[0], k[1], "sessions", k[2], "*.seg"))
	if len(segs) != 3 {
		t.Fatalf("want 3 segments of 30 frames, found %v", segs)
	}
	slices.Sort(segs)
	if err := os.Remove(segs[1]); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(filepath.Join(t.TempDir(), "gap.toml"), root, rec.PluginDir)

	out := filepath.Join(t.TempDir(), "png")
	if o, e, code := runTool(t, "--config", cfg, "export", rec.Ref, "--format", "png", "--out", out); code != 0 {
		t.Fatalf("png: exit %d: %s%s", code, o, e)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 60 {
		t.Fatalf("png: %d files, want 60", len(ents))
	}
	if _, err := os.Stat(filepath.Join(out, "frame-00000030.png")); !os.IsNotExist(err) {
		t.Fatalf("frame 30 is in the gap: %v", err)
	}

	gifOut := filepath.Join(t.TempDir(), "gap.gif")
	if o, e, code := runTool(t, "--config", cfg, "export", rec.Ref, "--format", "gif", "--out", gifOut, "--from", "20", "--to", "69"); code != 0 {
		t.Fatalf("gif: exit %d: %s%s", code, o, e)
	}
	data, _ := os.ReadFile(gifOut)
	g, err := gif.DecodeAll(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) != 20 {
		t.Fatalf("gif: %d frames, want 20 (20-29, 60-69)", len(g.Image))
	}
	// Delays are carried over from frame to frame: frame 29 ends at frame
	// 60's time, rounded to 1/100 s, so the first 10 delays sum to that
	// span (or to 10, each frame lasting at least 1/100 s).
	var upTo60 int
	for _, d := range g.Delay[:10] {
		upTo60 += d
	}
	span := ref[60].Time.Sub(ref[20].Time)
	if want := max(int(math.Round(span.Seconds()*100)), 10); upTo60 != want {
		t.Fatalf("frames 20-29 last %d/100 s, want %d (frames 20 to 60 span %v)", upTo60, want, span)
	}
	if n, _ := sameRGB(composeGIF(g)[10], ref[60].Image); n != 0 {
		t.Fatalf("gif frame 10 is not frame 60: %d pixels differ", n)
	}

	_, e, code := runTool(t, "--config", cfg, "export", rec.Ref, "--format", "gif", "--out", filepath.Join(t.TempDir(), "inside.gif"), "--from", "35", "--to", "40")
	if code != 2 || !strings.Contains(e, "all missing") {
		t.Fatalf("range inside the gap: exit %d, %q", code, e)
	}
}

// composeGIF plays a GIF as a viewer does: each frame drawn over the
// picture so far (the export uses disposal "none" and frames that cover
// only what changed).
func composeGIF(g *gif.GIF) []*image.RGBA {
	canvas := image.NewRGBA(image.Rect(0, 0, g.Config.Width, g.Config.Height))
	out := make([]*image.RGBA, len(g.Image))
	for i, p := range g.Image {
		draw.Draw(canvas, p.Bounds(), p, p.Bounds().Min, draw.Over)
		out[i] = image.NewRGBA(canvas.Rect)
		copy(out[i].Pix, canvas.Pix)
	}
	return out
}

// damageLine is how export lists a damaged range on stderr.
func damageLine(c damageCase) string {
	return fmt.Sprintf("damaged: frames %d-%d (%d frames), segment %s, %s: ", c.from, c.to, c.to-c.from+1, c.seg, c.kind)
}

// Every kind of damage is a gap with a reason in PNG export: every intact
// frame is written with its recorded pixels, no damaged frame has a file,
// the damaged range is listed with its segment and kind, and the export
// succeeds; with --strict it fails and writes nothing.
func TestExportPNGSkipsDamage(t *testing.T) {
	rec, ref := exportReference(t)
	for _, c := range damageCases(t) {
		t.Run(c.name, func(t *testing.T) {
			cfg := applyDamage(t, c)
			out := filepath.Join(t.TempDir(), "png")
			o, e, code := runTool(t, "--config", cfg, "export", rec.Ref, "--format", "png", "--out", out)
			n := int(c.to - c.from + 1)
			if code != 0 || !strings.Contains(e, damageLine(c)) || !strings.Contains(o, fmt.Sprintf("wrote %d PNG files", len(ref)-n)) ||
				!strings.Contains(o, fmt.Sprintf("left out %d damaged frames in 1 range", n)) {
				t.Fatalf("png export: exit %d, want 0 listing %q\n%s%s", code, damageLine(c), o, e)
			}
			var want []string
			for _, f := range ref {
				if c.intact(f.Seq) {
					want = append(want, fmt.Sprintf("frame-%08d.png", f.Seq))
				}
			}
			if got := dirNames(t, out); !slices.Equal(got, want) {
				t.Fatalf("png export wrote %d files %v…, want the %d intact frames", len(got), got[:min(3, len(got))], len(want))
			}
			for _, f := range ref {
				if !c.intact(f.Seq) {
					continue
				}
				img := decodePNG(t, filepath.Join(out, fmt.Sprintf("frame-%08d.png", f.Seq)))
				if d, _ := sameRGB(img, f.Image); d != 0 {
					t.Fatalf("frame %d: %d pixels differ from the recording", f.Seq, d)
				}
			}

			strictOut := filepath.Join(t.TempDir(), "strict")
			o, e, code = runTool(t, "--config", cfg, "export", rec.Ref, "--format", "png", "--out", strictOut, "--strict")
			if code != 1 || !strings.Contains(e, "--strict") || !strings.Contains(e, "nothing written") || !strings.Contains(e, c.kind) {
				t.Fatalf("png export --strict: exit %d, want 1 saying why\n%s%s", code, o, e)
			}
			if ents, _ := os.ReadDir(strictOut); len(ents) != 0 {
				t.Fatalf("png export --strict left %d files", len(ents))
			}
			// A range without the damage is intact: --strict exports it.
			o, e, code = runTool(t, "--config", cfg, "export", rec.Ref, "--format", "png", "--out", strictOut, "--strict", "--from", "0", "--to", "9")
			if code != 0 || len(dirNames(t, strictOut)) != 10 || strings.Contains(e, "damaged") {
				t.Fatalf("png export --strict of frames 0-9: exit %d\n%s%s", code, o, e)
			}
		})
	}
}

// In a GIF a damaged frame is held like a missing one: the GIF holds the
// frames that are intact, each exactly as recorded, and the frame before
// the damage lasts until the next intact frame's time.
func TestExportGIFHoldsOverDamage(t *testing.T) {
	rec, ref := exportReference(t)
	for _, c := range damageCases(t) {
		t.Run(c.name, func(t *testing.T) {
			cfg := applyDamage(t, c)
			out := filepath.Join(t.TempDir(), "d.gif")
			o, e, code := runTool(t, "--config", cfg, "export", rec.Ref, "--format", "gif", "--out", out)
			if code != 0 || !strings.Contains(e, damageLine(c)) {
				t.Fatalf("gif export: exit %d, want 0 listing %q\n%s%s", code, damageLine(c), o, e)
			}
			g, err := gif.DecodeAll(bytes.NewReader(fileBytes(t, out)))
			if err != nil {
				t.Fatal(err)
			}
			var intact []segment.Frame
			for _, f := range ref {
				if c.intact(f.Seq) {
					intact = append(intact, f)
				}
			}
			if len(g.Image) != len(intact) {
				t.Fatalf("%d GIF frames, want the %d intact ones", len(g.Image), len(intact))
			}
			shown := composeGIF(g)
			for i, f := range intact {
				if d, _ := sameRGB(shown[i], f.Image); d != 0 {
					t.Fatalf("GIF frame %d is not frame %d: %d pixels differ", i, f.Seq, d)
				}
			}
			// The frames up to the one after the damage last as long as a
			// GIF of the intact frames alone gives them: each until the next
			// intact one's time, to 1/100 s, each at least 1/100 s (rounding
			// and those minimums carried over).
			k := slices.IndexFunc(intact, func(f segment.Frame) bool { return f.Seq > c.to })
			if k < 0 { // damage at the end: nothing is held
				return
			}
			want := 0
			for j := 1; j <= k; j++ {
				want = max(int(math.Round(intact[j].Time.Sub(intact[0].Time).Seconds()*100)), want+1)
			}
			upTo := 0
			for _, d := range g.Delay[:k] {
				upTo += d
			}
			if upTo != want {
				t.Fatalf("GIF frames before frame %d last %d/100 s, want %d (the recording took %v to get there)", intact[k].Seq, upTo, want, intact[k].Time.Sub(intact[0].Time))
			}
		})
	}
	t.Run("Strict", func(t *testing.T) {
		cfg := applyDamage(t, damageCases(t)[2]) // crc: found while decoding
		out := filepath.Join(t.TempDir(), "strict.gif")
		o, e, code := runTool(t, "--config", cfg, "export", rec.Ref, "--format", "gif", "--out", out, "--strict")
		if code != 1 || !strings.Contains(e, "damaged frame (--strict)") || !strings.Contains(e, "nothing written") {
			t.Fatalf("gif export --strict: exit %d\n%s%s", code, o, e)
		}
		if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 0 {
			t.Fatalf("gif export --strict left %v", ents)
		}
	})
}

// In an MP4 a damaged frame is held like a missing one: decoded back (the
// export is lossless), every video frame is an intact recorded frame, in
// order, none from the damaged range, and the frame before the damage is
// held for the time the damaged frames took.
func TestExportMP4HoldsOverDamage(t *testing.T) {
	needFFmpeg(t)
	rec, ref := exportReference(t)
	const fps = 120
	for _, c := range damageCases(t) {
		if c.kind != "crc" && c.kind != "foreign" {
			continue // one found while decoding, one found in the listing; PNG and GIF cover the rest
		}
		t.Run(c.name, func(t *testing.T) {
			cfg := applyDamage(t, c)
			out := filepath.Join(t.TempDir(), "d.mp4")
			from, to := c.from-5, min(c.to+5, 89)
			o, e, code := runTool(t, "--config", cfg, "export", rec.Ref, "--format", "mp4", "--out", out, "--lossless", "--fps", fmt.Sprint(fps),
				"--from", fmt.Sprint(from), "--to", fmt.Sprint(to))
			if code != 0 || !strings.Contains(e, damageLine(c)) {
				t.Fatalf("mp4 export: exit %d, want 0 listing %q\n%s%s", code, damageLine(c), o, e)
			}
			var intact []segment.Frame
			for _, f := range ref[from : to+1] {
				if c.intact(f.Seq) {
					intact = append(intact, f)
				}
			}
			raw, err := exec.Command("ffmpeg", "-v", "error", "-i", out, "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
			if err != nil {
				t.Fatalf("decode the mp4: %v", err)
			}
			size := rec.Width * rec.Height * 3
			if len(raw)%size != 0 {
				t.Fatalf("decoded %d bytes, not whole %dx%d frames", len(raw), rec.Width, rec.Height)
			}
			same := func(rgb []byte, f segment.Frame) bool {
				p := f.Image.Pix
				for i := 0; i < len(rgb)/3; i++ {
					if rgb[3*i] != p[4*i] || rgb[3*i+1] != p[4*i+1] || rgb[3*i+2] != p[4*i+2] {
						return false
					}
				}
				return true
			}
			k, held := 0, 0 // k: the intact frame the video shows
			before := slices.IndexFunc(intact, func(f segment.Frame) bool { return f.Seq > c.to }) - 1
			for v := 0; v < len(raw)/size; v++ {
				rgb := raw[v*size : (v+1)*size]
				for k < len(intact) && !same(rgb, intact[k]) {
					k++
				}
				if k == len(intact) {
					t.Fatalf("video frame %d is none of the intact frames %d-%d (in order)", v, from, to)
				}
				if same(rgb, intact[before]) {
					held++
				}
			}
			if k <= before {
				t.Fatalf("the video ends at frame %d, before the damage: the frames after it are not there", intact[k].Seq)
			}
			hold := intact[before+1].Time.Sub(intact[before].Time)
			if want := int(math.Round(hold.Seconds() * fps)); held < want-1 {
				t.Fatalf("frame %d shows for %d video frames, want about %d (held over the damage, %v)", intact[before].Seq, held, want, hold)
			}
		})
	}
}
