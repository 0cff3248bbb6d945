// Package inputtest drives an input.State from a test the way the engine
// does from window events, so a game's Update can be tested without a
// window:
//
//	in := inputtest.New()
//	in.Press(input.KeyRight)
//	for range 5 {
//		if err := g.Update(in.Tick()); err != nil {
//			t.Fatal(err)
//		}
//	}
//
// Where it sits in the flow: it stands in for the engine's loop in front of
// engine/input. Events (Press, Release, Cursor, …) are queued like window
// events and take effect together at the next Tick, exactly as at the start
// of a tick in the engine, so JustPressed and JustReleased mean what they
// mean in a running game. Gamepads are "polled" at every Tick with the
// state the test set. It needs no display and no GL.
package inputtest
