package segment

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// EncodedFrame is one compressed frame, ready for Writer.WriteEncoded.
type EncodedFrame struct {
	Seq     uint64    // frame sequence number (set by the caller)
	Time    time.Time // capture time (set by the caller)
	Key     bool      // true: Payload holds the frame; false: the XOR with the previous record's frame
	Codec   Codec     // compression of Payload
	Payload []byte    // the compressed bytes
	RawLen  int       // size of the raw frame in bytes (width*height*4)

	// width > 0: Payload is a tiled (version-2) payload for frames this
	// many pixels wide; Writer.WriteEncoded checks it against the header.
	width int
}

// Parameters of the key-or-delta choice; see docs/segment-format.md,
// "Choosing key or delta".
const (
	sampleMinBytes  = 256 << 10      // frames this big are judged on a sample ...
	sampleStripes   = 8              // ... of 8 evenly spaced stripes
	sampleFrac      = 16             // ... totalling 1/16 of the frame
	deltaOnlyBelow  = 256 * 30 / 100 // under 30 % of the sample changed: compress the delta only
	deltaSanityFrac = 4              // ... unless it exceeds raw/4: then compare with the key
)

// strategy selects how EncodeFrame decides between key and delta; only
// tests and benchmarks use anything but strategyAuto.
type strategy int

const (
	strategyAuto strategy = iota // the heuristic above
	strategyBoth                 // always compress both and keep the smaller
)

// EncodeFrame compresses one raw frame. It is stateless and safe for
// concurrent use, so a capture pipeline can compress frames on several
// goroutines and write them in order afterwards with Writer.WriteEncoded.
//
// cur is the frame's raw pixels. prev is the raw pixels of the frame that
// will be written immediately before this one in the same segment, or nil;
// it must have len(cur) bytes. With prev == nil or forceKey the result is a
// key frame. Otherwise EncodeFrame picks whichever of the key payload and
// the delta payload (XOR of cur and prev) it expects to be smaller: from a
// sampled count of changed pixels and, when many changed, from compressing
// a 1/16 sample of both (see docs/segment-format.md). If the chosen payload would not be smaller than
// the raw frame, the frame is stored as a raw key frame, so a payload is
// never larger than RawLen.
//
// The payload is written into dst's storage (dst[:0]) when it is large
// enough, else into a new slice; the result's Payload aliases it. Seq and
// Time of the result are zero: the caller sets them.
func EncodeFrame(dst, cur, prev []byte, codec Codec, forceKey bool) (EncodedFrame, error) {
	return encodeFrame(dst, cur, prev, codec, forceKey, strategyAuto)
}

// EncodeOptions tunes EncodeFrameWith.
type EncodeOptions struct {
	Codec Codec
	Key   bool // force a key frame
	// Effort is the compression effort, from 1 (fastest) to MaxEffort
	// (smallest); 0 is DefaultEffort. The capture pipeline raises it when
	// its encoders have time to spare and lowers it when they fall behind.
	Effort int
	// Width is the frame's width in pixels. With it (and a codec other
	// than CodecRaw) the frame is coded in tiles: only tiles that changed,
	// each as a delta, a shifted copy of the previous frame or intra
	// (format version 2, see docs/segment-format.md). 0 codes the frame as
	// one run of bytes, key or XOR delta, as version 1 did; Effort is then
	// ignored. Tiled records need a segment of version 2 or later and of
	// this width.
	Width int
}

// Effort levels of EncodeOptions.
const (
	MinEffort     = 1
	DefaultEffort = 2
	MaxEffort     = 4
)

