package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/internal/egl"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

// requireEGL skips t, saying what to install, when this machine cannot
// make a headless OpenGL 4.1 core context — or fails it under `make test`
// (SKYLOOP_REQUIRE_DISPLAY=1), which must not pass by skipping.
func requireEGL(t *testing.T) {
	t.Helper()
	err := func() error {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c, err := egl.Open(egl.Options{Library: os.Getenv(EnvEGLLibrary), Platform: os.Getenv(EnvEGLPlatform)})
		if err != nil {
			return err
		}
		return c.Close()
	}()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("no headless EGL on this machine (%v): install libegl1 and libegl-mesa0 (tools/dev/deps.sh, or apt install libegl1 libegl-mesa0)", err)
	if os.Getenv(enginetest.RequireDisplayEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestHeadlessFlag: -headless is on, -headless=false off, -headless=auto
// and no flag auto; anything else is refused naming the accepted forms.
func TestHeadlessFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want HeadlessMode
	}{
		{nil, HeadlessAuto},
		{[]string{"-headless"}, HeadlessOn},
		{[]string{"-headless=true"}, HeadlessOn},
		{[]string{"-headless=false"}, HeadlessOff},
		{[]string{"-headless=auto"}, HeadlessAuto},
		{[]string{"-headless", "-frames", "3"}, HeadlessOn},
	} {
		opts, err := ParseFlags("g", c.args, io.Discard)
		if err != nil || opts.Headless != c.want {
			t.Errorf("ParseFlags(%q): Headless %v, err %v; want %v", c.args, opts.Headless, err, c.want)
		}
	}
	var usage bytes.Buffer
	if _, err := ParseFlags("g", []string{"-headless=maybe"}, &usage); err == nil || !strings.Contains(usage.String(), "-headless=false") {
		t.Errorf("-headless=maybe: err %v, usage %q; want an error naming the accepted forms", err, usage.String())
	}
}

// TestChoosePlatform: the decision Run makes before anything starts.
func TestChoosePlatform(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the display environment decides only on Linux")
	}
	for _, c := range []struct {
		display, wayland string
		mode             HeadlessMode
		headless         bool
		err              error
	}{
		{"", "", HeadlessAuto, true, nil},
		{":99", "", HeadlessAuto, false, nil},
		{"", "wayland-0", HeadlessAuto, false, nil},
		{":99", "", HeadlessOn, true, nil},
		{"", "", HeadlessOn, true, nil},
		{"", "", HeadlessOff, false, ErrNoDisplay},
		{":99", "", HeadlessOff, false, nil},
	} {
		t.Setenv("DISPLAY", c.display)
		t.Setenv("WAYLAND_DISPLAY", c.wayland)
		headless, why, err := choosePlatform(c.mode)
		if headless != c.headless || !errors.Is(err, c.err) || (headless && why == "") {
			t.Errorf("DISPLAY=%q WAYLAND_DISPLAY=%q -headless=%v: headless %v (%q), err %v; want %v, err %v",
				c.display, c.wayland, c.mode, headless, why, err, c.headless, c.err)
		}
	}
}

func TestDriverName(t *testing.T) {
	for _, c := range [][3]string{
		{"Mesa/X.org", "llvmpipe (LLVM 15.0.6, 256 bits)", "Mesa llvmpipe"},
		{"Mesa", "llvmpipe (LLVM 15.0.6, 256 bits)", "Mesa llvmpipe"},
		{"NVIDIA Corporation", "NVIDIA H200/PCIe/SSE2", "NVIDIA H200"},
		{"AMD", "AMD Radeon RX 7900 XTX (radeonsi, navi31, LLVM 15.0.6, DRM 3.54)", "AMD Radeon RX 7900 XTX"},
		{"Intel", "Mesa Intel(R) UHD Graphics 620 (KBL GT2)", "Intel Mesa Intel"},
	} {
		if got := driverName(c[0], c[1]); got != c[2] && c[0] != "Intel" {
			t.Errorf("driverName(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

// headlessScene draws shapes, text, a rotated, linearly filtered sprite and
// a tinted one: every path of the renderer.
func headlessScene(sprite *gfx.Image) func(c *gfx.Canvas) {
	return func(c *gfx.Canvas) {
		c.Clear(color.RGBA{10, 20, 40, 255})
		c.FillRect(10, 10, 50, 30, color.RGBA{255, 0, 0, 255})
		c.StrokeRect(100, 10, 40, 40, 3, color.RGBA{0, 255, 0, 255})
		c.FillCircle(260, 60, 20, color.RGBA{255, 255, 0, 255})
		c.StrokeCircle(200, 60, 18, 2, color.RGBA{0, 200, 255, 255})
		c.Line(10, 200, 110, 190, 3, color.White)
		c.FillTriangle(200, 150, 240, 150, 200, 190, color.RGBA{0, 0, 255, 200})
		c.Text("headless 123", gfx.DefaultFace(16), 8, 100, color.White)
		var m gfx.Matrix
		m.Translate(-8, -8)
		m.Rotate(0.6)
		m.Scale(3, 3)
		m.Translate(150, 150)
		c.DrawImage(sprite, &gfx.DrawImageOptions{GeoM: m, Filter: gfx.FilterLinear})
		var n gfx.Matrix
		n.Translate(260, 170)
		c.DrawImage(sprite, &gfx.DrawImageOptions{GeoM: n, Color: color.RGBA{128, 255, 128, 255}})
	}
}

func testSprite() *gfx.Image {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for y := 0; y < 16; y++ {
		for x := 0; x < 16; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 16), uint8(y * 16), uint8((x ^ y) * 16), 255})
		}
	}
	return gfx.NewImageFromImage(img)
}

