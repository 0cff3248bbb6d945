package segment

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Game-like scenes for the version-1 vs version-2 comparison.

// rectsScene: 200 alpha-blended rectangles of 8-64 px from an 8-colour
// palette, alpha 160-255, each moving up to 6 px a tick, on a dark
// background.
func rectsScene(w, h, i int) []byte {
	pix := make([]byte, w*h*4)
	for k := 0; k < len(pix); k += 4 {
		pix[k], pix[k+1], pix[k+2], pix[k+3] = 12, 14, 24, 255
	}
	palette := [8][3]int{{230, 60, 60}, {60, 200, 90}, {70, 110, 240}, {240, 210, 60}, {200, 80, 220}, {60, 210, 220}, {250, 140, 40}, {230, 230, 230}}
	rng := rand.New(rand.NewPCG(42, 7))
	for range 200 {
		rw, rh := 8+rng.IntN(57), 8+rng.IntN(57)
		x0, y0 := rng.IntN(w), rng.IntN(h)
		vx, vy := rng.IntN(13)-6, rng.IntN(13)-6
		c := palette[rng.IntN(8)]
		a := 160 + rng.IntN(96)
		x := ((x0+vx*i)%w + w) % w
		y := ((y0+vy*i)%h + h) % h
		for yy := max(y, 0); yy < min(y+rh, h); yy++ {
			row := pix[yy*w*4:]
			for xx := max(x, 0); xx < min(x+rw, w); xx++ {
				p := row[xx*4 : xx*4+3]
				for ch := range 3 {
					p[ch] = byte((c[ch]*a + int(p[ch])*(255-a)) / 255)
				}
			}
		}
	}
	return pix
}

// layersScene is arena's background: bands of colour flowing down 4 px a
// tick, and over them (added, as arena's alpha-0 premultiplied tile does) a
// 256x256 tile of grain and grid lines drifting 1 px left a tick and 1 px
// up every other tick. No shift of the previous frame matches it exactly.
func layersScene(w, h, i int) []byte {
	const tile, band = 256, 4
	rng := rand.New(rand.NewPCG(3, 3))
	grain := make([]byte, tile*tile*4)
	for y := range tile {
		for x := range tile {
			g := grain[(y*tile+x)*4:]
			g[0], g[1], g[2] = byte(rng.IntN(20)), byte(rng.IntN(20)), byte(rng.IntN(28))
			if x%64 == 0 || y%64 == 0 {
				g[1], g[2] = g[1]+30, g[2]+45
			}
		}
	}
	tri := func(k int) int {
		if k &= 255; k < 128 {
			return k
		}
		return 255 - k
	}
	pix := make([]byte, w*h*4)
	for y := range h {
		k := (y/band - i) & 255
		c := [3]int{8 + tri(k+64)/2, 6 + tri(k+160)/4, 24 + tri(k)}
		gy := (y + i/2) % tile
		for x := range w {
			g := grain[(gy*tile+(x+i)%tile)*4:]
			p := pix[(y*w+x)*4:]
			p[0], p[1], p[2], p[3] = byte(c[0]+int(g[0])), byte(c[1]+int(g[1])), byte(c[2]+int(g[2])), 255
		}
	}
	return pix
}

// staticScreen is breakout-like: a wall of bricks, a paddle and a ball on a
// plain background; only the ball and the paddle move.
func staticScreen(w, h, i int) []byte {
	pix := make([]byte, w*h*4)
	for k := 0; k < len(pix); k += 4 {
		pix[k], pix[k+1], pix[k+2], pix[k+3] = 16, 16, 32, 255
	}
	bw, bh := w/16, h/30
	for r := range 6 {
		for c := range 16 {
			fillRect(pix, w, h, c*bw+1, h/10+r*bh+1, bw-2, bh-2, [4]byte{byte(200 - 25*r), byte(60 + 30*r), 80, 255})
		}
	}
	s := max(w/80, 2)
	fillRect(pix, w, h, (w/3+5*i)%(w-s), h/2+(3*i)%(h/3), s, s, [4]byte{250, 250, 250, 255})
	fillRect(pix, w, h, (w/2+4*i)%(w-w/8), h-h/20, w/8, max(h/60, 2), [4]byte{90, 200, 250, 255})
	return pix
}

