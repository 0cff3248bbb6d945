package segment

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
)

// Tiled payloads (version 2, record flag flagTiled): the frame is cut into
// tiles; a bitmap says which tiles are coded, each coded tile has a mode
// byte and (most modes) a residual. See docs/segment-format.md, "Version 2".

// Tile modes (low nibble of a mode byte; the high nibble is a motion vector
// index for modeMotion and modeCopy, else 0).
const (
	modeDelta  = 1 // the previous frame at the same place; residual XOR, not difference
	modeMotion = 2 // prediction: the previous frame shifted by a vector
	modeCopy   = 3 // the shifted previous frame itself, no residual
	modeLeft   = 4 // intra: the pixel to the left in this frame
	modeUp     = 5 // intra: the pixel above in this frame
	modePaeth  = 6 // intra: PNG's Paeth predictor of left, above, above-left
)

const (
	// smallBody: bodies up to this size (a few sprites moved) are
	// compressed at zstd's better level whatever the effort: on so little
	// input it costs next to nothing and saves a third.
	smallBody    = 256 << 10
	tiledPrelude = 13 // tile_w, tile_h, width, vector count, body_len (no vectors)
	maxVectors   = 15
	maxTileSide  = 4096
)

// effortParams are the encoder's knobs per effort level.
type effortParams struct {
	// Tile size: 16x16 px codes fewer unchanged pixels around moving
	// sprites (less to compress: fastest); 64x16 compresses smaller
	// (fewer mode bytes, longer runs) at more CPU. Measured in
	// docs/segment-format.md.
	tw, th    int
	samples   int // motion search: sample runs of 8 px taken from changed tiles
	radius    int // motion search: largest |dx|, |dy|
	vectors   int // motion vectors kept per frame at most
	trialRows int // rows of a tile on which each mode is tried
	// intra: in delta frames, try the intra modes too (new content over
	// what was there); without, a changed tile is a delta unless a motion
	// vector was found, and no mode is tried at all (effort 1: the XOR is
	// SIMD, the trials are not).
	intra  bool
	paeth  bool // try the Paeth predictor too (slow: a byte loop)
	zlevel int  // zstdLevel: 0 fastest, 1 default, 2 better
	// motionFrac: search for motion when at least 1/motionFrac of the
	// frame changed (sprites moving over a still background do not pay
	// for it).
	motionFrac int
}

var efforts = [MaxEffort + 1]effortParams{
	1: {tw: 64, th: 16, samples: 32, radius: 8, vectors: 1, trialRows: 1, zlevel: 0, motionFrac: 2},
	2: {tw: 16, th: 16, samples: 64, radius: 16, vectors: 2, trialRows: 2, intra: true, zlevel: 1, motionFrac: 2},
	3: {tw: 64, th: 16, samples: 96, radius: 32, vectors: 3, trialRows: 4, intra: true, paeth: true, zlevel: 1, motionFrac: 8},
	4: {tw: 64, th: 16, samples: 128, radius: 48, vectors: 4, trialRows: 16, intra: true, paeth: true, zlevel: 2, motionFrac: 16},
}

// tileGrid is the tiling of one frame.
type tileGrid struct {
	w, h, tw, th int
	nx, ny       int
}

func newGrid(w, h, tw, th int) tileGrid {
	return tileGrid{w: w, h: h, tw: tw, th: th, nx: (w + tw - 1) / tw, ny: (h + th - 1) / th}
}

func (g tileGrid) tiles() int { return g.nx * g.ny }

// rect returns tile t's top-left pixel and size (clipped at the frame edge).
func (g tileGrid) rect(t int) (x0, y0, cw, ch int) {
	x0, y0 = (t%g.nx)*g.tw, (t/g.nx)*g.th
	return x0, y0, min(g.tw, g.w-x0), min(g.th, g.h-y0)
}

// tileRect is one tile's top-left pixel and size, computed once per tile
// (g.rect divides).
type tileRect struct{ x0, y0, cw, ch int }

func (g tileGrid) tileRect(t int) tileRect {
	x0, y0, cw, ch := g.rect(t)
	return tileRect{x0, y0, cw, ch}
}

type vec struct{ dx, dy int }

// tileScratch holds an encoder's reusable buffers.
type tileScratch struct {
	mark    []bool // tiles of a band found changed
	costs   []uint16
	best    []uint32
	samples []int32 // pixel offsets of sample runs
	row     []byte  // a prediction row
	res     []byte  // a residual row
	body    []byte
}

