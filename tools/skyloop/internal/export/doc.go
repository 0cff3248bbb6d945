// Package export turns decoded frames of a recorded session into files a
// player can share: numbered PNG files, an animated GIF or an MP4 (through
// an ffmpeg process). It sits at the end of the tool's read path:
// sink → recordings.FrameReader → export.
//
// Timing: frames carry their capture times. GIF delays and MP4 frame
// repetition follow those times, so a gap in the recording (frames dropped
// or lost) shows as the frame before it held for the gap's duration. PNG
// export writes one file per stored frame and skips missing ones. The last
// exported frame is shown for the median frame interval of the export.
//
// Memory stays bounded whatever the length of the session: frames are
// processed as a stream with a fixed number of buffers in flight.
package export
