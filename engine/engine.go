package engine

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/go-gl/gl/v4.1-core/gl"
	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/config"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/internal/bridge"
	"github.com/skyloop-engine/skyloop/engine/saves"
)

// Game is what a game maker implements.
type Game interface {
	// Update advances the game by one fixed tick (1/TPS seconds). Returning
	// ErrQuit ends Run cleanly; any other error ends it with that error.
	Update(in *input.State) error
	// Draw renders the current state. It is called once per frame and must
	// not change game state: frames and ticks are not in lockstep.
	Draw(screen *gfx.Canvas)
	// Layout maps the window's framebuffer size to the logical screen size
	// the game draws at. The screen is scaled uniformly to fit the window,
	// with black bars where the aspect ratios differ.
	Layout(outsideWidth, outsideHeight int) (screenWidth, screenHeight int)
}

// Finisher is implemented by a game that wants a last word when Run ends,
// however it ends (ErrQuit, the window closed, -frames reached, an error):
// Finish is called once, on the game's goroutine, after the last Update
// and while engine.Saves() still works — the place to save progress.
type Finisher interface {
	Finish()
}

// ErrQuit, returned from Update, ends Run without error.
var ErrQuit = errors.New("engine: quit requested")

// ErrNoDisplay is returned by Run when there is no display to open a window on.
var ErrNoDisplay = errors.New("engine: no display: set DISPLAY or run under xvfb-run")

// DefaultTPS is the tick rate when Options.TPS is zero.
const DefaultTPS = 60

// Options configure Run. The zero value is a usable 1280x720 resizable
// window with vsync at 60 ticks per second (the defaults of ParseFlags).
type Options struct {
	Title          string
	Width, Height  int  // window size; default 1280x720
	FixedSize      bool // not resizable
	Fullscreen     bool // on the primary monitor, at its current video mode
	VSyncOff       bool // render as fast as possible
	TPS            int  // ticks (Updates) per second; default 60
	MaxFrames      int  // stop after this many frames (0: run until quit)
	Autoplay       bool // for games: play themselves (tests, demos, benchmarks)
	Seed           int64
	ConfigPath     string // the player's config file (-config); "" for defaults
	PrintFrameTime bool   // print FrameStats to stderr when Run ends (-bench)
	StatsJSON      string // write FrameStats as JSON to this file when Run ends (-bench-json), for skyloop bench
	// MaxFPS paces frames to at most this rate (0: no limit beyond vsync),
	// for steady-rate runs where vsync is unavailable (Xvfb) (-fps).
	MaxFPS float64
	// CPUProfile, when set, writes a Go CPU profile of the run to this file
	// (-cpuprofile), for `go tool pprof`.
	CPUProfile string
	// Lockstep runs exactly one Update per frame, ignoring the clock, so a
	// seeded autoplay run renders the same frames every time (-lockstep).
	Lockstep bool
	// Headless says whether Run opens a window or renders through EGL with
	// no window and no display server (-headless): by default (auto) it
	// does when there is no display (DISPLAY and WAYLAND_DISPLAY unset).
	// Headless, the game gets no input, Layout gets Width×Height, there is
	// no vsync (MaxFPS paces frames), and capture reads the offscreen
	// framebuffer as in a window (capture.source "window" is the
	// Width×Height letterboxed image).
	Headless HeadlessMode
	// Name is the game's name in recording keys (GAME/PLAYER/sessions/...);
	// default: Title, lower-cased.
	Name string
	// CaptureOff disables recording whatever the config says (-capture=false).
	CaptureOff bool
	// Capture, when non-nil, replaces the capture settings of the config
	// file (tests and tools that record to their own sink).
	Capture *capture.Options
	// SaveMerge, when set, is the game's own merge of two versions of a
	// save slot (saves.Options.Merge): deterministic, or ok false to leave
	// the slot to the typed merge rules and saves.policy.
	SaveMerge func(slot string, a, b []byte) (merged []byte, ok bool)

	// Clock returns a monotonic time; nil uses the real clock. Tests inject
	// one to drive the fixed tick deterministically.
	Clock func() time.Duration
	// Stats, when non-nil, is filled with frame statistics when Run ends.
	Stats *FrameStats
	// Logger for engine messages; nil uses slog.Default().
	Logger *slog.Logger

	// storage is the spool and plugins opened for capture and saves, and
	// config the file read (set by Run); recordSink says that recordings
	// have a sink.
	storage    *storage
	config     *config.Config
	recordSink bool
	// captureMode is capture.mode: record, replay or both.
	captureMode string
	// saves is the save store, opened by the first engine.Saves() call
	// (savesTried), so a game that keeps no data pays nothing for it.
	saves      *saves.Store
	savesTried bool

	// afterPresent is a test hook, called after the frame is in the window's
	// back buffer and before the swap.
	afterPresent func(winW, winH int)
}

