package recordings

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// Kind says why frames of a session are not there. Every kind but
// KindDropped is damage: something the sink stores is not what the game
// wrote.
type Kind string

const (
	// KindDropped: the game dropped the frames while recording (under load,
	// by its drop policy), or they were never captured. A gap by design.
	KindDropped Kind = "dropped"
	// KindMissing: the segment that held the frames is not in the sink.
	KindMissing Kind = "missing"
	// KindLost: the game lost the segment before any sink had it, and its
	// end record says so and why (the spool's disk was full). A counted
	// loss, like KindDropped, not damage.
	KindLost Kind = "lost"
	// KindCRC: a checksum does not match: bytes changed after they were
	// written.
	KindCRC Kind = "crc"
	// KindTruncated: the segment ends early (cut short in transfer, or the
	// game was killed while writing it).
	KindTruncated Kind = "truncated"
	// KindZeroLength: the segment object is empty.
	KindZeroLength Kind = "zero-length"
	// KindForeign: the segment belongs to another session: its header
	// names another session start.
	KindForeign Kind = "foreign"
	// KindMisnumbered: the segment is of this session but stored under
	// another segment's key (its header says another number, or its frames
	// overlap another segment's).
	KindMisnumbered Kind = "misnumbered"
	// KindVersion: the segment is in a format version this build does not
	// read.
	KindVersion Kind = "version"
	// KindCorrupt: any other damage: not a segment, impossible values, a
	// payload that does not decode.
	KindCorrupt Kind = "corrupt"
)

// Damaged reports whether k is damage (every kind but KindDropped and
// KindLost).
func (k Kind) Damaged() bool { return k != KindDropped && k != KindLost && k != "" }

// kindOf classifies damage the segment reader reported. CRC mismatches
// are told apart by the reader's message, which names the CRC32C it
// checked (engine/segment writes every such message with "CRC32C").
func kindOf(err error) Kind {
	switch {
	case errors.Is(err, segment.ErrVersion):
		return KindVersion
	case errors.Is(err, segment.ErrTruncated):
		return KindTruncated
	}
	var fe *segment.FormatError
	if errors.As(err, &fe) && strings.Contains(fe.Msg, "CRC32C") {
		return KindCRC
	}
	return KindCorrupt
}

// isReferenceLoss reports the reader's "delta frame without its reference
// frame": a frame lost to damage before it, which takes that damage's kind.
func isReferenceLoss(err error) bool {
	var fe *segment.FormatError
	return errors.As(err, &fe) && strings.Contains(fe.Msg, "without its reference frame")
}

// Damage is one frame found damaged while decoding it (the listing saw
// only its index entry).
type Damage struct {
	Seq  uint64
	Kind Kind
	Key  string // the segment's key
	Err  error  // what was found
}

func (d *Damage) Error() string {
	return fmt.Sprintf("frame %d is damaged (%s): %v", d.Seq, d.Kind, d.Err)
}

func (d *Damage) Unwrap() error { return d.Err }

// segState is what one stored segment contributes to a session, gathered
// from its header and index (a listing) or by decoding it (verify).
type segState struct {
	ref   SegmentRef
	hdr   segment.Header
	hdrOK bool
	// whole is set when the segment as a whole is damage (unreadable
	// header, empty, foreign, misnumbered): none of its frames count.
	whole *Problem
	// tail is set when the segment's end is missing or damaged: the frames
	// after its last complete record are lost.
	tail *Problem
	// regions are damaged stretches found while decoding that carry no
	// frame number (a record header that fails its checks).
	regions []Problem
	// frames its index lists (Segment: position in the session).
	frames []FrameInfo
	// decoding (verify only): frames that failed, and the problems seen.
	damaged  map[uint64]Damage
	problems []Problem
}

func newSegState(ref SegmentRef) segState { return segState{ref: ref} }

// openFailed records a header that NewReader refused.
func (g *segState) openFailed(err error) {
	p := problemOf(g.ref.Key, err)
	if g.ref.Size == 0 {
		p.Kind, p.Offset, p.Msg = KindZeroLength, -1, "the segment is empty (0 bytes): nothing of it reached the sink"
	}
	g.whole = &p
}

// opened records what a readable segment's header and index say.
func (g *segState) opened(r *segment.Reader, pos int) {
	g.hdr, g.hdrOK = r.Header(), true
	for _, e := range r.Index() {
		g.frames = append(g.frames, FrameInfo{Seq: e.Seq, Time: e.Time, Key: e.Key, Segment: pos})
	}
	if err := r.EndError(); err != nil {
		p := problemOf(g.ref.Key, err)
		p.Msg += fmt.Sprintf(" (index missing or damaged: %d complete frames before it are readable)", len(g.frames))
		g.tail = &p
	}
}

