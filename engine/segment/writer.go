package segment

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// Writer writes one segment to an io.Writer: the header at NewWriter, one
// record per frame, and the index and trailer at Close. Every record is
// written as soon as it is given, so whatever reached the io.Writer before a
// crash is a readable prefix.
//
// A Writer is not safe for concurrent use; compress frames concurrently with
// EncodeFrame and hand the results to one Writer in order.
type Writer struct {
	w   io.Writer
	h   Header
	off int64 // bytes written so far

	index   []indexEntry
	lastSeq uint64
	run     int // records since and including the last key frame

	prev    []byte // WriteFrame: raw pixels of the last frame it wrote
	prevOK  bool
	payload []byte // WriteFrame: payload buffer
	rec     []byte // the record header being written

	err      error // sticky write error
	closed   bool
	closeErr error
}

type indexEntry struct {
	seq   uint64
	off   int64
	time  int64
	key   bool
	tiled bool
	codec Codec
}

// NewWriter validates h (filling its defaults: Version, Format RGBA8,
// KeyInterval DefaultKeyInterval) and writes the segment header to w.
// Close writes the index and trailer; it does not close w.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h = h.withDefaults()
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("segment: NewWriter: %w", err)
	}
	sw := &Writer{w: w, h: h}
	if err := sw.write(h.marshal()); err != nil {
		return nil, err
	}
	return sw, nil
}

// Header returns the header as written, defaults filled in.
func (w *Writer) Header() Header { return w.h }

// Frames returns the number of records written.
func (w *Writer) Frames() int { return len(w.index) }

// BytesWritten returns the number of bytes written to the io.Writer so far,
// including the index and trailer once Close has run.
func (w *Writer) BytesWritten() int64 { return w.off }

// NextKey reports whether the next record must be a key frame: it is the
// first of the segment, or KeyInterval-1 delta records follow the last key.
// WriteEncoded refuses a delta record when NextKey is true.
func (w *Writer) NextKey() bool { return len(w.index) == 0 || w.run >= w.h.KeyInterval }

// WriteFrame compresses pix (Width*Height*4 bytes in the header's pixel
// format, rows top-down) with the header's Codec and writes it. It encodes a
// key frame for the first frame and whenever NextKey says so, and otherwise
// lets EncodeFrame choose key or delta against the previous WriteFrame
// frame. seq must be greater than the previous record's and >= FirstSeq;
// gaps are allowed and are visible to readers.
//
// Mixing WriteFrame and WriteEncoded in one segment is allowed, but after a
// WriteEncoded the next WriteFrame encodes a key frame (it has no raw copy
// of the previous frame).
func (w *Writer) WriteFrame(seq uint64, t time.Time, pix []byte) error {
	if err := w.usable(); err != nil {
		return err
	}
	if len(pix) != w.h.FrameBytes() {
		return fmt.Errorf("segment: WriteFrame seq %d: %d bytes of pixels, a %dx%d frame needs %d",
			seq, len(pix), w.h.Width, w.h.Height, w.h.FrameBytes())
	}
	if err := w.checkSeq(seq); err != nil {
		return err
	}
	var prev []byte
	if w.prevOK && !w.NextKey() {
		prev = w.prev
	}
	var f EncodedFrame
	var err error
	if w.h.Version >= 2 {
		f, err = EncodeFrameWith(w.payload, pix, prev, EncodeOptions{Codec: w.h.Codec, Width: w.h.Width})
	} else {
		f, err = EncodeFrame(w.payload, pix, prev, w.h.Codec, false)
	}
	if err != nil {
		return err
	}
	w.payload = f.Payload
	f.Seq, f.Time = seq, t
	if err := w.WriteEncoded(f); err != nil {
		return err
	}
	if w.prev == nil {
		w.prev = make([]byte, len(pix))
	}
	copy(w.prev, pix)
	w.prevOK = true
	return nil
}

