// Arena is a sample game for skyloop and an example for game makers: a
// top-down arena shooter. Move with WASD or the arrow keys (or the left
// stick), aim with the mouse (or the right stick), shoot with the left button
// or Space. Waves of enemies chase the ship; survive and score. Enter
// restarts after a game over, Escape quits. With -autoplay the ship flies
// itself, deterministically for a given -seed.
//
// What it shows: game state that changes only in Update at the fixed tick,
// a Draw that only reads it; sprites cut from one procedurally generated
// sheet (rotated, scaled and tinted, so hundreds of them stay in a few draw
// calls); shapes; text; keyboard, mouse and gamepad input.
//
// Where it sits in the flow: a game on top of package engine, which runs the
// loop and renders through engine/gfx. When the player's config enables
// them, capture records every rendered frame and sync stores the recording;
// the game knows nothing of either. Its background changes almost every
// pixel every tick, which makes it the hard-to-compress case for the capture
// benchmarks.
package main