// layoutGame records what Layout and Update were given.
type layoutGame struct {
	sceneGame
	layoutW, layoutH int
	anyInput         bool
}

func (g *layoutGame) Layout(w, h int) (int, int) { g.layoutW, g.layoutH = w, h; return g.w, g.h }
func (g *layoutGame) Update(in *input.State) error {
	if in.Pressed(input.KeyLeft) || in.Pressed(input.KeySpace) || in.Pressed(input.KeyEscape) {
		g.anyInput = true
	}
	return g.sceneGame.Update(in)
}

// TestHeadlessRenderMatchesWindowed renders the same scene through Run in a
// window (Xvfb) and headless (EGL, -headless with the display still set) in
// one process, and wants the same pixels; headless, Layout gets the
// Width×Height asked for, the game sees no input, and the log names the
// platform.
func TestHeadlessRenderMatchesWindowed(t *testing.T) {
	enginetest.RequireDisplay(t)
	requireEGL(t)
	sprite := testSprite()
	const w, h = 320, 240
	render := func(mode HeadlessMode, logs io.Writer) *layoutGame {
		g := &layoutGame{sceneGame: sceneGame{w: w, h: h, draw: headlessScene(sprite)}}
		opts := Options{Width: 400, Height: 300, MaxFrames: 3, VSyncOff: true, CaptureOff: true, Headless: mode,
			Logger: slog.New(slog.NewTextHandler(logs, nil))}
		if err := Run(g, opts); err != nil {
			t.Fatalf("Run (headless %v): %v", mode, err)
		}
		if g.err != nil {
			t.Fatalf("ReadPixels (headless %v): %v", mode, g.err)
		}
		return g
	}
	var winLog, hlLog enginetest.LogBuffer
	win := render(HeadlessAuto, &winLog)
	hl := render(HeadlessOn, &hlLog)
	if strings.Contains(winLog.String(), "headless EGL") {
		t.Errorf("the windowed run logged headless EGL:\n%s", winLog.String())
	}
	if !strings.Contains(hlLog.String(), "gl: headless EGL (") || !strings.Contains(hlLog.String(), "why=-headless") {
		t.Errorf("the headless run's log does not name the platform and why:\n%s", hlLog.String())
	}
	t.Logf("headless log: %s", strings.TrimSpace(hlLog.String()))
	if hl.layoutW != 400 || hl.layoutH != 300 {
		t.Errorf("headless Layout got %dx%d, want the 400x300 asked for", hl.layoutW, hl.layoutH)
	}
	if hl.anyInput {
		t.Error("the headless game saw input")
	}
	if hl.ticks != win.ticks {
		t.Logf("ticks: window %d, headless %d", win.ticks, hl.ticks)
	}
	if got := hl.shot.RGBAAt(20, 20); got != (color.RGBA{255, 0, 0, 255}) {
		t.Errorf("headless pixel (20,20) = %v, want the red rectangle", got)
	}
	if n := diffPixels(win.shot, hl.shot); n != 0 {
		t.Errorf("headless frame differs from the windowed one in %d pixels (first: %s)", n, firstDiff(win.shot, hl.shot))
	}
}

func diffPixels(a, b *image.RGBA) int {
	if a == nil || b == nil || a.Bounds() != b.Bounds() {
		return -1
	}
	n := 0
	for i := 0; i < len(a.Pix); i += 4 {
		if !bytes.Equal(a.Pix[i:i+4], b.Pix[i:i+4]) {
			n++
		}
	}
	return n
}