// EncodeFrameWith is EncodeFrame with options. Like EncodeFrame it never
// returns a payload larger than the raw frame (falling back to a raw key
// frame) and reuses dst's storage; its scratch buffers are pooled, so it
// allocates nothing per frame once warm.
func EncodeFrameWith(dst, cur, prev []byte, o EncodeOptions) (EncodedFrame, error) {
	if o.Effort < 0 || o.Effort > MaxEffort {
		return EncodedFrame{}, fmt.Errorf("segment: effort %d: want 0 (default) or %d..%d", o.Effort, MinEffort, MaxEffort)
	}
	if o.Width == 0 {
		return encodeFrame(dst, cur, prev, o.Codec, o.Key, strategyAuto)
	}
	if !o.Codec.valid() {
		return EncodedFrame{}, fmt.Errorf("segment: unknown codec %d", o.Codec)
	}
	n := len(cur)
	if o.Width < 0 || o.Width > MaxDimension || n == 0 || n%(4*o.Width) != 0 || n/(4*o.Width) > MaxDimension || n > MaxPixels*4 {
		return EncodedFrame{}, fmt.Errorf("segment: frame of %d bytes and width %d: want whole rows of 4-byte pixels, at most %dx%d", n, o.Width, MaxDimension, MaxDimension)
	}
	if prev != nil && len(prev) != n {
		return EncodedFrame{}, fmt.Errorf("segment: previous frame has %d bytes, current %d", len(prev), n)
	}
	if o.Codec == CodecRaw {
		return encodeFrame(dst, cur, nil, o.Codec, true, strategyAuto) // raw means the pixels themselves
	}
	effort := o.Effort
	if effort == 0 {
		effort = DefaultEffort
	}
	if o.Key {
		prev = nil
	}
	// At effort 1 a zstd encoder compresses large bodies with s2 (each
	// record names its codec): 4× faster, about twice the bytes. Small
	// bodies (a few sprites moved) stay zstd: cheap on so little.
	fast := effort == MinEffort && o.Codec == CodecZstd
	payload, codec := encodeTiled(dst[:0], cur, prev, o.Width, o.Codec, efforts[effort], fast)
	out := EncodedFrame{RawLen: n, Codec: codec, Key: prev == nil, Payload: payload, width: o.Width}
	if prev == nil {
		// Key frames (one in KeyInterval) are also compressed whole and
		// the smaller kept: intra tiles lose to plain zstd on flat
		// screens (breakout-like: 10.6 vs 2.1 KB at 1080p), win on
		// detailed ones.
		// At effort 1 the whole frame is compressed with s2, unless the
		// tiles came out under 1/32 of the raw frame: a simple screen,
		// on which zstd is fast and a fifth smaller (breakout's 640x480:
		// 4974 against 6066 bytes).
		// zstd at the effort's level (a key frame is one in KeyInterval);
		// a simple screen (tiles under 1/32 of the raw frame) at the
		// better level whatever the effort: on so regular a frame it
		// costs 1.2-1.6× the fastest and saves a sixth to a half
		// (breakout 640x480: 6228 against 7477 bytes in 2.8 against
		// 0.75 ms; a 1080p static screen 1019 against 2096 bytes in 4.2
		// against 3.0 ms).
		keyCodec, level := o.Codec, efforts[effort].zlevel
		switch {
		case len(out.Payload) <= n/32:
			level = 2
		case fast:
			keyCodec = CodecS2
		}
		kb := getBuf(compressBound(n, keyCodec))
		defer putBuf(kb)
		k := (*kb)[:0]
		if keyCodec == CodecZstd {
			k = zstdLevel(level).EncodeAll(cur, k)
		} else {
			k = compress(k, cur, keyCodec)
		}
		if len(k) < len(out.Payload) {
			out.Payload, out.width, out.Codec = append(out.Payload[:0], k...), 0, keyCodec
		}
	}
	return finish(out, cur), nil
}

