package segment

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"sort"
	"time"
)

// Frame is one decoded frame.
type Frame struct {
	Seq   uint64
	Time  time.Time
	Key   bool  // stored as a key frame (else as a delta)
	Codec Codec // compression of the stored payload
	Size  int   // bytes the record occupies in the segment, header included
	// Image holds the pixels, always converted to RGBA order. From Next it
	// is freshly allocated and owned by the caller; from NextView it is
	// shared with the Reader (see NextView).
	Image *image.RGBA
}

// IndexEntry describes one record, as listed by Reader.Index.
type IndexEntry struct {
	Seq    uint64
	Time   time.Time
	Key    bool
	Tiled  bool // the payload is tiled (version 2 and later: only what changed)
	Codec  Codec
	Offset int64 // byte offset of the record header in the segment
	Size   int64 // bytes of the record, header included
}

// Reader decodes a segment. It reads the header and the index (or, when the
// trailer is missing or damaged, scans all record headers) in NewReader, and
// decodes frames one at a time with Next.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	ra     io.ReaderAt
	size   int64
	closer io.Closer
	h      Header

	entries   []rentry
	frames    int   // entries without err
	truncated bool  // trailer or index unusable: entries came from a forward scan
	endErr    error // reported once by Next after the last entry (scan mode)
	endDone   bool

	pos     int
	prev    []byte // reference frame in the segment's pixel format
	prevOK  bool
	scratch []byte // decompressed delta
	rec     []byte // raw record bytes
	view    []byte // BGRA8 only: RGBA copy of prev for NextView
	tiles   tiledDecoder
	closed  bool
}

// rentry is a record found in the index or by the scan, or (err != nil) a
// damaged region of the record area.
type rentry struct {
	off, span int64
	seq       uint64
	time      int64
	key       bool
	tiled     bool
	codec     Codec
	err       error
}

// Open opens the segment file at path. Close the Reader to close the file.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r, err := NewReader(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.closer = f
	return r, nil
}

// NewReader reads the segment of size bytes in ra. It validates the header,
// then uses the index if the trailer and index are intact; otherwise it
// scans the record headers from the start, and Truncated reports true. It
// returns an error only when the header itself is unusable (errors wrap
// ErrTruncated, ErrCorrupt or ErrVersion). It never panics, whatever the
// input. It reads only the index or the record headers; frame-sized buffers
// (Width*Height*4 bytes, at most 256 MiB by the header limits) are allocated
// by the first Next whose record passes its CRC checks.
func NewReader(ra io.ReaderAt, size int64) (*Reader, error) {
	if size < 0 {
		return nil, fmt.Errorf("segment: negative size %d", size)
	}
	hb := make([]byte, min(size, headerSize))
	if err := readFull(ra, hb, 0); err != nil {
		return nil, err
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, err
	}
	r := &Reader{ra: ra, size: size, h: h}
	if terr := r.loadIndex(); terr != nil {
		r.truncated = true
		r.entries = nil
		if err := r.scan(terr); err != nil {
			return nil, err
		}
	}
	for _, e := range r.entries {
		if e.err == nil {
			r.frames++
		}
	}
	return r, nil
}

// Header returns the segment header.
func (r *Reader) Header() Header { return r.h }

// Len returns the number of records found: all of them when the index was
// used, the complete ones before the end otherwise.
func (r *Reader) Len() int { return r.frames }

// Truncated reports whether the segment's end (index and trailer) was
// missing or damaged, so that only what a forward scan found is readable.
// Next then reports the problem at the end, in place of io.EOF, once.
func (r *Reader) Truncated() bool { return r.truncated }

// EndError is the damage at the segment's end that made NewReader scan
// instead of using the index (an error wrapping ErrTruncated or
// ErrCorrupt), as Next reports it after the last frame; nil when the index
// was used. It lets a reader that looks only at the index (a listing) say
// why frames are missing without decoding them.
func (r *Reader) EndError() error {
	if !r.truncated {
		return nil
	}
	return r.endErr
}

// Index lists the records found, in order.
func (r *Reader) Index() []IndexEntry {
	out := make([]IndexEntry, 0, r.frames)
	for _, e := range r.entries {
		if e.err == nil {
			out = append(out, IndexEntry{Seq: e.seq, Time: nanosToTime(e.time), Key: e.key, Tiled: e.tiled, Codec: e.codec, Offset: e.off, Size: e.span})
		}
	}
	return out
}

