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
package recordings