func encodeFrame(dst, cur, prev []byte, codec Codec, forceKey bool, strat strategy) (EncodedFrame, error) {
	if !codec.valid() {
		return EncodedFrame{}, fmt.Errorf("segment: unknown codec %d", codec)
	}
	n := len(cur)
	if n == 0 || n%4 != 0 || n > MaxPixels*4 {
		return EncodedFrame{}, fmt.Errorf("segment: frame of %d bytes: want a positive multiple of 4, at most %d", n, MaxPixels*4)
	}
	if prev != nil && len(prev) != n {
		return EncodedFrame{}, fmt.Errorf("segment: previous frame has %d bytes, current %d", len(prev), n)
	}
	out := EncodedFrame{RawLen: n, Codec: codec, Key: true}
	if codec == CodecRaw {
		out.Payload = append(dst[:0], cur...)
		return out, nil
	}
	if prev == nil || forceKey {
		out.Payload = compress(dst[:0], cur, codec)
		return finish(out, cur), nil
	}

	if strat == strategyBoth {
		return smaller(out, compressDelta(dst[:0], cur, prev, codec), cur, codec), nil
	}

	// Look at a sample first: 1/sampleFrac of the frame in sampleStripes
	// stripes of whole rows' worth of bytes (all of a small frame).
	var ks, ds []byte
	if n >= sampleMinBytes {
		stripe := n / (sampleFrac * sampleStripes) &^ 7
		step := n / sampleStripes
		sb := getBuf(2 * stripe * sampleStripes)
		defer putBuf(sb)
		ks, ds = (*sb)[:0], (*sb)[stripe*sampleStripes:stripe*sampleStripes]
		for i := range sampleStripes {
			off := i*step + (step-stripe)/2
			ks = append(ks, cur[off:off+stripe]...)
			ds = ds[:len(ds)+stripe]
			subtle.XORBytes(ds[len(ds)-stripe:], cur[off:off+stripe], prev[off:off+stripe])
		}
	} else {
		xb := getBuf(n)
		defer putBuf(xb)
		ks, ds = cur, (*xb)[:n]
		subtle.XORBytes(ds, cur, prev)
	}

	if changed256(ds) < deltaOnlyBelow {
		// Few pixels changed: the delta is mostly zeros and wins, unless
		// it turns out large.
		var d []byte
		if n < sampleMinBytes {
			d = compressSparse(dst[:0], ds, codec) // ds is the whole delta
		} else {
			d = compressSparseDelta(dst[:0], cur, prev, codec)
		}
		if len(d) <= n/deltaSanityFrac {
			out.Key, out.Payload = false, d
			return finish(out, cur), nil
		}
		return smaller(out, d, cur, codec), nil
	}
	if n < sampleMinBytes {
		return smaller(out, compress(dst[:0], ds, codec), cur, codec), nil
	}
	// Many pixels changed: compress the samples of both, then the winner.
	outb := getBuf(compressBound(len(ks), codec))
	defer putBuf(outb)
	kl := len(compress((*outb)[:0], ks, codec))
	dl := len(compress((*outb)[:0], ds, codec))
	if int64(dl)*10 < int64(kl)*9 { // ties go to the key frame: better for seeking and recovery
		out.Key, out.Payload = false, compressDelta(dst[:0], cur, prev, codec)
	} else {
		out.Payload = compress(dst[:0], cur, codec)
	}
	return finish(out, cur), nil
}

// compressDelta compresses cur XOR prev, appending to dst.
func compressDelta(dst, cur, prev []byte, codec Codec) []byte {
	xb := getBuf(len(cur))
	defer putBuf(xb)
	x := (*xb)[:len(cur)]
	subtle.XORBytes(x, cur, prev)
	return compress(dst, x, codec)
}

// compressSparseDelta is compressDelta for a delta that is mostly zeros.
func compressSparseDelta(dst, cur, prev []byte, codec Codec) []byte {
	xb := getBuf(len(cur))
	defer putBuf(xb)
	x := (*xb)[:len(cur)]
	subtle.XORBytes(x, cur, prev)
	return compressSparse(dst, x, codec)
}

// compressSparse compresses mostly-zero data with a stronger zstd level:
// on such input it costs about what the fastest level does (the zero runs
// are cheap at any level) and stores the few changed bytes in a third to a
// half of the size — measured on breakout recordings, 109 vs 348 bytes per
// delta at 640x480 (docs/benchmarks.md). s2 is unchanged.
func compressSparse(dst, src []byte, codec Codec) []byte {
	if codec == CodecZstd {
		return zstdSparseEncoder().EncodeAll(src, dst)
	}
	return compress(dst, src, codec)
}

// smaller compresses the key frame and returns whichever of it and the
// compressed delta d is smaller (d's storage holds the result).
func smaller(out EncodedFrame, d, cur []byte, codec Codec) EncodedFrame {
	kb := getBuf(compressBound(len(cur), codec))
	defer putBuf(kb)
	k := compress((*kb)[:0], cur, codec)
	if len(d) < len(k) {
		out.Key, out.Payload = false, d
	} else {
		out.Payload = append(d[:0], k...)
	}
	return finish(out, cur)
}

// finish falls back to a raw key frame when compression did not help.
func finish(f EncodedFrame, cur []byte) EncodedFrame {
	if len(f.Payload) >= len(cur) {
		f.Key, f.Codec, f.width = true, CodecRaw, 0
		f.Payload = append(f.Payload[:0], cur...)
	}
	return f
}

// changed256 returns the fraction of non-zero 8-byte words (pairs of
// pixels) in an XOR delta, in 1/256ths.
func changed256(delta []byte) int {
	words := len(delta) / 8
	if words == 0 {
		return 256
	}
	nonzero := 0
	for i := 0; i < words; i++ {
		if binary.NativeEndian.Uint64(delta[i*8:]) != 0 {
			nonzero++
		}
	}
	return nonzero * 256 / words
}

