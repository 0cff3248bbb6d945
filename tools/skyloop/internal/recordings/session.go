package recordings

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
	"github.com/skyloop-engine/skyloop/sdk"
)

// Session is one recorded session in one sink, as its keys show it.
type Session struct {
	Sink     string // the sink's name in the config
	Game     string
	Player   string
	ID       string // SESSION: sorts by start time
	Segments []SegmentRef
	Bytes    int64 // stored bytes of all segments
	// Manifest is the session's end record (segment.Manifest), written when
	// the recording ended; Key is "" when there is none.
	Manifest SegmentRef
	// Modified is the newest modification time the sink lists for the
	// session's segments and end record (zero when the plugin reports none):
	// how recently the session was written to.
	Modified time.Time
}

// SegmentRef is one stored segment object.
type SegmentRef struct {
	Key   string
	Index uint64
	Size  int64
}

// Ref is GAME/PLAYER/SESSION, the name the tool prints and accepts.
func (s *Session) Ref() string { return s.Game + "/" + s.Player + "/" + s.ID }

// List returns the sessions stored in st, sorted by game, player and
// session (so by start time within a player). prefix narrows the listing
// ("" for everything, "GAME/" for one game). Keys that are not segment keys
// (saves, stray files) are ignored.
func List(ctx context.Context, st Store, sink, prefix string) ([]*Session, error) {
	byPrefix := map[string]*Session{}
	session := func(k segment.KeyParts) *Session {
		s := byPrefix[k.Prefix()]
		if s == nil {
			s = &Session{Sink: sink, Game: k.Game, Player: k.Player, ID: k.Session}
			byPrefix[k.Prefix()] = s
		}
		return s
	}
	err := st.List(ctx, prefix, func(o sdk.ObjectInfo) error {
		if k, ok := segment.ParseManifestKey(o.Key); ok {
			s := session(k)
			s.Manifest = SegmentRef{Key: o.Key, Size: o.Size}
			s.touch(o.Modified)
			return nil
		}
		k, ok := segment.ParseKey(o.Key)
		if !ok {
			return nil
		}
		s := session(k)
		s.touch(o.Modified)
		s.Segments = append(s.Segments, SegmentRef{Key: o.Key, Index: k.Index, Size: o.Size})
		s.Bytes += o.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sink %s: %w", sink, err)
	}
	out := make([]*Session, 0, len(byPrefix))
	for _, s := range byPrefix {
		slices.SortFunc(s.Segments, func(a, b SegmentRef) int { return cmpUint(a.Index, b.Index) })
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *Session) int { return strings.Compare(a.Ref(), b.Ref()) })
	return out, nil
}

