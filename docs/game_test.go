package docs

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/config"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

// How every documented game is run: 120 frames as fast as possible in a
// 320x240 window (the sample's logical screen, so nothing is scaled).
var gameArgs = []string{"-frames", "120", "-vsync=false", "-size", "320x240"}

const gameFrames = 120

// The README's sample game, as its code says it draws: a 320x240 screen
// cleared to (20,20,40), a 32x32 yellow square at (144,104) (the game
// starts there and nothing moves it without input), and a line of white
// text at (8,8).
var (
	sampleBackground = color.RGBA{20, 20, 40, 255}
	sampleYellow     = color.RGBA{255, 200, 0, 255}
	sampleSquare     = image.Rect(144, 104, 176, 136)
	sampleText       = image.Rect(0, 0, 320, 40) // generous: a 16 px line with its descenders
)

const samplePlayer = "docs"

// recording is one session a game recorded into a disk sink.
type recording struct {
	root     string // the disk sink's root
	config   string // the config file the game ran with ("" for none)
	game     string
	player   string
	id       string
	dir      string   // ROOT/GAME/PLAYER/sessions/ID
	segments []string // the segment files, in order
	manifest segment.Manifest
}

func (r recording) ref() string { return r.game + "/" + r.player + "/" + r.id }

// findRecording finds the one session under a disk sink's root and reads
// its end record; it fails t when there is not exactly one or it is
// incomplete on disk.
func findRecording(t testing.TB, root string) recording {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(root, "*", "*", "sessions", "*"))
	if len(dirs) != 1 {
		var all []string
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(root, p)
				all = append(all, rel)
			}
			return nil
		})
		t.Fatalf("want exactly one session directory GAME/PLAYER/sessions/SESSION in the disk sink %s, found %d: %q; files there: %q", root, len(dirs), dirs, all)
	}
	rel, _ := filepath.Rel(root, dirs[0])
	parts := strings.Split(filepath.ToSlash(rel), "/")
	rec := recording{root: root, game: parts[0], player: parts[1], id: parts[3], dir: dirs[0]}
	rec.segments, _ = filepath.Glob(filepath.Join(rec.dir, "*.seg"))
	slices.Sort(rec.segments)
	data, err := os.ReadFile(filepath.Join(rec.dir, segment.ManifestName))
	if err != nil {
		t.Fatalf("session %s has no end record (%s) beside its %d segments: %v", rec.ref(), segment.ManifestName, len(rec.segments), err)
	}
	if rec.manifest, err = segment.ParseManifest(data); err != nil {
		t.Fatalf("session %s: %v", rec.ref(), err)
	}
	for i, s := range rec.segments {
		if want := fmt.Sprintf("%08d.seg", i); filepath.Base(s) != want {
			t.Fatalf("session %s: segment files %q do not run on from 00000000.seg (want %s at position %d)", rec.ref(), rec.segments, want, i)
		}
	}
	if uint64(len(rec.segments)) != rec.manifest.Segments {
		t.Fatalf("session %s: %d segment files, the end record says %d", rec.ref(), len(rec.segments), rec.manifest.Segments)
	}
	return rec
}