var v2Scenes = []struct {
	name  string
	scene func(w, h, i int) []byte
}{{"rects", rectsScene}, {"layers", layersScene}, {"static", staticScreen}}

const v2BenchFrames = 6

var (
	v2Cache  = map[string][][]byte{}
	pngCache = map[string]int{}
)

func v2Frames(name string, scene func(w, h, i int) []byte, w, h int) ([][]byte, int) {
	key := fmt.Sprintf("%s/%dx%d", name, w, h)
	if fs, ok := v2Cache[key]; ok {
		return fs, pngCache[key]
	}
	fs := make([][]byte, v2BenchFrames)
	for i := range fs {
		fs[i] = scene(w, h, i)
	}
	total := 0
	for _, pix := range fs[:2] {
		var buf bytes.Buffer
		if err := png.Encode(&buf, &image.RGBA{Pix: pix, Stride: w * 4, Rect: image.Rect(0, 0, w, h)}); err != nil {
			panic(err)
		}
		total += buf.Len()
	}
	v2Cache[key], pngCache[key] = fs, total/2
	return fs, total / 2
}

// BenchmarkCodec compares format versions on one frame per op (frame i
// against frame i-1, over v2BenchFrames frames): v1 = EncodeFrame (whole
// frame, key or XOR delta); v2/eN = EncodeFrameWith with Width and Effort
// N (tiled). bytes/frame is a segment's average with a key frame every
// DefaultKeyInterval (K) frames: (key + (K−1) × mean delta) / K, payloads
// only (no record headers); png_ratio divides it by the size of
// one frame as a PNG (image/png, default compression).
func BenchmarkCodec(b *testing.B) {
	for _, sz := range benchSizes {
		for _, sc := range v2Scenes {
			for _, variant := range []string{"v1", "v2/e1", "v2/e2", "v2/e3", "v2/e4"} {
				b.Run(fmt.Sprintf("%s/%s/%s", sz.name, sc.name, variant), func(b *testing.B) {
					fs, pngSize := v2Frames(sc.name, sc.scene, sz.w, sz.h)
					effort := 0
					if variant != "v1" {
						effort = int(variant[4] - '0')
					}
					enc := func(dst, cur, prev []byte) (EncodedFrame, error) {
						if effort == 0 {
							return EncodeFrame(dst, cur, prev, CodecZstd, prev == nil)
						}
						return EncodeFrameWith(dst, cur, prev, EncodeOptions{Codec: CodecZstd, Width: sz.w, Effort: effort})
					}
					key, err := enc(nil, fs[0], nil)
					if err != nil {
						b.Fatal(err)
					}
					deltas := 0
					var dst []byte
					for i := 1; i < len(fs); i++ {
						f, err := enc(dst, fs[i], fs[i-1])
						if err != nil {
							b.Fatal(err)
						}
						dst = f.Payload
						deltas += len(f.Payload)
					}
					b.SetBytes(int64(len(fs[0])))
					b.ReportAllocs()
					b.ResetTimer()
					c0 := cpuTime()
					i := 0
					for b.Loop() {
						k := i%(len(fs)-1) + 1
						f, err := enc(dst, fs[k], fs[k-1])
						if err != nil {
							b.Fatal(err)
						}
						dst = f.Payload
						i++
					}
					b.StopTimer()
					// The development machine is shared: CPU time per frame
					// says more than wall time when other builds run.
					b.ReportMetric(float64(cpuTime()-c0)/float64(b.N)/1e6, "cpu_ms/frame")
					mean := float64(deltas) / float64(len(fs)-1)
					const k = DefaultKeyInterval
					stored := (float64(len(key.Payload)) + (k-1)*mean) / k
					b.ReportMetric(stored, "bytes/frame")
					b.ReportMetric(mean, "delta_bytes")
					b.ReportMetric(float64(len(key.Payload)), "key_bytes")
					b.ReportMetric(stored/float64(pngSize), "png_ratio")
				})
			}
		}
	}
}
