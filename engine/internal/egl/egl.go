//go:build linux

package egl

/*
#cgo LDFLAGS: -ldl
#define EGL_EGL_PROTOTYPES 0
#define EGL_NO_X11
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <dlfcn.h>
#include <stdlib.h>

// The entry points, resolved from the library sk_load opened.
static void *sk_lib;
static PFNEGLGETPROCADDRESSPROC sk_getProcAddress;
static PFNEGLGETERRORPROC sk_getError;
static PFNEGLQUERYSTRINGPROC sk_queryString;
static PFNEGLGETDISPLAYPROC sk_getDisplay;
static PFNEGLINITIALIZEPROC sk_initialize;
static PFNEGLTERMINATEPROC sk_terminate;
static PFNEGLBINDAPIPROC sk_bindAPI;
static PFNEGLCHOOSECONFIGPROC sk_chooseConfig;
static PFNEGLCREATECONTEXTPROC sk_createContext;
static PFNEGLDESTROYCONTEXTPROC sk_destroyContext;
static PFNEGLMAKECURRENTPROC sk_makeCurrent;
static PFNEGLRELEASETHREADPROC sk_releaseThread;
static PFNEGLGETPLATFORMDISPLAYEXTPROC sk_getPlatformDisplayEXT;
static PFNEGLQUERYDEVICESEXTPROC sk_queryDevicesEXT;
static PFNEGLQUERYDEVICESTRINGEXTPROC sk_queryDeviceStringEXT;

// sk_load opens the library and resolves the entry points. It returns NULL
// or what failed (a static or dlerror string).
static const char *sk_load(const char *name) {
	sk_lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (sk_lib == NULL) {
		const char *e = dlerror();
		return e ? e : "dlopen failed";
	}
	sk_getProcAddress = (PFNEGLGETPROCADDRESSPROC)dlsym(sk_lib, "eglGetProcAddress");
	if (sk_getProcAddress == NULL) {
		return "the library has no eglGetProcAddress";
	}
#define SK_SYM(var, type, name) var = (type)dlsym(sk_lib, name); if (var == NULL) var = (type)sk_getProcAddress(name); if (var == NULL) return "the library has no " name;
	SK_SYM(sk_getError, PFNEGLGETERRORPROC, "eglGetError")
	SK_SYM(sk_queryString, PFNEGLQUERYSTRINGPROC, "eglQueryString")
	SK_SYM(sk_getDisplay, PFNEGLGETDISPLAYPROC, "eglGetDisplay")
	SK_SYM(sk_initialize, PFNEGLINITIALIZEPROC, "eglInitialize")
	SK_SYM(sk_terminate, PFNEGLTERMINATEPROC, "eglTerminate")
	SK_SYM(sk_bindAPI, PFNEGLBINDAPIPROC, "eglBindAPI")
	SK_SYM(sk_chooseConfig, PFNEGLCHOOSECONFIGPROC, "eglChooseConfig")
	SK_SYM(sk_createContext, PFNEGLCREATECONTEXTPROC, "eglCreateContext")
	SK_SYM(sk_destroyContext, PFNEGLDESTROYCONTEXTPROC, "eglDestroyContext")
	SK_SYM(sk_makeCurrent, PFNEGLMAKECURRENTPROC, "eglMakeCurrent")
	SK_SYM(sk_releaseThread, PFNEGLRELEASETHREADPROC, "eglReleaseThread")
#undef SK_SYM
	// Extensions: NULL when the implementation lacks them.
	sk_getPlatformDisplayEXT = (PFNEGLGETPLATFORMDISPLAYEXTPROC)sk_getProcAddress("eglGetPlatformDisplayEXT");
	sk_queryDevicesEXT = (PFNEGLQUERYDEVICESEXTPROC)sk_getProcAddress("eglQueryDevicesEXT");
	sk_queryDeviceStringEXT = (PFNEGLQUERYDEVICESTRINGEXTPROC)sk_getProcAddress("eglQueryDeviceStringEXT");
	return NULL;
}

static int sk_hasPlatformDisplay(void) { return sk_getPlatformDisplayEXT != NULL; }
static int sk_hasDevices(void) { return sk_queryDevicesEXT != NULL && sk_queryDeviceStringEXT != NULL; }
static void *sk_procAddress(const char *name) { return (void *)sk_getProcAddress(name); }
static EGLint sk_error(void) { return sk_getError(); }
static const char *sk_string(EGLDisplay d, EGLint name) { return sk_queryString(d, name); }
static EGLDisplay sk_platformDisplay(EGLenum platform, void *native) { return sk_getPlatformDisplayEXT(platform, native, NULL); }
static EGLDisplay sk_defaultDisplay(void) { return sk_getDisplay(EGL_DEFAULT_DISPLAY); }
static EGLBoolean sk_init(EGLDisplay d, EGLint *major, EGLint *minor) { return sk_initialize(d, major, minor); }
static EGLBoolean sk_term(EGLDisplay d) { return sk_terminate(d); }
static EGLBoolean sk_bind(EGLenum api) { return sk_bindAPI(api); }
static EGLBoolean sk_choose(EGLDisplay d, const EGLint *attrs, EGLConfig *cfg, EGLint *n) { return sk_chooseConfig(d, attrs, cfg, 1, n); }
static EGLContext sk_create(EGLDisplay d, EGLConfig cfg, const EGLint *attrs) { return sk_createContext(d, cfg, EGL_NO_CONTEXT, attrs); }
static EGLBoolean sk_destroy(EGLDisplay d, EGLContext c) { return sk_destroyContext(d, c); }
static EGLBoolean sk_current(EGLDisplay d, EGLContext c) { return sk_makeCurrent(d, EGL_NO_SURFACE, EGL_NO_SURFACE, c); }
static EGLBoolean sk_release(void) { return sk_releaseThread(); }
static EGLBoolean sk_devices(EGLint max, EGLDeviceEXT *devs, EGLint *n) { return sk_queryDevicesEXT(max, devs, n); }
static const char *sk_deviceString(EGLDeviceEXT dev, EGLint name) { return sk_queryDeviceStringEXT(dev, name); }
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// DefaultLibrary is the library Open loads when Options.Library is empty:
// glvnd's EGL dispatcher (Debian: libegl1), which finds the vendor
// (libegl-mesa0, or NVIDIA's driver) itself.
const DefaultLibrary = "libEGL.so.1"

// Platforms Open can use.
const (
	PlatformDevice      = "device"      // EGL_EXT_platform_device: a GPU, no display server
	PlatformSurfaceless = "surfaceless" // EGL_MESA_platform_surfaceless: Mesa (llvmpipe without a GPU)
	PlatformDefault     = "default"     // eglGetDisplay(EGL_DEFAULT_DISPLAY): whatever the vendor makes of it
)

// ErrNoLibrary is returned (wrapped) by Open when libEGL cannot be loaded.
var ErrNoLibrary = errors.New("no EGL library")

// ErrNoPlatform is returned (wrapped) by Open when libEGL loads but no
// platform gives an OpenGL 4.1 core context without a surface.
var ErrNoPlatform = errors.New("no EGL platform with a surfaceless OpenGL 4.1 core context")

// Options say what Open tries.
type Options struct {
	// Library is the file dlopen loads; default DefaultLibrary.
	Library string
	// Platform is "" or "auto" (GPU devices first, then Mesa's surfaceless
	// platform, then software devices, then the default display), or one
	// of PlatformDevice, PlatformSurfaceless, PlatformDefault alone.
	Platform string
	// Major and Minor are the OpenGL core version asked for; default 4.1.
	Major, Minor int
}

// Context is a current OpenGL core context with no surface.
type Context struct {
	// Platform is the platform the context came from (PlatformDevice, …).
	Platform string
	// Device describes the EGL device on the device platform: its DRM
	// node, or "software" for Mesa's software device; "" elsewhere.
	Device string
	// Version is EGL's version string and Vendor its vendor (EGL_VENDOR).
	Version, Vendor string

	dpy    C.EGLDisplay
	ctx    C.EGLContext
	closed bool
}

var (
	loadMu sync.Mutex
	loaded string // the library loaded, "" until one is
)

// load opens the library once per process (it is never closed: GL function
// pointers handed to go-gl point into it); a failed load is tried again by
// the next Open.
func load(name string) error {
	loadMu.Lock()
	defer loadMu.Unlock()
	if loaded != "" {
		if name != loaded {
			return fmt.Errorf("%w: %s is already loaded, cannot load %s as well", ErrNoLibrary, loaded, name)
		}
		return nil
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	if msg := C.sk_load(cname); msg != nil {
		return fmt.Errorf("%w: load %s: %s", ErrNoLibrary, name, C.GoString(msg))
	}
	loaded = name
	return nil
}

// Error is a failed EGL call and the error EGL reported for it.
type Error struct {
	Call string
	Code int
}

func (e *Error) Error() string { return fmt.Sprintf("%s failed: %s", e.Call, codeName(e.Code)) }

func eglError(call string) error { return &Error{Call: call, Code: int(C.sk_error())} }

func codeName(code int) string {
	names := map[int]string{
		0x3000: "EGL_SUCCESS", 0x3001: "EGL_NOT_INITIALIZED", 0x3002: "EGL_BAD_ACCESS", 0x3003: "EGL_BAD_ALLOC",
		0x3004: "EGL_BAD_ATTRIBUTE", 0x3005: "EGL_BAD_CONFIG", 0x3006: "EGL_BAD_CONTEXT", 0x3007: "EGL_BAD_CURRENT_SURFACE",
		0x3008: "EGL_BAD_DISPLAY", 0x3009: "EGL_BAD_MATCH", 0x300A: "EGL_BAD_NATIVE_PIXMAP", 0x300B: "EGL_BAD_NATIVE_WINDOW",
		0x300C: "EGL_BAD_PARAMETER", 0x300D: "EGL_BAD_SURFACE", 0x300E: "EGL_CONTEXT_LOST",
	}
	if n, ok := names[code]; ok {
		return fmt.Sprintf("%s (0x%04x)", n, code)
	}
	return fmt.Sprintf("EGL error 0x%04x", code)
}

// candidate is one display Open may try.
type candidate struct {
	platform, device string
	open             func() C.EGLDisplay
}

// Open loads libEGL, picks a platform, creates an OpenGL core context of
// the version asked for and makes it current on the calling thread (lock
// it with runtime.LockOSThread first) with no surface. Every platform tried
// and why it failed is in the error.
func Open(o Options) (*Context, error) {
	if o.Library == "" {
		o.Library = DefaultLibrary
	}
	if o.Major == 0 {
		o.Major, o.Minor = 4, 1
	}
	if err := load(o.Library); err != nil {
		return nil, err
	}
	cands, err := candidates(o.Platform)
	if err != nil {
		return nil, err
	}
	var fails []string
	for _, c := range cands {
		ctx, err := tryOpen(c, o.Major, o.Minor)
		if err == nil {
			return ctx, nil
		}
		name := c.platform
		if c.device != "" {
			name += " " + c.device
		}
		fails = append(fails, name+": "+err.Error())
	}
	if len(fails) == 0 {
		return nil, fmt.Errorf("%w: %s offers none of the platforms tried (%s)", ErrNoPlatform, o.Library, platformsWanted(o.Platform))
	}
	return nil, fmt.Errorf("%w: %s", ErrNoPlatform, strings.Join(fails, "; "))
}

func platformsWanted(p string) string {
	if p == "" || p == "auto" {
		return "device, surfaceless, default"
	}
	return p
}

// candidates lists the displays to try for platform, best first.
func candidates(platform string) ([]candidate, error) {
	switch platform {
	case "", "auto", PlatformDevice, PlatformSurfaceless, PlatformDefault:
	default:
		return nil, fmt.Errorf("EGL platform %q: want auto, %s, %s or %s", platform, PlatformDevice, PlatformSurfaceless, PlatformDefault)
	}
	all := platform == "" || platform == "auto"
	client := clientExtensions()
	var gpus, software []candidate
	if (all || platform == PlatformDevice) && C.sk_hasPlatformDisplay() != 0 && C.sk_hasDevices() != 0 &&
		hasExt(client, "EGL_EXT_platform_device") {
		for _, dev := range devices() {
			dev := dev
			desc, isSoftware := describeDevice(dev)
			c := candidate{platform: PlatformDevice, device: desc, open: func() C.EGLDisplay {
				return C.sk_platformDisplay(C.EGL_PLATFORM_DEVICE_EXT, unsafe.Pointer(dev))
			}}
			if isSoftware {
				software = append(software, c)
			} else {
				gpus = append(gpus, c)
			}
		}
	}
	var out []candidate
	out = append(out, gpus...)
	if (all || platform == PlatformSurfaceless) && C.sk_hasPlatformDisplay() != 0 && hasExt(client, "EGL_MESA_platform_surfaceless") {
		out = append(out, candidate{platform: PlatformSurfaceless, open: func() C.EGLDisplay {
			return C.sk_platformDisplay(C.EGL_PLATFORM_SURFACELESS_MESA, nil)
		}})
	}
	out = append(out, software...)
	if all || platform == PlatformDefault {
		out = append(out, candidate{platform: PlatformDefault, open: func() C.EGLDisplay { return C.sk_defaultDisplay() }})
	}
	return out, nil
}

func clientExtensions() string {
	s := C.sk_string(C.EGLDisplay(unsafe.Pointer(nil)), C.EGL_EXTENSIONS) // NULL without EGL_EXT_client_extensions
	if s == nil {
		C.sk_error() // clear EGL_BAD_DISPLAY
		return ""
	}
	return C.GoString(s)
}

func hasExt(list, name string) bool {
	for _, e := range strings.Fields(list) {
		if e == name {
			return true
		}
	}
	return false
}

// devices lists the EGL devices (at most 16).
func devices() []C.EGLDeviceEXT {
	const max = 16
	buf := (*[max]C.EGLDeviceEXT)(C.malloc(C.size_t(max) * C.size_t(unsafe.Sizeof(C.EGLDeviceEXT(nil)))))
	defer C.free(unsafe.Pointer(buf))
	var n C.EGLint
	if C.sk_devices(max, &buf[0], &n) != C.EGL_TRUE || n <= 0 {
		return nil
	}
	return append([]C.EGLDeviceEXT(nil), buf[:n]...)
}

// describeDevice names a device: its DRM node where it has one, and says
// whether it is Mesa's software device.
func describeDevice(dev C.EGLDeviceEXT) (desc string, software bool) {
	exts := ""
	if s := C.sk_deviceString(dev, C.EGL_EXTENSIONS); s != nil {
		exts = C.GoString(s)
	}
	if hasExt(exts, "EGL_MESA_device_software") {
		return "software", true
	}
	if hasExt(exts, "EGL_EXT_device_drm") {
		if s := C.sk_deviceString(dev, C.EGL_DRM_DEVICE_FILE_EXT); s != nil {
			return C.GoString(s), false
		}
	}
	return "gpu", false
}

// tryOpen initialises one display and makes a context current on it.
func tryOpen(c candidate, major, minor int) (_ *Context, err error) {
	dpy := c.open()
	if dpy == C.EGLDisplay(unsafe.Pointer(nil)) {
		return nil, eglError("eglGetPlatformDisplay")
	}
	var vmaj, vmin C.EGLint
	if C.sk_init(dpy, &vmaj, &vmin) != C.EGL_TRUE {
		return nil, eglError("eglInitialize")
	}
	ctx := &Context{Platform: c.platform, Device: c.device, dpy: dpy}
	defer func() {
		if err != nil {
			ctx.closed = true
			if ctx.ctx != C.EGLContext(unsafe.Pointer(nil)) {
				C.sk_destroy(dpy, ctx.ctx)
			}
			C.sk_term(dpy)
		}
	}()
	ctx.Version = goString(C.sk_string(dpy, C.EGL_VERSION))
	ctx.Vendor = goString(C.sk_string(dpy, C.EGL_VENDOR))
	exts := goString(C.sk_string(dpy, C.EGL_EXTENSIONS))
	if !hasExt(exts, "EGL_KHR_surfaceless_context") {
		return nil, fmt.Errorf("EGL %d.%d (%s) lacks EGL_KHR_surfaceless_context", vmaj, vmin, ctx.Vendor)
	}
	if !hasExt(exts, "EGL_KHR_create_context") && (vmaj < 1 || (vmaj == 1 && vmin < 5)) {
		return nil, fmt.Errorf("EGL %d.%d (%s) cannot ask for an OpenGL core profile (no EGL 1.5, no EGL_KHR_create_context)", vmaj, vmin, ctx.Vendor)
	}
	if C.sk_bind(C.EGL_OPENGL_API) != C.EGL_TRUE {
		return nil, fmt.Errorf("desktop OpenGL unavailable (only OpenGL ES?): %w", eglError("eglBindAPI(EGL_OPENGL_API)"))
	}
	cfg, err := chooseConfig(dpy, exts)
	if err != nil {
		return nil, err
	}
	attrs := []C.EGLint{
		C.EGL_CONTEXT_MAJOR_VERSION, C.EGLint(major),
		C.EGL_CONTEXT_MINOR_VERSION, C.EGLint(minor),
		C.EGL_CONTEXT_OPENGL_PROFILE_MASK, C.EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
	}
	if vmaj > 1 || vmin >= 5 {
		// As the windowed path asks of GLFW.
		attrs = append(attrs, C.EGL_CONTEXT_OPENGL_FORWARD_COMPATIBLE, C.EGL_TRUE)
	}
	attrs = append(attrs, C.EGL_NONE)
	ctx.ctx = C.sk_create(dpy, cfg, &attrs[0])
	if ctx.ctx == C.EGLContext(unsafe.Pointer(nil)) {
		return nil, fmt.Errorf("no OpenGL %d.%d core context: %w", major, minor, eglError("eglCreateContext"))
	}
	if C.sk_current(dpy, ctx.ctx) != C.EGL_TRUE {
		return nil, eglError("eglMakeCurrent(EGL_NO_SURFACE)")
	}
	return ctx, nil
}

// chooseConfig picks an RGBA8 OpenGL config (pbuffer-capable, which every
// platform here offers), or no config where EGL_KHR_no_config_context
// allows it.
func chooseConfig(dpy C.EGLDisplay, exts string) (C.EGLConfig, error) {
	attrs := []C.EGLint{
		C.EGL_RENDERABLE_TYPE, C.EGL_OPENGL_BIT,
		C.EGL_SURFACE_TYPE, C.EGL_PBUFFER_BIT,
		C.EGL_RED_SIZE, 8, C.EGL_GREEN_SIZE, 8, C.EGL_BLUE_SIZE, 8, C.EGL_ALPHA_SIZE, 8,
		C.EGL_NONE,
	}
	var cfg C.EGLConfig
	var n C.EGLint
	if C.sk_choose(dpy, &attrs[0], &cfg, &n) == C.EGL_TRUE && n > 0 {
		return cfg, nil
	}
	var none C.EGLConfig
	if hasExt(exts, "EGL_KHR_no_config_context") {
		return C.EGLConfig(unsafe.Pointer(nil)), nil // EGL_NO_CONFIG_KHR
	}
	return none, errors.New("no RGBA8 OpenGL config (eglChooseConfig found none)")
}

func goString(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

// GetProcAddress returns the address of an OpenGL (or EGL) function, for
// gl.InitWithProcAddrFunc; nil when there is none.
func (c *Context) GetProcAddress(name string) unsafe.Pointer {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return C.sk_procAddress(cname)
}

// Close releases the context from the calling thread, destroys it and
// terminates the display. It is idempotent; the error is the first EGL call
// that failed.
func (c *Context) Close() error {
	if c == nil || c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	if C.sk_current(c.dpy, C.EGLContext(unsafe.Pointer(nil))) != C.EGL_TRUE {
		errs = append(errs, eglError("eglMakeCurrent(EGL_NO_CONTEXT)"))
	}
	if C.sk_destroy(c.dpy, c.ctx) != C.EGL_TRUE {
		errs = append(errs, eglError("eglDestroyContext"))
	}
	if C.sk_term(c.dpy) != C.EGL_TRUE {
		errs = append(errs, eglError("eglTerminate"))
	}
	C.sk_release()
	return errors.Join(errs...)
}
