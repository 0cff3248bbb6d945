//go:build !linux

package egl

import (
	"errors"
	"unsafe"
)

// DefaultLibrary is the library Open would load on Linux.
const DefaultLibrary = "libEGL.so.1"

// Platforms Open can use (on Linux).
const (
	PlatformDevice      = "device"
	PlatformSurfaceless = "surfaceless"
	PlatformDefault     = "default"
)

// ErrNoLibrary is returned by Open where headless EGL is not supported.
var ErrNoLibrary = errors.New("no EGL library: headless EGL is supported on Linux only")

// ErrNoPlatform is returned (wrapped) by Open when no platform works.
var ErrNoPlatform = errors.New("no EGL platform with a surfaceless OpenGL 4.1 core context")

// Options say what Open tries.
type Options struct {
	Library      string
	Platform     string
	Major, Minor int
}

// Context is a current OpenGL core context with no surface.
type Context struct {
	Platform, Device, Version, Vendor string
}

// Open fails: headless EGL is supported on Linux only.
func Open(Options) (*Context, error) { return nil, ErrNoLibrary }

// GetProcAddress returns nil.
func (c *Context) GetProcAddress(string) unsafe.Pointer { return nil }

// Close does nothing.
func (c *Context) Close() error { return nil }
