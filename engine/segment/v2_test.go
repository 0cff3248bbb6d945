package segment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// tiledInfo is what a tiled payload says, for tests to check the coder's
// choices.
type tiledInfo struct {
	g     tileGrid
	vecs  []vec
	modes map[int]byte // coded tile → mode byte
}

func (ti tiledInfo) count(kinds ...byte) int {
	n := 0
	for _, m := range ti.modes {
		for _, k := range kinds {
			if m&15 == k {
				n++
			}
		}
	}
	return n
}

func parseTiled(t testing.TB, f EncodedFrame, w, h int) tiledInfo {
	t.Helper()
	if f.width != w {
		t.Fatalf("frame is not tiled for width %d (width %d, codec %s, %d bytes)", w, f.width, f.Codec, len(f.Payload))
	}
	p := f.Payload
	nv := int(p[8])
	ti := tiledInfo{g: newGrid(w, h, int(le.Uint16(p[0:])), int(le.Uint16(p[2:]))), modes: map[int]byte{}}
	for i := range nv {
		ti.vecs = append(ti.vecs, vec{int(int16(le.Uint16(p[9+4*i:]))), int(int16(le.Uint16(p[11+4*i:])))})
	}
	body := make([]byte, le.Uint32(p[9+4*nv:]))
	if err := decompress(body, p[tiledPrelude+4*nv:], f.Codec, len(body)); err != nil {
		t.Fatal(err)
	}
	T := ti.g.tiles()
	rest := body[(T+7)/8:]
	for tt := range T {
		if body[tt/8]&(1<<(tt%8)) == 0 {
			continue
		}
		m := rest[0]
		ti.modes[tt] = m
		rest = rest[1:]
		if m&15 != modeCopy {
			_, _, cw, ch := ti.g.rect(tt)
			rest = rest[cw*ch*4:]
		}
	}
	return ti
}

