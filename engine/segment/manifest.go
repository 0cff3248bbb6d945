package segment

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ManifestName is the object written beside a session's segments when the
// recording ends: GAME/PLAYER/sessions/SESSION/session.json. Its presence
// says the session ended cleanly; its counts let a reader tell "complete"
// from "lost its last segments", which the segments alone cannot.
const ManifestName = "session.json"

// ManifestKey returns the manifest's key under a session prefix.
func ManifestKey(prefix string) string { return prefix + ManifestName }

// ParseManifestKey takes a manifest key apart (KeyParts.Index is 0).
func ParseManifestKey(key string) (KeyParts, bool) {
	dir, ok := strings.CutSuffix(key, "/"+ManifestName)
	if !ok {
		return KeyParts{}, false
	}
	k, ok := ParseKey(dir + "/00000000.seg")
	return k, ok
}

// ManifestVersion is the version this package writes and reads.
const ManifestVersion = 1

// Manifest is the end-of-session record (JSON).
type Manifest struct {
	Version  int       `json:"version"`
	Game     string    `json:"game"`
	Player   string    `json:"player"`
	Session  string    `json:"session"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Width    int       `json:"width"`
	Height   int       `json:"height"`
	Segments uint64    `json:"segments"` // segments 0..Segments-1 were written
	// Frames numbered 0..Sequenced-1 were captured; Frames of them were
	// written into segments, Dropped were dropped under load (the drop
	// policy, or a busy readback ring) and are gaps by design.
	Sequenced uint64 `json:"sequenced"`
	Frames    uint64 `json:"frames"`
	Dropped   uint64 `json:"dropped"`
	// Lost lists segments that were written but could not be kept (the
	// spool's disk was full, or the spool refused them): they are not in
	// any sink and never will be. Their frames are among Frames.
	Lost []LostSegment `json:"lost,omitempty"`
	// Stored summarizes the segments kept (see Stored); nil in end records
	// of older writers, whose readers then read the segments.
	Stored *Stored `json:"stored,omitempty"`
	// Replay marks an instant-replay clip: the last seconds before a save,
	// not a recording started and stopped by the player.
	Replay bool `json:"replay,omitempty"`
}

// LostSegment is one segment a session lost before storing it.
type LostSegment struct {
	Index    uint64 `json:"index"`
	FirstSeq uint64 `json:"first_seq"`
	Frames   uint64 `json:"frames"`
	Reason   string `json:"reason"` // e.g. "no room in the spool"
}

// LostFrames is the number of frames in the lost segments.
func (m Manifest) LostFrames() uint64 {
	var n uint64
	for _, l := range m.Lost {
		n += l.Frames
	}
	return n
}

// MarshalManifest encodes m (with the current version).
func MarshalManifest(m Manifest) ([]byte, error) {
	m.Version = ManifestVersion
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ErrManifest means a manifest that cannot be used.
var ErrManifest = errors.New("session manifest unusable")

// ParseManifest decodes and checks a manifest.
func ParseManifest(data []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	return m.check()
}

// check returns m when its counts agree with each other.
func (m Manifest) check() (Manifest, error) {
	switch {
	case m.Version != ManifestVersion:
		return Manifest{}, fmt.Errorf("%w: version %d, this build reads version %d", ErrManifest, m.Version, ManifestVersion)
	case m.Frames > m.Sequenced || m.Dropped > m.Sequenced:
		return Manifest{}, fmt.Errorf("%w: %d frames written and %d dropped of %d captured", ErrManifest, m.Frames, m.Dropped, m.Sequenced)
	case m.LostFrames() > m.Frames:
		return Manifest{}, fmt.Errorf("%w: %d frames in lost segments, %d written", ErrManifest, m.LostFrames(), m.Frames)
	}
	for _, l := range m.Lost {
		if l.Index >= m.Segments {
			return Manifest{}, fmt.Errorf("%w: lost segment %d of %d", ErrManifest, l.Index, m.Segments)
		}
	}
	if st := m.Stored; st != nil {
		switch {
		case st.Segments > m.Segments:
			return Manifest{}, fmt.Errorf("%w: %d segments stored of %d written", ErrManifest, st.Segments, m.Segments)
		case st.Frames > m.Frames:
			return Manifest{}, fmt.Errorf("%w: %d frames stored of %d written", ErrManifest, st.Frames, m.Frames)
		case st.Frames > 0 && (st.FirstSeq > st.LastSeq || st.LastSeq >= m.Sequenced):
			return Manifest{}, fmt.Errorf("%w: stored frames %d-%d of %d captured", ErrManifest, st.FirstSeq, st.LastSeq, m.Sequenced)
		case st.Bytes < 0:
			return Manifest{}, fmt.Errorf("%w: %d bytes stored", ErrManifest, st.Bytes)
		}
	}
	return m, nil
}