func (o *Options) withDefaults() {
	if o.Title == "" {
		o.Title = "skyloop"
	}
	if o.Width <= 0 {
		o.Width = 1280
	}
	if o.Height <= 0 {
		o.Height = 720
	}
	if o.TPS <= 0 {
		o.TPS = DefaultTPS
	}
	if o.Clock == nil {
		start := time.Now()
		o.Clock = func() time.Duration { return time.Since(start) }
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Run opens the window and runs game until Update returns ErrQuit or an
// error, the window is closed, or MaxFrames frames were drawn. Call it from
// the main goroutine: the OS thread it runs on becomes the render thread.
func Run(game Game, opts Options) (err error) {
	if game == nil {
		return errors.New("engine: Run: game is nil")
	}
	opts.withDefaults()
	if opts.CPUProfile != "" {
		f, err := os.Create(opts.CPUProfile)
		if err != nil {
			return fmt.Errorf("engine: cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("engine: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	headless, why, err := choosePlatform(opts.Headless)
	if err != nil {
		return err
	}
	// go-gl/glfw panics on GLFW errors it does not return (e.g. a platform
	// error after a silent Init failure). Turn those into errors here so no
	// panic crosses into the game.
	defer func() {
		if r := recover(); r != nil {
			if gerr, ok := r.(*glfw.Error); ok {
				err = fmt.Errorf("engine: window system: %w (is DISPLAY=%q a running X server?)", gerr, os.Getenv("DISPLAY"))
				return
			}
			panic(r)
		}
	}()
	// The config is read and the sinks' plugins are launched before the
	// window opens, so the two overlap; only invalid settings stop the game,
	// and they are known by the time the window is up (awaitSinks).
	co, hk, on, err := captureOptions(&opts)
	if err != nil {
		return err
	}
	// Runs when Run returns, after the recorder's Close below has put the
	// last segment into the spool, so delivery of it is awaited; the saves
	// (opened by the game's first engine.Saves() call) go into the spool
	// first.
	defer func() {
		if opts.saves != nil {
			err = errors.Join(err, closeSaves(opts.saves, opts.storage.exitWaitOr(time.Second)))
		}
		if opts.storage != nil {
			err = errors.Join(err, opts.storage.close())
		}
	}()
	var win *glfw.Window
	if !headless {
		// A display that is named but cannot be opened is an error, not a
		// reason to go headless: whoever set DISPLAY wants a window.
		if err := initGLFW(); err != nil {
			if opts.Headless == HeadlessAuto {
				return fmt.Errorf("%w; to render with no window, run with -headless", err)
			}
			return err
		}
		defer glfw.Terminate()
		if win, err = openWindow(&opts); err != nil {
			return err
		}
		defer win.Destroy()
	}
	var hl *headlessGL
	if headless {
		if hl, err = openHeadless(&opts, why, opts.Headless == HeadlessAuto); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, hl.close()) }()
	}

	r, err := bridge.NewRenderer()
	if err != nil {
		return err
	}
	defer r.Close()

	l := &loop{game: game, opts: &opts, win: win, headless: hl, renderer: r, in: newInputFeed(), sched: newTickScheduler(opts.TPS)}
	// Frames are timed on the engine's clock (an injected one in tests, so
	// the replay window is exact), as wall time for segments and records.
	l.epoch = time.Now().Add(-opts.Clock())
	if opts.storage != nil {
		if err := opts.storage.awaitSinks(); err != nil {
			return err
		}
	}
	l.hk = hk
	l.canRecord = opts.recordSink || opts.Capture != nil
	if on {
		co.Logger = opts.Logger
		if l.rec, err = capture.NewRecorder(co); err != nil {
			return err
		}
	}
	if l.rec != nil && l.rec.Recording() {
		l.hud.startUntil = opts.Clock() + recStartShown
	}
	if win != nil {
		l.installCallbacks()
	}
	current = l
	defer func() { current = nil }()
	err = l.run()
	if f, ok := game.(Finisher); ok {
		// Still inside Run: engine.Saves() works, so the game can save.
		f.Finish()
	}
	stats := l.stats.summary()
	if l.rec != nil {
		recording, session := l.rec.Recording(), l.rec.Session()
		// Close waits for frames in flight and writes the last segment.
		err = errors.Join(err, l.rec.Close())
		if recording {
			m := l.rec.Metrics()
			l.opts.Logger.Info("recording stopped: the game ended", "session", session,
				"frames", m.FramesEncoded-l.hud.encoded0, "dropped", m.Dropped()-l.hud.dropped0)
		}
		stats.Capture = l.rec.Metrics()
		stats.Sessions = l.rec.Sessions()
		stats.Readback = l.rec.Mode().String()
	}
	if opts.Stats != nil {
		*opts.Stats = stats
	}
	if opts.PrintFrameTime {
		fmt.Fprintln(os.Stderr, stats)
	}
	if opts.StatsJSON != "" {
		err = errors.Join(err, stats.writeJSON(opts.StatsJSON))
	}
	return err
}

// initGLFW initialises GLFW, retrying briefly: an X server busy with other
// GL clients (parallel test packages on one Xvfb) can refuse a connection
// for a moment. go-gl's Init reports no platform error, so success is
// probed with a call that panics when GLFW is not initialised.
func initGLFW() error {
	var last any
	for attempt := 0; attempt < 6; attempt++ {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		if err := glfw.Init(); err != nil {
			return fmt.Errorf("engine: initialise GLFW: %w", err)
		}
		last = probeGLFW()
		if last == nil {
			return nil
		}
		glfw.Terminate()
	}
	return fmt.Errorf("engine: window system: cannot open display %q: %v (is an X server running there?)", os.Getenv("DISPLAY"), last)
}

func probeGLFW() (failure any) {
	defer func() { failure = recover() }()
	glfw.GetPrimaryMonitor()
	return nil
}

func openWindow(opts *Options) (*glfw.Window, error) {
	glfw.DefaultWindowHints()
	glfw.WindowHint(glfw.ContextVersionMajor, 4)
	glfw.WindowHint(glfw.ContextVersionMinor, 1)
	glfw.WindowHint(glfw.OpenGLProfile, glfw.OpenGLCoreProfile)
	glfw.WindowHint(glfw.OpenGLForwardCompatible, glfw.True)
	glfw.WindowHint(glfw.DoubleBuffer, glfw.True)
	glfw.WindowHint(glfw.Resizable, boolHint(!opts.FixedSize))
	var monitor *glfw.Monitor
	w, h := opts.Width, opts.Height
	if opts.Fullscreen {
		monitor = glfw.GetPrimaryMonitor()
		if monitor != nil {
			mode := monitor.GetVideoMode()
			w, h = mode.Width, mode.Height
			glfw.WindowHint(glfw.RefreshRate, mode.RefreshRate)
		}
	}
	win, err := glfw.CreateWindow(w, h, opts.Title, monitor, nil)
	if err != nil {
		return nil, fmt.Errorf("engine: create %dx%d window with OpenGL 4.1 core: %w", w, h, err)
	}
	win.MakeContextCurrent()
	if err := gl.Init(); err != nil {
		win.Destroy()
		return nil, fmt.Errorf("engine: load OpenGL functions: %w", err)
	}
	if opts.VSyncOff {
		glfw.SwapInterval(0)
	} else {
		glfw.SwapInterval(1)
	}
	opts.Logger.Debug("window open", "size", fmt.Sprintf("%dx%d", w, h),
		"gl_version", gl.GoStr(gl.GetString(gl.VERSION)), "renderer", gl.GoStr(gl.GetString(gl.RENDERER)))
	return win, nil
}

func boolHint(b bool) int {
	if b {
		return glfw.True
	}
	return glfw.False
}

// loop is the state of one Run.
type loop struct {
	game     Game
	opts     *Options
	win      *glfw.Window // nil when headless
	headless *headlessGL  // nil with a window
	renderer bridge.Renderer
	in       inputFeed
	sched    *tickScheduler
	stats    frameRecorder

	viewport         image.Rectangle // where the screen lands in the framebuffer
	screenW, screenH int

	rec       *capture.Recorder // nil when capture is off
	canRecord bool              // a real sink is behind rec (else screenshots only)
	hk        hotkeys
	overlay   bool
	hud       hudState // the overlay's and the REC indicator's state (overlay.go)
	fps       float64
	nextFrame time.Time
	epoch     time.Time // wall time at opts.Clock() == 0
}

func (l *loop) installCallbacks() {
	l.win.SetKeyCallback(func(_ *glfw.Window, key glfw.Key, _ int, action glfw.Action, _ glfw.ModifierKey) {
		switch action {
		case glfw.Press:
			l.hotkey(input.Key(key))
			l.in.feed.Key(int(key), true)
		case glfw.Release:
			l.in.feed.Key(int(key), false)
		}
	})
	l.win.SetCharCallback(func(_ *glfw.Window, r rune) { l.in.feed.Char(r) })
	l.win.SetMouseButtonCallback(func(_ *glfw.Window, b glfw.MouseButton, action glfw.Action, _ glfw.ModifierKey) {
		l.in.feed.MouseButton(int(b), action == glfw.Press)
	})
	l.win.SetCursorPosCallback(func(w *glfw.Window, x, y float64) {
		// Cursor positions are in window coordinates; the viewport is in
		// framebuffer pixels (they differ on HiDPI screens).
		ww, _ := w.GetSize()
		fw, _ := w.GetFramebufferSize()
		s := 1.0
		if ww > 0 {
			s = float64(fw) / float64(ww)
		}
		sx, sy := windowToScreen(x*s, y*s, l.viewport, l.screenW, l.screenH)
		l.in.feed.Cursor(sx, sy)
	})
	l.win.SetScrollCallback(func(_ *glfw.Window, dx, dy float64) { l.in.feed.Wheel(dx, dy) })
}

// inputFeed is the game's input state and the engine's side of it.
type inputFeed struct {
	state *input.State
	feed  bridge.Input
}

func newInputFeed() inputFeed {
	st, feed := bridge.NewInput()
	return inputFeed{st.(*input.State), feed}
}

// hotkey handles the engine's own keys: screenshot, record, overlay.
func (l *loop) hotkey(k input.Key) {
	if k == input.KeyUnknown {
		return
	}
	switch k {
	case l.hk.overlay:
		l.overlay = !l.overlay
	case l.hk.screenshot:
		if l.rec != nil {
			l.rec.Screenshot()
		}
	case l.hk.record:
		if l.rec != nil && l.canRecord {
			if err := l.setRecording(!l.rec.Recording(), "hotkey"); err != nil {
				l.opts.Logger.Error("capture: toggling recording failed", "err", err)
			}
		} else if l.opts.captureMode == "replay" {
			l.notify("Recording is off: capture.mode is \"replay\" (set \"both\" to record too)", true)
		}
	case l.hk.replay:
		l.saveReplay("hotkey") // says why in the window and the log when it fails
	}
}

func (l *loop) pollGamepads() {
	for id := glfw.Joystick1; id <= glfw.JoystickLast; id++ {
		if !id.IsGamepad() {
			l.in.feed.Gamepad(int(id), false, "", nil, nil)
			continue
		}
		gs := id.GetGamepadState()
		if gs == nil {
			continue
		}
		var buttons [len(gs.Buttons)]bool
		for i := range buttons {
			buttons[i] = gs.Buttons[i] == glfw.Press
		}
		l.in.feed.Gamepad(int(id), true, id.GetGamepadName(), buttons[:], gs.Axes[:])
	}
}

// shouldClose reports whether the window was closed or, headless, the
// process was interrupted (SIGINT, SIGTERM).
func (l *loop) shouldClose() bool {
	if l.win == nil {
		return l.headless.interrupted()
	}
	return l.win.ShouldClose()
}

// framebufferSize is the window's framebuffer size, or headless the
// Width×Height asked for.
func (l *loop) framebufferSize() (int, int) {
	if l.win == nil {
		return l.opts.Width, l.opts.Height
	}
	return l.win.GetFramebufferSize()
}

// captureFrame hands the framebuffer to the recorder, timing the
// render-thread cost.
func (l *loop) captureFrame(fbo uint32, w, h int) {
	t0 := time.Now()
	l.rec.Frame(fbo, w, h, l.epoch.Add(l.opts.Clock()))
	l.stats.recordCapture(time.Since(t0))
}

// pace sleeps until the current frame's deadline at MaxFPS. A frame that
// overran its deadline gets no sleep; one more than a whole interval late
// restarts the cadence instead of rushing frames to catch up.
func (l *loop) pace() {
	interval := time.Duration(float64(time.Second) / l.opts.MaxFPS)
	now := time.Now()
	if l.nextFrame.IsZero() {
		l.nextFrame = now
	}
	l.nextFrame = l.nextFrame.Add(interval)
	d := l.nextFrame.Sub(now)
	switch {
	case d > 0:
		time.Sleep(d)
	case -d > interval:
		l.nextFrame = now
	}
}

func (l *loop) run() error {
	frames := 0
	for !l.shouldClose() {
		frameStart := l.opts.Clock()
		if l.win != nil {
			glfw.PollEvents()
		}
		n := l.sched.ticks(l.opts.Clock())
		if l.opts.Lockstep {
			n = 1
		}
		if n > 0 {
			l.deliverSaveChanges()
		}
		for ; n > 0; n-- {
			l.in.feed.BeginTick()
			if l.win != nil {
				l.pollGamepads()
			}
			if err := l.game.Update(l.in.state); err != nil {
				if errors.Is(err, ErrQuit) {
					return nil
				}
				return fmt.Errorf("engine: game Update: %w", err)
			}
			l.stats.ticks++
		}

		fbW, fbH := l.framebufferSize()
		sw, sh := l.game.Layout(fbW, fbH)
		if sw <= 0 || sh <= 0 {
			return fmt.Errorf("engine: game Layout(%d, %d) returned %dx%d: the screen size must be positive", fbW, fbH, sw, sh)
		}
		l.screenW, l.screenH = sw, sh
		canvas, err := l.renderer.Begin(sw, sh)
		if err != nil {
			return err
		}
		l.game.Draw(canvas.(*gfx.Canvas))
		l.renderer.End()
		recordWindow := l.rec != nil && l.rec.Source() == capture.SourceWindow && (l.rec.Recording() || l.rec.Replaying())
		l.viewport = letterbox(fbW, fbH, sw, sh)
		// Headless there is no window to present to: only the window copy
		// capture records is composed (its blit to the missing default
		// framebuffer fails harmlessly, and its error is cleared).
		if l.win != nil || recordWindow {
			if err := l.renderer.Present(fbW, fbH, l.viewport, recordWindow); err != nil {
				return err
			}
			if l.headless != nil {
				l.headless.drainErrors()
			}
		}
		if l.win != nil {
			l.drawHUD(fbW, fbH)
		}
		if l.opts.afterPresent != nil {
			l.opts.afterPresent(fbW, fbH)
		}
		if l.win != nil {
			l.win.SwapBuffers()
		}
		// Capture after the swap, from framebuffers nothing has drawn
		// into since (the HUD goes to the window): a software renderer
		// (llvmpipe) has finished the frame by then, so a synchronous read
		// is a copy, not a wait that splits the frame's rendering in two
		// (1.5 of 1.6 ms a frame for rects at 720p, docs/benchmarks.md).
		switch {
		case recordWindow:
			l.captureFrame(l.renderer.WindowFramebuffer())
		case l.rec != nil:
			l.captureFrame(l.renderer.ScreenFramebuffer())
		}
		l.pollReplay()
		if l.opts.MaxFPS > 0 {
			l.pace()
		}
		frames++
		ft := l.opts.Clock() - frameStart
		l.stats.record(ft)
		l.updateFPS(ft)
		if l.opts.MaxFrames > 0 && frames >= l.opts.MaxFrames {
			return nil
		}
	}
	return nil
}