// roundTrip writes key (prev) and delta (cur) as a version-2 segment with
// the given options, decodes it and checks both frames pixel for pixel.
// It returns the delta's encoding.
func roundTrip(t testing.TB, w, h int, prev, cur []byte, o EncodeOptions) EncodedFrame {
	t.Helper()
	o.Width = w
	k, err := EncodeFrameWith(nil, prev, nil, EncodeOptions{Codec: o.Codec, Width: w, Effort: o.Effort})
	if err != nil {
		t.Fatal(err)
	}
	d, err := EncodeFrameWith(nil, cur, prev, o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sw, err := NewWriter(&buf, Header{Width: w, Height: h, Codec: o.Codec})
	if err != nil {
		t.Fatal(err)
	}
	k.Seq, d.Seq = 1, 2
	if err := sw.WriteEncoded(k); err != nil {
		t.Fatal(err)
	}
	if err := sw.WriteEncoded(d); err != nil {
		t.Fatal(err)
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	frames, err := Decode(buf.Bytes())
	if err != nil || len(frames) != 2 {
		t.Fatalf("Decode: %d frames, %v", len(frames), err)
	}
	checkFrame(t, frames[0], testFrame{seq: 1, pix: prev}, w, h)
	checkFrame(t, frames[1], testFrame{seq: 2, pix: cur}, w, h)
	return d
}

// texture is a picture with detail everywhere (so that one shift, and only
// one, matches it): random blocks of 3x2 px from a 64-colour palette.
func texture(w, h int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	var pal [64][4]byte
	for i := range pal {
		pal[i] = [4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), 255}
	}
	pix := make([]byte, w*h*4)
	for by := 0; by < h; by += 2 {
		for bx := 0; bx < w; bx += 3 {
			fillRect(pix, w, h, bx, by, 3, 2, pal[rng.IntN(64)])
		}
	}
	return pix
}

// shifted returns src moved so that out(x, y) = src(x+dx, y+dy) for rows
// y0..y1-1 (the band), with fresh content where the source lies outside
// the frame; other rows are src's.
func shifted(src []byte, w, h, dx, dy, y0, y1 int, fresh []byte) []byte {
	out := bytes.Clone(src)
	for y := y0; y < y1; y++ {
		for x := range w {
			o := (y*w + x) * 4
			sx, sy := x+dx, y+dy
			if sx < 0 || sx >= w || sy < 0 || sy >= h {
				copy(out[o:o+4], fresh[o:o+4])
			} else {
				copy(out[o:o+4], src[(sy*w+sx)*4:(sy*w+sx)*4+4])
			}
		}
	}
	return out
}

var v2Codecs = []Codec{CodecZstd, CodecS2}

// TestV2Scroll: a whole frame and a band of it shifted by various vectors
// (negative, with fresh content coming in over the edge) decode exactly,
// and the coder finds the shift: most tiles are shifted copies, and the
// frame costs a fraction of what the version-1 XOR delta costs. A coder
// that always falls back to the delta fails the size check.
func TestV2Scroll(t *testing.T) {
	const w, h = 200, 120
	base, fresh := texture(w, h, 1), texture(w, h, 2)
	v1Delta := func(cur []byte) int {
		f, err := EncodeFrame(nil, cur, base, CodecZstd, false)
		if err != nil {
			t.Fatal(err)
		}
		return len(f.Payload)
	}
	for _, c := range []struct {
		name           string
		dx, dy, y0, y1 int
		effort         int
	}{
		{"right", 5, 0, 0, h, 0}, {"left-down", -7, 3, 0, h, 0}, {"up", 0, -4, 0, h, 0}, {"diagonal", 13, -9, 0, h, 0},
		{"one-px", -1, 0, 0, h, 1}, {"far", 40, 0, 0, h, 4}, {"far-up", -30, 25, 0, h, 4},
		{"band", 6, 0, 16, 112, 0}, {"band-negative", -11, -2, 16, 112, 2}, {"band-vertical", 0, 7, 16, 112, 3},
	} {
		cur := shifted(base, w, h, c.dx, c.dy, c.y0, c.y1, fresh)
		for _, codec := range v2Codecs {
			d := roundTrip(t, w, h, base, cur, EncodeOptions{Codec: codec, Effort: c.effort})
			ti := parseTiled(t, d, w, h)
			shiftedTiles := ti.count(modeCopy, modeMotion)
			bandTiles := 0
			for tt := range ti.g.tiles() {
				_, ty0, _, tch := ti.g.rect(tt)
				if ty0 < c.y1 && ty0+tch > c.y0 {
					bandTiles++
				}
			}
			found := false
			for _, v := range ti.vecs {
				found = found || v == vec{c.dx, c.dy}
			}
			t.Logf("%s %s: %d bytes (v1 delta %d); vectors %v; %d of %d band tiles shifted, %d coded of %d",
				c.name, codec, len(d.Payload), v1Delta(cur), ti.vecs, shiftedTiles, bandTiles, len(ti.modes), ti.g.tiles())
			if !found {
				t.Errorf("%s %s: vector (%d,%d) not among %v", c.name, codec, c.dx, c.dy, ti.vecs)
			}
			if shiftedTiles*10 < bandTiles*6 {
				t.Errorf("%s %s: only %d of %d band tiles coded as shifted", c.name, codec, shiftedTiles, bandTiles)
			}
			// The frame costs the fresh content that came in over the
			// edge (about a byte a pixel), not the XOR of two textures.
			freshPx := 0
			for y := c.y0; y < c.y1; y++ {
				for x := range w {
					if sx, sy := x+c.dx, y+c.dy; sx < 0 || sx >= w || sy < 0 || sy >= h {
						freshPx++
					}
				}
			}
			limit := freshPx*6/5 + v1Delta(cur)/10
			if codec == CodecZstd && len(d.Payload) > limit {
				t.Errorf("%s: %d bytes, more than %d (v1 delta %d)", c.name, len(d.Payload), limit, v1Delta(cur))
			}
			for tt, m := range ti.modes { // rows outside the band did not change: not coded
				if _, ty0, _, tch := ti.g.rect(tt); ty0+tch <= c.y0 || ty0 >= c.y1 {
					t.Fatalf("%s: tile %d outside the band coded (mode %#x)", c.name, tt, m)
				}
			}
		}
	}
}

// TestV2SparseChanges: a few changed pixels code only the tiles holding
// them — at the frame's corners, on both sides of tile boundaries and in
// the partial last tile row and column of frames whose size is not a
// multiple of the tile size — and decode exactly.
func TestV2SparseChanges(t *testing.T) {
	for _, sz := range [][2]int{{100, 37}, {64, 16}, {17, 33}, {1, 1}, {3, 50}, {129, 17}} {
		w, h := sz[0], sz[1]
		base := staticScene(w, h, 0)
		for effort := MinEffort; effort <= MaxEffort; effort++ {
			p := efforts[effort]
			for _, pts := range [][][2]int{
				{{0, 0}},
				{{w - 1, h - 1}},
				{{p.tw - 1, 0}, {min(p.tw, w-1), 0}},
				{{0, p.th - 1}, {0, min(p.th, h-1)}},
				{{w - 1, 0}, {0, h - 1}, {w / 2, h / 2}},
			} {
				cur := bytes.Clone(base)
				want := map[int]bool{}
				g := newGrid(w, h, p.tw, p.th)
				done := map[[2]int]bool{}
				for _, pt := range pts {
					x, y := min(pt[0], w-1), min(pt[1], h-1)
					if done[[2]int{x, y}] {
						continue // the same pixel twice would undo the change
					}
					done[[2]int{x, y}] = true
					cur[(y*w+x)*4+1] ^= 0x5a
					want[(y/p.th)*g.nx+x/p.tw] = true
				}
				for _, codec := range v2Codecs {
					d := roundTrip(t, w, h, base, cur, EncodeOptions{Codec: codec, Effort: effort})
					if w*h < 16 {
						continue // a tiled payload cannot beat the raw frame: stored raw
					}
					if d.Key || d.width == 0 {
						t.Fatalf("%dx%d e%d: key=%v width=%d, want a tiled delta", w, h, effort, d.Key, d.width)
					}
					ti := parseTiled(t, d, w, h)
					if len(ti.modes) != len(want) {
						t.Fatalf("%dx%d e%d %v: %d tiles coded, want %d (%v)", w, h, effort, pts, len(ti.modes), len(want), ti.modes)
					}
					for tt := range ti.modes {
						if !want[tt] {
							t.Fatalf("%dx%d e%d %v: tile %d coded, want %v", w, h, effort, pts, tt, want)
						}
					}
				}
			}
		}
	}
}

// TestV2Identical: a frame equal to the previous codes no tile and costs a
// few bytes.
func TestV2Identical(t *testing.T) {
	const w, h = 333, 200
	base := rectsScene(w, h, 3)
	for _, codec := range v2Codecs {
		for effort := MinEffort; effort <= MaxEffort; effort++ {
			d := roundTrip(t, w, h, base, base, EncodeOptions{Codec: codec, Effort: effort})
			if ti := parseTiled(t, d, w, h); len(ti.modes) != 0 || len(d.Payload) > 64 {
				t.Fatalf("%s e%d: %d tiles coded, %d bytes", codec, effort, len(ti.modes), len(d.Payload))
			}
		}
	}
}

// TestV2Intra: content that replaces what was there (a smooth picture
// over noise) is coded intra, and much smaller than a delta; a key frame
// of detailed content is a tiled key with zstd (intra beats plain zstd
// there) and of a flat screen a whole-frame key (plain zstd wins).
func TestV2Intra(t *testing.T) {
	const w, h = 160, 96
	for _, c := range []struct {
		name  string
		pix   []byte
		tiled bool
	}{{"layers", layersScene(w, h, 0), true}, {"static", staticScreen(w, h, 0), false}} {
		for _, codec := range v2Codecs {
			roundTrip(t, w, h, c.pix, c.pix, EncodeOptions{Codec: codec}) // the key decodes
			kf, err := EncodeFrameWith(nil, c.pix, nil, EncodeOptions{Codec: codec, Width: w})
			if codec == CodecS2 && err == nil {
				c.tiled = kf.width != 0 // s2's matches are short: either may win
			}
			if err != nil || !kf.Key || (kf.width != 0) != c.tiled {
				t.Fatalf("%s %s key: key=%v width=%d, want tiled %v (%v)", c.name, codec, kf.Key, kf.width, c.tiled, err)
			}
			if c.tiled {
				if ti := parseTiled(t, kf, w, h); len(ti.modes) != ti.g.tiles() || ti.count(modeLeft, modeUp, modePaeth) != len(ti.modes) {
					t.Fatalf("%s %s key: %d of %d tiles coded, intra %d", c.name, codec, len(ti.modes), ti.g.tiles(), ti.count(modeLeft, modeUp, modePaeth))
				}
			}
		}
	}
	prev := noise(w, h, 9)
	cur := make([]byte, w*h*4)
	fillGradient(cur, w, h, 0)
	for _, codec := range v2Codecs {
		for effort := MinEffort; effort <= MaxEffort; effort++ {
			d := roundTrip(t, w, h, prev, cur, EncodeOptions{Codec: codec, Effort: effort})
			ti := parseTiled(t, d, w, h)
			if intra := ti.count(modeLeft, modeUp, modePaeth); intra*10 < len(ti.modes)*9 {
				t.Fatalf("%s e%d: %d of %d tiles intra", codec, effort, intra, len(ti.modes))
			}
			if len(d.Payload) > len(cur)/10 {
				t.Fatalf("%s e%d: %d bytes for a gradient", codec, effort, len(d.Payload))
			}
		}
	}
}

// TestV2Sequences: whole segments through WriteFrame and through
// EncodeFrameWith at every effort decode to exactly the frames written:
// scenes that hit every mode (layers: shifted with a residual; rects and
// static: deltas and intra; noise, full changes, alternating frames),
// frame sizes off the tile grid, both pixel formats.
func TestV2Sequences(t *testing.T) {
	alternating := func(w, h, i int) []byte {
		if i%2 == 0 {
			return texture(w, h, 5)
		}
		return rectsScene(w, h, 1)
	}
	noisy := func(w, h, i int) []byte { return noise(w, h, uint64(i)) }
	scenes := []struct {
		name  string
		scene func(w, h, i int) []byte
	}{{"layers", layersScene}, {"rects", rectsScene}, {"static", staticScreen}, {"busy", busyScene},
		{"scroll", scrollScene}, {"noise", noisy}, {"alternating", alternating}}
	for _, sz := range [][2]int{{97, 61}, {64, 32}, {5, 3}} {
		w, h := sz[0], sz[1]
		for _, sc := range scenes {
			fs := makeFrames(w, h, 7, 0, sc.scene)
			for _, codec := range append(v2Codecs, CodecRaw) {
				for _, format := range []PixelFormat{RGBA8, BGRA8} {
					hd := Header{Width: w, Height: h, Codec: codec, Format: format, KeyInterval: 5}
					data := writeSegment(t, hd, fs)
					checkSegment(t, data, fs, format, w, h, fmt.Sprintf("%dx%d %s %s %s WriteFrame", w, h, sc.name, codec, format))
					if format == BGRA8 || codec == CodecRaw {
						continue // efforts are the same bytes for these
					}
					for effort := MinEffort; effort <= MaxEffort; effort++ {
						var buf bytes.Buffer
						sw, err := NewWriter(&buf, hd)
						if err != nil {
							t.Fatal(err)
						}
						for i, f := range fs {
							var prev []byte
							if !sw.NextKey() {
								prev = fs[i-1].pix
							}
							e, err := EncodeFrameWith(nil, f.pix, prev, EncodeOptions{Codec: codec, Width: w, Effort: effort})
							if err != nil {
								t.Fatal(err)
							}
							e.Seq, e.Time = f.seq, f.t
							if err := sw.WriteEncoded(e); err != nil {
								t.Fatal(err)
							}
						}
						sw.Close()
						checkSegment(t, buf.Bytes(), fs, format, w, h, fmt.Sprintf("%dx%d %s %s e%d", w, h, sc.name, codec, effort))
					}
				}
			}
		}
	}
}

func checkSegment(t *testing.T, data []byte, fs []testFrame, format PixelFormat, w, h int, what string) {
	t.Helper()
	frames, err := Decode(data)
	if err != nil || len(frames) != len(fs) {
		t.Fatalf("%s: %d frames, %v", what, len(frames), err)
	}
	for i := range frames {
		want := fs[i]
		if format == BGRA8 {
			want.pix = make([]byte, len(fs[i].pix))
			swizzle(want.pix, fs[i].pix)
		}
		checkFrame(t, frames[i], want, w, h)
	}
}

// TestV2EveryByteFlipDetected: every bit flip (two per byte) of a version-2
// segment whose records use every mode — shifted copies, shifted residuals,
// deltas, intra — is reported, never a panic, never wrong pixels.
func TestV2EveryByteFlipDetected(t *testing.T) {
	const w, h = 40, 20
	base, fresh := texture(w, h, 3), texture(w, h, 4)
	fs := []testFrame{
		{seq: 0, pix: base},
		{seq: 1, pix: shifted(base, w, h, 3, -1, 0, h, fresh)},
		{seq: 2, pix: shifted(base, w, h, 3, -1, 0, h, fresh)},
		{seq: 3, pix: layersScene(w, h, 0)},
		{seq: 4, pix: layersScene(w, h, 1)},
		{seq: 5, pix: staticScreen(w, h, 1)},
	}
	fs[2].pix[100] ^= 1
	for _, codec := range v2Codecs {
		var buf bytes.Buffer
		sw, _ := NewWriter(&buf, Header{Width: w, Height: h, Codec: codec, KeyInterval: 4})
		kinds := map[byte]bool{}
		for i, f := range fs {
			var prev []byte
			if !sw.NextKey() {
				prev = fs[i-1].pix
			}
			e, err := EncodeFrameWith(nil, f.pix, prev, EncodeOptions{Codec: codec, Width: w})
			if err != nil {
				t.Fatal(err)
			}
			if e.width != 0 {
				for _, m := range parseTiled(t, e, w, h).modes {
					kinds[m&15] = true
				}
			}
			e.Seq = f.seq
			if err := sw.WriteEncoded(e); err != nil {
				t.Fatal(err)
			}
		}
		sw.Close()
		if !kinds[modeCopy] || !kinds[modeDelta] || !(kinds[modeUp] || kinds[modeLeft] || kinds[modePaeth]) {
			t.Fatalf("%s: modes used %v, want copy, delta and intra", codec, kinds)
		}
		data := buf.Bytes()
		for i := range data {
			for _, mask := range []byte{0x01, 0x80} {
				bad := bytes.Clone(data)
				bad[i] ^= mask
				r, err := NewReader(bytes.NewReader(bad), int64(len(bad)))
				if err != nil {
					if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrVersion) {
						t.Fatalf("byte %d: %v", i, err)
					}
					continue
				}
				nerr := 0
				for range 100 {
					f, err := r.NextView()
					if err == io.EOF {
						break
					}
					if err != nil {
						if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
							t.Fatalf("byte %d: error %v wraps neither ErrCorrupt nor ErrTruncated", i, err)
						}
						nerr++
						continue
					}
					if !bytes.Equal(f.Image.Pix, fs[f.Seq].pix) {
						t.Fatalf("%s: flipping bit %#x of byte %d gave wrong pixels for seq %d", codec, mask, i, f.Seq)
					}
				}
				if nerr == 0 {
					t.Fatalf("%s: flipping bit %#x of byte %d went unnoticed", codec, mask, i)
				}
			}
		}
	}
}

