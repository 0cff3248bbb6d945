package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
	"time"
)

// Version is the format version this package writes by default. It reads
// versions 1 to 3, and writes versions 1 and 2 when a Header asks for them.
// Version 2 added tiled records, version 3 compact record headers and index
// (varints: about 15 and 8 bytes instead of 36 and 28, a tenth of a
// breakout frame).
const Version uint16 = 3

// minVersion is the oldest version this package reads and writes.
const minVersion uint16 = 1

// DefaultKeyInterval is the key interval a Header with KeyInterval 0 gets: at
// most this many records in a row share one key frame. 120 frames is 2 s at
// 60 fps, the keyframe interval video streaming settled on: at 60 fps and
// the default 2-s segments every segment has one key frame, its first, and
// seeking decodes at most 2 s of deltas. (It was 60: key frames were a
// third of a breakout recording.)
const DefaultKeyInterval = 120

// Limits on frame geometry. A header outside them is rejected by both the
// Writer and the Reader, so a damaged or hostile header cannot make a decoder
// allocate more than MaxPixels*4 bytes per frame buffer.
const (
	MaxDimension = 16384   // largest width or height
	MaxPixels    = 1 << 26 // largest width*height (64 Mi pixels, 256 MiB per RGBA8 frame)
)

// Sizes of the fixed-size parts of a segment (see docs/segment-format.md).
const (
	headerSize       = 64
	recordHeaderSize = 36
	indexHeaderSize  = 8
	indexEntrySize   = 28 // versions 1 and 2
	trailerSize      = 32
	// Version 3 index entries: uvarint seq step, uvarint record size,
	// zigzag varint time step, flags|codec<<4.
	compactEntryMin = 4
	compactEntryMax = 3*binary.MaxVarintLen64 + 1
)

// compactLayout reports whether a version has compact (varint) record
// headers and index entries.
func compactLayout(version uint16) bool { return version >= 3 }

// recordFlags is the flags byte of a record header and its index entry.
func recordFlags(key, tiled bool) byte {
	var flags byte
	if key {
		flags |= flagKey
	}
	if tiled {
		flags |= flagTiled
	}
	return flags
}

// Magic numbers. The 0x89 byte (not ASCII) and the trailing newline catch
// files mangled by text-mode transfers, as in PNG.
var (
	headerMagic  = [8]byte{0x89, 'S', 'K', 'Y', 'S', 'E', 'G', '\n'}
	trailerMagic = [8]byte{0x89, 'S', 'K', 'Y', 'E', 'N', 'D', '\n'}
	recordMagic  = [4]byte{'S', 'K', 'F', 'R'}
	// Version 3's record magic: shorter (the header CRC is what makes a
	// resync safe, not the magic).
	compactRecordMagic = [2]byte{'S', 'R'}
	indexMagic         = [4]byte{'S', 'K', 'I', 'X'}
)

// Record flags (byte 4 of a record header, byte 24 of an index entry).
const (
	flagKey   = 1 << 0
	flagTiled = 1 << 1 // version 2: the payload is tiled (docs/segment-format.md)
)

