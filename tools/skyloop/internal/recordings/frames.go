package recordings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// FrameReader decodes frames of one session by sequence number. It keeps
// the segment it read last, so reading forward (playback, export) decodes
// each frame once; a jump backwards decodes from the key frame before it.
// A frame that does not decode is reported as a *Damage (and remembered,
// see Damaged), and the frames that depend on it fail with it without
// being decoded again. Not safe for concurrent use.
type FrameReader struct {
	st  Store
	s   *Session
	sum Summary

	seg     int // position in s.Segments of r, -1 for none
	r       *segment.Reader
	lastSeq uint64 // seq of the frame r decoded last
	hasLast bool

	bad     map[int]error     // segments whose data does not open
	broken  *brokenRun        // the frames after the last damaged one, up to the next key frame
	damaged map[uint64]Damage // frames found damaged
}

// brokenRun is the frames of segment seg after the damaged frame seq and
// before the key frame until: delta frames that cannot be decoded.
type brokenRun struct {
	seg        int
	seq, until uint64
	kind       Kind
	err        error
}

// NewFrameReader reads frames of s, using sum (from s.Summarize) to find
// the segment of each frame.
func NewFrameReader(st Store, s *Session, sum Summary) *FrameReader {
	return &FrameReader{st: st, s: s, sum: sum, seg: -1, bad: map[int]error{}, damaged: map[uint64]Damage{}}
}

// ErrNoFrame means the session has no stored frame with that number: it was
// dropped, its segment is lost or damaged, or it is beyond the end.
var ErrNoFrame = errors.New("no such frame")

// GapAt returns the gap of sum that holds frame seq.
func GapAt(gaps []Gap, seq uint64) (Gap, bool) {
	i := sort.Search(len(gaps), func(i int) bool { return gaps[i].To >= seq })
	if i < len(gaps) && gaps[i].From <= seq {
		return gaps[i], true
	}
	return Gap{}, false
}

// Frame returns frame seq. Its image is the reader's memory: valid until the
// next call and not to be modified. A frame the session does not have is
// an error wrapping ErrNoFrame that says why; a stored frame that does not
// decode is a *Damage; other errors are the store's.
func (fr *FrameReader) Frame(ctx context.Context, seq uint64) (segment.Frame, error) {
	i := sort.Search(len(fr.sum.Index), func(i int) bool { return fr.sum.Index[i].Seq >= seq })
	if i == len(fr.sum.Index) || fr.sum.Index[i].Seq != seq {
		why := ""
		if g, ok := GapAt(fr.sum.Gaps, seq); ok {
			why = fmt.Sprintf(": in the gap of %s, %s", g, g.Reason())
		}
		return segment.Frame{}, fmt.Errorf("%w: frame %d of %s (frames 0-%d, %d stored)%s", ErrNoFrame, seq, fr.s.Ref(), fr.sum.LastSeq, fr.sum.Frames, why)
	}
	if d, ok := fr.damaged[seq]; ok {
		return segment.Frame{}, &d
	}
	seg := fr.sum.Index[i].Segment
	key := fr.s.Segments[seg].Key
	if b := fr.broken; b != nil && b.seg == seg && seq > b.seq && seq < b.until {
		return segment.Frame{}, fr.damage(seq, b.kind, key, fmt.Errorf("decoded from frame %d before it, which is damaged: %w", b.seq, b.err))
	}
	if err, bad := fr.bad[seg]; bad {
		return segment.Frame{}, fr.damage(seq, kindOf(err), key, err)
	}
	if seg != fr.seg {
		if err := fr.open(ctx, seg); err != nil {
			if isStoreError(err) {
				return segment.Frame{}, err
			}
			fr.bad[seg] = err
			return segment.Frame{}, fr.damage(seq, kindOf(err), key, err)
		}
	}
	if !fr.hasLast || fr.lastSeq >= seq {
		if err := fr.r.SeekFrame(seq); err != nil {
			return segment.Frame{}, fr.damage(seq, KindCorrupt, key, err)
		}
	}
	for {
		f, err := fr.r.NextView()
		if err != nil {
			fr.hasLast = false
			if errors.Is(err, io.EOF) {
				return segment.Frame{}, fr.damage(seq, KindCorrupt, key, fmt.Errorf("listed by the segment's index, but not found decoding it (did the segment change?)"))
			}
			if isStoreError(err) {
				return segment.Frame{}, fmt.Errorf("frame %d: %w", seq, err)
			}
			failed := seq
			var fe *segment.FormatError
			if errors.As(err, &fe) && fe.HasSeq {
				failed = fe.Seq
			}
			kind := kindOf(err)
			fr.broken = &brokenRun{seg: seg, seq: failed, until: fr.nextKey(seg, failed), kind: kind, err: err}
			if failed != seq {
				fr.damage(failed, kind, key, err)
				err = fmt.Errorf("decoded from frame %d before it, which is damaged: %w", failed, err)
			}
			return segment.Frame{}, fr.damage(seq, kind, key, err)
		}
		fr.lastSeq, fr.hasLast = f.Seq, true
		if f.Seq == seq {
			return f, nil
		}
		if f.Seq > seq {
			return segment.Frame{}, fr.damage(seq, KindCorrupt, key, fmt.Errorf("listed by the segment's index, but not found decoding it (did the segment change?)"))
		}
	}
}

