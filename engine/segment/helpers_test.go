package segment

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Synthetic game-like frames: a gradient background with colored rectangles.

func fillGradient(pix []byte, w, h, phase int) {
	for y := 0; y < h; y++ {
		row := pix[y*w*4 : (y+1)*w*4]
		for x := 0; x < w; x++ {
			row[x*4+0] = byte(x*255/max(w-1, 1) + phase)
			row[x*4+1] = byte(y*255/max(h-1, 1) + phase/2)
			row[x*4+2] = byte((x + y + phase) / 4)
			row[x*4+3] = 255
		}
	}
}

func fillRect(pix []byte, w, h, x0, y0, rw, rh int, c [4]byte) {
	for y := max(y0, 0); y < min(y0+rh, h); y++ {
		for x := max(x0, 0); x < min(x0+rw, w); x++ {
			copy(pix[(y*w+x)*4:], c[:])
		}
	}
}

// staticScene is the same picture every frame except for one small sprite
// (w/40 pixels wide, at least 2) that moves with i: few pixels change.
func staticScene(w, h, i int) []byte {
	pix := make([]byte, w*h*4)
	fillGradient(pix, w, h, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		fillRect(pix, w, h, rng.IntN(w), rng.IntN(h), 1+rng.IntN(max(w/10, 1)), 1+rng.IntN(max(h/10, 1)),
			[4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), 255})
	}
	s := max(w/40, 2)
	fillRect(pix, w, h, (i*3)%max(w-s, 1), (i*2)%max(h-s, 1), s, s, [4]byte{255, 255, 0, 255})
	return pix
}

// busyScene changes most pixels each frame: a scrolling gradient with many
// small rectangles whose positions and colors depend on i.
func busyScene(w, h, i int) []byte {
	pix := make([]byte, w*h*4)
	fillGradient(pix, w, h, i*7)
	rng := rand.New(rand.NewPCG(uint64(i), 99))
	n := w * h / 400
	for range n {
		fillRect(pix, w, h, rng.IntN(w), rng.IntN(h), 2+rng.IntN(max(w/50, 2)), 2+rng.IntN(max(h/50, 2)),
			[4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), 255})
	}
	return pix
}

// scrollScene is a tile map (12x12 tiles from a 16-color palette, each with
// a darker border) scrolled sideways 5 pixels a frame, as under a moving
// camera: nearly every pixel changes and the XOR of two frames is harder to
// compress than a frame.
func scrollScene(w, h, i int) []byte {
	const tile = 12
	rng := rand.New(rand.NewPCG(7, 7))
	var palette [16][4]byte
	for k := range palette {
		palette[k] = [4]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), 255}
	}
	tilesX := (w+5*i)/tile + 2
	tilesY := h/tile + 1
	tiles := make([]byte, tilesX*tilesY)
	for k := range tiles {
		tiles[k] = byte(rand.New(rand.NewPCG(uint64(k%tilesX), uint64(k/tilesX))).IntN(16))
	}
	pix := make([]byte, w*h*4)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			wx := x + 5*i
			c := palette[tiles[(y/tile)*tilesX+wx/tile]]
			if wx%tile == 0 || y%tile == 0 {
				c[0], c[1], c[2] = c[0]/2, c[1]/2, c[2]/2
			}
			copy(pix[(y*w+x)*4:], c[:])
		}
	}
	return pix
}

// movingRects is a fixed background with a few rectangles moving across it.
func movingRects(w, h, i int) []byte {
	pix := make([]byte, w*h*4)
	fillGradient(pix, w, h, 3)
	for k := range 4 {
		s := max(w/8, 2)
		fillRect(pix, w, h, (i*(k+1)*2+k*s)%w, (k*h)/4, s, s, [4]byte{byte(60 * k), 200, byte(255 - 60*k), 255})
	}
	return pix
}

func noise(w, h int, seed uint64) []byte {
	pix := make([]byte, w*h*4)
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := 0; i+8 <= len(pix); i += 8 {
		le.PutUint64(pix[i:], rng.Uint64())
	}
	return pix
}

type testFrame struct {
	seq uint64
	t   time.Time
	pix []byte
}

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

// makeFrames builds n frames from scene with consecutive seqs from first,
// 16.6 ms apart.
func makeFrames(w, h, n int, first uint64, scene func(w, h, i int) []byte) []testFrame {
	fs := make([]testFrame, n)
	for i := range fs {
		fs[i] = testFrame{seq: first + uint64(i), t: t0.Add(time.Duration(i) * 16666667 * time.Nanosecond), pix: scene(w, h, i)}
	}
	return fs
}

func writeSegment(t testing.TB, h Header, fs []testFrame) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if err := w.WriteFrame(f.seq, f.t, f.pix); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.BytesWritten() != int64(buf.Len()) {
		t.Fatalf("BytesWritten %d, buffer has %d", w.BytesWritten(), buf.Len())
	}
	return buf.Bytes()
}

// checkFrame compares a decoded frame with the frame written.
func checkFrame(t testing.TB, got Frame, want testFrame, w, h int) {
	t.Helper()
	if got.Seq != want.seq {
		t.Fatalf("seq %d, want %d", got.Seq, want.seq)
	}
	if !got.Time.Equal(want.t) {
		t.Fatalf("seq %d: time %v, want %v", got.Seq, got.Time, want.t)
	}
	if got.Image == nil || got.Image.Rect.Dx() != w || got.Image.Rect.Dy() != h || got.Image.Stride != w*4 {
		t.Fatalf("seq %d: image %v", got.Seq, got.Image)
	}
	if !bytes.Equal(got.Image.Pix, want.pix) {
		t.Fatalf("seq %d: pixels differ (first at byte %s)", got.Seq, firstDiff(got.Image.Pix, want.pix))
	}
}

func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%d: %d vs %d", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("length %d vs %d", len(a), len(b))
}

// recordHeaderLen returns the size of the record header at off in the
// segment data.
func recordHeaderLen(t testing.TB, data []byte, off int64) int64 {
	t.Helper()
	h, err := parseHeader(data[:headerSize])
	if err != nil {
		t.Fatal(err)
	}
	rh, problem := parseRecordHeader(data[off:], h)
	if problem != "" {
		t.Fatalf("record header at %d: %s", off, problem)
	}
	return int64(rh.size)
}
