package capture

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// SessionKeyPrefix returns GAME/PLAYER/sessions/SESSION/, the prefix of a
// session's segment keys in every sink.
func SessionKeyPrefix(game, player, session string) string {
	return game + "/" + player + "/sessions/" + session + "/"
}

// SegmentKey returns the key of segment index of a session.
func SegmentKey(prefix string, index uint64) string {
	return fmt.Sprintf("%s%08d.seg", prefix, index)
}

// NewSessionID returns an id that sorts by start time: UTC to the
// millisecond, plus a suffix against collisions.
func NewSessionID(start time.Time) string {
	return start.UTC().Format("20060102T150405.000Z") + fmt.Sprintf("-%04x", start.UnixNano()&0xffff)
}

// DirSink writes each segment to Root/KEY atomically (temporary file,
// fsync, rename), so a reader never sees half a segment.
type DirSink struct {
	Root string
}

// PutSegment implements SegmentSink.
func (d DirSink) PutSegment(_ context.Context, info SegmentInfo, data []byte) error {
	if strings.Contains(info.Key, "..") || strings.HasPrefix(info.Key, "/") {
		return fmt.Errorf("capture: segment key %q escapes the sink root", info.Key)
	}
	path := filepath.Join(d.Root, filepath.FromSlash(info.Key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("capture: segment directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.seg")
	if err != nil {
		return fmt.Errorf("capture: segment file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("capture: segment file mode: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("capture: write segment %s: %w", info.Key, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("capture: sync segment %s: %w", info.Key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("capture: close segment %s: %w", info.Key, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("capture: publish segment %s: %w", info.Key, err)
	}
	return nil
}