// Next decodes the next frame into a newly allocated image. It returns
// io.EOF after the last frame. A damaged record yields an error wrapping
// ErrCorrupt (a *FormatError naming the record, its offset and the
// problem); Next may be called again to go on with the following records,
// of which delta frames fail too until the next key frame. A truncated
// segment yields an error wrapping ErrTruncated after its last complete
// frame, once, and then io.EOF.
func (r *Reader) Next() (Frame, error) {
	f, err := r.next()
	if err != nil {
		return f, err
	}
	img := image.NewRGBA(image.Rect(0, 0, r.h.Width, r.h.Height))
	if r.h.Format == BGRA8 {
		swizzle(img.Pix, r.prev)
	} else {
		copy(img.Pix, r.prev)
	}
	f.Image = img
	return f, nil
}

// NextView is Next without the copy: the returned image shares memory with
// the Reader, stays valid only until the next call to Next, NextView,
// SeekFrame, ReadFrame or Close, and must not be modified (later delta
// frames are decoded on top of it).
func (r *Reader) NextView() (Frame, error) {
	f, err := r.next()
	if err != nil {
		return f, err
	}
	pix := r.prev
	if r.h.Format == BGRA8 {
		if len(r.view) != len(r.prev) {
			r.view = make([]byte, len(r.prev))
		}
		swizzle(r.view, r.prev)
		pix = r.view
	}
	f.Image = &image.RGBA{Pix: pix, Stride: r.h.Width * 4, Rect: image.Rect(0, 0, r.h.Width, r.h.Height)}
	return f, nil
}

// SeekFrame positions the Reader at the nearest intact key frame whose
// sequence number is at or before seq, so that the next Next decodes it and
// the frames after it. It returns an error wrapping ErrNotFound when there is
// no such key frame.
func (r *Reader) SeekFrame(seq uint64) error {
	if r.closed {
		return ErrClosed
	}
	i := sort.Search(len(r.entries), func(i int) bool { return r.entries[i].seq > seq }) - 1
	for ; i >= 0; i-- {
		if e := r.entries[i]; e.err == nil && e.key {
			break
		}
	}
	if i < 0 {
		return fmt.Errorf("%w: no key frame at or before seq %d", ErrNotFound, seq)
	}
	r.pos, r.prevOK, r.endDone = i, false, false
	return nil
}

// ReadFrame returns the frame with sequence number seq (a new image),
// decoding forward from the key frame before it. It returns an error
// wrapping ErrNotFound when the segment has no such frame. Afterwards Next
// continues with the frame after seq.
func (r *Reader) ReadFrame(seq uint64) (Frame, error) {
	if err := r.SeekFrame(seq); err != nil {
		return Frame{}, err
	}
	for r.pos < len(r.entries) {
		e := r.entries[r.pos]
		if e.err == nil && e.seq > seq {
			break
		}
		if e.err == nil && e.seq == seq {
			return r.Next()
		}
		if _, err := r.next(); err != nil { // decode the frames before seq without copying them out
			return Frame{}, err
		}
	}
	return Frame{}, fmt.Errorf("%w: seq %d is not in the segment (a dropped frame, or outside the segment)", ErrNotFound, seq)
}

// Close releases the Reader and closes the file if it came from Open. It is
// idempotent.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.prev, r.scratch, r.rec, r.view, r.entries = nil, nil, nil, nil, nil
	r.tiles = tiledDecoder{}
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// Decode decodes a whole segment held in memory. It returns the frames
// decoded before the first problem and that problem (nil for an intact
// segment, an error wrapping ErrTruncated for one cut short). Every frame is
// a separate image, so this is for tests and tools, not for long segments.
func Decode(data []byte) ([]Frame, error) {
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	var frames []Frame
	for {
		f, err := r.Next()
		if err == io.EOF {
			return frames, nil
		}
		if err != nil {
			return frames, err
		}
		frames = append(frames, f)
	}
}

// next decodes the next record into r.prev and returns its metadata.
func (r *Reader) next() (Frame, error) {
	if r.closed {
		return Frame{}, ErrClosed
	}
	if r.pos >= len(r.entries) {
		if r.endErr != nil && !r.endDone {
			r.endDone = true
			return Frame{}, r.endErr
		}
		return Frame{}, io.EOF
	}
	i := r.pos
	e := r.entries[i]
	r.pos++
	if e.err != nil {
		r.prevOK = false
		return Frame{}, e.err
	}
	if err := r.decode(i, e); err != nil {
		r.prevOK = false
		return Frame{}, err
	}
	r.prevOK = true
	return Frame{Seq: e.seq, Time: nanosToTime(e.time), Key: e.key, Codec: e.codec, Size: int(e.span)}, nil
}

