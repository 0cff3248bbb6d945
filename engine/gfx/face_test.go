package gfx

import (
	"bytes"
	"sync"
	"testing"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gobolditalic"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
)

func TestFacesAreCached(t *testing.T) {
	a, b := DefaultFace(16), DefaultFace(16)
	if a != b {
		t.Fatal("DefaultFace(16) twice returned two faces")
	}
	if DefaultFace(17) == a {
		t.Fatal("DefaultFace(17) returned the 16 px face")
	}
	if m1, m2 := MonoFace(16), MonoFace(16); m1 != m2 {
		t.Fatal("MonoFace(16) twice returned two faces")
	}
	if MonoFace(16) == a {
		t.Fatal("MonoFace(16) returned the Go Regular face")
	}
	// NewFace keys on the bytes, not on the slice: a copy of Go Regular is
	// the default face, Go Bold at the same size is not.
	n, err := NewFace(bytes.Clone(goregular.TTF), 16)
	if err != nil {
		t.Fatal(err)
	}
	if n != a {
		t.Fatal("NewFace(copy of goregular.TTF, 16) is not DefaultFace(16)")
	}
	m, err := NewFace(gomono.TTF, 16)
	if err != nil || m != MonoFace(16) {
		t.Fatalf("NewFace(gomono.TTF, 16) = %p, %v; want MonoFace(16) = %p", m, err, MonoFace(16))
	}
	bold1, err := NewFace(gobold.TTF, 16)
	if err != nil {
		t.Fatal(err)
	}
	bold2, _ := NewFace(gobold.TTF, 16)
	if bold1 != bold2 || bold1 == a || bold1 == m {
		t.Fatalf("Go Bold 16: %p and %p, regular %p, mono %p: want one face of its own", bold1, bold2, a, m)
	}
	// One face, one atlas: a glyph rasterised through one call is in the
	// atlas the next call draws from.
	g := a.glyph('Q')
	if g.img == nil || DefaultFace(16).atlas != a.atlas || DefaultFace(16).glyphs['Q'].img != g.img {
		t.Fatal("the cached face does not share its atlas and glyphs")
	}
	// Clamping: out-of-range sizes of the embedded faces are the clamped face.
	if DefaultFace(0) != DefaultFace(1) || DefaultFace(9999) != DefaultFace(512) {
		t.Fatal("clamped sizes are not the faces of the clamped size")
	}
}

// The caller's slice may be reused once NewFace returned: the cached font
// reads its own copy.
func TestNewFaceKeepsItsOwnBytes(t *testing.T) {
	buf := bytes.Clone(gobolditalic.TTF)
	f, err := NewFace(buf, 21)
	if err != nil {
		t.Fatal(err)
	}
	w0, h0 := f.Measure("Hello, world")
	for i := range buf {
		buf[i] = 0xA5
	}
	if w, h := f.Measure("Hello, world"); w != w0 || h != h0 {
		t.Fatalf("after the caller overwrote its slice, Measure = %vx%v, was %vx%v", w, h, w0, h0)
	}
	if f.glyph('W').img == nil {
		t.Fatal("no glyph image after the caller overwrote its slice")
	}
	g, err := NewFace(gobolditalic.TTF, 21)
	if err != nil || g != f {
		t.Fatalf("NewFace(the original bytes) = %p, %v; want the cached %p", g, err, f)
	}
}

func TestNewFaceErrors(t *testing.T) {
	for _, size := range []float64{0, -3, 513} {
		if _, err := NewFace(goregular.TTF, size); err == nil {
			t.Errorf("NewFace(size %v) succeeded", size)
		}
	}
	garbage := []byte("not a font at all")
	for range 2 { // a failed parse is not cached as a face
		if f, err := NewFace(garbage, 12); err == nil || f != nil {
			t.Fatalf("NewFace(garbage) = %p, %v", f, err)
		}
	}
}

func TestFacesConcurrent(t *testing.T) {
	const n = 8
	got := make([]*Face, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i] = DefaultFace(33.5) })
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] {
			t.Fatalf("concurrent first calls made different faces: %p vs %p", got[i], got[0])
		}
	}
}

// TestDrawTimeFaceCallsAllocateNothing is what makes DefaultFace(16) in
// Draw every frame free: a cached call allocates nothing (a face built per
// call allocates its glyph cache and font state, and an atlas on first use).
func TestDrawTimeFaceCallsAllocateNothing(t *testing.T) {
	DefaultFace(16)
	MonoFace(13)
	if a := testing.AllocsPerRun(100, func() { DefaultFace(16); MonoFace(13) }); a != 0 {
		t.Fatalf("DefaultFace+MonoFace of a cached size allocate %v times a call", a)
	}
	NewFace(goregular.TTF, 16)
	if a := testing.AllocsPerRun(20, func() { NewFace(goregular.TTF, 16) }); a != 0 {
		t.Fatalf("NewFace of a cached font and size allocates %v times a call", a)
	}
}

// BenchmarkDefaultFace is the README's `gfx.DefaultFace(16)` inside Draw.
func BenchmarkDefaultFace(b *testing.B) {
	DefaultFace(16)
	b.ReportAllocs()
	for b.Loop() {
		DefaultFace(16)
	}
}

// BenchmarkNewFaceCached is NewFace of a cached font and size: it hashes the
// font file each call.
func BenchmarkNewFaceCached(b *testing.B) {
	NewFace(goregular.TTF, 16)
	b.ReportAllocs()
	b.SetBytes(int64(len(goregular.TTF)))
	for b.Loop() {
		NewFace(goregular.TTF, 16)
	}
}

// BenchmarkNewFaceUncached is what every DefaultFace call in Draw cost
// before faces were cached: a face made from the parsed font, and its atlas
// allocated for the first glyph drawn (then uploaded whole to the GPU, which
// this does not count).
func BenchmarkNewFaceUncached(b *testing.B) {
	fnt := goRegular().font
	b.ReportAllocs()
	for b.Loop() {
		f, err := newFace(fnt, 16)
		if err != nil {
			b.Fatal(err)
		}
		f.glyph('A')
	}
}
