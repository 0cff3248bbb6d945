// Rects is a synthetic sample game for the skyloop engine's capture
// benchmarks: 200 alpha-blended rectangles of 8 to 64 pixels, in an
// 8-colour palette with alpha 160 to 255, bounce about a dark screen at up
// to 6 pixels a tick, under one line of text. Nearly every frame changes
// all over the screen, so it is the "hard to compress" scene: the one
// `skyloop bench capture --scene rects` measures capture against.
//
// Where it sits in the flow: it is a game on top of engine, like breakout
// and arena. Its logical screen is the window (Layout returns the window
// size), so what is recorded is exactly the -size asked for, and the same
// -seed draws the same frames at that size. -autoplay changes nothing: it
// plays itself anyway.
//
// Usage:
//
//	rects [-size WxH] [-frames N] [-seed S] [-config FILE] [-vsync=false] [-lockstep] [-bench]
//
// Escape quits.
package main