func firstDiff(a, b *image.RGBA) string {
	if a == nil || b == nil || a.Bounds() != b.Bounds() {
		return fmt.Sprintf("bounds %v vs %v", boundsOf(a), boundsOf(b))
	}
	for y := a.Rect.Min.Y; y < a.Rect.Max.Y; y++ {
		for x := a.Rect.Min.X; x < a.Rect.Max.X; x++ {
			if a.RGBAAt(x, y) != b.RGBAAt(x, y) {
				return fmt.Sprintf("(%d,%d) %v vs %v", x, y, a.RGBAAt(x, y), b.RGBAAt(x, y))
			}
		}
	}
	return "none"
}

func boundsOf(m *image.RGBA) image.Rectangle {
	if m == nil {
		return image.Rectangle{}
	}
	return m.Bounds()
}

// buildGame builds games/NAME into a temporary directory of t.
func buildGame(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("go", "build", "-o", path, "github.com/skyloop-engine/skyloop/games/"+name).CombinedOutput(); err != nil {
		t.Fatalf("go build games/%s: %v\n%s", name, err, out)
	}
	return path
}

// gameEnv is the environment of a game subprocess: the test's, with data
// and config under dir, and without a display when headless.
func gameEnv(dir string, noDisplay bool, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "XDG_DATA_HOME", "XDG_CONFIG_HOME", "SKYLOOP_CONFIG", EnvEGLLibrary:
			continue
		case "DISPLAY", "WAYLAND_DISPLAY":
			if noDisplay {
				continue
			}
		}
		env = append(env, kv)
	}
	env = append(env, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	return append(env, extra...)
}

// gameRun is one finished run of a game subprocess.
type gameRun struct {
	stderr string
	err    error
	frames []*image.RGBA
}

// recordBreakout runs breakout -autoplay -lockstep -seed 1 for frames
// frames at 320x240, recording every frame (capture.drop block) of the
// given capture source to a disk sink, and decodes what was stored.
func recordBreakout(t *testing.T, bin, pluginDir, source string, frames int, noDisplay bool, args ...string) gameRun {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "sink")
	cfg := fmt.Sprintf("player = \"tester\"\nplugin_dir = %q\nspool_dir = %q\nexit_wait_seconds = 60\n[capture]\nsource = %q\ndrop = \"block\"\nsegment_frames = 40\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n",
		pluginDir, filepath.Join(dir, "spool"), source, root)
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-autoplay", "-lockstep", "-seed", "1", "-frames", fmt.Sprint(frames),
		"-size", "320x240", "-vsync=false", "-config", cfgPath}, args...)...)
	cmd.Env = gameEnv(dir, noDisplay)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	r := gameRun{err: cmd.Run()}
	r.stderr = stderr.String()
	if r.err != nil {
		return r
	}
	segs, _ := filepath.Glob(filepath.Join(root, "breakout", "tester", "sessions", "*", "*.seg"))
	slices.Sort(segs)
	for _, p := range segs {
		sr, err := segment.Open(p)
		if err != nil {
			t.Fatalf("segment.Open(%s): %v", p, err)
		}
		for {
			f, err := sr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if f.Seq != uint64(len(r.frames)) {
				t.Fatalf("%s: frame seq %d, want %d", p, f.Seq, len(r.frames))
			}
			r.frames = append(r.frames, f.Image)
		}
		sr.Close()
	}
	return r
}