var tileScratchPool = sync.Pool{New: func() any { return new(tileScratch) }}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// encodeTiled appends a tiled payload for cur to dst: against prev, or a
// key frame (all tiles intra) when prev is nil. A frame with a prev is a
// delta record even if every tile came out intra, so that key frames fall
// where the writer's key interval and the caller put them.
//
// With fast (effort 1 of a zstd encoder) a body over smallBody is
// compressed with s2 instead; the codec used is returned.
func encodeTiled(dst, cur, prev []byte, width int, codec Codec, p effortParams, fast bool) ([]byte, Codec) {
	height := len(cur) / 4 / width
	g := newGrid(width, height, p.tw, p.th)
	s := tileScratchPool.Get().(*tileScratch)
	defer tileScratchPool.Put(s)
	T := g.tiles()
	stride := width * 4

	// Global motion first, from samples (it cannot wait for the tile
	// pass, which codes each band of tiles while it is in the cache).
	var vecs []vec
	sparse := false // few tiles changed: search motion per tile instead
	if prev != nil {
		vecs, sparse = estimateMotion(s, g, cur, prev, p)
		if !p.intra && newContent(g, cur, prev) {
			// A scene cut or a new screen: the XOR with the previous
			// frame is noise, intra coding is not. Try the modes after all.
			p.intra = true
		}
	}

	// Body: the bitmap, then per coded tile its mode byte and residual.
	bm := (T + 7) / 8
	s.body = grow(s.body, bm+T+len(cur)) // residuals never exceed the frame
	body := s.body
	clear(body[:bm])
	data := body[bm:bm]
	s.row = grow(s.row, g.tw*4)
	s.res = grow(s.res, g.tw*4)
	s.mark = grow(s.mark, g.nx)
	var hint byte
	local, coded := 0, 0 // tiles searched for their own motion; tiles coded
	// In a sparse frame every trial reads the whole tile: few tiles, and a
	// sprite that one mid row misses must not pass as unchanged.
	pt := p
	if sparse {
		pt.trialRows = p.th
	}
	for ty := range g.ny {
		// Which tiles of this band changed. Rows are compared in memory
		// order, whole rows first (most rows of a mostly still frame are
		// equal), and a tile found changed is not compared again, so each
		// byte is read about once; the band then stays in the cache while
		// its tiles are coded.
		if prev == nil {
			for tx := range s.mark {
				s.mark[tx] = true
			}
		} else {
			clear(s.mark)
			left := g.nx
			for y := ty * g.th; y < min((ty+1)*g.th, height) && left > 0; y++ {
				o := y * stride
				if bytes.Equal(cur[o:o+stride], prev[o:o+stride]) {
					continue
				}
				for tx := range g.nx {
					if s.mark[tx] {
						continue
					}
					a, b := o+tx*g.tw*4, min(o+(tx+1)*g.tw*4, o+stride)
					if !bytes.Equal(cur[a:b], prev[a:b]) {
						s.mark[tx] = true
						left--
					}
				}
			}
		}
		for tx, changed := range s.mark {
			if !changed {
				continue
			}
			t := ty*g.nx + tx
			body[t/8] |= 1 << (t % 8)
			r := g.tileRect(t)
			if coded++; sparse && coded > maxSparseTiles {
				sparse, pt = false, p // more changed than the samples said
			}
			m := byte(modeDelta)
			if prev == nil || p.intra || len(vecs) > 0 || sparse {
				var cost int
				m, cost = chooseMode(s, g, cur, prev, r, vecs, pt, hint)
				if sparse && (cost > 0 || m&15 >= modeLeft) && local < maxLocalSearches && len(vecs) < maxVectors {
					// A sprite moved here and no vector so far explains
					// it: find its own (the ball and the paddle of a
					// breakout frame are each a copy of the last frame,
					// shifted; their XOR is most of what changed).
					local++
					if v, ok := localMotion(g, cur, prev, r, min(p.radius, localRadius)); ok && !slices.Contains(vecs, v) {
						vecs = append(vecs, v)
						m, _ = chooseMode(s, g, cur, prev, r, vecs, pt, modeMotion|byte(len(vecs)-1)<<4)
					}
				}
			}
			hint = m // neighbouring tiles tend to share a mode: try it first
			if hint&15 == modeCopy {
				hint = modeMotion | m&0xf0
			}
			data = append(data, m)
			before := len(data)
			data = appendResidual(data, s.row, g, cur, prev, r, m, vecs)
			if m&15 == modeMotion && allZero(data[before:]) {
				m, data = modeCopy|m&0xf0, data[:before]
				data[before-1] = m
			}
		}
	}
	body = body[:bm+len(data)]

	// 4. Prelude, then the body compressed.
	pre := len(dst)
	dst = append(dst, make([]byte, tiledPrelude+4*len(vecs))...)
	h := dst[pre:]
	le.PutUint16(h[0:], uint16(g.tw))
	le.PutUint16(h[2:], uint16(g.th))
	le.PutUint32(h[4:], uint32(width))
	h[8] = byte(len(vecs))
	for i, v := range vecs {
		le.PutUint16(h[9+4*i:], uint16(int16(v.dx)))
		le.PutUint16(h[11+4*i:], uint16(int16(v.dy)))
	}
	le.PutUint32(h[9+4*len(vecs):], uint32(len(body)))
	if fast && codec == CodecZstd && len(body) > smallBody {
		codec = CodecS2
	}
	switch codec {
	case CodecZstd:
		lvl := p.zlevel
		if len(body) <= smallBody {
			lvl = 2
		}
		dst = zstdLevel(lvl).EncodeAll(body, dst)
	case CodecS2:
		at := len(dst)
		need := at + s2.MaxEncodedLen(len(body))
		if cap(dst) < need {
			dst = append(make([]byte, 0, need), dst...)
		}
		out := s2.Encode(dst[at:need], body)
		dst = dst[:at+len(out)]
	default:
		dst = append(dst, body...)
	}
	return dst, codec
}

