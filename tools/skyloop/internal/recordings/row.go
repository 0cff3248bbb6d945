package recordings

import "time"

// Row is a session in one line: what `skyloop sessions --json` prints and
// the viewer's session list serves.
type Row struct {
	Session   string    `json:"session"` // GAME/PLAYER/SESSION
	Sink      string    `json:"sink"`
	Game      string    `json:"game"`
	Player    string    `json:"player"`
	ID        string    `json:"id"`
	Start     time.Time `json:"start"`
	Duration  float64   `json:"duration_seconds"`
	Frames    int       `json:"frames"`
	GapFrames uint64    `json:"gap_frames"`
	Width     int       `json:"width"`
	Height    int       `json:"height"`
	Segments  int       `json:"segments"`
	Bytes     int64     `json:"bytes"`
	Problems  int       `json:"problems"` // unreadable segments and missing ones
	Ended     bool      `json:"ended"`    // the session's end record is there
	// Live: no end record yet and written to within LiveWindow (or three
	// of its segment intervals): still recording. Not ended and not live:
	// the recording stopped without ending (a crash, a kill).
	Live bool `json:"live"`
	// Replay: an instant-replay clip (capture.mode "replay" or "both"),
	// saved by the player, not a recording of a whole session.
	Replay bool `json:"replay"`
	// Damage is the kinds of damage the listing found (missing, foreign,
	// misnumbered, zero-length, truncated, crc, corrupt, version), empty
	// when it found none. A listing reads headers and indexes only, so a
	// payload whose CRC fails is found by verify, export and the viewer.
	Damage []Kind `json:"damage"`
}

// DamageFound reports whether the listing found damage.
func (r Row) DamageFound() bool { return len(r.Damage) > 0 }

// NewRow describes s from its summary.
func NewRow(s *Session, sum Summary) Row {
	start := sum.SessionStart
	if start.IsZero() {
		start = sum.Start
	}
	return Row{
		Session: s.Ref(), Sink: s.Sink, Game: s.Game, Player: s.Player, ID: s.ID,
		Start: start, Duration: sum.Duration().Seconds(), Frames: sum.Frames, GapFrames: sum.GapFrames(),
		Width: sum.Width, Height: sum.Height, Segments: len(s.Segments), Bytes: s.Bytes,
		Problems: len(sum.Problems) + len(sum.MissingSegments), Ended: sum.Ended(),
		Damage: append([]Kind{}, sum.DamageKinds()...),
		Replay: sum.Manifest != nil && sum.Manifest.Replay,
	}
}