// idTime and idLen describe ids made by segment.NewSessionID.
const idLen = len("20060102T150405.000Z-0000")

// madeByNewSessionID reports whether id has the form of
// segment.NewSessionID, which derives it from the session start that every
// segment header carries.
func madeByNewSessionID(id string) bool {
	if len(id) != idLen || id[idLen-5] != '-' {
		return false
	}
	if _, ok := StartOf(id); !ok {
		return false
	}
	for _, c := range id[idLen-4:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// belongs returns the test a segment header's session start must pass to
// be this session's, and what it is checked against: the session id when
// it was made from the start (segment.NewSessionID, as the engine names
// sessions), else the end record's start, else the start most segments
// carry.
func belongs(s *Session, m *segment.Manifest, segs []segState) (func(time.Time) bool, string) {
	if madeByNewSessionID(s.ID) {
		return func(t time.Time) bool { return segment.NewSessionID(t) == s.ID }, "session id " + s.ID
	}
	if m != nil && !m.Start.IsZero() {
		return func(t time.Time) bool { return t.Equal(m.Start) }, "the end record's start " + fmtTime(m.Start)
	}
	count := map[int64]int{}
	var best int64
	bestN := 0
	for _, g := range segs {
		if !g.hdrOK || g.whole != nil {
			continue
		}
		ns := g.hdr.SessionStart.UnixNano()
		count[ns]++
		if count[ns] > bestN { // ties: the first segment's
			best, bestN = ns, count[ns]
		}
	}
	return func(t time.Time) bool { return t.UnixNano() == best }, fmt.Sprintf("the start %d of %d segments carry, %s", bestN, len(segs), fmtTime(time.Unix(0, best)))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "(none)"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// resolve checks every readable segment against the session (identity,
// number, frame size, order) and returns the frames of the segments that
// pass, sorted by sequence number, with the frame size and session start.
func resolve(s *Session, m *segment.Manifest, segs []segState) (index []FrameInfo, width, height int, start time.Time) {
	ok, against := belongs(s, m, segs)
	for i := range segs {
		g := &segs[i]
		if g.whole != nil || !g.hdrOK {
			continue
		}
		h := g.hdr
		switch {
		case !ok(h.SessionStart):
			id := "(none)"
			if !h.SessionStart.IsZero() {
				id = segment.NewSessionID(h.SessionStart)
			}
			g.whole = &Problem{Key: g.ref.Key, Kind: KindForeign, Offset: 48,
				Msg: fmt.Sprintf("a segment of another session: its header says the session started %s (session id %s), which is not %s", fmtTime(h.SessionStart), id, against)}
		case h.Segment != g.ref.Index:
			g.whole = &Problem{Key: g.ref.Key, Kind: KindMisnumbered, Offset: 32,
				Msg: fmt.Sprintf("its header says segment %d, the key says %d: a segment stored under the wrong name", h.Segment, g.ref.Index)}
		case width == 0:
			width, height, start = h.Width, h.Height, h.SessionStart
		case h.Width != width || h.Height != height:
			g.whole = &Problem{Key: g.ref.Key, Kind: KindCorrupt, Offset: 12,
				Msg: fmt.Sprintf("frames are %dx%d, earlier segments %dx%d", h.Width, h.Height, width, height)}
		}
	}
	// Segments in key order hold frames in order: one whose frames do not
	// come after the previous one's is misplaced.
	var last uint64
	lastKey, have := "", false
	for i := range segs {
		g := &segs[i]
		if g.whole != nil || len(g.frames) == 0 {
			continue
		}
		first := g.frames[0].Seq
		if have && first <= last {
			g.whole = &Problem{Key: g.ref.Key, Kind: KindMisnumbered, Offset: -1,
				Msg: fmt.Sprintf("its frames %d-%d do not follow those of %s (up to frame %d): a segment stored under the wrong name", first, g.frames[len(g.frames)-1].Seq, path.Base(lastKey), last)}
			continue
		}
		last, lastKey, have = g.frames[len(g.frames)-1].Seq, g.ref.Key, true
	}
	for _, g := range segs {
		if g.whole == nil {
			index = append(index, g.frames...)
		}
	}
	slices.SortStableFunc(index, func(a, b FrameInfo) int { return cmpUint(a.Seq, b.Seq) })
	index = slices.CompactFunc(index, func(a, b FrameInfo) bool { return a.Seq == b.Seq })
	return index, width, height, start
}

// segmentProblems lists the damage of whole segments and of segment ends.
func segmentProblems(segs []segState) []Problem {
	var out []Problem
	for _, g := range segs {
		if g.whole != nil {
			out = append(out, *g.whole)
			continue
		}
		if g.tail != nil {
			out = append(out, *g.tail)
		}
	}
	return out
}

// cause is one reason for a run of missing frames.
type cause struct {
	kind   Kind
	key    string
	detail string
}

// layout is what the gap computation needs of a session.
type layout struct {
	prefix string
	segs   []segState
	m      *segment.Manifest
}

// gaps lists every run of frame numbers, from 0 to the last one known
// (listed by a segment, or counted by the end record), that has no intact
// frame, each with why. index is the frames the segments list (sorted);
// damaged are those of them that failed to decode.
func (l *layout) gaps(index []FrameInfo, damaged map[uint64]Damage) (gaps []Gap, end uint64) {
	if n := len(index); n > 0 {
		end = index[n-1].Seq + 1
	}
	if l.m != nil {
		end = max(end, l.m.Sequenced)
	}
	add := func(g Gap) {
		if n := len(gaps); n > 0 {
			p := &gaps[n-1]
			if p.To+1 == g.From && p.Kind == g.Kind && p.Segment == g.Segment && p.Kind.Damaged() {
				p.To = g.To // the frames after a damaged one fail with it
				return
			}
		}
		gaps = append(gaps, g)
	}
	var next uint64
	prev := -1
	for _, f := range index {
		if f.Seq > next {
			add(l.attribute(next, f.Seq-1, prev, f.Segment))
		}
		if d, bad := damaged[f.Seq]; bad {
			add(Gap{From: f.Seq, To: f.Seq, Kind: d.Kind, Segment: d.Key, Detail: fmt.Sprintf("%s: %v", path.Base(d.Key), d.Err)})
		}
		next, prev = f.Seq+1, f.Segment
	}
	if end > next {
		add(l.attribute(next, end-1, prev, len(l.segs)))
	}
	return gaps, end
}

// lost says whether the end record lists segment index as lost, and why.
func (l *layout) lost(index uint64) (string, bool) {
	if l.m == nil {
		return "", false
	}
	for _, x := range l.m.Lost {
		if x.Index == index {
			return x.Reason, true
		}
	}
	return "", false
}

// attribute says why frames from..to are missing: they lie after the
// frames of the segment at position posL (-1: none) and before those of
// the one at posR (len(segs): none).
func (l *layout) attribute(from, to uint64, posL, posR int) Gap {
	var causes []cause
	if posL >= 0 && posL == posR {
		if rs := l.segs[posL].regions; len(rs) > 0 {
			causes = append(causes, cause{rs[0].Kind, rs[0].Key, path.Base(rs[0].Key) + ": " + rs[0].Msg})
		}
	} else {
		if posL >= 0 {
			if t := l.segs[posL].tail; t != nil {
				causes = append(causes, cause{t.Kind, t.Key, path.Base(t.Key) + " ends early: " + t.Msg})
			}
		}
		number := uint64(0)
		if posL >= 0 {
			number = l.segs[posL].ref.Index + 1
		}
		missing := func(upTo uint64) { // segments number..upTo-1 are not stored
			for from := number; from < upTo; {
				// A run of segments the end record lists as lost for one
				// reason, or a run of ones it does not.
				why, lost := l.lost(from)
				to := from + 1
				for ; to < upTo; to++ {
					if w, ok := l.lost(to); ok != lost || w != why {
						break
					}
				}
				key := segment.Key(l.prefix, from)
				what := fmt.Sprintf("segment %d (%s) is not in the sink", from, path.Base(key))
				if to-from > 1 {
					what = fmt.Sprintf("segments %d-%d are not in the sink", from, to-1)
				}
				if lost {
					causes = append(causes, cause{KindLost, key, what + ": the game lost it before storing it (" + why + ")"})
				} else {
					causes = append(causes, cause{KindMissing, key, what})
				}
				from = to
			}
		}
		for p := posL + 1; p < posR && p < len(l.segs); p++ {
			g := l.segs[p]
			missing(g.ref.Index)
			switch {
			case g.whole != nil:
				causes = append(causes, cause{g.whole.Kind, g.ref.Key, path.Base(g.ref.Key) + ": " + g.whole.Msg})
			case g.tail != nil:
				causes = append(causes, cause{g.tail.Kind, g.ref.Key, path.Base(g.ref.Key) + " ends early: " + g.tail.Msg})
			}
			number = g.ref.Index + 1
		}
		switch {
		case posR < len(l.segs):
			missing(l.segs[posR].ref.Index)
		case l.m != nil:
			missing(l.m.Segments)
		}
	}
	if len(causes) == 0 {
		return Gap{From: from, To: to, Kind: KindDropped, Detail: "dropped while recording (the game could not keep up: see capture.drop)"}
	}
	details := make([]string, len(causes))
	for i, c := range causes {
		details[i] = c.detail
		if i > 0 {
			details[i] = string(c.kind) + ": " + c.detail
		}
	}
	return Gap{From: from, To: to, Kind: causes[0].kind, Segment: causes[0].key, Detail: strings.Join(details, "; ")}
}