func (r *Reader) decode(i int, e rentry) error {
	bad := func(kind error, off int64, format string, args ...any) error {
		return &FormatError{Kind: kind, Offset: off, Record: i, Seq: e.seq, HasSeq: true, Msg: fmt.Sprintf(format, args...)}
	}
	if cap(r.rec) < int(e.span) {
		r.rec = make([]byte, e.span)
	}
	rec := r.rec[:e.span]
	if err := readFull(r.ra, rec, e.off); err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			return bad(ErrTruncated, e.off, "record of %d bytes is not all there (the segment shrank?)", e.span)
		}
		return fmt.Errorf("segment: record %d (seq %d) at offset %d: %w", i, e.seq, e.off, err)
	}
	rh, problem := parseRecordHeader(rec, r.h)
	if problem != "" {
		return bad(ErrCorrupt, e.off, "%s", problem)
	}
	hs := int64(rh.size)
	switch {
	case rh.seq != e.seq || rh.time != e.time || rh.key != e.key || rh.tiled != e.tiled || rh.codec != e.codec:
		return bad(ErrCorrupt, e.off, "record header (seq %d, time %d, key %t, tiled %t, codec %s) disagrees with the index (seq %d, time %d, key %t, tiled %t, codec %s)",
			rh.seq, rh.time, rh.key, rh.tiled, rh.codec, e.seq, e.time, e.key, e.tiled, e.codec)
	case int64(rh.payloadLen) != e.span-hs:
		return bad(ErrCorrupt, e.off, "payload length %d, but the record spans %d bytes (header %d)", rh.payloadLen, e.span, hs)
	}
	payload := rec[hs:]
	if got := crc32c(payload); got != rh.payloadCRC {
		return bad(ErrCorrupt, e.off+hs, "payload CRC32C %#08x, computed %#08x over %d bytes", rh.payloadCRC, got, len(payload))
	}
	n := r.h.FrameBytes()
	if len(r.prev) != n {
		r.prev = make([]byte, n) // only once a record with an intact payload is seen
		r.prevOK = false
		r.tiles.unsync()
	}
	if e.tiled {
		if !e.key && !r.prevOK {
			return bad(ErrCorrupt, e.off, "delta frame without its reference frame (the record before it was not decoded)")
		}
		out, err := r.tiles.decodeTiled(r.prev, payload, e.codec, e.key, r.h.Width, r.h.Height)
		if err != nil {
			r.tiles.unsync()
			return bad(ErrCorrupt, e.off+hs, "tiled payload: %v", err)
		}
		if &out[0] != &r.prev[0] {
			r.prev, r.tiles.alt = out, r.prev
		}
		return nil
	}
	r.tiles.unsync() // the whole frame is written below
	if e.key {
		if err := decompress(r.prev, payload, e.codec, n); err != nil {
			return bad(ErrCorrupt, e.off+hs, "key frame payload: %v", err)
		}
		return nil
	}
	if !r.prevOK {
		return bad(ErrCorrupt, e.off, "delta frame without its reference frame (the record before it was not decoded)")
	}
	if len(r.scratch) != n {
		r.scratch = make([]byte, n)
	}
	if err := decompress(r.scratch, payload, e.codec, n); err != nil {
		return bad(ErrCorrupt, e.off+hs, "delta frame payload: %v", err)
	}
	subtle.XORBytes(r.prev, r.prev, r.scratch)
	return nil
}

