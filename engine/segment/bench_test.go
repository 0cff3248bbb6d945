package segment

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

var benchSizes = []struct {
	name string
	w, h int
}{{"720p", 1280, 720}, {"1080p", 1920, 1080}}

// Benchmark scenes: static = one small sprite moves (few pixels change);
// busy = many small rectangles on a gradient, all of them and the gradient
// changing (most pixels change); scroll = a tile map under a moving camera
// (every pixel changes, the delta is worse than the key).
var benchScenes = []struct {
	name  string
	scene func(w, h, i int) []byte
}{{"static", staticScene}, {"busy", busyScene}, {"scroll", scrollScene}}

const benchFrames = 6

var sceneCache = map[string][][]byte{}

func benchFramesFor(name string, scene func(w, h, i int) []byte, w, h int) [][]byte {
	key := fmt.Sprintf("%s/%dx%d", name, w, h)
	if fs, ok := sceneCache[key]; ok {
		return fs
	}
	fs := make([][]byte, benchFrames)
	for i := range fs {
		fs[i] = scene(w, h, i)
	}
	sceneCache[key] = fs
	return fs
}

// BenchmarkEncodeFrame: key = forced key frame; auto = EncodeFrame with the
// previous frame (the heuristic picks); both = compress key and delta and
// keep the smaller (the size the heuristic aims for, at its cost).
func BenchmarkEncodeFrame(b *testing.B) {
	for _, codec := range codecs {
		for _, sz := range benchSizes {
			for _, sc := range benchScenes {
				for _, mode := range []string{"key", "auto", "both"} {
					b.Run(fmt.Sprintf("%s/%s/%s/%s", codec, sz.name, sc.name, mode), func(b *testing.B) {
						fs := benchFramesFor(sc.name, sc.scene, sz.w, sz.h)
						prev, cur := fs[0], fs[1]
						strat := strategyAuto
						if mode == "both" {
							strat = strategyBoth
						}
						var dst []byte
						var f EncodedFrame
						var err error
						b.SetBytes(int64(len(cur)))
						b.ResetTimer()
						for b.Loop() {
							f, err = encodeFrame(dst, cur, prev, codec, mode == "key", strat)
							if err != nil {
								b.Fatal(err)
							}
							dst = f.Payload
						}
						b.ReportMetric(float64(len(f.Payload)), "bytes/frame")
						delta := 0.0
						if !f.Key {
							delta = 1
						}
						b.ReportMetric(delta, "delta")
					})
				}
			}
		}
	}
}

// BenchmarkDecode decodes a segment of benchFrames frames, one frame per op,
// with NextView (no copy into a new image): key = every frame a key frame;
// auto = first frame key, the rest as EncodeFrame chose.
func BenchmarkDecode(b *testing.B) {
	for _, codec := range codecs {
		for _, sz := range benchSizes {
			for _, sc := range benchScenes {
				for _, mode := range []string{"key", "auto"} {
					b.Run(fmt.Sprintf("%s/%s/%s/%s", codec, sz.name, sc.name, mode), func(b *testing.B) {
						fs := benchFramesFor(sc.name, sc.scene, sz.w, sz.h)
						ki := 0
						if mode == "key" {
							ki = 1
						}
						var buf bytes.Buffer
						w, err := NewWriter(&buf, Header{Width: sz.w, Height: sz.h, Codec: codec, KeyInterval: ki})
						if err != nil {
							b.Fatal(err)
						}
						for i, pix := range fs {
							if err := w.WriteFrame(uint64(i), t0, pix); err != nil {
								b.Fatal(err)
							}
						}
						if err := w.Close(); err != nil {
							b.Fatal(err)
						}
						data := buf.Bytes()
						r, err := NewReader(bytes.NewReader(data), int64(len(data)))
						if err != nil {
							b.Fatal(err)
						}
						b.SetBytes(int64(sz.w * sz.h * 4))
						b.ResetTimer()
						for b.Loop() {
							_, err := r.NextView()
							if err == io.EOF {
								if err := r.SeekFrame(0); err != nil {
									b.Fatal(err)
								}
								_, err = r.NextView()
							}
							if err != nil {
								b.Fatal(err)
							}
						}
						b.ReportMetric(float64(len(data))/benchFrames, "bytes/frame")
					})
				}
			}
		}
	}
}

// BenchmarkDecodeNext is BenchmarkDecode's "auto" case with Next, which
// allocates and fills a new image per frame, to show that cost.
func BenchmarkDecodeNext(b *testing.B) {
	for _, codec := range codecs {
		for _, sz := range benchSizes {
			b.Run(fmt.Sprintf("%s/%s/static/auto", codec, sz.name), func(b *testing.B) {
				fs := benchFramesFor("static", staticScene, sz.w, sz.h)
				var buf bytes.Buffer
				w, err := NewWriter(&buf, Header{Width: sz.w, Height: sz.h, Codec: codec})
				if err != nil {
					b.Fatal(err)
				}
				for i, pix := range fs {
					if err := w.WriteFrame(uint64(i), t0, pix); err != nil {
						b.Fatal(err)
					}
				}
				w.Close()
				data := buf.Bytes()
				r, err := NewReader(bytes.NewReader(data), int64(len(data)))
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(sz.w * sz.h * 4))
				b.ResetTimer()
				for b.Loop() {
					_, err := r.Next()
					if err == io.EOF {
						if err := r.SeekFrame(0); err != nil {
							b.Fatal(err)
						}
						_, err = r.Next()
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
