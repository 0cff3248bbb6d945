package segment

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the Reader (seeded with segments of
// versions 1, 2 and 3): it must never panic, every error must wrap one of
// the package's sentinels, frames must have the header's size, and reading
// must end.
func FuzzDecode(f *testing.F) {
	seeds := [][]byte{
		writeSegment(f, Header{Width: 8, Height: 8, Codec: CodecZstd, KeyInterval: 3, FirstSeq: 1}, makeFrames(8, 8, 5, 1, movingRects)),
		writeSegment(f, Header{Width: 8, Height: 6, Codec: CodecS2, KeyInterval: 2}, makeFrames(8, 6, 4, 0, staticScene)),
		writeSegment(f, Header{Width: 4, Height: 4, Codec: CodecRaw}, makeFrames(4, 4, 2, 0, busyScene)),
		writeSegment(f, Header{Width: 5, Height: 3, Format: BGRA8, Codec: CodecS2}, makeFrames(5, 3, 3, 9, movingRects)),
		writeSegment(f, Header{Width: 2, Height: 2}, nil),
		// Tiled records (version 3, the default) with shifted copies,
		// residuals, deltas and intra tiles.
		writeSegment(f, Header{Width: 40, Height: 20, Codec: CodecZstd, KeyInterval: 4}, []testFrame{
			{seq: 0, pix: texture(40, 20, 3)}, {seq: 1, pix: shifted(texture(40, 20, 3), 40, 20, 3, -1, 0, 20, texture(40, 20, 4))},
			{seq: 2, pix: layersScene(40, 20, 0)}, {seq: 3, pix: layersScene(40, 20, 1)}, {seq: 4, pix: staticScreen(40, 20, 1)}}),
		writeSegment(f, Header{Width: 33, Height: 17, Codec: CodecS2, KeyInterval: 3}, makeFrames(33, 17, 4, 0, rectsScene)),
		writeSegment(f, Header{Version: 1, Width: 8, Height: 8, Codec: CodecZstd, KeyInterval: 3}, makeFrames(8, 8, 4, 0, movingRects)),
	}
	for _, name := range []string{"v1-zstd-rects", "v1-s2-static", "v2-zstd-scroll", "v2-zstd-sprites"} {
		b, err := os.ReadFile("testdata/" + name + ".seg")
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)-1])                // trailer cut
		f.Add(s[:len(s)*2/3])              // record cut
		f.Add(s[:min(len(s), headerSize)]) // header only
		b := bytes.Clone(s)
		b[len(b)/2] ^= 0x40 // damaged in the middle
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(err error) {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
		}
		r, err := NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			check(err)
			return
		}
		h := r.Header()
		if r.Len() > len(data)/(minCompactRecordHeader+1) {
			t.Fatalf("Len %d from %d bytes", r.Len(), len(data))
		}
		read := func() {
			for range len(data) + 3 {
				f, err := r.NextView()
				if err == io.EOF {
					return
				}
				if err != nil {
					check(err)
					continue
				}
				if b := f.Image.Rect; b.Dx() != h.Width || b.Dy() != h.Height || len(f.Image.Pix) != h.FrameBytes() {
					t.Fatalf("frame %d: image %v with %d bytes for a %dx%d header", f.Seq, b, len(f.Image.Pix), h.Width, h.Height)
				}
			}
			t.Fatal("Next did not reach io.EOF")
		}
		read()
		if _, err := r.Next(); err != io.EOF {
			t.Fatalf("after io.EOF: %v", err)
		}
		for _, e := range r.Index() {
			if err := r.SeekFrame(e.Seq); err != nil {
				check(err)
			}
			if _, err := r.ReadFrame(e.Seq); err != nil {
				check(err)
			}
		}
		if idx := r.Index(); len(idx) > 0 {
			if err := r.SeekFrame(idx[0].Seq); err == nil {
				read()
			}
		}
	})
}