// loadIndex reads the trailer and index. It returns why they are unusable,
// or nil after filling r.entries.
func (r *Reader) loadIndex() error {
	trunc := func(off int64, format string, args ...any) error {
		return &FormatError{Kind: ErrTruncated, Offset: off, Record: -1, Msg: fmt.Sprintf(format, args...)}
	}
	corrupt := func(off int64, format string, args ...any) error {
		return &FormatError{Kind: ErrCorrupt, Offset: off, Record: -1, Msg: fmt.Sprintf(format, args...)}
	}
	if r.size < headerSize+indexHeaderSize+trailerSize {
		return trunc(r.size, "no index and trailer: segment is only %d bytes", r.size)
	}
	tOff := r.size - trailerSize
	t := make([]byte, trailerSize)
	if err := readFull(r.ra, t, tOff); err != nil {
		return err
	}
	if string(t[24:]) != string(trailerMagic[:]) {
		return trunc(r.size, "no trailer: the last 8 bytes are % x, not the trailer magic", t[24:])
	}
	if got, want := le.Uint32(t[20:]), crc32c(t[:20]); got != want {
		return corrupt(tOff+20, "trailer CRC32C %#08x, computed %#08x", got, want)
	}
	idxOff, count := le.Uint64(t[0:]), uint64(le.Uint32(t[8:]))
	fits := idxOff >= headerSize && idxOff <= uint64(tOff) && uint64(tOff)-idxOff == indexHeaderSize+indexEntrySize*count
	if compactLayout(r.h.Version) {
		n := uint64(tOff) - idxOff
		fits = idxOff >= headerSize && idxOff <= uint64(tOff) && n >= indexHeaderSize+compactEntryMin*count && n <= indexHeaderSize+compactEntryMax*count
	}
	if !fits {
		return corrupt(tOff, "trailer places an index of %d entries at offset %d, which does not end at the trailer (offset %d)", count, idxOff, tOff)
	}
	// Every record takes at least its smallest header and a byte, so the
	// records before the index bound the count (and what the entries
	// below allocate: a few times the segment's size at most).
	minHeader, maxHeader := recordHeaderLimits(r.h.Version)
	if count*uint64(minHeader+1) > idxOff-headerSize {
		return corrupt(tOff, "trailer counts %d records, more than the %d bytes before the index can hold", count, idxOff-headerSize)
	}
	idx := make([]byte, uint64(tOff)-idxOff) // bounded by the segment's size
	if err := readFull(r.ra, idx, int64(idxOff)); err != nil {
		return err
	}
	if got, want := le.Uint32(t[12:]), crc32c(idx); got != want {
		return corrupt(int64(idxOff), "index CRC32C %#08x (from the trailer), computed %#08x", got, want)
	}
	if string(idx[:4]) != string(indexMagic[:]) || uint64(le.Uint32(idx[4:])) != count {
		return corrupt(int64(idxOff), "index magic % x or count %d disagree with the trailer (count %d)", idx[:4], le.Uint32(idx[4:]), count)
	}
	minSpan, maxSpan := int64(minHeader+1), int64(maxHeader+r.h.FrameBytes())
	entries := make([]rentry, count)
	p := idx[indexHeaderSize:]
	var seqNext, off uint64 = r.h.FirstSeq, headerSize // compact: the steps' bases
	prevTime := timeToNanos(r.h.SessionStart)
	for i := range entries {
		e := &entries[i]
		at := int64(idxOff) + int64(len(idx)-len(p))
		var flags byte
		var codec Codec
		if compactLayout(r.h.Version) {
			// Each field is its step from the entry before. A varint
			// that runs past the index, or steps that overflow, are
			// corruption; the checks below catch the rest.
			seqStep, n1 := binary.Uvarint(p)
			size, n2 := uvarintAt(p, n1)
			timeStep, n3 := varintAt(p, n1+n2)
			if n1 <= 0 || n2 <= 0 || n3 <= 0 || len(p) <= n1+n2+n3 || seqStep > math.MaxUint64-seqNext || size > idxOff-off {
				return corrupt(at, "index entry %d: malformed compact entry", i)
			}
			e.seq, e.off, e.time = seqNext+seqStep, int64(off), prevTime+timeStep
			b := p[n1+n2+n3]
			flags, codec = b&0x0f, Codec(b>>4)
			p = p[n1+n2+n3+1:]
			seqNext, off, prevTime = e.seq+1, off+size, e.time
			if e.seq == math.MaxUint64 {
				seqNext = e.seq // a following entry cannot exceed it: caught as out of order
			}
			if i == len(entries)-1 && (len(p) != 0 || off != idxOff) {
				return corrupt(at, "index entry %d: the entries end at offset %d with %d index bytes left, records end at the index (offset %d)", i, off, len(p), idxOff)
			}
		} else {
			e.seq = le.Uint64(p[0:])
			off = le.Uint64(p[8:])
			e.time = int64(le.Uint64(p[16:]))
			flags, codec = p[24], Codec(p[25])
			p = p[indexEntrySize:]
		}
		if flags&^flagsMask(r.h.Version) != 0 || !codec.valid() {
			return corrupt(at, "index entry %d: flags %#02x, codec %d", i, flags, codec)
		}
		e.key, e.tiled, e.codec = flags&flagKey != 0, flags&flagTiled != 0, codec
		if !compactLayout(r.h.Version) {
			if off > uint64(r.size) {
				return corrupt(at, "index entry %d: offset %d beyond the segment", i, off)
			}
			e.off = int64(off)
		}
		if i == 0 && e.off != headerSize {
			return corrupt(at, "index entry 0: offset %d, records start at %d", e.off, headerSize)
		}
		if e.seq < r.h.FirstSeq || (i > 0 && e.seq <= entries[i-1].seq) {
			return corrupt(at, "index entry %d: seq %d out of order (FirstSeq %d)", i, e.seq, r.h.FirstSeq)
		}
		if i > 0 {
			prev := &entries[i-1]
			prev.span = e.off - prev.off
			if prev.span < minSpan || prev.span > maxSpan {
				return corrupt(at, "index entry %d: offset %d leaves %d bytes for record %d", i, e.off, prev.span, i-1)
			}
		}
	}
	if count == 0 {
		if compactLayout(r.h.Version) && len(p) != 0 {
			return corrupt(int64(idxOff), "empty index with %d bytes of entries", len(p))
		}
		if idxOff != headerSize {
			return corrupt(int64(idxOff), "empty index at offset %d, records would end at %d", idxOff, headerSize)
		}
	} else {
		last := &entries[count-1]
		last.span = int64(idxOff) - last.off
		if last.span < minSpan || last.span > maxSpan {
			return corrupt(int64(idxOff), "index places the last record at offset %d, leaving %d bytes before the index", last.off, last.span)
		}
	}
	r.entries = entries
	return nil
}

