package main

import (
	"bytes"
	"fmt"
	"image/gif"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/sdk"
)

// needFFmpeg skips t without ffmpeg and ffprobe (fails it under the
// README's test command, which installs them).
func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv(enginetest.RequireDisplayEnv) == "1" {
				t.Fatalf("%s is not on PATH; the README's test command installs it", bin)
			}
			t.Skipf("%s is not on PATH: install ffmpeg to test mp4 export", bin)
		}
	}
}

// ffprobe returns the video stream's entries (e.g. "r_frame_rate") of file.
func ffprobe(t *testing.T, file string, entries ...string) map[string]string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream="+strings.Join(entries, ","), "-of", "default=noprint_wrappers=1", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func fileBytes(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func framesNamed(from, to int) []string {
	var names []string
	for s := from; s <= to; s++ {
		names = append(names, fmt.Sprintf("frame-%08d.png", s))
	}
	return names
}

func isGIF(b []byte) bool { return bytes.HasPrefix(b, []byte("GIF89a")) }
func isMP4(b []byte) bool { return len(b) > 8 && string(b[4:8]) == "ftyp" }

// The format follows --out's extension; an explicit --format the
// extension contradicts is refused, naming both.
func TestExportFormatFromOut(t *testing.T) {
	rec := recordedSession(t)
	dir := t.TempDir()
	exp := func(args ...string) (string, string, int) {
		return runTool(t, append([]string{"--config", rec.Config, "export", rec.Ref, "--from", "0", "--to", "9"}, args...)...)
	}

	if o, e, code := exp("--out", filepath.Join(dir, "run.gif")); code != 0 || !strings.Contains(o, "GIF") || !isGIF(fileBytes(t, filepath.Join(dir, "run.gif"))) {
		t.Fatalf("--out run.gif: exit %d\n%s%s", code, o, e)
	}
	if o, e, code := exp("--out", filepath.Join(dir, "UPPER.GIF")); code != 0 || !isGIF(fileBytes(t, filepath.Join(dir, "UPPER.GIF"))) {
		t.Fatalf("--out UPPER.GIF: exit %d\n%s%s", code, o, e)
	}
	if o, e, code := exp("--out", filepath.Join(dir, "frames")); code != 0 || !slices.Equal(dirNames(t, filepath.Join(dir, "frames")), framesNamed(0, 9)) {
		t.Fatalf("--out frames: exit %d\n%s%s", code, o, e)
	}
	// An existing empty directory is png whatever its name.
	if err := os.Mkdir(filepath.Join(dir, "shots.v2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if o, e, code := exp("--out", filepath.Join(dir, "shots.v2")); code != 0 || len(dirNames(t, filepath.Join(dir, "shots.v2"))) != 10 {
		t.Fatalf("--out existing dir: exit %d\n%s%s", code, o, e)
	}
	// An explicit format with a name that has no extension is fine.
	if o, e, code := exp("--format", "gif", "--out", filepath.Join(dir, "anim")); code != 0 || !isGIF(fileBytes(t, filepath.Join(dir, "anim"))) {
		t.Fatalf("--format gif --out anim: exit %d\n%s%s", code, o, e)
	}
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		if o, e, code := exp("--out", filepath.Join(dir, "run.mp4")); code != 0 || !strings.Contains(o, "MP4") || !isMP4(fileBytes(t, filepath.Join(dir, "run.mp4"))) {
			t.Fatalf("--out run.mp4: exit %d\n%s%s", code, o, e)
		}
	}
	before := dirNames(t, dir)

	for _, c := range []struct {
		format, out string
		want        []string
	}{
		{"gif", "x.mp4", []string{"--format gif", "x.mp4", "mp4"}},
		{"mp4", "x.gif", []string{"--format mp4", "x.gif"}},
		{"png", "x.gif", []string{"--format png", "x.gif"}},
		{"png", "x.MP4", []string{"--format png", "x.MP4"}},
	} {
		_, e, code := exp("--format", c.format, "--out", filepath.Join(dir, c.out))
		if code != 2 {
			t.Errorf("--format %s --out %s: exit %d, want 2: %s", c.format, c.out, code, e)
		}
		for _, w := range c.want {
			if !strings.Contains(e, w) {
				t.Errorf("--format %s --out %s: %q does not say %q", c.format, c.out, e, w)
			}
		}
	}
	_, e, code := exp("--out", filepath.Join(dir, "x.webm"))
	if code != 2 || !strings.Contains(e, "x.webm") || !strings.Contains(e, "--format") {
		t.Errorf("--out x.webm: exit %d, %q", code, e)
	}
	if after := dirNames(t, dir); !slices.Equal(after, before) {
		t.Errorf("refused exports wrote %v (before: %v)", after, before)
	}
}

