// Package recordings finds, summarizes, verifies and reads recorded
// sessions in a sink, through nothing but the sink's List and Get.
//
// Where it sits in the flow: the engine's capture pipeline writes segments
// (engine/segment) under GAME/PLAYER/sessions/SESSION/NNNNNNNN.seg in every
// sink, through the spool and the plugins; the skyloop tool starts the same
// plugins (engine/sync) and uses this package to turn their keys back into
// sessions and frames for `sessions`, `verify`, `export` and `serve`.
//
// Summaries read only each segment's header and index (ranged Gets through a
// small block cache), so listing a long session fetches kilobytes, not the
// whole recording. Verify and frame reading fetch whole segments.
//
// Damage: every segment is checked against the session it is stored under
// (the session start in its header must give the session's id, its number
// must be its key's, its frames must follow the previous segment's); one
// that fails is foreign or misnumbered and none of its frames count. Every
// run of frames a session lacks is a Gap with a Kind: dropped by the game,
// or damage (missing, foreign, misnumbered, zero-length, truncated, crc,
// corrupt, version). A summary finds what headers and indexes show; a
// payload whose CRC fails is found by decoding it (Verify, FrameReader,
// which reports it as a *Damage and goes on in Walk), and
// Summary.GapsWith adds what decoding found to the summary's gaps.
package recordings