// uvarintAt and varintAt decode a varint at b[i:] (n <= 0 when there is
// none: see binary.Uvarint).
func uvarintAt(b []byte, i int) (uint64, int) {
	if i <= 0 || i > len(b) {
		return 0, 0
	}
	return binary.Uvarint(b[i:])
}

func varintAt(b []byte, i int) (int64, int) {
	if i <= 0 || i > len(b) {
		return 0, 0
	}
	return binary.Varint(b[i:])
}

// scan walks the record headers from the start of the record area. It is
// used when the index is unusable (why is the reason, reported at the end
// if the scan reaches the index).
func (r *Reader) scan(why error) error {
	n := r.h.FrameBytes()
	off := int64(headerSize)
	var lastSeq uint64
	have := false
	_, maxHeader := recordHeaderLimits(r.h.Version)
	magic := recordMagicOf(r.h.Version)
	buf := make([]byte, maxHeader)
	fe := func(kind error, off int64, msg string) *FormatError {
		return &FormatError{Kind: kind, Offset: off, Record: len(r.entries), Msg: msg}
	}
	// check validates a record header found at some offset: intact, in
	// sequence, with a plausible payload length.
	check := func(b []byte) (recordHeader, string) {
		rh, problem := parseRecordHeader(b, r.h)
		switch {
		case problem != "":
		case rh.seq < r.h.FirstSeq:
			problem = fmt.Sprintf("seq %d below the segment's FirstSeq %d", rh.seq, r.h.FirstSeq)
		case have && rh.seq <= lastSeq:
			problem = fmt.Sprintf("seq %d does not follow seq %d", rh.seq, lastSeq)
		case rh.payloadLen == 0 || int64(rh.payloadLen) > int64(n):
			problem = fmt.Sprintf("payload length %d outside 1..%d", rh.payloadLen, n)
		}
		return rh, problem
	}
	for {
		if off == r.size {
			r.endErr = fe(ErrTruncated, off, fmt.Sprintf("segment ends after %d records with no index or trailer", len(r.entries)))
			return nil
		}
		k := min(r.size-off, int64(maxHeader))
		b := buf[:k]
		if err := readFull(r.ra, b, off); err != nil {
			return err
		}
		if k >= 4 && string(b[:4]) == string(indexMagic[:]) {
			// Records end here; the index or trailer after them is damaged.
			msg := "records end at the index"
			var why2 *FormatError
			if errors.As(why, &why2) {
				r.endErr = &FormatError{Kind: why2.Kind, Offset: why2.Offset, Record: -1, Msg: fmt.Sprintf("%s (offset %d) after %d records, but %s", msg, off, len(r.entries), why2.Msg)}
			} else {
				r.endErr = why
			}
			return nil
		}
		rh, problem := check(b)
		if problem == errShortHeader {
			// The data ends inside what may be a record header.
			m, n := min(int(k), len(magic)), min(int(k), len(indexMagic))
			if string(b[:m]) == string(magic[:m]) || string(b[:n]) == string(indexMagic[:n]) {
				r.endErr = fe(ErrTruncated, off, fmt.Sprintf("record header cut short: %d bytes at the end", k))
			} else {
				r.endErr = fe(ErrCorrupt, off, fmt.Sprintf("%d stray bytes % x at the end", k, b))
			}
			return nil
		}
		if problem != "" {
			next, found, err := r.resync(off+1, check)
			if err != nil {
				return err
			}
			if !found {
				r.endErr = fe(ErrCorrupt, off, problem+"; no intact record follows")
				return nil
			}
			seq := r.h.FirstSeq
			if have {
				seq = lastSeq
			}
			r.entries = append(r.entries, rentry{off: off, span: next - off, seq: seq,
				err: fe(ErrCorrupt, off, fmt.Sprintf("%s; skipped %d bytes to the next intact record at offset %d", problem, next-off, next))})
			off = next
			continue
		}
		end := off + int64(rh.size) + int64(rh.payloadLen)
		if end > r.size {
			e := fe(ErrTruncated, off, fmt.Sprintf("payload of %d bytes cut short: %d bytes present", rh.payloadLen, r.size-off-int64(rh.size)))
			e.Seq, e.HasSeq = rh.seq, true
			r.endErr = e
			return nil
		}
		r.entries = append(r.entries, rentry{off: off, span: end - off, seq: rh.seq, time: rh.time, key: rh.key, tiled: rh.tiled, codec: rh.codec})
		lastSeq, have = rh.seq, true
		off = end
	}
}