// One overwrite rule for every format: an existing --out is refused with
// an error naming it and --force, and left as it was; --force replaces it
// (what the old output had and the new one has not is gone).
func TestExportOverwriteRule(t *testing.T) {
	rec := recordedSession(t)
	formats := []string{"png", "gif"}
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		formats = append(formats, "mp4")
	} else if os.Getenv(enginetest.RequireDisplayEnv) == "1" {
		t.Fatal("ffmpeg is not on PATH; the README's test command installs it")
	}
	for _, format := range formats {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out."+format)
			if format == "png" {
				out = filepath.Join(dir, "frames")
			}
			exp := func(from, to int, more ...string) (string, string, int) {
				return runTool(t, append([]string{"--config", rec.Config, "export", rec.Ref, "--out", out,
					"--from", fmt.Sprint(from), "--to", fmt.Sprint(to)}, more...)...)
			}
			snapshot := func() string {
				if format != "png" {
					return string(fileBytes(t, out))
				}
				var b strings.Builder
				for _, n := range dirNames(t, out) {
					b.WriteString(n)
					b.Write(fileBytes(t, filepath.Join(out, n)))
				}
				return b.String()
			}
			if o, e, code := exp(0, 19); code != 0 {
				t.Fatalf("first export: exit %d\n%s%s", code, o, e)
			}
			first := snapshot()
			_, e, code := exp(40, 44)
			if code != 2 || !strings.Contains(e, out) || !strings.Contains(e, "--force") {
				t.Fatalf("existing --out: exit %d, %q; want 2 naming %s and --force", code, e, out)
			}
			if snapshot() != first {
				t.Fatal("the refused export changed the existing --out")
			}
			if o, e, code := exp(40, 44, "--force"); code != 0 {
				t.Fatalf("--force: exit %d\n%s%s", code, o, e)
			}
			switch format {
			case "png":
				if names := dirNames(t, out); !slices.Equal(names, framesNamed(40, 44)) {
					t.Fatalf("--force left %v, want the new export's 5 frames only", names)
				}
			case "gif":
				g, err := gif.DecodeAll(bytes.NewReader(fileBytes(t, out)))
				if err != nil || len(g.Image) != 5 {
					t.Fatalf("--force: the GIF is not the new export: %v", err)
				}
			case "mp4":
				if snapshot() == first {
					t.Fatal("--force: the MP4 was not replaced")
				}
				// Frames 40-44 at the recording's rate: far fewer video
				// frames than the first export's 20 recorded frames.
				p := ffprobe(t, out, "nb_read_frames")
				if n, _ := strconv.Atoi(p["nb_read_frames"]); n < 1 || n > 10 {
					t.Fatalf("--force: the MP4 has %v frames, not the new export's", p)
				}
			}
			if names := dirNames(t, dir); len(names) != 1 {
				t.Fatalf("files left beside --out: %v", names)
			}
		})
	}

	// --force replaces a PNG export, never other files.
	t.Run("png-foreign", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "mine")
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, e, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--out", out, "--to", "3", "--force")
		if code != 2 || !strings.Contains(e, "notes.txt") {
			t.Fatalf("--force over a directory with other files: exit %d, %q", code, e)
		}
		if names := dirNames(t, out); !slices.Equal(names, []string{"notes.txt"}) {
			t.Fatalf("left %v", names)
		}
	})
	t.Run("gif-over-directory", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "d.gif")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		_, e, code := runTool(t, "--config", rec.Config, "export", rec.Ref, "--format", "gif", "--out", out, "--to", "3", "--force")
		if code != 2 || !strings.Contains(e, "is a directory") {
			t.Fatalf("gif --force over a directory: exit %d, %q", code, e)
		}
	})
}

