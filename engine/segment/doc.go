// Package segment is skyloop's container for captured game frames: it packs
// raw frames into self-contained segments (about two seconds of frames each)
// and decodes them again. It is pure Go (no cgo), so tools and plugins build
// without a C compiler.
//
// Where it sits in the flow:
//
//	engine/capture ─► bounded queue ─► encoder workers ─► segment.Writer ─► engine/spool ─► sinks
//	                                   (EncodeFrame,       (one object        (one queue
//	                                    in parallel)        per segment)       per sink)
//	tools/skyloop (verify, export, serve) ─► segment.Reader
//
// Capture hands over frames of RGBA8 pixels (4 bytes a pixel, rows
// top-down, stride width*4) with a sequence number and a capture time.
// Encoder workers compress them with EncodeFrameWith, which is stateless and
// safe for concurrent use: a key frame is the compressed pixels, a delta
// frame codes only the tiles that changed since the frame written before it
// (as XOR deltas, shifted copies of the previous frame — a scrolling
// camera, a moving sprite — or intra predictions; EncodeFrame codes the
// whole frame's XOR, as version 1 did). One goroutine
// then writes the results in order with Writer.WriteEncoded (or, simply,
// Writer.WriteFrame compresses and writes in one call). Every segment starts
// with a key frame and has one at least every KeyInterval frames, so each
// segment decodes alone and a reader can seek within it.
//
// A segment is a 64-byte header, one record per frame (a header with its own
// CRC32C — about 15 bytes of varints in version 3, 36 before — then the
// payload, whose CRC32C the header holds), an index
// of all records and a 32-byte trailer. Readers use the index when the
// trailer is intact, and otherwise scan forward from the start, so the
// prefix a crashed game leaves behind is readable up to its last complete
// frame. Dropped frames show as gaps in the sequence numbers. The byte-level
// format is specified in docs/segment-format.md.
package segment
