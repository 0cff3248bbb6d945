package bench

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// EncodeResult is one row of `skyloop bench encode`.
type EncodeResult struct {
	Source         string // "synthetic" or a session
	Width, Height  int
	Codec          segment.Codec
	Frames         int
	Encode         Dist    // per frame, one core
	EncodeMBps     float64 // raw frame bytes encoded per second of encode time
	CPUPerFrame    time.Duration
	Decode         Dist    // per frame, reading the segment back
	BytesPerFrame  float64 // stored, segment overhead included
	PNGBytes       float64 // PNG (Go, default level) per frame, over a sample of frames
	KeyFrames      int
	RawBytesPerFrm int
}

// Frames yields frames for the encode benchmark; each call returns the next
// frame's RGBA pixels (owned by the caller until the next call) or io.EOF.
type Frames func() ([]byte, error)

// SyntheticFrames draws n frames of a game-like scene at w×h: a dark
// background with a gradient sky, 40 sprites moving at different speeds, a
// score bar that changes every 30 frames. Deterministic, so runs compare.
func SyntheticFrames(w, h, n int) Frames {
	pix := make([]byte, w*h*4)
	i := 0
	return func() ([]byte, error) {
		if i >= n {
			return nil, io.EOF
		}
		drawScene(pix, w, h, i)
		i++
		return pix, nil
	}
}

func drawScene(pix []byte, w, h, frame int) {
	for y := 0; y < h; y++ {
		c := byte(16 + 40*y/h)
		row := pix[y*w*4 : (y+1)*w*4]
		for x := 0; x < w; x++ {
			row[x*4], row[x*4+1], row[x*4+2], row[x*4+3] = c/2, c/2, c, 255
		}
	}
	fill := func(x0, y0, x1, y1 int, r, g, b byte) {
		x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				o := (y*w + x) * 4
				pix[o], pix[o+1], pix[o+2] = r, g, b
			}
		}
	}
	size := max(w/40, 4)
	for s := 0; s < 40; s++ {
		vx, vy := 1+s%7, 1+s%5
		x := (s*97 + frame*vx) % (w + size)
		y := (s*53 + frame*vy) % (h + size)
		fill(x-size, y-size, x, y, byte(60+s*5), byte(200-s*4), byte(90+s*3))
	}
	bar := (frame / 30 % 20) * w / 40
	fill(0, 0, w/2+bar, h/30, 230, 200, 40)
}

// Encode encodes the frames as the capture pipeline does (a key frame every
// keyInterval, XOR deltas between), timing each EncodeFrame on this
// goroutine, then writes them into one segment and times decoding it.
func Encode(source string, w, h int, frames Frames, codec segment.Codec, keyInterval int) (EncodeResult, error) {
	res := EncodeResult{Source: source, Width: w, Height: h, Codec: codec, RawBytesPerFrm: w * h * 4}
	var seg bytes.Buffer
	sw, err := segment.NewWriter(&seg, segment.Header{Width: w, Height: h, Codec: codec, KeyInterval: keyInterval, SessionStart: time.Unix(0, 0)})
	if err != nil {
		return res, err
	}
	prev := make([]byte, w*h*4)
	var dst []byte
	var times []time.Duration
	var pngBytes, pngFrames int
	var total, cpu time.Duration
	for n := 0; ; n++ {
		cur, err := frames()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, err
		}
		if len(cur) != w*h*4 {
			return res, fmt.Errorf("frame %d has %d bytes, want %d", n, len(cur), w*h*4)
		}
		var ref []byte
		if n > 0 {
			ref = prev
		}
		c0, t0 := selfCPU(), time.Now()
		ef, err := segment.EncodeFrame(dst, cur, ref, codec, n%keyInterval == 0)
		d := time.Since(t0)
		cpu += selfCPU() - c0
		if err != nil {
			return res, fmt.Errorf("encode frame %d: %w", n, err)
		}
		times = append(times, d)
		total += d
		ef.Seq, ef.Time = uint64(n), time.Unix(0, int64(n)*int64(time.Second)/60)
		if err := sw.WriteEncoded(ef); err != nil {
			return res, err
		}
		if ef.Key {
			res.KeyFrames++
		}
		dst = ef.Payload[:0]
		if n%60 == 0 && pngFrames < 4 { // PNG is slow: a sample is enough for the ratio
			img := &image.RGBA{Pix: cur, Stride: w * 4, Rect: image.Rect(0, 0, w, h)}
			var pb countingWriter
			if err := png.Encode(&pb, img); err != nil {
				return res, err
			}
			pngBytes += int(pb)
			pngFrames++
		}
		copy(prev, cur)
	}
	if len(times) == 0 {
		return res, errors.New("no frames to encode")
	}
	if err := sw.Close(); err != nil {
		return res, err
	}
	res.Frames = len(times)
	res.Encode = dist(times)
	res.EncodeMBps = float64(res.Frames*w*h*4) / total.Seconds() / 1e6
	res.CPUPerFrame = cpu / time.Duration(res.Frames) // the encoder may use more than one core (zstd does, a little)
	res.BytesPerFrame = float64(seg.Len()) / float64(res.Frames)
	if pngFrames > 0 {
		res.PNGBytes = float64(pngBytes) / float64(pngFrames)
	}
	r, err := segment.NewReader(bytes.NewReader(seg.Bytes()), int64(seg.Len()))
	if err != nil {
		return res, err
	}
	defer r.Close()
	var dec []time.Duration
	for {
		t0 := time.Now()
		_, err := r.NextView()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("decode: %w", err)
		}
		dec = append(dec, time.Since(t0))
	}
	res.Decode = dist(dec)
	return res, nil
}

type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
