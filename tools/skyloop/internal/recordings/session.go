package recordings

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
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

	// catalogs are the catalog objects of the session's player
	// (GAME/PLAYER/catalog/DEVICE.json) in the same listing.
	catalogs []SegmentRef
}

// SegmentRef is one stored segment object.
type SegmentRef struct {
	Key      string
	Index    uint64
	Size     int64
	Modified time.Time // as the sink lists it; zero when the plugin reports none
}

// Ref is GAME/PLAYER/SESSION, the name the tool prints and accepts.
func (s *Session) Ref() string { return s.Game + "/" + s.Player + "/" + s.ID }

// List returns the sessions stored in st, sorted by game, player and
// session (so by start time within a player). prefix narrows the listing
// ("" for everything, "GAME/" for one game). Keys that are not segment keys
// (saves, stray files) are ignored.
func List(ctx context.Context, st Store, sink, prefix string) ([]*Session, error) {
	byPrefix := map[string]*Session{}
	catalogs := map[string][]SegmentRef{} // by GAME/PLAYER
	session := func(k segment.KeyParts) *Session {
		s := byPrefix[k.Prefix()]
		if s == nil {
			s = &Session{Sink: sink, Game: k.Game, Player: k.Player, ID: k.Session}
			byPrefix[k.Prefix()] = s
		}
		return s
	}
	err := st.List(ctx, prefix, func(o sdk.ObjectInfo) error {
		if game, player, _, ok := segment.ParseCatalogKey(o.Key); ok {
			catalogs[game+"/"+player] = append(catalogs[game+"/"+player], SegmentRef{Key: o.Key, Size: o.Size, Modified: o.Modified})
			return nil
		}
		if k, ok := segment.ParseManifestKey(o.Key); ok {
			s := session(k)
			s.Manifest = SegmentRef{Key: o.Key, Size: o.Size, Modified: o.Modified}
			s.touch(o.Modified)
			return nil
		}
		k, ok := segment.ParseKey(o.Key)
		if !ok {
			return nil
		}
		s := session(k)
		s.touch(o.Modified)
		s.Segments = append(s.Segments, SegmentRef{Key: o.Key, Index: k.Index, Size: o.Size, Modified: o.Modified})
		s.Bytes += o.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sink %s: %w", sink, err)
	}
	out := make([]*Session, 0, len(byPrefix))
	for _, s := range byPrefix {
		slices.SortFunc(s.Segments, func(a, b SegmentRef) int { return cmpUint(a.Index, b.Index) })
		s.catalogs = catalogs[s.Game+"/"+s.Player]
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

// Gap is a run of missing frame sequence numbers, From..To inclusive, and
// why they are missing: frames the game dropped while recording
// (KindDropped), or damage (a lost, foreign, misnumbered, empty, cut short
// or corrupt segment, or frames whose bytes fail their CRC).
type Gap struct {
	From, To uint64
	Kind     Kind   // why; Kind.Damaged() tells damage from frames dropped by design
	Segment  string // key of the segment the damage is in (or would be, for a missing one); "" for dropped frames
	Detail   string // what was found, for people
}

// Frames is how many frames the gap spans.
func (g Gap) Frames() uint64 { return g.To - g.From + 1 }

func (g Gap) String() string {
	if g.From == g.To {
		return fmt.Sprintf("frame %d", g.From)
	}
	return fmt.Sprintf("frames %d-%d", g.From, g.To)
}

// Reason is the gap's kind and what was found ("crc: 00000002.seg: …").
func (g Gap) Reason() string {
	if g.Detail == "" {
		return string(g.Kind)
	}
	return string(g.Kind) + ": " + g.Detail
}

// Problem is something unreadable in a session.
type Problem struct {
	Key    string // segment key
	Kind   Kind   // what sort of damage
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
	p := Problem{Key: key, Kind: kindOf(err), Offset: -1, Msg: err.Error()}
	var fe *segment.FormatError
	if errors.As(err, &fe) {
		p.Offset, p.Seq, p.ToSeq, p.HasSeq = fe.Offset, fe.Seq, fe.Seq, fe.HasSeq
		p.Msg = fe.Kind.Error() + ": " + fe.Msg
	}
	return p
}

// DamageKinds lists the kinds of damage among problems and gaps, each
// once, in a fixed order.
func DamageKinds(problems []Problem, gaps []Gap) []Kind {
	seen := map[Kind]bool{}
	for _, p := range problems {
		seen[p.Kind] = true
	}
	for _, g := range gaps {
		seen[g.Kind] = true
	}
	var out []Kind
	for _, k := range []Kind{KindMissing, KindForeign, KindMisnumbered, KindZeroLength, KindTruncated, KindCRC, KindCorrupt, KindVersion} {
		if seen[k] {
			out = append(out, k)
		}
	}
	return out
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
	Width, Height int
	Frames        int    // frames stored (listed by segments that belong to the session)
	FirstSeq      uint64 // first stored frame
	// LastSeq is the last frame known: stored, listed by a segment, or
	// counted by the end record (so a gap at the end lies within it).
	LastSeq      uint64
	Start, End   time.Time // capture times of the first and last stored frame
	SessionStart time.Time // from the segment header
	// Gaps are the runs of frame numbers from 0 to LastSeq with no stored
	// frame, each with its reason. A listing reads only headers and
	// indexes: frames whose payload fails its CRC are found by decoding
	// (Verify, FrameReader) and added with GapsWith.
	Gaps            []Gap
	MissingSegments []uint64  // segment numbers absent from the sink
	Problems        []Problem // segments whose header or index is unreadable, or that do not belong
	Index           []FrameInfo
	// Manifest is the session's end record, nil when the recording did not
	// end cleanly (still recording, or the game crashed or was killed) or
	// the manifest is unreadable (then a Problem says why).
	Manifest *segment.Manifest
	// CutShort: as Report.CutShort.
	CutShort *Problem

	layout *layout
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

// DamageKinds lists the kinds of damage the summary found (nil: none
// found, which a listing cannot promise: it does not check payload CRCs).
func (s Summary) DamageKinds() []Kind { return DamageKinds(s.Problems, s.Gaps) }

// GapsWith is Gaps with the frames found damaged while decoding (by
// FrameReader) taken out of the stored frames: every run of missing or
// damaged frames, each with its reason.
func (s Summary) GapsWith(damaged map[uint64]Damage) []Gap {
	if len(damaged) == 0 || s.layout == nil {
		return s.Gaps
	}
	g, _ := s.layout.gaps(s.Index, damaged)
	return g
}

// Summarize reads every segment's header and index with ranged Gets.
// Unreadable segments, and segments that are not this session's (another
// session's, or stored under another number), become Problems and their
// frames gaps; only a failing store is an error.
func (s *Session) Summarize(ctx context.Context, st Store) (Summary, error) {
	return s.SummarizeCached(ctx, st, nil)
}

// SegmentCache keeps what segment headers and indexes said, by key and
// size, so that summarizing a session again (a live one that grew) reads
// only its new segments. Safe for concurrent use.
type SegmentCache struct {
	mu   sync.Mutex
	segs map[string]segState
}

func cacheKey(ref SegmentRef) string { return fmt.Sprintf("%s\x00%d", ref.Key, ref.Size) }

func (c *SegmentCache) get(ref SegmentRef) (segState, bool) {
	if c == nil {
		return segState{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.segs[cacheKey(ref)]
	return g, ok
}

// keep remembers the segments of one summary and forgets the rest (a
// session's segments are replaced, never many at once).
func (c *SegmentCache) keep(segs []segState) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.segs = make(map[string]segState, len(segs))
	for _, g := range segs {
		c.segs[cacheKey(g.ref)] = g
	}
}

// SummarizeCached is Summarize reading only the segments cache does not
// hold (nil: all of them).
func (s *Session) SummarizeCached(ctx context.Context, st Store, cache *SegmentCache) (Summary, error) {
	var sum Summary
	m, p, err := s.readManifest(ctx, st)
	if err != nil {
		return Summary{}, err
	}
	sum.Manifest = m
	if p != nil {
		sum.Problems = append(sum.Problems, *p)
	}
	segs := make([]segState, len(s.Segments))
	for i, ref := range s.Segments {
		if g, ok := cache.get(ref); ok {
			if len(g.frames) > 0 && g.frames[0].Segment != i { // an earlier segment came or went
				g.frames = slices.Clone(g.frames)
				for j := range g.frames {
					g.frames[j].Segment = i
				}
			}
			segs[i] = g
			continue
		}
		g := newSegState(ref)
		f := newRangedFile(ctx, st, ref.Key, ref.Size)
		r, err := segment.NewReader(f, ref.Size)
		if err != nil {
			if ctx.Err() != nil || isStoreError(err) {
				return Summary{}, err
			}
			g.openFailed(err)
		} else {
			g.opened(r, i)
			r.Close()
		}
		segs[i] = g
	}
	cache.keep(segs)
	sum.Index, sum.Width, sum.Height, sum.SessionStart = resolve(s, m, segs)
	sum.CutShort = crashEnd(segs, m)
	sum.Problems = append(sum.Problems, segmentProblems(segs)...)
	sum.MissingSegments = missingSegments(s, m)
	sum.layout = &layout{prefix: s.Prefix(), segs: segs, m: m}
	sum.Frames = len(sum.Index)
	var end uint64
	sum.Gaps, end = sum.layout.gaps(sum.Index, nil)
	if end > 0 {
		sum.LastSeq = end - 1
	}
	if n := len(sum.Index); n > 0 {
		sum.FirstSeq = sum.Index[0].Seq
		sum.Start, sum.End = sum.Index[0].Time, sum.Index[n-1].Time
	}
	return sum, nil
}

// missingSegments lists the segment numbers absent from the sink: holes
// in the numbers stored and, when the end record counts more, those after
// the last one.
func missingSegments(s *Session, m *segment.Manifest) []uint64 {
	var out []uint64
	var expect uint64
	for _, ref := range s.Segments {
		for ; expect < ref.Index; expect++ {
			out = append(out, expect)
		}
		expect = ref.Index + 1
	}
	if m != nil {
		for ; expect < m.Segments; expect++ {
			out = append(out, expect)
		}
		// Segments the end record lists as lost are accounted for.
		out = slices.DeleteFunc(out, func(i uint64) bool {
			return slices.ContainsFunc(m.Lost, func(l segment.LostSegment) bool { return l.Index == i })
		})
	}
	return out
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

// isStoreError tells a failing Get (network, plugin) from a damaged segment:
// segment errors wrap the segment package's kinds.
func isStoreError(err error) bool {
	return !errors.Is(err, segment.ErrCorrupt) && !errors.Is(err, segment.ErrTruncated) && !errors.Is(err, segment.ErrVersion)
}
