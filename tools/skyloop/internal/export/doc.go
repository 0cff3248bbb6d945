// Package export turns decoded frames of a recorded session into files a
// player can share: numbered PNG files, an animated GIF or an MP4 (through
// an ffmpeg process). It sits at the end of the tool's read path:
// sink → recordings.FrameReader → export.
//
// Timing: frames carry their capture times. GIF delays and MP4 frame
// repetition follow those times, so a gap in the recording (frames dropped
// or lost) shows as the frame before it held for the gap's duration. PNG
// export writes one file per stored frame and skips missing ones. A damaged
// frame (one the Source passes with its damage) is treated as a missing
// one — PNG writes no file, GIF and MP4 hold the intact frame before it —
// and listed in Result.Damaged; Job.Strict makes it an error instead, and
// an export with no intact frame fails (ErrNothingIntact). The last
// exported frame is shown for the median frame interval of the export.
// With Job.FPS both GIF and MP4 run on the same clock of FPS ticks a
// second (pick): each tick shows the frame on screen at its middle, so the
// GIF's delays add up to the MP4's frame count. The MP4's rate is a Rate
// (Num/Den), the recording's snapped to a standard one (SnapRate) unless
// FPS is given.
//
// Overwriting: CheckOut is the one rule for every format — an existing
// output is refused with ErrExists unless Job.Force, which replaces it.
//
// Memory stays bounded whatever the length of the session: frames are
// processed as a stream with a fixed number of buffers in flight.
package export