// estimateMotion picks up to p.vectors shifts (dx, dy) such that
// prev(x+dx, y+dy) predicts cur well, judged on sample runs of 8 pixels
// that changed: per sample and shift a cost (bits of the bytewise
// differences), then greedily the shifts that lower the samples' best cost
// the most.
//
// sparse reports that under 1/sparseFrac of the sample grid changed (and so
// no global vector was sought): a few sprites moved over a still frame,
// each worth a motion search of its own (localMotion).
func estimateMotion(s *tileScratch, g tileGrid, cur, prev []byte, p effortParams) (vecs []vec, sparse bool) {
	const run = 8
	if g.w < run {
		return nil, false
	}
	stride := g.w * 4
	// A grid of 4*samples runs over the frame: how much changed decides
	// whether to search at all, and the changed runs are the samples.
	n := 4 * p.samples
	gx := max(1, min(g.w/run, int(math.Sqrt(float64(n*g.w/g.h)))))
	gy := max(1, min(g.h, n/gx))
	s.samples = s.samples[:0]
	for j := range gy {
		for i := range gx {
			// A point in each cell of the grid, jittered so that the
			// samples do not all share a row or column phase (content of
			// 2-px blocks would make a 1-px-off shift tie with the right
			// one).
			h := uint32(j*gx+i+1) * 0x9E3779B1
			y := j*g.h/gy + int(h>>8)%max(1, g.h/gy)
			x := i*(g.w-run+1)/gx + int(h>>20)%max(1, (g.w-run+1)/gx)
			o := y*stride + x*4
			if bytes.Equal(cur[o:o+run*4], prev[o:o+run*4]) {
				continue
			}
			s.samples = append(s.samples, int32(o))
		}
	}
	if len(s.samples)*sparseFrac < gx*gy {
		return nil, true
	}
	if len(s.samples)*p.motionFrac < gx*gy {
		return nil, false // little changed: sprites over a still background
	}
	if k := len(s.samples); k > p.samples { // keep p.samples, evenly spread
		for i := range p.samples {
			s.samples[i] = s.samples[i*k/p.samples]
		}
		s.samples = s.samples[:p.samples]
	}
	S := len(s.samples)
	if S == 0 {
		return nil, false
	}
	R := p.radius
	side := 2*R + 1
	V := side * side
	s.costs = grow(s.costs, S*V)
	for si, off := range s.samples {
		o := int(off)
		y, x := o/stride, o%stride/4
		c := cur[o : o+run*4]
		row := s.costs[si*V : (si+1)*V]
		for dy := -R; dy <= R; dy++ {
			sy := y + dy
			for dx := -R; dx <= R; dx++ {
				sx := x + dx
				var cost int
				if sy < 0 || sy >= g.h || sx < 0 || sx+run > g.w {
					cost = 64 * run // outside: never a good match
				} else {
					q := prev[sy*stride+sx*4:]
					for k := 0; k < run*4; k += 8 {
						cost += bits.OnesCount64(fold(sub8(binary.LittleEndian.Uint64(c[k:]), binary.LittleEndian.Uint64(q[k:]))))
					}
				}
				row[(dy+R)*side+dx+R] = uint16(cost)
			}
		}
	}
	s.best = grow(s.best, S)
	total := 0
	zero := R*side + R
	for si := range S {
		s.best[si] = uint32(s.costs[si*V+zero])
		total += int(s.best[si])
	}
	for len(vecs) < p.vectors {
		bestGain, bestV := 0, -1
		for v := range V {
			if v == zero {
				continue
			}
			gain := 0
			for si := range S {
				if c := uint32(s.costs[si*V+v]); c < s.best[si] {
					gain += int(s.best[si] - c)
				}
			}
			if gain > bestGain {
				bestGain, bestV = gain, v
			}
		}
		// A shift must explain a fair part of what changed to be worth a
		// vector (and the trials it costs in every tile).
		if bestV < 0 || bestGain*16 < total || bestGain < 4*S {
			break
		}
		vecs = append(vecs, vec{dx: bestV%side - R, dy: bestV/side - R})
		for si := range S {
			if c := uint32(s.costs[si*V+bestV]); c < s.best[si] {
				total -= int(s.best[si] - c)
				s.best[si] = c
			}
		}
	}
	return vecs, false
}

