package recordings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

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
// CRCs (the segment reader does), header consistency and the continuity of
// segment numbers and frame sequence numbers. progress, if not nil, is
// called after each segment. Damage is reported in the Report; the error is
// for a failing store or a cancelled ctx.
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
	var sum Summary // for checkHeader
	var seqs []uint64
	var listedEnd uint64 // 1 + the highest seq any segment lists, decodable or not; 0: none
	var expect uint64
	for i, ref := range s.Segments {
		for ; expect < ref.Index; expect++ {
			rep.MissingSegments = append(rep.MissingSegments, expect)
		}
		expect = ref.Index + 1
		data, err := fetch(ctx, st, ref.Key, ref.Size)
		if err != nil {
			return rep, err
		}
		rep.Problems = append(rep.Problems, verifySegment(ref, data, &sum, &seqs, &listedEnd)...)
		if progress != nil {
			progress(i+1, len(s.Segments))
		}
	}
	rep.Width, rep.Height = sum.Width, sum.Height
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	rep.Frames = len(seqs)
	index := make([]FrameInfo, len(seqs))
	for i, q := range seqs {
		index[i].Seq = q
	}
	var next uint64 // 1 + the highest seq that decodes
	if len(seqs) > 0 {
		next = seqs[len(seqs)-1] + 1
	}
	listedEnd = max(listedEnd, next)
	if listedEnd > 0 {
		rep.LastSeq = listedEnd - 1
	}
	rep.Gaps = gapsOf(index)
	if m != nil {
		rep.MissingSegments = append(rep.MissingSegments, missingAtEnd(expect, m)...)
		listedEnd = max(listedEnd, m.Sequenced)
		if listedEnd > 0 {
			rep.LastSeq = listedEnd - 1
		}
	}
	if next < listedEnd { // frames listed (or counted by the manifest) after the last one that decodes
		rep.Gaps = append(rep.Gaps, Gap{From: next, To: listedEnd - 1})
	}
	return rep, nil
}

func verifySegment(ref SegmentRef, data []byte, sum *Summary, seqs *[]uint64, listedEnd *uint64) []Problem {
	var problems []Problem
	if int64(len(data)) != ref.Size {
		problems = append(problems, Problem{Key: ref.Key, Offset: -1, Msg: fmt.Sprintf("listed as %d bytes, read %d (changed while verifying?)", ref.Size, len(data))})
	}
	r, err := segment.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return append(problems, problemOf(ref.Key, err))
	}
	defer r.Close()
	if p, bad := checkHeader(sum, ref, r.Header()); bad {
		problems = append(problems, p)
	}
	if idx := r.Index(); len(idx) > 0 {
		*listedEnd = max(*listedEnd, idx[len(idx)-1].Seq+1)
	}
	for {
		f, err := r.NextView()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p := problemOf(ref.Key, err)
			// The deltas after a damaged frame fail the same way, one by
			// one: report them as one run.
			if n := len(problems); n > 0 && p.HasSeq && problems[n-1].HasSeq && problems[n-1].Msg == p.Msg && problems[n-1].ToSeq < p.Seq {
				problems[n-1].ToSeq = p.Seq
				continue
			}
			problems = append(problems, p)
			continue
		}
		*seqs = append(*seqs, f.Seq)
	}
	return problems
}