// TestV2MalformedPayloads: tiled payloads whose CRCs are right but whose
// contents are wrong (what a buggy writer could produce) are reported as
// corrupt, naming the problem, without a panic.
func TestV2MalformedPayloads(t *testing.T) {
	const w, h = 40, 20
	base := texture(w, h, 1)
	cur := shifted(base, w, h, 2, 1, 0, h, texture(w, h, 2))
	key, _ := EncodeFrameWith(nil, base, nil, EncodeOptions{Codec: CodecRaw, Width: w})
	good, err := EncodeFrameWith(nil, cur, base, EncodeOptions{Codec: CodecZstd, Width: w})
	if err != nil || good.width == 0 {
		t.Fatal(err)
	}
	ti := parseTiled(t, good, w, h)
	if len(ti.vecs) == 0 {
		t.Fatal("no vectors")
	}
	// Payloads are rebuilt from an edited prelude and body, the body
	// compressed again, so that only the structure is wrong.
	nv := int(good.Payload[8])
	pre0 := bytes.Clone(good.Payload[:tiledPrelude+4*nv])
	body0 := make([]byte, le.Uint32(pre0[9+4*nv:]))
	if err := decompress(body0, good.Payload[len(pre0):], CodecZstd, len(body0)); err != nil {
		t.Fatal(err)
	}
	firstMode := (ti.g.tiles() + 7) / 8
	type edit func(pre, body []byte) ([]byte, []byte)
	cases := []struct {
		name string
		key  bool
		edit edit
		want string
	}{
		{"intact", false, func(p, b []byte) ([]byte, []byte) { return p, b }, ""},
		{"short", false, func(p, b []byte) ([]byte, []byte) { return p[:5], nil }, "prelude"},
		{"tile-size", false, func(p, b []byte) ([]byte, []byte) { le.PutUint16(p, 0); return p, b }, "tile size"},
		{"width", false, func(p, b []byte) ([]byte, []byte) { le.PutUint32(p[4:], w+1); return p, b }, "wide"},
		{"vectors", false, func(p, b []byte) ([]byte, []byte) { p[8] = 16; return p, b }, "motion vectors"},
		{"vector-range", false, func(p, b []byte) ([]byte, []byte) { le.PutUint16(p[9:], uint16(w+1)); return p, b }, "beyond"},
		{"mode", false, func(p, b []byte) ([]byte, []byte) { b[firstMode] = 9; return p, b }, "unknown mode"},
		{"vector-index", false, func(p, b []byte) ([]byte, []byte) { b[firstMode] = modeCopy | 15<<4; return p, b }, "motion vector 15"},
		{"mode-high-bits", false, func(p, b []byte) ([]byte, []byte) { b[firstMode] = modeUp | 1<<4; return p, b }, "mode byte"},
		{"key-with-copy", true, func(p, b []byte) ([]byte, []byte) { return p, b }, "key frame"},
		{"trailing", false, func(p, b []byte) ([]byte, []byte) { return p, append(b, 0) }, "left in the body"},
		{"cut", false, func(p, b []byte) ([]byte, []byte) { return p, b[:len(b)-1] }, "residual bytes"},
		{"no-modes", false, func(p, b []byte) ([]byte, []byte) { return p, b[:firstMode] }, "before its mode byte"},
		{"no-bitmap", false, func(p, b []byte) ([]byte, []byte) { return p, b[:0] }, "outside"},
	}
	if ti.g.tiles()%8 != 0 {
		cases = append(cases, struct {
			name string
			key  bool
			edit edit
			want string
		}{"bitmap-padding", false, func(p, b []byte) ([]byte, []byte) { b[firstMode-1] |= 0x80; return p, b }, "past the last"})
	}
	for _, c := range cases {
		pre, body := c.edit(bytes.Clone(pre0), bytes.Clone(body0))
		p := pre
		if len(pre) >= tiledPrelude+4*nv {
			le.PutUint32(pre[9+4*nv:], uint32(len(body)))
			p = compress(pre, body, CodecZstd)
		}
		var buf bytes.Buffer
		sw, _ := NewWriter(&buf, Header{Width: w, Height: h, KeyInterval: 10})
		key.Seq = 0
		if err := sw.WriteEncoded(key); err != nil {
			t.Fatal(err)
		}
		if err := sw.WriteEncoded(EncodedFrame{Seq: 1, Key: c.key, Codec: CodecZstd, Payload: p, RawLen: w * h * 4, width: w}); err != nil {
			t.Fatal(err)
		}
		sw.Close()
		frames, err := Decode(buf.Bytes())
		if c.want == "" {
			if err != nil || len(frames) != 2 || !bytes.Equal(frames[1].Image.Pix, cur) {
				t.Fatalf("%s: %d frames, %v", c.name, len(frames), err)
			}
			continue
		}
		if len(frames) != 1 || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %d frames, %v; want ErrCorrupt with %q", c.name, len(frames), err, c.want)
		}
	}
	// The body length is checked against what the body decodes to.
	pre := bytes.Clone(pre0)
	le.PutUint32(pre[9+4*nv:], uint32(len(body0)+1))
	p := compress(pre, body0, CodecZstd)
	var buf bytes.Buffer
	sw, _ := NewWriter(&buf, Header{Width: w, Height: h})
	sw.WriteEncoded(key)
	sw.WriteEncoded(EncodedFrame{Seq: 1, Codec: CodecZstd, Payload: p, RawLen: w * h * 4, width: w})
	sw.Close()
	if frames, err := Decode(buf.Bytes()); len(frames) != 1 || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "decodes to") {
		t.Fatalf("body length: %d frames, %v", len(frames), err)
	}
}

