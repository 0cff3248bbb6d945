// Package gfx is skyloop's 2D renderer: GL objects (shaders, textures,
// framebuffers) and a batched drawing API for games.
//
// Where it sits in the flow: the engine loop calls a game's Draw with a
// *Canvas; every shape, sprite and glyph drawn on it is appended to a vertex
// batch that is flushed with one draw call per texture change. The canvas is
// an offscreen framebuffer of the game's logical size whose rows are stored
// top-down (the projection is flipped), so engine/capture can read it back
// without a CPU flip; the engine then blits it, letterboxed and Y-inverted,
// to the window.
//
// Colors are premultiplied alpha (image/color's RGBA convention) and blending
// is "source over" for premultiplied colors. All methods that touch GL must be
// called on the render thread, which the engine guarantees for Draw.
package gfx