// newContent reports whether a frame looks like new content rather than
// the previous frame changed: on a grid of runs of 8 pixels, most changed,
// their residual against the previous frame is detailed and the residual
// against the pixels above (Up) costs less than a quarter of it. Cheap (64 runs), so effort 1 can
// skip the per-tile trials on every other frame.
func newContent(g tileGrid, cur, prev []byte) bool {
	const run, grid = 8, 8
	if g.w < run || g.h < 2 {
		return false
	}
	stride := g.w * 4
	var delta, up, changed int
	for j := range grid {
		y := 1 + j*(g.h-1)/grid
		for i := range grid {
			o := y*stride + i*(g.w-run)/grid*4
			c, q, a := cur[o:o+run*4], prev[o:o+run*4], cur[o-stride:o-stride+run*4]
			if bytes.Equal(c, q) {
				continue
			}
			delta += runCost(c, q)
			up += runCost(c, a)
			changed++
		}
	}
	// Most of the frame changed, to detail (over 32 bits a run: noise
	// costs ~110, sprites moving over a flat background ~18) that intra
	// codes 4 times smaller.
	return 2*changed >= grid*grid && delta >= 32*changed && 4*up < delta
}

// Per-tile motion search in sparse frames (see localMotion).
const (
	// A frame is sparse when under 1/64 of the sample grid changed (at
	// most one run of the ~120 at effort 1: breakout's ball and paddle
	// mostly hit none; 200 moving rectangles at 1080p, about 5) ...
	sparseFrac = 64
	// ... and only for its first maxSparseTiles changed tiles: the grid can
	// miss many small changes, and the full-tile trials of a sparse frame
	// cost about 16× the usual (3.2 → 6.3 ms a 1080p rects frame without
	// this cap).
	maxSparseTiles   = 32
	maxLocalSearches = 16 // tiles searched per frame at most
	localRadius      = 16 // largest |dx|, |dy| searched
	localSamples     = 8  // runs of 8 px the search matches
)

// localMotion looks for the shift (dx, dy), |dx|, |dy| <= radius and not
// (0, 0), under which prev(x+dx, y+dy) matches cur on tile r: a sprite that
// moved. It matches runs of 8 pixels taken where the tile changed, at both
// ends of the changed span of evenly spaced changed rows (a moving sprite's
// leading edge, which only the right shift matches, and its trailing edge,
// revealed background), and reports a shift only when it matches them
// almost exactly. Cost: about localSamples × (2·radius+1)² runs compared,
// some 10 µs a tile at radius 8.
func localMotion(g tileGrid, cur, prev []byte, r tileRect, radius int) (vec, bool) {
	const run = 8
	if g.w < run {
		return vec{}, false
	}
	stride := g.w * 4
	var samples [localSamples]int // pixel offsets
	n := 0
	// The changed rows of the tile, and the first and last changed pixel
	// of each; samples from evenly spaced ones.
	var rows [maxTileSide]int16
	nr := 0
	for y := r.y0; y < r.y0+r.ch; y++ {
		o := y*stride + r.x0*4
		if !bytes.Equal(cur[o:o+r.cw*4], prev[o:o+r.cw*4]) {
			rows[nr] = int16(y - r.y0)
			nr++
		}
	}
	if nr == 0 {
		return vec{}, false
	}
	for k := 0; k < localSamples/2 && k < nr; k++ {
		y := r.y0 + int(rows[k*nr/min(nr, localSamples/2)])
		o := y*stride + r.x0*4
		a, b := cur[o:o+r.cw*4], prev[o:o+r.cw*4]
		first, last := -1, -1
		for x := 0; x < r.cw; x++ {
			if [4]byte(a[4*x:]) != [4]byte(b[4*x:]) {
				if first < 0 {
					first = x
				}
				last = x
			}
		}
		for _, x := range [2]int{first, last - run + 1} {
			x = min(max(r.x0+x, 0), g.w-run)
			samples[n] = y*stride + x*4
			n++
		}
	}
	best, bestCost := vec{}, int(^uint(0)>>1)
	for dy := -radius; dy <= radius; dy++ {
		for dx := -radius; dx <= radius; dx++ {
			if dx == 0 && dy == 0 {
				continue
			}
			cost := 0
			for _, o := range samples[:n] {
				y, x := o/stride+dy, o%stride/4+dx
				if y < 0 || y >= g.h || x < 0 || x+run > g.w {
					cost = bestCost
					break
				}
				q := prev[y*stride+x*4:]
				c := cur[o:]
				for k := 0; k < run*4; k += 8 {
					cost += bits.OnesCount64(fold(sub8(binary.LittleEndian.Uint64(c[k:]), binary.LittleEndian.Uint64(q[k:]))))
				}
				if cost >= bestCost {
					break
				}
			}
			if cost < bestCost {
				best, bestCost = vec{dx, dy}, cost
			}
		}
	}
	// Almost exact: a couple of bits a sample (a sprite drawn at a
	// sub-pixel offset differs in its edge pixels).
	return best, bestCost <= 8*n
}