// TestV2WriterChecks: tiled frames need a version-2 segment of their
// width; version 1 can still be written and has no tiled records.
func TestV2WriterChecks(t *testing.T) {
	const w, h = 8, 4
	pix := movingRects(w, h, 0)
	prev := bytes.Clone(pix)
	prev[5] ^= 1
	tiled, err := EncodeFrameWith(nil, pix, prev, EncodeOptions{Codec: CodecZstd, Width: w})
	if err != nil || tiled.width != w || tiled.Key {
		t.Fatalf("%+v %v", tiled, err)
	}
	for _, hd := range []Header{{Version: 1, Width: w, Height: h}, {Width: h, Height: w}} {
		sw, _ := NewWriter(io.Discard, hd)
		if err := sw.WriteEncoded(tiled); err == nil || !strings.Contains(err.Error(), "tiled") {
			t.Errorf("%+v: WriteEncoded of a tiled frame: %v", hd, err)
		}
	}
	fs := makeFrames(w, h, 4, 0, movingRects)
	data := writeSegment(t, Header{Version: 1, Width: w, Height: h, Codec: CodecZstd}, fs)
	if v := le.Uint16(data[8:]); v != 1 {
		t.Fatalf("version %d", v)
	}
	r, _ := NewReader(bytes.NewReader(data), int64(len(data)))
	if r.Header().Version != 1 {
		t.Fatalf("header %+v", r.Header())
	}
	for _, e := range r.entries {
		if e.tiled {
			t.Fatal("tiled record in a version-1 segment")
		}
	}
	checkSegment(t, data, fs, RGBA8, w, h, "v1")
	if _, err := EncodeFrameWith(nil, pix, nil, EncodeOptions{Codec: CodecZstd, Width: 3}); err == nil {
		t.Error("width 3 of a 32-byte frame accepted")
	}
	if _, err := EncodeFrameWith(nil, pix, nil, EncodeOptions{Codec: CodecZstd, Width: w, Effort: MaxEffort + 1}); err == nil {
		t.Error("effort 5 accepted")
	}
	// A flag bit 1 in a version-1 segment is corruption.
	rec := data[headerSize:]
	rec[4] |= flagTiled
	le.PutUint32(rec[32:], crc32c(rec[:32]))
	if _, err := Decode(data); !errors.Is(err, ErrCorrupt) {
		t.Errorf("tiled flag in v1: %v", err)
	}
}

