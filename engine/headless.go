package engine

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/go-gl/gl/v4.1-core/gl"

	"github.com/skyloop-engine/skyloop/engine/internal/egl"
)

// HeadlessMode says whether Run opens a window or renders with no window
// and no display server, through EGL (Options.Headless, -headless).
type HeadlessMode int

const (
	// HeadlessAuto opens a window when there is a display, and runs
	// headless when there is none: DISPLAY and WAYLAND_DISPLAY unset (on
	// Linux, where GLFW then cannot initialise). A display that is named
	// but cannot be opened is an error that suggests -headless.
	HeadlessAuto HeadlessMode = iota
	// HeadlessOn always runs headless, display or not (-headless).
	HeadlessOn
	// HeadlessOff never runs headless: with no display Run returns
	// ErrNoDisplay (-headless=false).
	HeadlessOff
)

func (m HeadlessMode) String() string {
	switch m {
	case HeadlessOn:
		return "true"
	case HeadlessOff:
		return "false"
	}
	return "auto"
}

// ParseHeadlessMode accepts auto, true/on/1 and false/off/0.
func ParseHeadlessMode(s string) (HeadlessMode, error) {
	switch strings.ToLower(s) {
	case "auto", "":
		return HeadlessAuto, nil
	case "true", "on", "1", "yes":
		return HeadlessOn, nil
	case "false", "off", "0", "no":
		return HeadlessOff, nil
	}
	return 0, fmt.Errorf("want -headless (on), -headless=false (never) or -headless=auto (when there is no display)")
}

// headlessFlag is -headless as a flag.Value: a bare -headless means true.
type headlessFlag struct{ m *HeadlessMode }

func (f headlessFlag) String() string {
	if f.m == nil {
		return "auto"
	}
	return f.m.String()
}

func (f headlessFlag) Set(v string) error {
	m, err := ParseHeadlessMode(v)
	if err != nil {
		return err
	}
	*f.m = m
	return nil
}

func (f headlessFlag) IsBoolFlag() bool { return true }

// Environment variables read when Run goes headless (troubleshooting and
// tests; docs/headless.md).
const (
	// EnvEGLPlatform picks the EGL platform: auto (default), device,
	// surfaceless or default.
	EnvEGLPlatform = "SKYLOOP_EGL_PLATFORM"
	// EnvEGLLibrary is the file loaded instead of libEGL.so.1.
	EnvEGLLibrary = "SKYLOOP_EGL_LIBRARY"
)