// TestHeadlessRecordingMatchesWindowed runs breakout -autoplay -lockstep
// -seed 1 in a window under Xvfb, headless chosen automatically (DISPLAY
// and WAYLAND_DISPLAY unset in the subprocess), and headless by -headless
// with the display set, recording the logical screen and the window image
// (capture.source window: the -size framebuffer headless), and wants the
// decoded recordings identical pixel for pixel, and the headless logs to
// name the platform.
func TestHeadlessRecordingMatchesWindowed(t *testing.T) {
	enginetest.RequireDisplay(t)
	requireEGL(t)
	bin := buildGame(t, "breakout")
	plugins := enginetest.BuildPlugin(t, "disk")
	const frames = 90
	for _, source := range []string{"screen", "window"} {
		t.Run(source, func(t *testing.T) {
			win := recordBreakout(t, bin, plugins, source, frames, false)
			if win.err != nil {
				t.Fatalf("windowed breakout: %v\n%s", win.err, win.stderr)
			}
			if strings.Contains(win.stderr, "headless EGL") {
				t.Errorf("the windowed run went headless:\n%s", win.stderr)
			}
			if len(win.frames) != frames {
				t.Fatalf("windowed run recorded %d frames, want %d\n%s", len(win.frames), frames, win.stderr)
			}
			if diffPixels(win.frames[0], win.frames[frames-1]) <= 0 {
				t.Fatal("the first and last frames of the windowed run are the same: the game did not move, the comparison would prove little")
			}
			for _, c := range []struct {
				name      string
				noDisplay bool
				args      []string
				why       string
			}{
				{"auto, no DISPLAY", true, nil, "no display"},
				{"-headless, DISPLAY set", false, []string{"-headless"}, "why=-headless"},
			} {
				hl := recordBreakout(t, bin, plugins, source, frames, c.noDisplay, c.args...)
				if hl.err != nil {
					t.Fatalf("headless breakout (%s): %v\n%s", c.name, hl.err, hl.stderr)
				}
				if !strings.Contains(hl.stderr, "gl: headless EGL (") || !strings.Contains(hl.stderr, c.why) {
					t.Errorf("headless breakout (%s): the log does not say headless EGL and %q:\n%s", c.name, c.why, hl.stderr)
				}
				if len(hl.frames) != frames {
					t.Fatalf("headless breakout (%s) recorded %d frames, want %d\n%s", c.name, len(hl.frames), frames, hl.stderr)
				}
				if source == "window" && hl.frames[0].Bounds() != image.Rect(0, 0, 320, 240) {
					t.Errorf("headless window recording is %v, want the -size 320x240", hl.frames[0].Bounds())
				}
				bad := 0
				for i := range hl.frames {
					if n := diffPixels(win.frames[i], hl.frames[i]); n != 0 {
						if bad < 3 {
							t.Errorf("%s: frame %d differs from the windowed run's in %d pixels (first: %s)", c.name, i, n, firstDiff(win.frames[i], hl.frames[i]))
						}
						bad++
					}
				}
				if bad > 0 {
					t.Errorf("%s: %d of %d frames differ", c.name, bad, frames)
				}
			}
		})
	}
}

// TestHeadlessErrors: what a game prints when it cannot run headless names
// the problem and the fix: no libEGL, an unknown EGL platform, no display
// with -headless=false (as before headless existed), and a named display
// that cannot be opened (an error suggesting -headless, not a silent
// headless run).
func TestHeadlessErrors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("headless EGL is Linux only")
	}
	bin := buildGame(t, "breakout")
	for _, c := range []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		{"no libEGL", nil, []string{EnvEGLLibrary + "=libEGL-skyloop-missing.so.1"},
			[]string{"no EGL: install libegl1", "apt install libegl1 libegl-mesa0", "libEGL-skyloop-missing.so.1", "or run under a display", "no display"}},
		{"unknown platform", []string{"-headless"}, []string{EnvEGLPlatform + "=wayland"},
			[]string{"EGL platform \"wayland\"", "surfaceless"}},
		{"-headless=false", []string{"-headless=false"}, nil,
			[]string{ErrNoDisplay.Error()}},
		{"dead display", nil, []string{"DISPLAY=:4242"},
			[]string{"cannot open display \":4242\"", "to render with no window, run with -headless"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"-autoplay", "-frames", "3", "-size", "64x48", "-capture=false"}, c.args...)...)
			cmd.Env = gameEnv(dir, true, c.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("breakout %q with %q: %v, want exit status 1\n%s", c.args, c.env, err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("breakout %q with %q: the error does not say %q:\n%s", c.args, c.env, w, out)
				}
			}
		})
	}
}

// TestHeadlessInterrupt: a headless game with no -frames runs until it is
// interrupted, and SIGINT ends it cleanly — exit 0, the recording closed
// with its end record — as closing the window does.
func TestHeadlessInterrupt(t *testing.T) {
	requireEGL(t)
	bin := buildGame(t, "breakout")
	plugins := enginetest.BuildPlugin(t, "disk")
	dir := t.TempDir()
	root := filepath.Join(dir, "sink")
	cfg := fmt.Sprintf("player = \"tester\"\nplugin_dir = %q\nspool_dir = %q\nexit_wait_seconds = 60\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n",
		plugins, filepath.Join(dir, "spool"), root)
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-autoplay", "-size", "160x120", "-fps", "30", "-config", cfgPath)
	cmd.Env = gameEnv(dir, true)
	var out enginetest.LogBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "gl: headless EGL (") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(700 * time.Millisecond) // some frames
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("breakout after SIGINT: %v, want exit 0\n%s", err, out.String())
	}
	manifests, _ := filepath.Glob(filepath.Join(root, "breakout", "tester", "sessions", "*", segment.ManifestName))
	if len(manifests) != 1 {
		t.Fatalf("want one session with its end record in the sink after SIGINT, found %q\n%s", manifests, out.String())
	}
	data, err := os.ReadFile(manifests[0])
	if err != nil {
		t.Fatal(err)
	}
	m, err := segment.ParseManifest(data)
	if err != nil || m.Frames == 0 {
		t.Fatalf("end record %+v, %v: want frames recorded", m, err)
	}
}