// TestV2NoAllocs: once warm, encoding a 1080p frame allocates next to
// nothing (scratch buffers are pooled; a GC may empty the pool).
func TestV2NoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("1080p frames")
	}
	const w, h = 1920, 1080
	prev, cur := rectsScene(w, h, 0), rectsScene(w, h, 1)
	dst := make([]byte, 0, len(cur))
	allocs := testing.AllocsPerRun(10, func() {
		f, err := EncodeFrameWith(dst, cur, prev, EncodeOptions{Codec: CodecZstd, Width: w})
		if err != nil || &f.Payload[0] != &dst[:1][0] {
			t.Fatal("payload not in dst", err)
		}
	})
	if allocs > 2 {
		t.Fatalf("%.1f allocations per frame", allocs)
	}
}

// At effort 1 a zstd encoder stores large bodies with s2 (the record says
// so and decodes) and small ones with zstd; other efforts keep zstd.
func TestV2FastEffortCodec(t *testing.T) {
	const w, h = 640, 480
	prev := layersScene(w, h, 0)
	big := layersScene(w, h, 1) // every tile changed: the body is the whole frame
	small := append([]byte(nil), prev...)
	fillRect(small, w, h, 100, 100, 10, 10, [4]byte{255, 0, 0, 255}) // one sprite
	for _, c := range []struct {
		name   string
		cur    []byte
		effort int
		want   Codec
	}{
		{"e1 large", big, 1, CodecS2},
		{"e1 small", small, 1, CodecZstd},
		{"e2 large", big, 2, CodecZstd},
	} {
		d := roundTrip(t, w, h, prev, c.cur, EncodeOptions{Codec: CodecZstd, Effort: c.effort})
		if d.Codec != c.want || d.width == 0 {
			t.Errorf("%s: record codec %s, tiled %v (%d bytes), want %s, tiled", c.name, d.Codec, d.width != 0, len(d.Payload), c.want)
		}
	}
	k, err := EncodeFrameWith(nil, big, nil, EncodeOptions{Codec: CodecZstd, Width: w, Effort: 1})
	if err != nil || k.Codec != CodecS2 {
		t.Errorf("e1 key frame of a detailed screen: codec %s (%v), want s2", k.Codec, err)
	}
	flat := staticScreen(w, h, 0)
	k, err = EncodeFrameWith(nil, flat, nil, EncodeOptions{Codec: CodecZstd, Width: w, Effort: 1})
	if err != nil || k.Codec != CodecZstd {
		t.Errorf("e1 key frame of a simple screen: codec %s (%v), want zstd", k.Codec, err)
	}
}