// resync searches from offset from for the next intact record header
// (magic, CRC and sequence all valid).
func (r *Reader) resync(from int64, check func([]byte) (recordHeader, string)) (int64, bool, error) {
	const chunk = 64 << 10
	minHeader, maxHeader := recordHeaderLimits(r.h.Version)
	magic := recordMagicOf(r.h.Version)
	buf := make([]byte, chunk+maxHeader)
	for start := from; start+int64(minHeader) <= r.size; start += chunk {
		k := min(int64(len(buf)), r.size-start)
		b := buf[:k]
		if err := readFull(r.ra, b, start); err != nil {
			return 0, false, err
		}
		for i := 0; ; {
			j := bytes.Index(b[i:], magic)
			if j < 0 {
				break
			}
			i += j
			if i >= chunk {
				break // the next chunk sees it whole
			}
			// b holds a whole header here unless the data ends first.
			if _, problem := check(b[i:min(i+maxHeader, len(b))]); problem == "" {
				return start + int64(i), true, nil
			}
			i++
		}
	}
	return 0, false, nil
}

// readFull reads len(b) bytes at off. A short read is a *FormatError
// wrapping ErrTruncated; other I/O errors are returned as they are.
func readFull(ra io.ReaderAt, b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	n, err := ra.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
		return &FormatError{Kind: ErrTruncated, Offset: off + int64(n), Record: -1,
			Msg: fmt.Sprintf("read %d of %d bytes", n, len(b))}
	}
	return fmt.Errorf("segment: read at offset %d: %w", off, err)
}

// swizzle converts BGRA8 pixels in src to RGBA8 in dst (or back: the
// conversion swaps bytes 0 and 2 of every pixel).
func swizzle(dst, src []byte) {
	dst = dst[:len(src)]
	i := 0
	for ; i+8 <= len(src); i += 8 {
		v := binary.LittleEndian.Uint64(src[i:])
		v = v&0xff00ff00ff00ff00 | (v>>16)&0x000000ff000000ff | (v&0x000000ff000000ff)<<16
		binary.LittleEndian.PutUint64(dst[i:], v)
	}
	for ; i+4 <= len(src); i += 4 {
		dst[i], dst[i+1], dst[i+2], dst[i+3] = src[i+2], src[i+1], src[i], src[i+3]
	}
}
