package bridge

import "image"

// Renderer is one GL context's renderer, implemented by engine/gfx. All
// methods must be called on the render thread with the context current.
type Renderer interface {
	// Begin starts a frame on the w×h offscreen screen framebuffer and
	// returns the *gfx.Canvas to draw on.
	Begin(w, h int) (canvas any, err error)
	// End flushes what was drawn since Begin or BeginOverlay.
	End()
	// BeginOverlay starts drawing on the window itself (the default
	// framebuffer), over the presented frame, in window pixels with (0, 0)
	// at the top-left; it returns the *gfx.Canvas to draw on. Nothing drawn
	// there is in the screen framebuffer or its window copy.
	BeginOverlay(winW, winH int) (canvas any)
	// Present puts the screen framebuffer into the window at viewport,
	// letterboxed; with keepCopy it also keeps the window image, top-down,
	// in WindowFramebuffer.
	Present(winW, winH int, viewport image.Rectangle, keepCopy bool) error
	// ScreenFramebuffer is the offscreen framebuffer of the last frame
	// (rows top-down): what capture reads back.
	ScreenFramebuffer() (fbo uint32, w, h int)
	// WindowFramebuffer is the top-down copy of the last presented window
	// image (fbo 0 unless Present kept one).
	WindowFramebuffer() (fbo uint32, w, h int)
	// LastStats are the draw calls and vertices of the last frame.
	LastStats() (drawCalls, vertices int)
	// Close deletes the renderer's GL objects; it is idempotent.
	Close()
}

// NewRenderer creates a Renderer in the current GL 4.1 core context (gl.Init
// done). engine/gfx sets it.
var NewRenderer func() (Renderer, error)

// Input feeds events into one input.State, implemented by engine/input.
// Events take effect at the next BeginTick, in the order they came.
type Input interface {
	Key(key int, down bool)
	MouseButton(button int, down bool)
	// Cursor is in the game's logical screen coordinates.
	Cursor(x, y float64)
	Wheel(dx, dy float64)
	Char(r rune)
	// Gamepad sets gamepad id as polled at this tick (call it after
	// BeginTick); buttons and axes are indexed by input.GamepadButton and
	// input.GamepadAxis, extra entries are ignored. connected=false removes
	// the gamepad.
	Gamepad(id int, connected bool, name string, buttons []bool, axes []float32)
	// BeginTick applies the events recorded since the previous tick; the
	// engine calls it before each Update.
	BeginTick()
}

// NewInput returns a new, empty *input.State and the Input that drives it.
// engine/input sets it.
var NewInput func() (state any, in Input)