// retimed plants the recorded session's frames (real pixels, re-encoded)
// in a new disk sink under game, captured at the given times, and
// returns a config for the sink and the session's ref.
func retimed(t *testing.T, rec recording, c sdk.Backend, game string, times []time.Time) string {
	t.Helper()
	frames, err := decodeStored(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(times) > len(frames) {
		t.Fatalf("%d times for %d frames", len(times), len(frames))
	}
	id := segment.NewSessionID(times[0])
	prefix := segment.SessionPrefix(game, "tester", id)
	for s := 0; s*30 < len(times); s++ {
		var buf bytes.Buffer
		w, err := segment.NewWriter(&buf, segment.Header{Width: rec.Width, Height: rec.Height, Codec: segment.CodecZstd, KeyInterval: 10,
			Segment: uint64(s), FirstSeq: uint64(s * 30), SessionStart: times[0]})
		if err != nil {
			t.Fatal(err)
		}
		for i := s * 30; i < min(len(times), s*30+30); i++ {
			if err := w.WriteFrame(uint64(i), times[i], frames[i].Image.Pix); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		put(t, c, segment.Key(prefix, uint64(s)), buf.Bytes())
	}
	return game + "/tester/" + id
}

// evenly is n capture times 1/fps apart.
func evenly(n int, fps float64) []time.Time {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	out := make([]time.Time, n)
	for i := range out {
		out[i] = t0.Add(time.Duration(float64(i) / fps * float64(time.Second)))
	}
	return out
}

// spanAt is the video length in frames at fps: the times' span plus the
// median interval (the last frame's), rounded.
func spanAt(times []time.Time, fps float64) int {
	var iv []time.Duration
	for i := 1; i < len(times); i++ {
		iv = append(iv, times[i].Sub(times[i-1]))
	}
	slices.Sort(iv)
	span := times[len(times)-1].Sub(times[0]) + iv[len(iv)/2]
	return int(math.Round(span.Seconds() * fps))
}

// The MP4 runs at the recording's rate as a clean rational: a standard
// rate when the measured one is within 2% of it, else a whole number;
// --fps as given.
func TestExportMP4FrameRate(t *testing.T) {
	rec := recordedSession(t)
	needFFmpeg(t)
	cfg, _, c := diskSink(t, rec)
	// 60 fps with a busy machine's wobble: some intervals long, some short,
	// the median the real one.
	wobbly := evenly(90, 60)
	for i := 5; i < 90; i += 7 {
		wobbly[i] = wobbly[i].Add(3 * time.Millisecond)
	}
	for _, tc := range []struct {
		name  string
		times []time.Time
		fps   string // --fps, "" for none
		want  string
		rate  float64
	}{
		{"ntsc", evenly(90, 60000.0/1001), "", "60000/1001", 60000.0 / 1001},
		{"issue", evenly(90, 62.497), "", "62/1", 62},
		{"wobbly", wobbly, "", "60/1", 60},
		{"pal", evenly(60, 25.3), "", "25/1", 25},
		{"asked", evenly(90, 60), "29.97", "30000/1001", 30000.0 / 1001},
		{"asked-fraction", evenly(90, 60), "12.5", "25/2", 12.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := retimed(t, rec, c, tc.name, tc.times)
			out := filepath.Join(t.TempDir(), "v.mp4")
			args := []string{"--config", cfg, "export", ref, "--out", out}
			if tc.fps != "" {
				args = append(args, "--fps", tc.fps)
			}
			o, e, code := runTool(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, o, e)
			}
			p := ffprobe(t, out, "r_frame_rate", "avg_frame_rate", "nb_read_frames")
			if p["r_frame_rate"] != tc.want || p["avg_frame_rate"] != tc.want {
				t.Fatalf("ffprobe: %v, want r_frame_rate and avg_frame_rate %s", p, tc.want)
			}
			if want := spanAt(tc.times, tc.rate); p["nb_read_frames"] != fmt.Sprint(want) {
				t.Fatalf("%s frames, want %d (the recording's span at %s)", p["nb_read_frames"], want, tc.want)
			}
			if !strings.Contains(o, "at "+strings.TrimSuffix(tc.want, "/1")+" fps") {
				t.Errorf("output does not give the rate %s: %s", tc.want, o)
			}
		})
	}
}

