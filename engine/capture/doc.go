// Package capture records what the game renders without stalling it.
//
// Where it sits in the flow: after the game's Draw, on the render thread,
// the Recorder issues a readback of the screen framebuffer — a
// glReadPixels into the next pixel buffer object of a ring plus a fence
// ("pbo" mode), or a plain synchronous read ("sync" mode, cheapest on
// software renderers such as Mesa llvmpipe, where rendering is synchronous
// anyway). A PBO whose fence has signalled is mapped on the render thread,
// its bytes are copied out by a copier goroutine, and it is unmapped on the
// render thread at a later frame; a PBO that is not ready is never waited
// for. Frames (pooled buffers, rows top-down, with a sequence number and a
// capture time) go into a bounded queue; encoder workers turn them into
// tiled version-2 records (engine/segment: only changed tiles, at an effort
// the EffortController picks from the encoders' headroom and the machine's
// idle CPU, effort.go), which are packed in order into
// self-contained segments and handed to a SegmentSink — in a game, the
// engine's spool, which delivers them to every sink's plugin.
//
// When the queue is full the configured drop policy applies (drop the
// newest frame, drop the oldest queued frame, or block — tests only); every
// drop is counted and shows as a gap in the recorded sequence numbers.
//
// In replay mode (capture.mode "replay" or "both") frames also go to an
// instant-replay buffer (replay.go; a frame due for both is read back once
// and shared): the last Window of encoded frames in
// memory, under a byte cap, stored nowhere until SaveReplay writes the
// window as an ordinary session (starting on a key frame) to the same
// SegmentSink. Capture times come from the engine's clock.
package capture