// recordGame runs a game binary with a config that records every frame of
// the logical screen (never dropping one) to a disk sink in a temporary
// directory, through skyloop-plugin-disk built from ./plugins/disk.
func recordGame(t *testing.T, bin string) recording {
	t.Helper()
	tmp := t.TempDir()
	root := filepath.Join(tmp, "sink")
	cfg := fmt.Sprintf(`player = %q
plugin_dir = %q
spool_dir = %q
exit_wait_seconds = 60
[capture]
source = "screen"
drop = "block"
[[sink]]
name = "local"
plugin = "disk"
[sink.settings]
root = %q
`, samplePlayer, diskPluginDir(t), filepath.Join(tmp, "spool"), root)
	if _, err := config.Parse("the test's config", []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(tmp, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(budget(t, 3*time.Minute), tmp, nil, bin, append(slices.Clone(gameArgs), "-config", cfgPath)...)
	t.Logf("%s\n%s", r.cmd, r.output())
	if r.err != nil {
		t.Fatalf("the game did not exit 0: %v", r.err)
	}
	rec := findRecording(t, root)
	rec.config = cfgPath
	if rec.player != samplePlayer {
		t.Errorf("session %s: player %q, the config says %q", rec.ref(), rec.player, samplePlayer)
	}
	m := rec.manifest
	if m.Sequenced != gameFrames || m.Frames != gameFrames || m.Dropped != 0 {
		t.Errorf("session %s: end record says %d frames captured, %d written, %d dropped; want %d, %d, 0 (-frames %d, capture.drop = \"block\")",
			rec.ref(), m.Sequenced, m.Frames, m.Dropped, gameFrames, gameFrames, gameFrames)
	}
	return rec
}

// eachFrame decodes every frame of a recording in order, checking that the
// sequence numbers run on from 0 and that the count matches the end record.
func eachFrame(t *testing.T, rec recording, fn func(segment.Frame)) {
	t.Helper()
	var next uint64
	for _, path := range rec.segments {
		r, err := segment.Open(path)
		if err != nil {
			t.Fatalf("segment.Open(%s): %v", path, err)
		}
		for {
			f, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				t.Fatalf("%s: frame after %d: %v", path, next, err)
			}
			if f.Seq != next {
				r.Close()
				t.Fatalf("%s: frame %d follows frame %d: a gap in the recording", path, f.Seq, int64(next)-1)
			}
			next++
			fn(f)
		}
		r.Close()
	}
	if next != rec.manifest.Frames {
		t.Fatalf("session %s: %d frames decoded, the end record says %d", rec.ref(), next, rec.manifest.Frames)
	}
}

// checkGame records a documented game and checks its recording: complete,
// verified by the tool, and for the README's sample every pixel.
func checkGame(t *testing.T, u *goUnit, bin string) {
	rec := recordGame(t, bin)
	r := run(budget(t, 2*time.Minute), rec.root, nil, skyloopTool(t), "--config", rec.config, "verify", rec.ref())
	if r.err != nil {
		t.Errorf("skyloop verify %s: %v (want exit 0: the recording is complete)\n%s", rec.ref(), r.err, r.output())
	}
	if u.first.File == "README.md" && u.first.Section == sampleSection {
		checkSampleFrames(t, rec)
		return
	}
	eachFrame(t, rec, func(segment.Frame) {})
}

// pixelCheck accumulates one kind of wrong pixel over the frames.
type pixelCheck struct {
	what       string
	badFrames  int
	firstFrame uint64
	firstBad   int // wrong pixels in the first bad frame
	of         int // pixels checked in it (0: not a pixel count)
	example    string
}

func (c *pixelCheck) frame(seq uint64, bad, of int, example string) {
	if bad == 0 {
		return
	}
	if c.badFrames == 0 {
		c.firstFrame, c.firstBad, c.of, c.example = seq, bad, of, example
	}
	c.badFrames++
}

func (c *pixelCheck) report(t *testing.T, frames int, hint string) {
	t.Helper()
	switch {
	case c.badFrames == 0:
	case c.of == 0:
		t.Errorf("%s in %d of %d frames; first: frame %d: %s%s", c.what, c.badFrames, frames, c.firstFrame, c.example, hint)
	default:
		t.Errorf("%s in %d of %d frames; first: frame %d, %d of its %d pixels, e.g. %s%s", c.what, c.badFrames, frames, c.firstFrame, c.firstBad, c.of, c.example, hint)
	}
}

func rgb(c color.RGBA) string { return fmt.Sprintf("(%d,%d,%d)", c.R, c.G, c.B) }

func sameRGB(a, b color.RGBA) bool { return a.R == b.R && a.G == b.G && a.B == b.B }

// checkSampleFrames checks every recorded frame of the README's sample:
// the square exactly yellow, everything outside the square and the text's
// box exactly the background, and the text's box not all background (with
// some near-white pixels: the text is white). Colours are compared without
// alpha.
func checkSampleFrames(t *testing.T, rec recording) {
	t.Helper()
	if m := rec.manifest; m.Width != 320 || m.Height != 240 {
		t.Fatalf("session %s is %dx%d; the sample's logical screen is 320x240 (capture.source = \"screen\")", rec.ref(), m.Width, m.Height)
	}
	square := &pixelCheck{what: fmt.Sprintf("the square %v is not %s", sampleSquare, rgb(sampleYellow))}
	background := &pixelCheck{what: fmt.Sprintf("outside the square and the text box %v, pixels are not the background %s", sampleText, rgb(sampleBackground))}
	text := &pixelCheck{what: fmt.Sprintf("the text box %v shows no text (all background, or nothing near white)", sampleText)}
	frames := 0
	eachFrame(t, rec, func(f segment.Frame) {
		frames++
		img := f.Image
		if img.Bounds() != image.Rect(0, 0, 320, 240) {
			t.Fatalf("frame %d is %v, want 320x240", f.Seq, img.Bounds())
		}
		var sqBad, bgBad, bgOf, textLit, textWhite int
		var sqEx, bgEx string
		for y := 0; y < 240; y++ {
			for x := 0; x < 320; x++ {
				c := img.RGBAAt(x, y)
				p := image.Pt(x, y)
				switch {
				case p.In(sampleSquare):
					if !sameRGB(c, sampleYellow) {
						if sqBad == 0 {
							sqEx = fmt.Sprintf("(%d,%d) = %s", x, y, rgb(c))
						}
						sqBad++
					}
				case p.In(sampleText):
					if !sameRGB(c, sampleBackground) {
						textLit++
					}
					if c.R >= 200 && c.G >= 200 && c.B >= 200 {
						textWhite++
					}
				default:
					bgOf++
					if !sameRGB(c, sampleBackground) {
						if bgBad == 0 {
							bgEx = fmt.Sprintf("(%d,%d) = %s", x, y, rgb(c))
						}
						bgBad++
					}
				}
			}
		}
		square.frame(f.Seq, sqBad, sampleSquare.Dx()*sampleSquare.Dy(), sqEx)
		background.frame(f.Seq, bgBad, bgOf, bgEx)
		if textLit < 50 || textWhite == 0 {
			text.frame(f.Seq, 1, 0, fmt.Sprintf("%d pixels not background, %d near white", textLit, textWhite))
		}
	})
	square.report(t, frames, " — a renderer bug? (a shape drawn before a Text call that uploads new glyphs must keep its colour: issue 12)")
	background.report(t, frames, "")
	text.report(t, frames, "")
	if frames != gameFrames {
		t.Errorf("%d frames checked, want %d", frames, gameFrames)
	}
}