// --fps F is the output's frame rate for GIF and MP4 alike: the same
// frames, picked by capture time, for the same time. With a lossless MP4,
// the video's frames are the GIF's frames, each repeated for its delay.
func TestExportFPSSameForGIFAndMP4(t *testing.T) {
	rec := recordedSession(t)
	needFFmpeg(t)
	cfg, _, c := diskSink(t, rec)
	ref := retimed(t, rec, c, "sixty", evenly(90, 60))
	ref0, err := decodeStored(rec)
	if err != nil {
		t.Fatal(err)
	}

	for _, fps := range []int{25, 20, 30} {
		t.Run(fmt.Sprint(fps), func(t *testing.T) {
			dir := t.TempDir()
			gifOut, mp4Out := filepath.Join(dir, "a.gif"), filepath.Join(dir, "a.mp4")
			if o, e, code := runTool(t, "--config", cfg, "export", ref, "--out", gifOut, "--fps", fmt.Sprint(fps)); code != 0 {
				t.Fatalf("gif: exit %d\n%s%s", code, o, e)
			}
			if o, e, code := runTool(t, "--config", cfg, "export", ref, "--out", mp4Out, "--fps", fmt.Sprint(fps), "--lossless"); code != 0 {
				t.Fatalf("mp4: exit %d\n%s%s", code, o, e)
			}
			p := ffprobe(t, mp4Out, "r_frame_rate", "nb_read_frames")
			videoFrames, _ := strconv.Atoi(p["nb_read_frames"])
			want := int(math.Round(1.5 * float64(fps))) // 90 frames at 60 fps: 1.5 s
			if p["r_frame_rate"] != fmt.Sprintf("%d/1", fps) || videoFrames != want {
				t.Fatalf("mp4: %v, want %d/1 and %d frames", p, fps, want)
			}
			g, err := gif.DecodeAll(bytes.NewReader(fileBytes(t, gifOut)))
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, d := range g.Delay {
				total += d
			}
			if total != int(math.Round(float64(videoFrames)*100/float64(fps))) {
				t.Fatalf("GIF lasts %d/100 s, the MP4 %d frames at %d fps", total, videoFrames, fps)
			}
			if len(g.Image) >= 90 {
				t.Fatalf("GIF has %d frames: not picked at %d fps", len(g.Image), fps)
			}
			tick := 100 / float64(fps) // in 1/100 s
			// The video's frames, decoded, against the GIF's, expanded.
			framesDir := filepath.Join(dir, "v")
			if err := os.Mkdir(framesDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if o, err := exec.Command("ffmpeg", "-v", "error", "-i", mp4Out, "-fps_mode", "passthrough", filepath.Join(framesDir, "%04d.png")).CombinedOutput(); err != nil {
				t.Fatalf("decode mp4: %v\n%s", err, o)
			}
			shown := composeGIF(g)
			v := 0
			acc := 0.0
			for i, d := range g.Delay {
				acc += float64(d)
				// the video ticks this GIF frame covers: until its end
				end := int(math.Round(acc / tick))
				if end <= v {
					t.Fatalf("GIF frame %d (delay %d) covers no video frame", i, d)
				}
				for ; v < end && v < videoFrames; v++ {
					img := decodePNG(t, filepath.Join(framesDir, fmt.Sprintf("%04d.png", v+1)))
					if n, _ := sameRGB(img, shown[i]); n != 0 {
						t.Fatalf("video frame %d is not GIF frame %d: %d pixels differ", v, i, n)
					}
				}
			}
			if v != videoFrames {
				t.Fatalf("the GIF's frames cover %d video frames of %d", v, videoFrames)
			}
			// And they are the frames on screen at each tick's middle (on a
			// tie, a capture time exactly there, either neighbour).
			for k := 0; k < videoFrames; k++ {
				at := (float64(k) + 0.5) / float64(fps) * 60
				seqs := []int{int(math.Floor(at + 1e-6))}
				if math.Abs(at-math.Round(at)) < 1e-6 {
					seqs = append(seqs, int(math.Round(at))-1)
				}
				img := decodePNG(t, filepath.Join(framesDir, fmt.Sprintf("%04d.png", k+1)))
				ok := false
				for _, seq := range seqs {
					if n, _ := sameRGB(img, ref0[min(seq, len(ref0)-1)].Image); n == 0 {
						ok = true
					}
				}
				if !ok {
					t.Fatalf("video frame %d (at %.3f s) is not recorded frame %v", k, at/60, seqs)
				}
			}
		})
	}
}