func compress(dst, src []byte, codec Codec) []byte {
	switch codec {
	case CodecZstd:
		return zstdEncoder().EncodeAll(src, dst)
	case CodecS2:
		if cap(dst) < s2.MaxEncodedLen(len(src)) {
			dst = nil // let s2 allocate exactly once
		}
		return s2.Encode(dst, src)
	}
	return append(dst, src...)
}

// compressBound is a buffer size that compress never outgrows.
func compressBound(n int, codec Codec) int {
	if codec == CodecS2 {
		return s2.MaxEncodedLen(n)
	}
	return n + n/128 + 1024 // zstd: raw blocks plus headers
}

// Shared codec instances. zstd.Encoder.EncodeAll and Decoder.DecodeAll are
// safe for concurrent use and keep internal pools of GOMAXPROCS states.
var (
	zencOnce sync.Once
	zenc     *zstd.Encoder
	zdecOnce sync.Once
	zdec     *zstd.Decoder
)

func zstdEncoder() *zstd.Encoder {
	zencOnce.Do(func() { zenc = newZstdEncoder(zstd.SpeedFastest) })
	return zenc
}

// zstdLevel returns the shared encoder of effortParams.zlevel: 0 fastest,
// 1 default, 2 better compression.
func zstdLevel(l int) *zstd.Encoder {
	switch l {
	case 0:
		return zstdEncoder()
	case 1:
		zdefOnce.Do(func() { zdef = newZstdEncoder(zstd.SpeedDefault) })
		return zdef
	}
	return zstdSparseEncoder()
}

var (
	zdefOnce sync.Once
	zdef     *zstd.Encoder
)

var (
	zsparseOnce sync.Once
	zsparse     *zstd.Encoder
)

func zstdSparseEncoder() *zstd.Encoder {
	zsparseOnce.Do(func() { zsparse = newZstdEncoder(zstd.SpeedBetterCompression) })
	return zsparse
}

func newZstdEncoder(level zstd.EncoderLevel) *zstd.Encoder {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithEncoderCRC(false), // records carry their own CRC32C
	)
	if err != nil {
		panic("segment: zstd encoder: " + err.Error()) // only on invalid options
	}
	return enc
}

func zstdDecoder() *zstd.Decoder {
	zdecOnce.Do(func() {
		var err error
		zdec, err = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxPixels*4),
			zstd.WithDecodeAllCapLimit(true), // never decode past cap(dst)
		)
		if err != nil {
			panic("segment: zstd decoder: " + err.Error())
		}
	})
	return zdec
}

// decompress decodes payload into dst[:n], which must have cap >= n, and
// fails unless it decodes to exactly n bytes.
func decompress(dst, payload []byte, codec Codec, n int) error {
	dst = dst[:0:n]
	switch codec {
	case CodecRaw:
		if len(payload) != n {
			return fmt.Errorf("raw payload has %d bytes, frame needs %d", len(payload), n)
		}
		copy(dst[:n], payload)
		return nil
	case CodecZstd:
		out, err := zstdDecoder().DecodeAll(payload, dst)
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		if len(out) != n {
			return fmt.Errorf("zstd payload decodes to %d bytes, frame needs %d", len(out), n)
		}
		if &out[0] != &dst[:1][0] {
			copy(dst[:n], out) // the decoder reallocated; not expected with the cap limit
		}
		return nil
	case CodecS2:
		dl, err := s2.DecodedLen(payload)
		if err != nil {
			return fmt.Errorf("s2: %w", err)
		}
		if dl != n {
			return fmt.Errorf("s2 payload decodes to %d bytes, frame needs %d", dl, n)
		}
		if _, err := s2.Decode(dst, payload); err != nil {
			return fmt.Errorf("s2: %w", err)
		}
		return nil
	}
	return fmt.Errorf("unknown codec %d", codec)
}

// Scratch buffers for XOR deltas, samples and second compressions, pooled
// by power-of-two size class so that requests of different sizes do not
// evict each other.
var bufPools [64]sync.Pool

func getBuf(n int) *[]byte {
	c := bits.Len(uint(n - 1)) // smallest class with 1<<c >= n
	if p, ok := bufPools[c].Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, 1<<c)
	return &b
}

func putBuf(p *[]byte) {
	c := bits.Len(uint(cap(*p) - 1))
	if cap(*p) == 1<<c {
		bufPools[c].Put(p)
	}
}
