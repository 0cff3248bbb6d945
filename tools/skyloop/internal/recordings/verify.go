package recordings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// Report is what Verify found.
type Report struct {
	Width, Height   int
	Segments        int       // segments stored
	Frames          int       // frames decoded intact
	LastSeq         uint64    // highest sequence number stored (decodable or not)
	Gaps            []Gap     // sequence numbers with no intact frame, 0..LastSeq
	MissingSegments []uint64  // segment numbers absent from the sink
	Problems        []Problem // corruption and truncation, per segment and frame
	// Manifest is the session's end record; nil when the recording did not
	// end cleanly, so its end cannot be checked.
	Manifest *segment.Manifest
	// CutShort is set for a session without its end record whose last
	// segment ends early: what a game killed while recording leaves (its
	// open segment, journaled as it grew). Not damage: the frames before
	// the cut decode, and none is expected after it.
	CutShort *Problem
}

// Intact reports whether every frame from 0 to LastSeq is present and
// decodes, and nothing is damaged.
func (r Report) Intact() bool {
	return r.Frames > 0 && len(r.Gaps) == 0 && len(r.MissingSegments) == 0 && len(r.Problems) == 0
}

// Complete reports whether the session is intact and ended: its manifest
// vouches that no segment is missing at the end.
func (r Report) Complete() bool { return r.Intact() && r.Manifest != nil }

// DroppedWhileRecording is how many of the gap frames the game dropped under
// load (the manifest counts them); the rest were lost afterwards.
func (r Report) DroppedWhileRecording() uint64 {
	if r.Manifest == nil {
		return 0
	}
	return r.Manifest.Dropped
}

// Verify fetches every segment of s and decodes every frame, checking the
// CRCs (the segment reader does), that each segment is this session's
// (its header's session start and number against the session and its
// key), header consistency and the continuity of segment numbers and frame
// sequence numbers. progress, if not nil, is called after each segment.
// Damage is reported in the Report (Problems, and Gaps with their kinds);
// the error is for a failing store or a cancelled ctx.
func Verify(ctx context.Context, st Store, s *Session, progress func(done, total int)) (Report, error) {
	rep := Report{Segments: len(s.Segments)}
	m, p, err := s.readManifest(ctx, st)
	if err != nil {
		return rep, err
	}
	rep.Manifest = m
	if p != nil {
		rep.Problems = append(rep.Problems, *p)
	}
	segs := make([]segState, len(s.Segments))
	for i, ref := range s.Segments {
		data, err := fetch(ctx, st, ref.Key, ref.Size)
		if err != nil {
			return rep, err
		}
		segs[i] = verifySegment(ref, i, data)
		if progress != nil {
			progress(i+1, len(s.Segments))
		}
	}
	index, w, h, _ := resolve(s, m, segs)
	rep.Width, rep.Height = w, h
	rep.CutShort = crashEnd(segs, m)
	rep.Problems = append(rep.Problems, segmentProblems(segs)...)
	damaged := map[uint64]Damage{}
	for _, g := range segs {
		if g.whole != nil {
			continue // its frames are not the session's: their damage does not matter
		}
		rep.Problems = append(rep.Problems, g.problems...)
		for q, d := range g.damaged {
			damaged[q] = d
		}
	}
	for _, f := range index {
		if _, bad := damaged[f.Seq]; !bad {
			rep.Frames++
		}
	}
	l := &layout{prefix: s.Prefix(), segs: segs, m: m}
	var end uint64
	rep.Gaps, end = l.gaps(index, damaged)
	if end > 0 {
		rep.LastSeq = end - 1
	}
	rep.MissingSegments = missingSegments(s, m)
	return rep, nil
}

// crashEnd takes the cut off the last segment of a session without its end
// record, when that segment ends early: what a game killed while recording
// leaves (its journaled open segment), not damage. It returns the cut, or
// nil.
func crashEnd(segs []segState, m *segment.Manifest) *Problem {
	n := len(segs)
	if m != nil || n == 0 || segs[n-1].whole != nil || segs[n-1].tail == nil || segs[n-1].tail.Kind != KindTruncated {
		return nil
	}
	cut := segs[n-1].tail
	segs[n-1].tail = nil
	return cut
}

// verifySegment decodes one segment's frames.
func verifySegment(ref SegmentRef, pos int, data []byte) segState {
	g := newSegState(ref)
	if int64(len(data)) != ref.Size {
		g.problems = append(g.problems, Problem{Key: ref.Key, Kind: KindCorrupt, Offset: -1, Msg: fmt.Sprintf("listed as %d bytes, read %d (changed while verifying?)", ref.Size, len(data))})
	}
	if len(data) == 0 {
		g.ref.Size = 0
	}
	r, err := segment.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		g.openFailed(err)
		return g
	}
	defer r.Close()
	g.opened(r, pos)
	g.damaged = map[uint64]Damage{}
	var lastKind Kind
	for {
		_, err := r.NextView()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			continue
		}
		if err == r.EndError() {
			continue // the segment's end: g.tail says it
		}
		p := problemOf(ref.Key, err)
		if isReferenceLoss(err) && lastKind != "" {
			p.Kind = lastKind // lost to the damage before it
		}
		lastKind = p.Kind
		if !p.HasSeq {
			g.regions = append(g.regions, p)
			g.problems = append(g.problems, p)
			continue
		}
		g.damaged[p.Seq] = Damage{Seq: p.Seq, Kind: p.Kind, Key: ref.Key, Err: err}
		// The deltas after a damaged frame fail the same way, one by one:
		// report them as one run.
		if n := len(g.problems); n > 0 {
			last := &g.problems[n-1]
			if last.HasSeq && last.Msg == p.Msg && last.Kind == p.Kind && last.ToSeq < p.Seq {
				last.ToSeq = p.Seq
				continue
			}
		}
		g.problems = append(g.problems, p)
	}
	return g
}