// displayNamed reports whether the environment names a display server
// (always true outside Linux, where GLFW needs none).
func displayNamed() bool {
	return runtime.GOOS != "linux" || os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// choosePlatform decides, before anything starts, whether Run goes
// headless, and why; with -headless=false and no display it is
// ErrNoDisplay, as it always was.
func choosePlatform(m HeadlessMode) (headless bool, why string, err error) {
	switch {
	case m == HeadlessOn:
		return true, "-headless", nil
	case displayNamed():
		return false, "", nil
	case m == HeadlessOff:
		return false, "", ErrNoDisplay
	}
	return true, "no display: DISPLAY and WAYLAND_DISPLAY are unset", nil
}

// headlessGL is the EGL context of a headless Run.
type headlessGL struct {
	ctx     *egl.Context
	signals chan os.Signal // SIGINT/SIGTERM end the loop like a closed window
}

// openHeadless creates the OpenGL 4.1 core context with no surface on the
// calling (render) thread, loads go-gl through it and logs the platform
// chosen. why says why Run is headless; auto is whether it was chosen
// automatically (the error then also wraps ErrNoDisplay).
func openHeadless(opts *Options, why string, auto bool) (*headlessGL, error) {
	c, err := egl.Open(egl.Options{Library: os.Getenv(EnvEGLLibrary), Platform: os.Getenv(EnvEGLPlatform)})
	if err != nil {
		return nil, headlessError(err, why, auto)
	}
	if err := gl.InitWithProcAddrFunc(c.GetProcAddress); err != nil {
		c.Close()
		return nil, fmt.Errorf("engine: headless EGL (%s): load OpenGL functions: %w", c.Platform, err)
	}
	vendor, renderer := gl.GoStr(gl.GetString(gl.VENDOR)), gl.GoStr(gl.GetString(gl.RENDERER))
	platform := c.Platform
	if c.Device != "" {
		platform += " " + c.Device
	}
	opts.Logger.Info(fmt.Sprintf("gl: headless EGL (%s, %s)", platform, driverName(vendor, renderer)),
		"why", why, "size", fmt.Sprintf("%dx%d", opts.Width, opts.Height),
		"gl_version", gl.GoStr(gl.GetString(gl.VERSION)), "renderer", renderer, "gl_vendor", vendor,
		"egl", strings.TrimSpace(c.Version+" "+c.Vendor))
	if opts.Fullscreen {
		opts.Logger.Info("gl: headless: -fullscreen ignored (there is no monitor); the screen is -size", "size", fmt.Sprintf("%dx%d", opts.Width, opts.Height))
	}
	h := &headlessGL{ctx: c, signals: make(chan os.Signal, 1)}
	signal.Notify(h.signals, os.Interrupt, syscall.SIGTERM)
	return h, nil
}

// headlessError names what is missing and the fix.
func headlessError(err error, why string, auto bool) error {
	var fix string
	switch {
	case errors.Is(err, egl.ErrNoLibrary):
		fix = "no EGL: install libegl1 (Debian: apt install libegl1 libegl-mesa0; with an NVIDIA GPU its driver's EGL) or run under a display (DISPLAY, or tools/dev/with-xvfb.sh)"
	case errors.Is(err, egl.ErrNoPlatform):
		fix = "EGL found no OpenGL 4.1 core context without a surface: install Mesa's EGL (Debian: apt install libegl-mesa0 libgl1-mesa-dri) or a GPU driver's (NVIDIA: check /usr/share/glvnd/egl_vendor.d or __EGL_VENDOR_LIBRARY_FILENAMES), pick another platform with " + EnvEGLPlatform + "=surfaceless|device, or run under a display"
	default:
		fix = "headless EGL failed"
	}
	if auto {
		return fmt.Errorf("engine: headless (%s): %s: %w (%w)", why, fix, err, ErrNoDisplay)
	}
	return fmt.Errorf("engine: headless (%s): %s: %w", why, fix, err)
}

// driverName is a short name of the GL driver for the log line: "Mesa
// llvmpipe", "NVIDIA H200".
func driverName(vendor, renderer string) string {
	r := renderer
	if i := strings.IndexAny(r, "(/"); i > 0 {
		r = strings.TrimSpace(r[:i])
	}
	v := strings.Fields(vendor)
	switch {
	case strings.HasPrefix(vendor, "Mesa"):
		return "Mesa " + r
	case len(v) == 0, strings.HasPrefix(strings.ToLower(r), strings.ToLower(v[0])):
		return r
	}
	return v[0] + " " + r
}

// interrupted reports whether SIGINT or SIGTERM arrived: a headless run
// ends as a windowed one does when its window is closed, writing the last
// segment and the end record.
func (h *headlessGL) interrupted() bool {
	select {
	case <-h.signals:
		return true
	default:
		return false
	}
}

// drainErrors clears the GL errors of the blit to the default framebuffer,
// which a context with no surface does not have (Present with a window
// copy), so they are not reported later as someone else's.
func (h *headlessGL) drainErrors() {
	for i := 0; i < 16 && gl.GetError() != gl.NO_ERROR; i++ {
	}
}

// close stops the signal handling and destroys the context. Idempotent.
func (h *headlessGL) close() error {
	if h == nil || h.ctx == nil {
		return nil
	}
	signal.Stop(h.signals)
	err := h.ctx.Close()
	h.ctx = nil
	if err != nil {
		return fmt.Errorf("engine: headless EGL: %w", err)
	}
	return nil
}
