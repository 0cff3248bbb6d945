//go:build linux

package egl

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/go-gl/gl/v4.1-core/gl"
)

// open opens a context on the locked test thread, failing under make test
// (SKYLOOP_REQUIRE_DISPLAY=1) and skipping elsewhere when EGL is missing.
func open(t *testing.T, o Options) *Context {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	c, err := Open(o)
	if err != nil {
		msg := "no headless EGL here (" + err.Error() + "): install libegl1 and libegl-mesa0 (tools/dev/deps.sh)"
		if os.Getenv("SKYLOOP_REQUIRE_DISPLAY") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestMissingLibrary: a library that cannot be loaded is ErrNoLibrary,
// naming the file, and does not stop a later Open of the real one.
func TestMissingLibrary(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if loaded != "" {
		t.Skip("libEGL already loaded in this process; the missing-library path is tested in a fresh process by engine's TestHeadlessErrors")
	}
	_, err := Open(Options{Library: "libEGL-skyloop-missing.so.1"})
	if !errors.Is(err, ErrNoLibrary) || !strings.Contains(err.Error(), "libEGL-skyloop-missing.so.1") {
		t.Fatalf("Open of a missing library: %v, want ErrNoLibrary naming it", err)
	}
}

// TestOpenGL41Core: the context Open makes current is an OpenGL 4.1+ core
// context that go-gl initialises through GetProcAddress and that renders
// into a framebuffer object with no surface; Close is idempotent.
func TestOpenGL41Core(t *testing.T) {
	c := open(t, Options{})
	if c.Platform == "" || c.Version == "" {
		t.Errorf("context %+v: platform or version empty", c)
	}
	if err := gl.InitWithProcAddrFunc(c.GetProcAddress); err != nil {
		t.Fatalf("gl.InitWithProcAddrFunc: %v", err)
	}
	var major, minor, mask int32
	gl.GetIntegerv(gl.MAJOR_VERSION, &major)
	gl.GetIntegerv(gl.MINOR_VERSION, &minor)
	gl.GetIntegerv(gl.CONTEXT_PROFILE_MASK, &mask)
	t.Logf("platform %s %s, EGL %s (%s), GL %s on %s", c.Platform, c.Device, c.Version, c.Vendor,
		gl.GoStr(gl.GetString(gl.VERSION)), gl.GoStr(gl.GetString(gl.RENDERER)))
	if major < 4 || (major == 4 && minor < 1) || mask&gl.CONTEXT_CORE_PROFILE_BIT == 0 {
		t.Fatalf("GL %d.%d profile mask %#x, want 4.1+ core", major, minor, mask)
	}
	var fbo, tex uint32
	gl.GenTextures(1, &tex)
	gl.BindTexture(gl.TEXTURE_2D, tex)
	gl.TexImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, 4, 4, 0, gl.RGBA, gl.UNSIGNED_BYTE, nil)
	gl.GenFramebuffers(1, &fbo)
	gl.BindFramebuffer(gl.FRAMEBUFFER, fbo)
	gl.FramebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, tex, 0)
	if st := gl.CheckFramebufferStatus(gl.FRAMEBUFFER); st != gl.FRAMEBUFFER_COMPLETE {
		t.Fatalf("framebuffer status %#x", st)
	}
	gl.ClearColor(1, 0.5, 0, 1)
	gl.Clear(gl.COLOR_BUFFER_BIT)
	px := make([]byte, 4)
	gl.ReadPixels(1, 1, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(px))
	if px[0] != 255 || px[1] < 127 || px[1] > 128 || px[2] != 0 || px[3] != 255 {
		t.Errorf("pixel %v, want [255 127/128 0 255]", px)
	}
	gl.DeleteFramebuffers(1, &fbo)
	gl.DeleteTextures(1, &tex)
	if e := gl.GetError(); e != gl.NO_ERROR {
		t.Errorf("GL error %#x", e)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// A second context after the first is gone (Run after Run in one process).
	c2 := open(t, Options{})
	if err := c2.Close(); err != nil {
		t.Errorf("Close of the second context: %v", err)
	}
}

// TestEachPlatform opens every platform this machine's EGL offers on its
// own (Mesa here: surfaceless, the software device, the default display).
func TestEachPlatform(t *testing.T) {
	for _, p := range []string{PlatformSurfaceless, PlatformDevice, PlatformDefault} {
		t.Run(p, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c, err := Open(Options{Platform: p})
			if err != nil {
				t.Skipf("platform %s: %v", p, err)
			}
			t.Logf("platform %s device %q: EGL %s (%s)", c.Platform, c.Device, c.Version, c.Vendor)
			if c.Platform != p {
				t.Errorf("asked for %s, got %s", p, c.Platform)
			}
			if err := c.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestBadPlatform: an unknown platform name is refused with the accepted ones.
func TestBadPlatform(t *testing.T) {
	if _, err := candidates("wayland"); err == nil || !strings.Contains(err.Error(), "surfaceless") {
		t.Fatalf("candidates(wayland): %v", err)
	}
}