// spriteScene is a breakout-like screen: a flat background, a static row
// of bricks along the top, and two textured sprites (a 12x12 ball and an
// 80x10 paddle) at the given positions.
func spriteScene(w, h, bx, by, px int, ball, paddle []byte) []byte {
	pix := make([]byte, w*h*4)
	fillRect(pix, w, h, 0, 0, w, h, [4]byte{16, 16, 32, 255})
	for x := 0; x+60 <= w; x += 64 {
		fillRect(pix, w, h, x, 8, 60, 14, [4]byte{byte(40 + x%200), 90, 200, 255})
	}
	blit := func(src []byte, sw, sh, x0, y0 int) {
		for y := range sh {
			copy(pix[((y0+y)*w+x0)*4:((y0+y)*w+x0+sw)*4], src[y*sw*4:(y+1)*sw*4])
		}
	}
	blit(ball, 12, 12, bx, by)
	blit(paddle, 80, 10, px, h-30)
	return pix
}

// TestV2MovingSprites: in a frame where only a few sprites moved over a
// still screen (sparse: no global motion), each sprite's own shift is
// found and its tiles become shifted copies of the previous frame, not
// XOR deltas that code the sprite twice (where it was and where it is).
// Every frame decodes exactly; a coder without the per-tile search (or
// with the vector's sign wrong) fails on the modes or the pixels, one that
// searches too little fails on the vectors.
func TestV2MovingSprites(t *testing.T) {
	const w, h = 640, 480
	ball, paddle := texture(12, 12, 7), texture(80, 10, 8)
	bx, by, px := 300, 200, 260
	for _, move := range [][3]int{{5, -3}, {-7, 6}, {0, 4}, {3, 0}, {-8, -8}} { // ball dx, dy; paddle dx
		for effort := MinEffort; effort <= MaxEffort; effort++ {
			prev := spriteScene(w, h, bx, by, px, ball, paddle)
			cur := spriteScene(w, h, bx+move[0], by+move[1], px+move[2]+2, ball, paddle)
			d := roundTrip(t, w, h, prev, cur, EncodeOptions{Codec: CodecZstd, Effort: effort})
			ti := parseTiled(t, d, w, h)
			if n := ti.count(modeDelta, modeLeft, modeUp, modePaeth); n > 0 {
				t.Errorf("move %v e%d: %d of %d coded tiles are not shifted copies (%v; vectors %v)", move, effort, n, len(ti.modes), ti.modes, ti.vecs)
			}
			for _, v := range []vec{{-move[0], -move[1]}, {-(move[2] + 2), 0}} {
				if !slices.Contains(ti.vecs, v) {
					t.Errorf("move %v e%d: vectors %v, want %v among them", move, effort, ti.vecs, v)
				}
			}
			// All copies: the bitmap, a mode byte a tile and the
			// prelude. An XOR delta of the two sprites costs ~1.5 KB.
			if len(d.Payload) > 100 {
				t.Errorf("move %v e%d: %d bytes, want under 100", move, effort, len(d.Payload))
			}
			bx, by, px = bx+move[0], by+move[1], px+move[2]+2
		}
	}
}