// runCost is rowCost's measure for a run of 8 pixels predicted by pred:
// the bits of each residual pixel's difference from the one before.
func runCost(c, pred []byte) int {
	cost := 0
	var left uint64
	for k := 0; k+8 <= len(c); k += 8 {
		w := sub8(binary.LittleEndian.Uint64(c[k:]), binary.LittleEndian.Uint64(pred[k:]))
		cost += bits.OnesCount64(fold(sub8(w, w<<32|left>>32)))
		left = w
	}
	return cost
}

// chooseMode tries the modes on a few rows of tile t and returns the one
// whose residual looks cheapest, and that cost.
func chooseMode(s *tileScratch, g tileGrid, cur, prev []byte, r tileRect, vecs []vec, p effortParams, hint byte) (byte, int) {
	var modes [4 + maxVectors]byte
	n := 0
	if prev != nil {
		modes[n] = modeDelta
		n++
		for i := range vecs {
			modes[n] = modeMotion | byte(i)<<4
			n++
		}
	}
	if prev == nil || p.intra {
		modes[n], modes[n+1] = modeUp, modeLeft
		n += 2
	}
	if p.paeth && (prev == nil || p.intra) {
		modes[n] = modePaeth
		n++
	}
	for i := 1; i < n; i++ {
		if modes[i] == hint {
			modes[0], modes[i] = modes[i], modes[0]
		}
	}
	y0, ch := r.y0, r.ch
	rows := min(p.trialRows, ch)
	best, bestCost := modes[0], int(^uint(0)>>1)
	for _, m := range modes[:n] {
		cost := 0
		for k := range rows {
			y := y0 + (2*k+1)*ch/(2*rows) // evenly spaced rows
			pred := predictRow(s.row, g, cur, prev, r, y, m, vecs)
			cost += rowCost(s.res, cur, pred, g, r, y, deltaXOR && m == modeDelta)
			if cost >= bestCost {
				break
			}
		}
		if k := m & 15; k >= modeLeft && prev != nil {
			// Intra must win clearly (by a third) over the prediction from the previous
			// frame: the proxy cannot tell near-ties apart, and intra tiles
			// decode slower (a serial byte loop for Left and Paeth).
			cost += cost / 2
		}
		if cost < bestCost {
			best, bestCost = m, cost
			if cost <= rows*cheapRow {
				break // good enough: a sparse change, or an exact shift
			}
		}
	}
	return best, bestCost
}

// cheapRow is a trial cost per row (a byte or two off) below which
// chooseMode takes the mode without trying the others.
const cheapRow = 2

// predictRow returns the prediction of row y of tile t under mode m (not
// for modeLeft and modePaeth, whose predictions depend on the pixels being
// decoded: those are computed from cur, which is what the decoder will
// have). buf holds it when it is not a slice of cur or prev.
func predictRow(buf []byte, g tileGrid, cur, prev []byte, r tileRect, y int, m byte, vecs []vec) []byte {
	x0, cw := r.x0, r.cw
	stride := g.w * 4
	o := y*stride + x0*4
	n := cw * 4
	buf = buf[:n]
	switch m & 15 {
	case modeDelta:
		return prev[o : o+n]
	case modeMotion, modeCopy:
		v := vecs[m>>4]
		if sy, sx := y+v.dy, x0+v.dx; sy >= 0 && sy < g.h && sx >= 0 && sx+cw <= g.w {
			so := sy*stride + sx*4
			return prev[so : so+n] // inside the frame: no copy (most tiles)
		}
		shiftedRow(buf, prev, g, x0, y, cw, v)
		return buf
	case modeUp:
		if y == 0 {
			clear(buf)
			return buf
		}
		return cur[o-stride : o-stride+n]
	case modeLeft:
		if x0 == 0 {
			clear(buf[:4])
			copy(buf[4:], cur[o:o+n-4])
			return buf
		}
		return cur[o-4 : o+n-4]
	case modePaeth:
		for i := range n {
			var a, b, c byte
			if x0+i/4 > 0 {
				a = cur[o+i-4]
			}
			if y > 0 {
				b = cur[o+i-stride]
				if x0+i/4 > 0 {
					c = cur[o+i-stride-4]
				}
			}
			buf[i] = paeth(a, b, c)
		}
		return buf
	}
	panic("segment: bad mode")
}

