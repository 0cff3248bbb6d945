// Package engine runs a game: it opens the window and the OpenGL 4.1 core
// context, calls the game's Update at a fixed tick and its Draw every frame,
// scales the game's logical screen into the window with letterboxing, and
// feeds input.
//
// With no display (DISPLAY and WAYLAND_DISPLAY unset, or GLFW unable to
// start), or with -headless (Options.Headless), it opens no window: the
// context comes from EGL with no surface (engine/internal/egl: NVIDIA's or
// Mesa's device platform, or Mesa's surfaceless platform), the game gets
// no input, Layout gets the -size, and capture reads the offscreen
// framebuffer as in a window (docs/headless.md).
//
// Where it sits in the flow: it is the top of the engine. A game implements
// Game and calls Run from its main goroutine; the render thread (the locked
// OS thread Run runs on) owns every GL call. Later stages — capture of the
// rendered frames, the spool and the sync plugins — hang off this loop and
// never block it.
//
// A minimal game:
//
//	type game struct{ x float64 }
//
//	func (g *game) Update(in *input.State) error {
//		if in.Pressed(input.KeyEscape) {
//			return engine.ErrQuit
//		}
//		g.x++
//		return nil
//	}
//	func (g *game) Draw(screen *gfx.Canvas) {
//		screen.Clear(color.Black)
//		screen.FillRect(g.x, 100, 20, 20, color.White)
//	}
//	func (g *game) Layout(w, h int) (int, int) { return 320, 240 }
//
//	func main() {
//		opts := engine.MustParseFlags("mygame", os.Args[1:])
//		if err := engine.Run(&game{}, opts); err != nil {
//			log.Fatal(err)
//		}
//	}
package engine
