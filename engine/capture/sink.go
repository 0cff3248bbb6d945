package capture

import (
	"context"
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
// owns data only for the duration of the call.
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