// flagsMask is the flags a version knows; other bits are corruption.
func flagsMask(version uint16) byte {
	if version >= 2 {
		return flagKey | flagTiled
	}
	return flagKey
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

var le = binary.LittleEndian

// PixelFormat is the byte order of the pixels inside a segment.
type PixelFormat uint8

const (
	// RGBA8 is 4 bytes per pixel in R, G, B, A order (image.RGBA's layout).
	RGBA8 PixelFormat = 1
	// BGRA8 is 4 bytes per pixel in B, G, R, A order (a common native GL
	// framebuffer order). Stored as given; the Reader swizzles to RGBA.
	BGRA8 PixelFormat = 2
)

func (p PixelFormat) valid() bool { return p == RGBA8 || p == BGRA8 }

func (p PixelFormat) String() string {
	switch p {
	case RGBA8:
		return "RGBA8"
	case BGRA8:
		return "BGRA8"
	}
	return "PixelFormat(" + strconv.Itoa(int(p)) + ")"
}

// Codec names the compression of one record's payload.
type Codec uint8

const (
	CodecRaw  Codec = 0 // payload stored uncompressed
	CodecZstd Codec = 1 // github.com/klauspost/compress/zstd frame(s)
	CodecS2   Codec = 2 // github.com/klauspost/compress/s2 block
)

func (c Codec) valid() bool { return c <= CodecS2 }

func (c Codec) String() string {
	switch c {
	case CodecRaw:
		return "raw"
	case CodecZstd:
		return "zstd"
	case CodecS2:
		return "s2"
	}
	return "Codec(" + strconv.Itoa(int(c)) + ")"
}

// ParseCodec returns the codec named s: "zstd", "s2" or "raw" ("none" is an
// alias of "raw").
func ParseCodec(s string) (Codec, error) {
	switch s {
	case "zstd":
		return CodecZstd, nil
	case "s2":
		return CodecS2, nil
	case "raw", "none":
		return CodecRaw, nil
	}
	return 0, fmt.Errorf("segment: unknown codec %q (want zstd, s2 or raw)", s)
}

// Header describes a segment. Every field is stored in the segment's
// 64-byte header.
type Header struct {
	// Version is the format version. NewWriter accepts 0 (meaning Version),
	// 1 (no tiled records), 2 (36-byte record headers, 28-byte index
	// entries) or 3 (compact ones); the Reader
	// reports what the file says.
	Version uint16
	// Width and Height are the frame size in pixels, 1..MaxDimension each,
	// with Width*Height <= MaxPixels.
	Width, Height int
	// Format is the pixel byte order; 0 means RGBA8.
	Format PixelFormat
	// KeyInterval bounds the run of records sharing one key frame: the
	// writer makes at least every KeyInterval-th record a key frame.
	// 0 means DefaultKeyInterval; 1 makes every frame a key frame.
	KeyInterval int
	// Codec is the codec Writer.WriteFrame compresses with (CodecRaw, the
	// zero value, stores pixels uncompressed). It is recorded as a hint
	// only: every record names its own codec.
	Codec Codec
	// Segment is this segment's number within its capture session.
	Segment uint64
	// FirstSeq is the lowest frame sequence number the segment may hold.
	// Every record's sequence number is >= FirstSeq; if the first record's
	// is greater, the frames in between were dropped.
	FirstSeq uint64
	// SessionStart is when the capture session started (nanosecond
	// precision, stored as Unix nanoseconds; the zero Time round-trips).
	SessionStart time.Time
}

// FrameBytes is the size in bytes of one raw frame: Width*Height*4.
func (h Header) FrameBytes() int { return h.Width * h.Height * 4 }

// withDefaults fills the zero-valued defaultable fields.
func (h Header) withDefaults() Header {
	if h.Version == 0 {
		h.Version = Version
	}
	if h.Format == 0 {
		h.Format = RGBA8
	}
	if h.KeyInterval == 0 {
		h.KeyInterval = DefaultKeyInterval
	}
	return h
}

// validate checks a header with defaults applied.
func (h Header) validate() error {
	if h.Version < minVersion || h.Version > Version {
		return fmt.Errorf("%w: version %d (this package knows versions %d..%d)", ErrVersion, h.Version, minVersion, Version)
	}
	if h.Width < 1 || h.Width > MaxDimension || h.Height < 1 || h.Height > MaxDimension {
		return fmt.Errorf("frame size %dx%d outside 1x1..%dx%d", h.Width, h.Height, MaxDimension, MaxDimension)
	}
	if h.Width*h.Height > MaxPixels {
		return fmt.Errorf("frame size %dx%d has %d pixels, more than the %d allowed", h.Width, h.Height, h.Width*h.Height, MaxPixels)
	}
	if !h.Format.valid() {
		return fmt.Errorf("unknown pixel format %d", h.Format)
	}
	if h.KeyInterval < 1 || h.KeyInterval > 1<<31-1 {
		return fmt.Errorf("key interval %d outside 1..2^31-1", h.KeyInterval)
	}
	if !h.Codec.valid() {
		return fmt.Errorf("unknown codec %d", h.Codec)
	}
	return nil
}

func timeToNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func nanosToTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func (h Header) marshal() []byte {
	b := make([]byte, headerSize)
	copy(b[0:8], headerMagic[:])
	le.PutUint16(b[8:], h.Version)
	le.PutUint16(b[10:], headerSize)
	le.PutUint32(b[12:], uint32(h.Width))
	le.PutUint32(b[16:], uint32(h.Height))
	b[20] = byte(h.Format)
	b[21] = byte(h.Codec)
	// b[22:24] reserved
	le.PutUint32(b[24:], uint32(h.KeyInterval))
	// b[28:32] reserved (flags)
	le.PutUint64(b[32:], h.Segment)
	le.PutUint64(b[40:], h.FirstSeq)
	le.PutUint64(b[48:], uint64(timeToNanos(h.SessionStart)))
	// b[56:60] reserved
	le.PutUint32(b[60:], crc32c(b[:60]))
	return b
}

// parseHeader decodes and validates the first bytes of a segment. b holds
// min(size, headerSize) bytes.
func parseHeader(b []byte) (Header, error) {
	if len(b) < headerSize {
		n := min(len(b), len(headerMagic))
		if string(b[:n]) != string(headerMagic[:n]) {
			return Header{}, &FormatError{Kind: ErrCorrupt, Offset: 0, Record: -1,
				Msg: fmt.Sprintf("not a skyloop segment: magic % x, want % x", b[:n], headerMagic[:n])}
		}
		return Header{}, &FormatError{Kind: ErrTruncated, Offset: int64(len(b)), Record: -1,
			Msg: fmt.Sprintf("header cut short: %d of %d bytes", len(b), headerSize)}
	}
	if string(b[:8]) != string(headerMagic[:]) {
		return Header{}, &FormatError{Kind: ErrCorrupt, Offset: 0, Record: -1,
			Msg: fmt.Sprintf("not a skyloop segment: magic % x, want % x", b[:8], headerMagic[:])}
	}
	v := le.Uint16(b[8:])
	if v < minVersion || v > Version {
		return Header{}, fmt.Errorf("%w: segment has version %d, this reader knows versions %d..%d", ErrVersion, v, minVersion, Version)
	}
	if got, want := le.Uint32(b[60:]), crc32c(b[:60]); got != want {
		return Header{}, &FormatError{Kind: ErrCorrupt, Offset: 60, Record: -1,
			Msg: fmt.Sprintf("header CRC32C %#08x, computed %#08x", got, want)}
	}
	if hs := le.Uint16(b[10:]); hs != headerSize {
		return Header{}, &FormatError{Kind: ErrCorrupt, Offset: 10, Record: -1,
			Msg: fmt.Sprintf("header size %d, version %d requires %d", hs, v, headerSize)}
	}
	w, hgt := le.Uint32(b[12:]), le.Uint32(b[16:])
	ki := le.Uint32(b[24:])
	if w > MaxDimension || hgt > MaxDimension || ki > 1<<31-1 {
		return Header{}, &FormatError{Kind: ErrCorrupt, Offset: 12, Record: -1,
			Msg: fmt.Sprintf("header out of range: %dx%d, key interval %d", w, hgt, ki)}
	}
	h := Header{
		Version:      v,
		Width:        int(w),
		Height:       int(hgt),
		Format:       PixelFormat(b[20]),
		Codec:        Codec(b[21]),
		KeyInterval:  int(ki),
		Segment:      le.Uint64(b[32:]),
		FirstSeq:     le.Uint64(b[40:]),
		SessionStart: nanosToTime(int64(le.Uint64(b[48:]))),
	}
	if err := h.validate(); err != nil {
		return Header{}, &FormatError{Kind: ErrCorrupt, Offset: 0, Record: -1, Msg: "invalid header: " + err.Error()}
	}
	return h, nil
}

// recordHeader is the header in front of each frame's payload: 36 bytes
// in versions 1 and 2, 14 to 41 in version 3 (compact: varints).
type recordHeader struct {
	key        bool
	tiled      bool
	codec      Codec
	seq        uint64
	time       int64
	payloadLen uint32
	payloadCRC uint32
	size       int // bytes of the header itself (set by parseRecordHeader)
}

// Version-3 record headers: magic, flags|codec<<4, uvarint seq − first_seq,
// varint time − session_start, uvarint payload_len, payload CRC32C, header
// CRC32C.
const (
	minCompactRecordHeader = 2 + 1 + 1 + 1 + 1 + 8
	maxCompactRecordHeader = 2 + 1 + 3*binary.MaxVarintLen64 + 8
)

// recordHeaderLimits returns the smallest and largest record header of a
// version.
func recordHeaderLimits(version uint16) (lo, hi int) {
	if compactLayout(version) {
		return minCompactRecordHeader, maxCompactRecordHeader
	}
	return recordHeaderSize, recordHeaderSize
}

// recordMagicOf returns a version's record magic.
func recordMagicOf(version uint16) []byte {
	if compactLayout(version) {
		return compactRecordMagic[:]
	}
	return recordMagic[:]
}

// appendTo appends the header as h's version writes it.
func (r *recordHeader) appendTo(b []byte, h Header) []byte {
	start := len(b)
	if compactLayout(h.Version) {
		b = append(b, compactRecordMagic[:]...)
		b = append(b, recordFlags(r.key, r.tiled)|byte(r.codec)<<4)
		b = binary.AppendUvarint(b, r.seq-h.FirstSeq)
		b = binary.AppendVarint(b, r.time-timeToNanos(h.SessionStart))
		b = binary.AppendUvarint(b, uint64(r.payloadLen))
		b = le.AppendUint32(b, r.payloadCRC)
		return le.AppendUint32(b, crc32c(b[start:]))
	}
	b = append(b, recordMagic[:]...)
	b = append(b, recordFlags(r.key, r.tiled), byte(r.codec), 0, 0)
	b = le.AppendUint64(b, r.seq)
	b = le.AppendUint64(b, uint64(r.time))
	b = le.AppendUint32(b, r.payloadLen)
	b = le.AppendUint32(b, r.payloadCRC)
	return le.AppendUint32(b, crc32c(b[start:]))
}

// errShortHeader is parseRecordHeader's problem when b ends inside what may
// be a record header: only possible within the largest header's size of
// the end of the data.
const errShortHeader = "record header cut short"

// parseRecordHeader checks magic, CRC, flags and codec of the record header
// at the start of b, in a segment with header h. b holds the header and
// possibly more. It returns a description of the first problem, or "" if
// the header is valid.
func parseRecordHeader(b []byte, h Header) (recordHeader, string) {
	lo, hi := recordHeaderLimits(h.Version)
	magic := recordMagicOf(h.Version)
	if len(b) < lo {
		return recordHeader{}, errShortHeader
	}
	if string(b[:len(magic)]) != string(magic) {
		return recordHeader{}, fmt.Sprintf("record magic % x, want % x", b[:len(magic)], magic)
	}
	if !compactLayout(h.Version) {
		return parseFixedRecordHeader(b, h.Version)
	}
	seq, n1 := uvarintAt(b, 3)
	t, n2 := varintAt(b, 3+max(n1, 0))
	plen, n3 := uvarintAt(b, 3+max(n1, 0)+max(n2, 0))
	size := 3 + n1 + n2 + n3 + 8
	if n1 <= 0 || n2 <= 0 || n3 <= 0 || len(b) < size {
		if len(b) < hi && n1 >= 0 && n2 >= 0 && n3 >= 0 {
			return recordHeader{}, errShortHeader // a varint or the CRCs run past b
		}
		return recordHeader{}, "malformed record header"
	}
	if got, want := le.Uint32(b[size-4:]), crc32c(b[:size-4]); got != want {
		return recordHeader{}, fmt.Sprintf("record header CRC32C %#08x, computed %#08x", got, want)
	}
	flags, c := b[2]&0x0f, Codec(b[2]>>4)
	if flags&^flagsMask(h.Version) != 0 {
		return recordHeader{}, fmt.Sprintf("unknown record flags %#02x", flags)
	}
	if !c.valid() {
		return recordHeader{}, fmt.Sprintf("unknown codec %d", c)
	}
	if seq > math.MaxUint64-h.FirstSeq || plen > math.MaxUint32 {
		return recordHeader{}, fmt.Sprintf("record seq offset %d or payload length %d out of range", seq, plen)
	}
	return recordHeader{
		key:        flags&flagKey != 0,
		tiled:      flags&flagTiled != 0,
		codec:      c,
		seq:        h.FirstSeq + seq,
		time:       timeToNanos(h.SessionStart) + t,
		payloadLen: uint32(plen),
		payloadCRC: le.Uint32(b[size-8:]),
		size:       size,
	}, ""
}

// parseFixedRecordHeader parses the 36-byte record header of versions 1
// and 2 (magic already checked).
func parseFixedRecordHeader(b []byte, version uint16) (recordHeader, string) {
	if got, want := le.Uint32(b[32:]), crc32c(b[:32]); got != want {
		return recordHeader{}, fmt.Sprintf("record header CRC32C %#08x, computed %#08x", got, want)
	}
	if b[4]&^flagsMask(version) != 0 {
		return recordHeader{}, fmt.Sprintf("unknown record flags %#02x", b[4])
	}
	c := Codec(b[5])
	if !c.valid() {
		return recordHeader{}, fmt.Sprintf("unknown codec %d", b[5])
	}
	return recordHeader{
		key:        b[4]&flagKey != 0,
		tiled:      b[4]&flagTiled != 0,
		codec:      c,
		seq:        le.Uint64(b[8:]),
		time:       int64(le.Uint64(b[16:])),
		payloadLen: le.Uint32(b[24:]),
		payloadCRC: le.Uint32(b[28:]),
		size:       recordHeaderSize,
	}, ""
}

// Errors. Damage found while reading is reported as a *FormatError whose
// Unwrap is ErrTruncated or ErrCorrupt, so callers test with errors.Is and
// print the error for the details (record, offset, expected vs found).
var (
	// ErrTruncated: the segment ends early (a crashed or still-running
	// writer). Every complete record before the cut is still readable.
	ErrTruncated = errors.New("segment truncated")
	// ErrCorrupt: bytes that are present are wrong (CRC mismatch, bad magic,
	// impossible lengths, undecodable payload).
	ErrCorrupt = errors.New("segment corrupt")
	// ErrVersion: the segment was written in a format version this package
	// does not read.
	ErrVersion = errors.New("segment: unsupported format version")
	// ErrNotFound: SeekFrame found no key frame at or before the sequence
	// number asked for.
	ErrNotFound = errors.New("segment: frame not found")
	// ErrClosed: the Writer or Reader was used after Close.
	ErrClosed = errors.New("segment: closed")
)

// FormatError describes damage found in a segment.
type FormatError struct {
	Kind   error  // ErrTruncated or ErrCorrupt
	Offset int64  // byte offset in the segment where the problem was found
	Record int    // 0-based record number, or -1 for header, index and trailer
	Seq    uint64 // frame sequence number of the record, if HasSeq
	HasSeq bool
	Msg    string // what was expected and what was found
}

func (e *FormatError) Error() string {
	kind := "segment damaged"
	if e.Kind != nil {
		kind = e.Kind.Error()
	}
	where := fmt.Sprintf("at offset %d", e.Offset)
	if e.Record >= 0 {
		if e.HasSeq {
			where = fmt.Sprintf("record %d (seq %d) at offset %d", e.Record, e.Seq, e.Offset)
		} else {
			where = fmt.Sprintf("record %d at offset %d", e.Record, e.Offset)
		}
	}
	return kind + ": " + where + ": " + e.Msg
}

func (e *FormatError) Unwrap() error { return e.Kind }