// WriteEncoded writes a frame compressed by EncodeFrame. A delta record must
// have been encoded against the raw frame of the record written just before
// it; the Writer cannot check that, but it refuses a delta as the first
// record or when NextKey is true, a RawLen other than Width*Height*4, and a
// Seq not greater than the previous record's or below FirstSeq.
func (w *Writer) WriteEncoded(f EncodedFrame) error {
	if err := w.usable(); err != nil {
		return err
	}
	if f.RawLen != w.h.FrameBytes() {
		return fmt.Errorf("segment: WriteEncoded seq %d: RawLen %d, a %dx%d frame is %d bytes",
			f.Seq, f.RawLen, w.h.Width, w.h.Height, w.h.FrameBytes())
	}
	if !f.Codec.valid() {
		return fmt.Errorf("segment: WriteEncoded seq %d: unknown codec %d", f.Seq, f.Codec)
	}
	if len(f.Payload) == 0 || len(f.Payload) > f.RawLen {
		return fmt.Errorf("segment: WriteEncoded seq %d: payload of %d bytes, want 1..%d", f.Seq, len(f.Payload), f.RawLen)
	}
	if f.width != 0 && (w.h.Version < 2 || f.width != w.h.Width) {
		return fmt.Errorf("segment: WriteEncoded seq %d: a tiled frame %d px wide does not fit a version-%d segment of width %d",
			f.Seq, f.width, w.h.Version, w.h.Width)
	}
	if f.Codec == CodecRaw && len(f.Payload) != f.RawLen {
		return fmt.Errorf("segment: WriteEncoded seq %d: raw payload of %d bytes, want %d", f.Seq, len(f.Payload), f.RawLen)
	}
	if !f.Key && w.NextKey() {
		if len(w.index) == 0 {
			return fmt.Errorf("segment: WriteEncoded seq %d: the first record of a segment must be a key frame", f.Seq)
		}
		return fmt.Errorf("segment: WriteEncoded seq %d: %d records since the last key frame, key interval %d requires a key frame",
			f.Seq, w.run, w.h.KeyInterval)
	}
	if err := w.checkSeq(f.Seq); err != nil {
		return err
	}
	rh := recordHeader{
		key:        f.Key,
		tiled:      f.width != 0,
		codec:      f.Codec,
		seq:        f.Seq,
		time:       timeToNanos(f.Time),
		payloadLen: uint32(len(f.Payload)),
		payloadCRC: crc32c(f.Payload),
	}
	w.rec = rh.appendTo(w.rec[:0], w.h)
	off := w.off
	if err := w.write(w.rec); err != nil {
		return err
	}
	if err := w.write(f.Payload); err != nil {
		return err
	}
	w.index = append(w.index, indexEntry{seq: f.Seq, off: off, time: rh.time, key: f.Key, tiled: rh.tiled, codec: f.Codec})
	w.lastSeq = f.Seq
	if f.Key {
		w.run = 1
	} else {
		w.run++
	}
	w.prevOK = false // WriteFrame sets it again after this returns
	return nil
}

// Close writes the index and the trailer. It does not close the underlying
// io.Writer. Close is idempotent: later calls return the first call's result.
func (w *Writer) Close() error {
	if w.closed {
		return w.closeErr
	}
	w.closed = true
	if w.err != nil {
		w.closeErr = w.err
		return w.closeErr
	}
	b := w.marshalIndex()
	idxLen := len(b)
	b = append(b, make([]byte, trailerSize)...)
	t := b[idxLen:]
	le.PutUint64(t[0:], uint64(w.off))
	le.PutUint32(t[8:], uint32(len(w.index)))
	le.PutUint32(t[12:], crc32c(b[:idxLen]))
	le.PutUint32(t[20:], crc32c(t[:20]))
	copy(t[24:], trailerMagic[:])
	w.closeErr = w.write(b)
	w.prev, w.payload = nil, nil
	return w.closeErr
}

// marshalIndex returns the index: its header and one entry per record,
// 28 bytes each (versions 1, 2) or compact (3: each field as its step from
// the entry before, in varints).
func (w *Writer) marshalIndex() []byte {
	b := make([]byte, indexHeaderSize, indexHeaderSize+indexEntrySize*len(w.index))
	copy(b[0:4], indexMagic[:])
	le.PutUint32(b[4:], uint32(len(w.index)))
	for i, e := range w.index {
		flags := recordFlags(e.key, e.tiled)
		if !compactLayout(w.h.Version) {
			var p [indexEntrySize]byte
			le.PutUint64(p[0:], e.seq)
			le.PutUint64(p[8:], uint64(e.off))
			le.PutUint64(p[16:], uint64(e.time))
			p[24], p[25] = flags, byte(e.codec)
			b = append(b, p[:]...)
			continue
		}
		// Steps from the entry before; the first from FirstSeq and the
		// session start. A record's size is the step of its offset.
		seq0, time0 := w.h.FirstSeq, timeToNanos(w.h.SessionStart)
		if i > 0 {
			seq0, time0 = w.index[i-1].seq+1, w.index[i-1].time
		}
		end := w.off
		if i+1 < len(w.index) {
			end = w.index[i+1].off
		}
		b = binary.AppendUvarint(b, e.seq-seq0)
		b = binary.AppendUvarint(b, uint64(end-e.off))
		b = binary.AppendVarint(b, e.time-time0)
		b = append(b, flags|byte(e.codec)<<4)
	}
	return b
}

func (w *Writer) usable() error {
	if w.closed {
		return ErrClosed
	}
	return w.err
}

func (w *Writer) checkSeq(seq uint64) error {
	if seq < w.h.FirstSeq {
		return fmt.Errorf("segment: seq %d is below the segment's FirstSeq %d", seq, w.h.FirstSeq)
	}
	if len(w.index) > 0 && seq <= w.lastSeq {
		return fmt.Errorf("segment: seq %d after seq %d: sequence numbers must increase", seq, w.lastSeq)
	}
	if uint64(len(w.index)) >= 1<<32-1 {
		return fmt.Errorf("segment: seq %d: a segment holds at most %d records", seq, uint32(1<<32-1))
	}
	return nil
}

func (w *Writer) write(b []byte) error {
	n, err := w.w.Write(b)
	w.off += int64(n)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("segment: write at offset %d: %w", w.off, err)
		return w.err
	}
	return nil
}
