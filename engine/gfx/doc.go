// Package gfx is skyloop's 2D renderer: GL objects (shaders, textures,
// framebuffers) and a batched drawing API for games.
//
// Where it sits in the flow: the engine loop calls a game's Draw with a
// *Canvas; every shape, sprite and glyph drawn on it is appended to a vertex
// batch that is flushed with one draw call per texture change. The canvas is
// an offscreen framebuffer of the game's logical size whose rows are stored
// top-down (the projection is flipped), so engine/capture can read it back
// without a CPU flip; the engine then blits it, letterboxed and Y-inverted,
// to the window. The renderer that owns the GL context is the engine's: it
// is not exported, and the engine reaches it through engine/internal/bridge.
//
// Textures are uploaded on the render thread when an Image is first drawn
// or its pixels changed, and glyphs when Text first draws them; an upload in
// the middle of a frame never changes what was drawn before it in that
// frame. Fonts: DefaultFace, MonoFace and NewFace cache their faces (one per
// font and size, each with a glyph atlas), so calling DefaultFace in Draw
// every frame is cheap; NewFace says what a face costs.
//
// Colors are premultiplied alpha (image/color's RGBA convention) and blending
// is "source over" for premultiplied colors. All methods that touch GL must be
// called on the render thread, which the engine guarantees for Draw.
package gfx
