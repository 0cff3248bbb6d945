// Package input holds the keyboard, mouse, gamepad and text-input state that
// a game reads in Update.
//
// Where it sits in the flow: the engine records window events (GLFW
// callbacks) as they arrive and applies them at the start of each fixed tick,
// so "just pressed" and "just released" mean "since the previous Update",
// whatever the frame rate. A press and release that both land between two
// ticks still show as JustPressed and JustReleased in the next tick, so no
// tap is lost. Mouse positions are in the game's logical screen coordinates.
//
// A game only reads a State: feeding it events is the engine's side, reached
// through engine/internal/bridge. Tests of a game's Update drive a State
// with engine/input/inputtest, which queues events and applies them at each
// Tick exactly as the engine does.
package input
