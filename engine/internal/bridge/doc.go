// Package bridge hands the engine the driving side of engine/gfx and
// engine/input: the renderer that owns a GL context and turns frames into
// window images, and the feed of window events into an input.State. Games
// draw on a *gfx.Canvas and read an *input.State; what creates and drives
// those is the engine's, and lives behind this internal package so that no
// game can call it (as Ebitengine keeps its platform code under internal/).
//
// Where it sits in the flow: engine/gfx and engine/input fill in the
// constructors below from their init functions; engine (Run's loop) and
// engine/input/inputtest (which drives an input.State in game tests) call
// them. Nothing here touches GL or GLFW itself.
package bridge
