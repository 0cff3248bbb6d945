package export

import (
	"fmt"
	"image"
	"math"
	"strconv"

	"golang.org/x/image/draw"
)

// Scale resizes frames: a whole factor (2, 3, …) repeats pixels (nearest
// neighbour, crisp pixel art); any other factor (0.5, 1.5) resamples with
// Catmull-Rom. The zero Scale and a factor of 1 leave frames untouched.
type Scale struct {
	Factor float64
}

// MaxScale bounds --scale: beyond it frames get unreasonably large.
const MaxScale = 16

// ParseScale reads a --scale value: a positive number up to MaxScale.
func ParseScale(s string) (Scale, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > MaxScale {
		return Scale{}, fmt.Errorf("--scale %q: want a factor above 0 and at most %d (2 or 3 for crisp pixel upscaling, 0.5 to halve)", s, MaxScale)
	}
	return Scale{Factor: f}, nil
}

// Identity reports whether the scale leaves frames as they are.
func (s Scale) Identity() bool { return s.Factor == 0 || s.Factor == 1 }

func (s Scale) whole() bool { return s.Factor >= 1 && s.Factor == math.Trunc(s.Factor) }

// Size is the size of a w×h frame once scaled (at least 1×1).
func (s Scale) Size(w, h int) (int, int) {
	if s.Identity() {
		return w, h
	}
	return max(1, int(math.Round(float64(w)*s.Factor))), max(1, int(math.Round(float64(h)*s.Factor)))
}

// Apply draws src scaled into dst at dst's origin; dst is at least
// s.Size(src) large.
func (s Scale) Apply(dst, src *image.RGBA) {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	w, h := s.Size(sw, sh)
	switch {
	case s.Identity():
		for y := range sh {
			copy(dst.Pix[y*dst.Stride:y*dst.Stride+4*sw], src.Pix[y*src.Stride:y*src.Stride+4*sw])
		}
	case s.whole():
		k := int(s.Factor)
		for y := range h {
			srow := src.Pix[(y/k)*src.Stride:]
			drow := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
			if y%k != 0 {
				copy(drow, dst.Pix[(y-1)*dst.Stride:(y-1)*dst.Stride+4*w])
				continue
			}
			for x := range sw {
				p := srow[4*x : 4*x+4]
				for j := range k {
					copy(drow[4*(x*k+j):], p)
				}
			}
		}
	default:
		draw.CatmullRom.Scale(dst, image.Rect(0, 0, w, h), src, src.Rect, draw.Src, nil)
	}
}