// shiftedRow fills buf with row y, pixels x0..x0+cw-1, of prev shifted by
// v: prev(x+dx, y+dy), zero where that lies outside the frame.
func shiftedRow(buf, prev []byte, g tileGrid, x0, y, cw int, v vec) {
	buf = buf[:cw*4]
	sy := y + v.dy
	if sy < 0 || sy >= g.h {
		clear(buf)
		return
	}
	sx := x0 + v.dx
	lo := min(max(-sx, 0), cw)
	hi := max(min(g.w-sx, cw), lo)
	clear(buf[:lo*4])
	if hi > lo {
		copy(buf[lo*4:hi*4], prev[(sy*g.w+sx+lo)*4:(sy*g.w+sx+hi)*4])
	}
	clear(buf[hi*4:])
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// rowCost estimates how well a residual row cur-pred compresses: the bits
// of each residual pixel's difference from the one to its left, so zero
// runs and repeating residuals (a layer that moved over another) cost
// nothing; a pair of pixels equal to the pair before costs nothing too.
func rowCost(res, cur, pred []byte, g tileGrid, r tileRect, y int, xor bool) int {
	x0, cw := r.x0, r.cw
	o := (y*g.w + x0) * 4
	n := cw * 4
	res = res[:n]
	if xor {
		subtle.XORBytes(res, cur[o:o+n], pred)
	} else {
		subRow(res, cur[o:o+n], pred)
	}
	cost := 0
	var left uint64
	i := 0
	for ; i+8 <= n; i += 8 {
		w := binary.LittleEndian.Uint64(res[i:])
		if w != left { // a pattern of period 2 px is as cheap for LZ as one of 1 px
			cost += bits.OnesCount64(fold(sub8(w, w<<32|left>>32)))
		}
		left = w
	}
	if i < n {
		w := uint64(binary.LittleEndian.Uint32(res[i:]))
		cost += bits.OnesCount64(fold(sub8(w, left>>32)) & 0xffffffff)
	}
	return cost
}

// appendResidual appends tile t's residual under mode m (nothing for
// modeCopy) to data.
func appendResidual(data, buf []byte, g tileGrid, cur, prev []byte, r tileRect, m byte, vecs []vec) []byte {
	x0, y0, cw, ch := r.x0, r.y0, r.cw, r.ch
	n := cw * 4
	for y := y0; y < y0+ch; y++ {
		pred := predictRow(buf, g, cur, prev, r, y, m, vecs)
		o := (y*g.w + x0) * 4
		data = data[:len(data)+n]
		if deltaXOR && m == modeDelta {
			subtle.XORBytes(data[len(data)-n:], cur[o:o+n], pred) // SIMD: the common mode must be cheap
		} else {
			subRow(data[len(data)-n:], cur[o:o+n], pred)
		}
	}
	return data
}

// SWAR bytewise arithmetic on 8 bytes at once.
const hi8 = 0x8080808080808080

var deltaXOR = true

// sub8 is a-b per byte, modulo 256.
func sub8(a, b uint64) uint64 { return ((a | hi8) - (b &^ hi8)) ^ ((a ^ ^b) & hi8) }

// add8 is a+b per byte, modulo 256.
func add8(a, b uint64) uint64 { return ((a &^ hi8) + (b &^ hi8)) ^ ((a ^ b) & hi8) }

// fold maps each byte, read as a signed difference d, to |d| or |d|-1, so
// that small differences of either sign have few bits set.
func fold(x uint64) uint64 { return x ^ ((x&hi8)>>7)*0xff }

// subRow sets dst = a - b bytewise.
func subRow(dst, a, b []byte) {
	a, b = a[:len(dst)], b[:len(dst)]
	for len(dst) >= 8 { // written so that the compiler drops bounds checks
		binary.LittleEndian.PutUint64(dst[:8], sub8(binary.LittleEndian.Uint64(a[:8]), binary.LittleEndian.Uint64(b[:8])))
		dst, a, b = dst[8:], a[8:], b[8:]
	}
	for i := range dst {
		dst[i] = a[i] - b[i]
	}
}

// addRow sets dst = a + b bytewise (dst may be a or b).
func addRow(dst, a, b []byte) {
	a, b = a[:len(dst)], b[:len(dst)]
	for len(dst) >= 8 {
		binary.LittleEndian.PutUint64(dst[:8], add8(binary.LittleEndian.Uint64(a[:8]), binary.LittleEndian.Uint64(b[:8])))
		dst, a, b = dst[8:], a[8:], b[8:]
	}
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

func allZero(b []byte) bool {
	var acc uint64
	i := 0
	for ; i+8 <= len(b); i += 8 {
		acc |= binary.LittleEndian.Uint64(b[i:])
	}
	for ; i < len(b); i++ {
		acc |= uint64(b[i])
	}
	return acc == 0
}

// tiledDecoder holds a Reader's buffers for tiled payloads.
type tiledDecoder struct {
	body []byte
	alt  []byte // second frame buffer, for payloads with motion modes
	row  []byte
	// With synced, alt holds the frame decoded against (prev) except in
	// the rectangles of stale, which prev has had written since: a
	// payload with motion modes then brings alt up to date by copying
	// those (a few tiles when a few sprites moved) instead of the whole
	// frame. The Reader calls unsync when it writes prev itself.
	synced bool
	stale  []tileRect
	coded  []tileRect
}

// maxStale is how many stale rectangles the decoder tracks before it
// falls back to copying the whole frame.
const maxStale = 4096

// unsync forgets what alt holds: the next payload with motion modes copies
// the whole previous frame.
func (d *tiledDecoder) unsync() { d.synced, d.stale = false, d.stale[:0] }

// decodeTiled decodes a tiled payload. prev holds the previous frame (key
// frames: anything of the frame's size); the result is in the returned
// slice, which is prev or d.alt — the caller keeps the other as d.alt.
func (d *tiledDecoder) decodeTiled(prev, payload []byte, codec Codec, key bool, width, height int) ([]byte, error) {
	if len(payload) < tiledPrelude {
		return nil, fmt.Errorf("tiled payload of %d bytes, shorter than its %d-byte prelude", len(payload), tiledPrelude)
	}
	tw, th := int(le.Uint16(payload[0:])), int(le.Uint16(payload[2:]))
	if tw < 1 || th < 1 || tw > maxTileSide || th > maxTileSide {
		return nil, fmt.Errorf("tile size %dx%d outside 1x1..%dx%d", tw, th, maxTileSide, maxTileSide)
	}
	if w := le.Uint32(payload[4:]); w != uint32(width) {
		return nil, fmt.Errorf("tiled payload for frames %d px wide, the segment's are %d", w, width)
	}
	nv := int(payload[8])
	if nv > maxVectors || len(payload) < tiledPrelude+4*nv {
		return nil, fmt.Errorf("%d motion vectors in a %d-byte payload (at most %d)", nv, len(payload), maxVectors)
	}
	vecs := make([]vec, 0, maxVectors) // does not escape: no allocation
	for i := range nv {
		v := vec{int(int16(le.Uint16(payload[9+4*i:]))), int(int16(le.Uint16(payload[11+4*i:])))}
		if abs(v.dx) > width || abs(v.dy) > height {
			return nil, fmt.Errorf("motion vector %d (%d,%d) beyond the %dx%d frame", i, v.dx, v.dy, width, height)
		}
		vecs = append(vecs, v)
	}
	g := newGrid(width, height, tw, th)
	T := g.tiles()
	bm := (T + 7) / 8
	n := width * height * 4
	bodyLen := int64(le.Uint32(payload[9+4*nv:]))
	if maxBody := int64(bm + T + n); bodyLen < int64(bm) || bodyLen > maxBody {
		return nil, fmt.Errorf("body of %d bytes, outside %d..%d", bodyLen, bm, maxBody)
	}
	d.body = grow(d.body, int(bodyLen))
	if err := decompress(d.body, payload[tiledPrelude+4*nv:], codec, int(bodyLen)); err != nil {
		return nil, fmt.Errorf("tiled body: %w", err)
	}
	body := d.body[:bodyLen]

	// Check the modes and sizes before touching any pixel.
	nc := 0
	for i, b := range body[:bm] {
		if i == bm-1 && T%8 != 0 && b>>(T%8) != 0 {
			return nil, fmt.Errorf("bitmap marks tiles past the last (%d)", T)
		}
		nc += bits.OnesCount8(b)
	}
	if key && nc != T {
		return nil, fmt.Errorf("key frame codes %d of %d tiles", nc, T)
	}
	shifted := false
	rest := body[bm:]
	for t := range T {
		if body[t/8]&(1<<(t%8)) == 0 {
			continue
		}
		if len(rest) == 0 {
			return nil, fmt.Errorf("tile %d: body ends before its mode byte", t)
		}
		m := rest[0]
		k, vi := m&15, int(m>>4)
		switch {
		case k < modeDelta || k > modePaeth:
			return nil, fmt.Errorf("tile %d: unknown mode %d", t, k)
		case (k == modeMotion || k == modeCopy) && vi >= nv:
			return nil, fmt.Errorf("tile %d: motion vector %d of %d", t, vi, nv)
		case k != modeMotion && k != modeCopy && vi != 0:
			return nil, fmt.Errorf("tile %d: mode byte %#02x", t, m)
		case key && k <= modeCopy:
			return nil, fmt.Errorf("key frame tile %d refers to the previous frame (mode %d)", t, k)
		}
		shifted = shifted || k == modeMotion || k == modeCopy
		size := 0
		if k != modeCopy {
			_, _, cw, ch := g.rect(t)
			size = cw * ch * 4
		}
		if len(rest) < 1+size {
			return nil, fmt.Errorf("tile %d: %d residual bytes, the body has %d left", t, size, len(rest)-1)
		}
		rest = rest[1+size:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d bytes left in the body after the last tile", len(rest))
	}

	out, ref := prev, prev
	if shifted {
		// Shifted predictions read the previous frame where this one may
		// already have been written: decode into the other buffer,
		// brought up to date with prev first.
		if cap(d.alt) < n || !d.synced {
			d.alt = grow(d.alt, n)
			copy(d.alt, prev)
		} else {
			d.alt = d.alt[:n]
			for _, r := range d.stale {
				for y := r.y0; y < r.y0+r.ch; y++ {
					o := (y*width + r.x0) * 4
					copy(d.alt[o:o+r.cw*4], prev[o:o+r.cw*4])
				}
			}
		}
		out = d.alt
	}
	d.coded = d.coded[:0]
	d.row = grow(d.row, tw*4)
	stride := width * 4
	data := body[bm:]
	for t := range T {
		if body[t/8]&(1<<(t%8)) == 0 {
			continue
		}
		m := data[0]
		data = data[1:]
		x0, y0, cw, ch := g.rect(t)
		d.coded = append(d.coded, tileRect{x0, y0, cw, ch})
		rb := cw * 4
		for y := y0; y < y0+ch; y++ {
			o := y*stride + x0*4
			row := out[o : o+rb]
			switch m & 15 {
			case modeDelta:
				if deltaXOR {
					subtle.XORBytes(row, ref[o:o+rb], data[:rb])
				} else {
					addRow(row, ref[o:o+rb], data[:rb])
				}
			case modeMotion:
				shiftedRow(d.row, ref, g, x0, y, cw, vecs[m>>4])
				addRow(row, d.row, data[:rb])
			case modeCopy:
				shiftedRow(row, ref, g, x0, y, cw, vecs[m>>4])
				continue // no residual
			case modeUp:
				if y == 0 {
					copy(row, data[:rb])
				} else {
					addRow(row, out[o-stride:o-stride+rb], data[:rb])
				}
			case modeLeft:
				r := data[:rb]
				var a0, a1, a2, a3 byte
				if x0 > 0 {
					a0, a1, a2, a3 = out[o-4], out[o-3], out[o-2], out[o-1]
				}
				for j := 0; j < rb; j += 4 {
					a0, a1, a2, a3 = a0+r[j], a1+r[j+1], a2+r[j+2], a3+r[j+3]
					row[j], row[j+1], row[j+2], row[j+3] = a0, a1, a2, a3
				}
			case modePaeth:
				r := data[:rb]
				for j := range rb {
					var a, b, c byte
					if x0+j/4 > 0 {
						a = out[o+j-4]
					}
					if y > 0 {
						b = out[o+j-stride]
						if x0+j/4 > 0 {
							c = out[o+j-stride-4]
						}
					}
					row[j] = paeth(a, b, c) + r[j]
				}
			}
			data = data[rb:]
		}
	}
	if shifted {
		// The Reader swaps the buffers: the old prev, now alt, differs
		// from out in this frame's coded tiles only.
		d.stale = append(d.stale[:0], d.coded...)
		d.synced = true
	} else if d.synced {
		d.stale = append(d.stale, d.coded...) // written in prev, not in alt
	}
	if len(d.stale) > maxStale {
		d.unsync()
	}
	return out, nil
}