// TestDecoderKeepsItsSecondBufferInStep: a record with motion modes is
// decoded into the Reader's second buffer, which is brought up to date by
// copying only what changed since it last held the previous frame. A
// sequence that mixes records decoded in place (XOR tiles), records with
// shifted copies, a whole-frame (version-1 style) delta and a key frame
// decodes pixel for pixel, read through and after a seek; a decoder that
// forgot the tiles written in place, or trusted its buffer after a whole
// frame was written, shows the stale pixels.
func TestDecoderKeepsItsSecondBufferInStep(t *testing.T) {
	const w, h = 640, 480
	ball, paddle := texture(12, 12, 7), texture(80, 10, 8)
	bx, by, px := 300, 200, 260
	// Flipped pixels stay (every later frame has them), so that a frame
	// with shifted copies does not code their tiles again.
	var flips [][2]int
	scene := func() []byte {
		pix := spriteScene(w, h, bx, by, px, ball, paddle)
		for _, f := range flips {
			fillRect(pix, w, h, f[0], f[1], 3, 2, [4]byte{byte(f[0]), byte(f[1]), 99, 255})
		}
		return pix
	}
	const (
		shifted = iota // the sprites moved: copies
		inPlace        // a few pixels changed far from them: XOR tiles
		whole          // a version-1 style delta
		key
	)
	kinds := []int{key, shifted, inPlace, shifted, whole, shifted, inPlace, inPlace, shifted, key, inPlace, shifted}
	var fs []testFrame
	var encs []EncodedFrame
	cur := scene()
	for i, k := range kinds {
		prev := cur
		switch k {
		case shifted:
			bx, by, px = bx+5, by-3, px+8
		case inPlace, whole:
			flips = append(flips, [2]int{20 + 37*i, 300 + 11*i})
		}
		cur = scene()
		var e EncodedFrame
		var err error
		switch k {
		case key:
			e, err = EncodeFrameWith(nil, cur, nil, EncodeOptions{Codec: CodecZstd, Width: w, Effort: 1})
		case whole:
			e, err = EncodeFrame(nil, cur, prev, CodecZstd, false)
		default:
			e, err = EncodeFrameWith(nil, cur, prev, EncodeOptions{Codec: CodecZstd, Width: w, Effort: 1})
		}
		if err != nil {
			t.Fatal(err)
		}
		// The records are of the kinds the test needs.
		switch k {
		case shifted:
			if ti := parseTiled(t, e, w, h); ti.count(modeMotion, modeCopy) == 0 || ti.count(modeDelta) != 0 {
				t.Fatalf("frame %d: modes %v, want shifted copies only", i, ti.modes)
			}
		case inPlace:
			if ti := parseTiled(t, e, w, h); ti.count(modeDelta) == 0 || ti.count(modeMotion, modeCopy) != 0 {
				t.Fatalf("frame %d: modes %v, want XOR tiles only", i, ti.modes)
			}
		case whole:
			if e.width != 0 || e.Key {
				t.Fatalf("frame %d: want a whole-frame delta", i)
			}
		}
		e.Seq = uint64(i)
		encs = append(encs, e)
		fs = append(fs, testFrame{seq: uint64(i), pix: bytes.Clone(cur)})
	}
	var buf bytes.Buffer
	sw, err := NewWriter(&buf, Header{Width: w, Height: h, Codec: CodecZstd})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range encs {
		if err := sw.WriteEncoded(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	checkSegment(t, buf.Bytes(), fs, RGBA8, w, h, "mixed records")
	r, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, start := range []uint64{5, 3, 10} {
		if err := r.SeekFrame(start); err != nil {
			t.Fatal(err)
		}
		k := int(start) // SeekFrame goes to the key frame at or before start
		for kinds[k] != key {
			k--
		}
		for i := k; i < len(fs); i++ {
			f, err := r.NextView()
			if err != nil {
				t.Fatalf("after a seek to %d: frame %d: %v", start, i, err)
			}
			checkFrame(t, f, fs[i], w, h)
		}
	}
}
