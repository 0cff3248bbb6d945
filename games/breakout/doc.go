// Breakout is a sample game for the skyloop engine, and an example for game
// makers: a paddle, a ball and a wall of bricks in a few hundred lines that use
// only the public packages engine, engine/gfx and engine/input.
//
// Where it sits in the flow: it is a game on top of engine. It implements
// engine.Game (Update at a fixed tick, Draw each frame, a fixed 640x480
// logical screen that the engine letterboxes into any window) and hands
// itself to engine.Run. When the player's config enables them, the engine's
// capture records its frames and sync carries the recording to the sinks;
// the game knows nothing of either.
//
// It keeps a record through engine.Saves() (engine/saves), in the save slot
// "record": the best score (saves.Best), the bricks broken in all
// (saves.Counter, each device counting its own) and achievements
// (saves.Unlocks: first-brick, wall-cleared, level-2, score-1000,
// no-lives-lost-level). The first Update reads it, the HUD and the cleared
// and game-over screens show it, and it is saved when a wall is cleared,
// when a game is over and when Run ends (Finish, so -frames runs save too).
// Saves are local first and synced through the same sinks as recordings:
// when another device's version arrives, the engine calls SavesChanged
// and the game reads the merged record again (its best and its bricks
// added to this device's), keeping what it has not saved yet. With saves
// off (engine.Saves() is nil) the game plays the same, keeping the record
// for the run only; a run that starts with no saves draws exactly what a
// run with saves off draws.
//
// Its screen is mostly static — a flat background on which only the ball,
// the paddle and the odd brick change — so it is the "easy to compress" game
// for the capture benchmarks.
//
// Usage:
//
//	breakout [-size WxH] [-frames N] [-autoplay] [-seed S] [-config FILE] [-vsync=false] [-tps N] [-bench]
//
// Controls: arrow keys or A/D, the mouse, or a gamepad's left stick or d-pad
// move the paddle; Space, Enter, a click or the gamepad's A button launch
// the ball and restart after game over; Escape quits. With -autoplay the
// paddle follows the ball by itself and the game plays forever,
// deterministically for a given -seed.
package main
