package capture

import (
	"context"
	"errors"
	"time"
)

// SegmentInfo describes a completed segment.
type SegmentInfo struct {
	Key      string // GAME/PLAYER/sessions/SESSION/NNNNNNNN.seg
	Index    uint64 // segment number within the session, from 0
	FirstSeq uint64
	LastSeq  uint64
	Frames   int
	Start    time.Time // capture time of the first frame
	End      time.Time // capture time of the last frame
}

// SegmentSink receives completed segments, one object each. PutSegment
// owns data only for the duration of the call. A sink that cannot keep a
// segment for lack of room returns an error wrapping ErrNoRoom: the
// pipeline counts its frames as dropped (Metrics.DroppedNoRoom), lists it
// in the session's end record and goes on recording. Any other error also
// lists the segment, and fails the pipeline's Close.
type SegmentSink interface {
	PutSegment(ctx context.Context, info SegmentInfo, data []byte) error
}

// ManifestSink is implemented by segment sinks that also store the
// manifest written when a session ends (segment.Manifest, at
// segment.ManifestKey): the engine's storage does; a sink without it gets
// segments only.
type ManifestSink interface {
	PutManifest(ctx context.Context, key string, data []byte) error
}

// SegmentJournaler is implemented by segment sinks that can keep a
// segment while it is still being written (the engine's spool): the
// pipeline appends the open segment's bytes and syncs them every
// PipelineConfig.JournalInterval, so a game that is killed loses only the
// frames since, and the next start delivers the segment cut short.
type SegmentJournaler interface {
	BeginSegment(key string) (SegmentJournal, error)
}

// SegmentJournal is one open segment's journal; Commit replaces PutSegment
// for it (with the same contract, ErrNoRoom included).
type SegmentJournal interface {
	Append(p []byte) error
	Sync() error
	Commit(ctx context.Context, info SegmentInfo, data []byte) error
	Abort()
}

// EvictionReporter is implemented by segment sinks that may drop a segment
// after accepting it (the engine's spool evicts the oldest to make room):
// when a session ends, the recorder asks which of its segments went, and
// why, to list them in the session's end record.
type EvictionReporter interface {
	// EvictedSegments returns the indices of the segments under the
	// session prefix that were dropped since accepted, with the reason,
	// and forgets them.
	EvictedSegments(sessionPrefix string) map[uint64]string
}

// ErrNoRoom: the sink has no room for the segment (the spool's disk is
// full). A counted, listed drop, not a failure of the recording.
var ErrNoRoom = errors.New("capture: no room to keep the segment")