// damage records frame seq as damaged and returns the record.
func (fr *FrameReader) damage(seq uint64, kind Kind, key string, err error) *Damage {
	d := Damage{Seq: seq, Kind: kind, Key: key, Err: err}
	fr.damaged[seq] = d
	return &d
}

// nextKey is the first key frame after seq in segment seg, by the index
// (math.MaxUint64 when there is none).
func (fr *FrameReader) nextKey(seg int, seq uint64) uint64 {
	i := sort.Search(len(fr.sum.Index), func(i int) bool { return fr.sum.Index[i].Seq > seq })
	for ; i < len(fr.sum.Index); i++ {
		if f := fr.sum.Index[i]; f.Segment != seg || f.Key {
			return f.Seq
		}
	}
	return math.MaxUint64
}

// Damaged returns the frames found damaged so far (a copy), for
// Summary.GapsWith.
func (fr *FrameReader) Damaged() map[uint64]Damage {
	out := make(map[uint64]Damage, len(fr.damaged))
	for q, d := range fr.damaged {
		out[q] = d
	}
	return out
}

// Each calls fn with every stored frame from from to to (inclusive), in
// order; the frame's image is valid only during the call. Missing frames
// are skipped (see Summary.Gaps); a frame that does not decode stops Each
// with an error (a *Damage).
func (fr *FrameReader) Each(ctx context.Context, from, to uint64, fn func(segment.Frame) error) error {
	return fr.Walk(ctx, from, to, func(f segment.Frame, damage error) error {
		if damage != nil {
			return damage
		}
		return fn(f)
	})
}

// Walk calls fn with every stored frame from from to to (inclusive), in
// order, as Each does, and goes on past damage: a frame that does not
// decode is passed with its damage (a *Damage) and an image of nil (Seq,
// Time and Key from the index); damage is nil for every other frame. Only a
// failing store, a cancelled ctx or fn's error stops it.
func (fr *FrameReader) Walk(ctx context.Context, from, to uint64, fn func(f segment.Frame, damage error) error) error {
	for _, fi := range fr.sum.Index {
		if fi.Seq < from || fi.Seq > to {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := fr.Frame(ctx, fi.Seq)
		var d *Damage
		if errors.As(err, &d) {
			if err := fn(segment.Frame{Seq: fi.Seq, Time: fi.Time, Key: fi.Key}, d); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(f, nil); err != nil {
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

// Grow moves the reader on to a newer listing and summary of its session
// (a live one that stored more segments), keeping the segment it holds
// when the segments it knew are unchanged, so that following a growing
// session does not fetch and decode again what it just read. When they
// changed, it starts over as a new reader would.
func (fr *FrameReader) Grow(s *Session, sum Summary) {
	same := len(s.Segments) >= len(fr.s.Segments)
	for i := 0; same && i < len(fr.s.Segments); i++ {
		a, b := fr.s.Segments[i], s.Segments[i]
		same = a.Key == b.Key && a.Size == b.Size
	}
	if !same {
		fr.Close()
		fr.bad, fr.broken, fr.damaged = map[int]error{}, nil, map[uint64]Damage{}
	}
	fr.s, fr.sum = s, sum
}

// Close releases the segment held; the reader stays usable. Idempotent.
func (fr *FrameReader) Close() {
	if fr.r != nil {
		fr.r.Close()
	}
	fr.r, fr.seg, fr.hasLast = nil, -1, false
}