func (s *Session) touch(t time.Time) {
	if t.After(s.Modified) {
		s.Modified = t
	}
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ErrNoSession means no stored session matches what the user asked for.
var ErrNoSession = errors.New("no such session")

// Find returns the one session in sessions that ref names: the whole
// GAME/PLAYER/SESSION, the SESSION id, or a unique prefix of either. Zero or
// several matches are errors that say what was looked for and, for
// several, which ones matched.
func Find(sessions []*Session, ref string) (*Session, error) {
	ref = strings.TrimSuffix(ref, "/")
	if ref == "" {
		return nil, fmt.Errorf("%w: empty session name (see 'skyloop sessions')", ErrNoSession)
	}
	var exact, prefixed []*Session
	for _, s := range sessions {
		switch {
		case s.Ref() == ref || s.ID == ref:
			exact = append(exact, s)
		case strings.HasPrefix(s.Ref(), ref) || strings.HasPrefix(s.ID, ref):
			prefixed = append(prefixed, s)
		}
	}
	matches := exact
	if len(matches) == 0 {
		matches = prefixed
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("%w: %q matches no recorded session (list them with 'skyloop sessions')", ErrNoSession, ref)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, s := range matches {
		names[i] = s.Ref()
	}
	if len(names) > 5 {
		names = append(names[:5], "…")
	}
	return nil, fmt.Errorf("%q matches %d sessions (%s): give more of GAME/PLAYER/SESSION", ref, len(matches), strings.Join(names, ", "))
}

// Gap is a run of missing frame sequence numbers, From..To inclusive:
// frames dropped under load, or frames of a lost segment.
type Gap struct {
	From, To uint64
}

// Frames is how many frames the gap spans.
func (g Gap) Frames() uint64 { return g.To - g.From + 1 }

func (g Gap) String() string {
	if g.From == g.To {
		return fmt.Sprintf("frame %d", g.From)
	}
	return fmt.Sprintf("frames %d-%d", g.From, g.To)
}

// Problem is something unreadable in a session.
type Problem struct {
	Key    string // segment key
	Seq    uint64 // frame, when HasSeq
	ToSeq  uint64 // last frame of a run of frames with the same problem
	HasSeq bool
	Offset int64 // byte offset in the segment, -1 when not known
	Msg    string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Key)
	switch {
	case p.HasSeq && p.ToSeq > p.Seq:
		fmt.Fprintf(&b, " frames %d-%d", p.Seq, p.ToSeq)
	case p.HasSeq:
		fmt.Fprintf(&b, " frame %d", p.Seq)
	}
	if p.Offset >= 0 {
		fmt.Fprintf(&b, " at byte %d", p.Offset)
	}
	b.WriteString(": ")
	b.WriteString(p.Msg)
	return b.String()
}

func problemOf(key string, err error) Problem {
	p := Problem{Key: key, Offset: -1, Msg: err.Error()}
	var fe *segment.FormatError
	if errors.As(err, &fe) {
		p.Offset, p.Seq, p.ToSeq, p.HasSeq = fe.Offset, fe.Seq, fe.Seq, fe.HasSeq
		p.Msg = fe.Kind.Error() + ": " + fe.Msg
	}
	return p
}

// FrameInfo is one frame as a segment's index lists it.
type FrameInfo struct {
	Seq     uint64
	Time    time.Time
	Key     bool
	Segment int // position in Session.Segments
}

// Summary is what a session's segment headers and indexes say.
type Summary struct {
	Width, Height   int
	Frames          int // frames stored
	FirstSeq        uint64
	LastSeq         uint64
	Start, End      time.Time // capture times of the first and last stored frame
	SessionStart    time.Time // from the segment header
	Gaps            []Gap     // missing sequence numbers (from 0 to LastSeq)
	MissingSegments []uint64  // segment numbers absent from the sink
	Problems        []Problem // segments whose header or index is unreadable
	Index           []FrameInfo
	// Manifest is the session's end record, nil when the recording did not
	// end cleanly (still recording, or the game crashed or was killed) or
	// the manifest is unreadable (then a Problem says why).
	Manifest *segment.Manifest
}

// Ended reports whether the session has its end record.
func (s Summary) Ended() bool { return s.Manifest != nil }

// Duration is the capture time from the first to the last stored frame.
func (s Summary) Duration() time.Duration {
	if s.Frames == 0 {
		return 0
	}
	return s.End.Sub(s.Start)
}

// GapFrames is the number of missing frames.
func (s Summary) GapFrames() uint64 {
	var n uint64
	for _, g := range s.Gaps {
		n += g.Frames()
	}
	return n
}

// Summarize reads every segment's header and index with ranged Gets.
// Unreadable segments become Problems; only a failing store is an error.
func (s *Session) Summarize(ctx context.Context, st Store) (Summary, error) {
	var sum Summary
	m, p, err := s.readManifest(ctx, st)
	if err != nil {
		return Summary{}, err
	}
	sum.Manifest = m
	if p != nil {
		sum.Problems = append(sum.Problems, *p)
	}
	var expect uint64
	for i, ref := range s.Segments {
		for ; expect < ref.Index; expect++ {
			sum.MissingSegments = append(sum.MissingSegments, expect)
		}
		expect = ref.Index + 1
		f := newRangedFile(ctx, st, ref.Key, ref.Size)
		r, err := segment.NewReader(f, ref.Size)
		if err != nil {
			if ctx.Err() != nil || isStoreError(err) {
				return Summary{}, err
			}
			sum.Problems = append(sum.Problems, problemOf(ref.Key, err))
			continue
		}
		h := r.Header()
		if p, bad := checkHeader(&sum, ref, h); bad {
			sum.Problems = append(sum.Problems, p)
		}
		if r.Truncated() {
			sum.Problems = append(sum.Problems, Problem{Key: ref.Key, Offset: -1, Msg: "segment index missing or damaged: only the frames before the damage are readable"})
		}
		for _, e := range r.Index() {
			sum.Index = append(sum.Index, FrameInfo{Seq: e.Seq, Time: e.Time, Key: e.Key, Segment: i})
		}
		r.Close()
	}
	slices.SortStableFunc(sum.Index, func(a, b FrameInfo) int { return cmpUint(a.Seq, b.Seq) })
	sum.Index = slices.CompactFunc(sum.Index, func(a, b FrameInfo) bool { return a.Seq == b.Seq })
	sum.Frames = len(sum.Index)
	sum.Gaps = gapsOf(sum.Index)
	if m != nil {
		sum.MissingSegments = append(sum.MissingSegments, missingAtEnd(expect, m)...)
		if g, ok := gapAtEnd(sum.Index, m); ok {
			sum.Gaps = append(sum.Gaps, g)
		}
	}
	if n := len(sum.Index); n > 0 {
		sum.FirstSeq, sum.LastSeq = sum.Index[0].Seq, sum.Index[n-1].Seq
		sum.Start, sum.End = sum.Index[0].Time, sum.Index[n-1].Time
	}
	return sum, nil
}

// checkHeader takes the frame size and session start from the first
// readable header and reports a header that disagrees with it or with its
// key.
func checkHeader(sum *Summary, ref SegmentRef, h segment.Header) (Problem, bool) {
	if h.Segment != ref.Index {
		return Problem{Key: ref.Key, Offset: 0, Msg: fmt.Sprintf("header says segment %d, the key says %d (a segment stored under the wrong name)", h.Segment, ref.Index)}, true
	}
	if sum.Width == 0 {
		sum.Width, sum.Height, sum.SessionStart = h.Width, h.Height, h.SessionStart
		return Problem{}, false
	}
	if h.Width != sum.Width || h.Height != sum.Height {
		return Problem{Key: ref.Key, Offset: 0, Msg: fmt.Sprintf("frames are %dx%d, earlier segments %dx%d", h.Width, h.Height, sum.Width, sum.Height)}, true
	}
	return Problem{}, false
}

// readManifest fetches and parses the session's manifest: nil without one;
// an unreadable one is a Problem, a failing store an error.
func (s *Session) readManifest(ctx context.Context, st Store) (*segment.Manifest, *Problem, error) {
	if s.Manifest.Key == "" {
		return nil, nil, nil
	}
	if s.Manifest.Size > 1<<20 {
		return nil, &Problem{Key: s.Manifest.Key, Offset: -1, Msg: fmt.Sprintf("%d bytes: too large for a session manifest", s.Manifest.Size)}, nil
	}
	data, err := fetch(ctx, st, s.Manifest.Key, s.Manifest.Size)
	if err != nil {
		return nil, nil, err
	}
	m, err := segment.ParseManifest(data)
	if err != nil {
		return nil, &Problem{Key: s.Manifest.Key, Offset: -1, Msg: err.Error()}, nil
	}
	if m.Game != s.Game || m.Player != s.Player || m.Session != s.ID {
		return nil, &Problem{Key: s.Manifest.Key, Offset: -1, Msg: fmt.Sprintf("names session %s/%s/%s", m.Game, m.Player, m.Session)}, nil
	}
	return &m, nil, nil
}

// missingAtEnd lists the segments the manifest counts beyond the last one
// stored (next is the number after it).
func missingAtEnd(next uint64, m *segment.Manifest) []uint64 {
	var out []uint64
	for i := next; i < m.Segments; i++ {
		out = append(out, i)
	}
	return out
}

// gapAtEnd is the frames the manifest counts after the last stored one.
func gapAtEnd(index []FrameInfo, m *segment.Manifest) (Gap, bool) {
	var next uint64
	if n := len(index); n > 0 {
		next = index[n-1].Seq + 1
	}
	if m.Sequenced > next {
		return Gap{From: next, To: m.Sequenced - 1}, true
	}
	return Gap{}, false
}

// gapsOf lists the sequence numbers missing from 0 to the last frame.
func gapsOf(index []FrameInfo) []Gap {
	var gaps []Gap
	var next uint64
	for _, f := range index {
		if f.Seq > next {
			gaps = append(gaps, Gap{From: next, To: f.Seq - 1})
		}
		next = f.Seq + 1
	}
	return gaps
}

// isStoreError tells a failing Get (network, plugin) from a damaged segment:
// segment errors wrap the segment package's kinds.
func isStoreError(err error) bool {
	return !errors.Is(err, segment.ErrCorrupt) && !errors.Is(err, segment.ErrTruncated) && !errors.Is(err, segment.ErrVersion)
}
