package recordings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// FrameReader decodes frames of one session by sequence number. It keeps
// the segment it read last, so reading forward (playback, export) decodes
// each frame once; a jump backwards decodes from the key frame before it.
// Not safe for concurrent use.
type FrameReader struct {
	st  Store
	s   *Session
	sum Summary

	seg     int // position in s.Segments of r, -1 for none
	r       *segment.Reader
	lastSeq uint64 // seq of the frame r decoded last
	hasLast bool
}

// NewFrameReader reads frames of s, using sum (from s.Summarize) to find
// the segment of each frame.
func NewFrameReader(st Store, s *Session, sum Summary) *FrameReader {
	return &FrameReader{st: st, s: s, sum: sum, seg: -1}
}

// ErrNoFrame means the session has no stored frame with that number: it was
// dropped, its segment is lost, or it is beyond the end.
var ErrNoFrame = errors.New("no such frame")

// Frame returns frame seq. Its image is the reader's memory: valid until the
// next call and not to be modified.
func (fr *FrameReader) Frame(ctx context.Context, seq uint64) (segment.Frame, error) {
	i := sort.Search(len(fr.sum.Index), func(i int) bool { return fr.sum.Index[i].Seq >= seq })
	if i == len(fr.sum.Index) || fr.sum.Index[i].Seq != seq {
		return segment.Frame{}, fmt.Errorf("%w: frame %d of %s (frames 0-%d, %d stored)", ErrNoFrame, seq, fr.s.Ref(), fr.sum.LastSeq, fr.sum.Frames)
	}
	seg := fr.sum.Index[i].Segment
	if seg != fr.seg {
		if err := fr.open(ctx, seg); err != nil {
			return segment.Frame{}, err
		}
	}
	if !fr.hasLast || fr.lastSeq >= seq {
		if err := fr.r.SeekFrame(seq); err != nil {
			return segment.Frame{}, fmt.Errorf("%s: %w", fr.s.Segments[seg].Key, err)
		}
	}
	for {
		f, err := fr.r.NextView()
		if err != nil {
			fr.hasLast = false
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: frame %d missing from %s", ErrNoFrame, seq, fr.s.Segments[seg].Key)
			}
			return segment.Frame{}, fmt.Errorf("frame %d: %w (run 'skyloop verify %s')", seq, err, fr.s.Ref())
		}
		fr.lastSeq, fr.hasLast = f.Seq, true
		if f.Seq == seq {
			return f, nil
		}
		if f.Seq > seq {
			return segment.Frame{}, fmt.Errorf("%w: frame %d missing from %s", ErrNoFrame, seq, fr.s.Segments[seg].Key)
		}
	}
}

// Each calls fn with every stored frame from from to to (inclusive), in
// order; the frame's image is valid only during the call. Missing frames
// are skipped (see Summary.Gaps); a frame that does not decode stops Each
// with an error.
func (fr *FrameReader) Each(ctx context.Context, from, to uint64, fn func(segment.Frame) error) error {
	for _, fi := range fr.sum.Index {
		if fi.Seq < from || fi.Seq > to {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := fr.Frame(ctx, fi.Seq)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (fr *FrameReader) open(ctx context.Context, seg int) error {
	fr.Close()
	ref := fr.s.Segments[seg]
	data, err := fetch(ctx, fr.st, ref.Key, ref.Size)
	if err != nil {
		return err
	}
	r, err := segment.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("%s: %w (run 'skyloop verify %s')", ref.Key, err, fr.s.Ref())
	}
	fr.r, fr.seg = r, seg
	return nil
}

// Close releases the segment held; the reader stays usable. Idempotent.
func (fr *FrameReader) Close() {
	if fr.r != nil {
		fr.r.Close()
	}
	fr.r, fr.seg, fr.hasLast = nil, -1, false
}
