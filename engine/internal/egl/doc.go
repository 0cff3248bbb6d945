// Package egl opens an OpenGL 4.1 core context with no window and no
// surface through EGL, for the engine's headless mode: Mesa's surfaceless
// platform (EGL_MESA_platform_surfaceless, llvmpipe on CI) or EGL's device
// platform (EGL_EXT_platform_device, a GPU driver such as NVIDIA's, with no
// X server). The context is made current with EGL_NO_SURFACE
// (EGL_KHR_surfaceless_context): there is no default framebuffer, and
// everything is drawn into framebuffer objects.
//
// libEGL.so.1 (glvnd's dispatcher, or a vendor's) is loaded with dlopen the
// first time Open is called rather than linked, so a game binary still
// starts — and runs windowed — on a machine without it, and a missing
// library is an error that says what to install instead of a loader
// failure before main. Only the EGL headers are needed to build
// (Debian: libegl-dev).
//
// Where it sits in the flow: engine.Run calls Open on the render thread
// when it runs headless, initialises go-gl with Context.GetProcAddress,
// and Closes the context when Run ends. Nothing else in the engine touches
// EGL.
package egl
