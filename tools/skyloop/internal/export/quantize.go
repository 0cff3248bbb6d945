package export

import (
	"image"
	"image/color"
	"image/draw"
	"slices"
)

// Quantize converts an opaque RGBA frame to a paletted one for GIF. A frame
// with at most 256 distinct colours (flat-colour game graphics) gets
// exactly those colours: the conversion is lossless. Otherwise the palette
// is a median cut of the frame's colour histogram (each frame its own
// palette) and the pixels are dithered onto it with Floyd–Steinberg.
// Alpha is ignored: GIF frames are opaque.
func Quantize(src *image.RGBA) *image.Paletted {
	if p, ok := quantizeExact(src); ok {
		return p
	}
	pal := MedianCut(src, 256)
	dst := image.NewPaletted(src.Rect, pal)
	draw.FloydSteinberg.Draw(dst, src.Rect, opaque{src}, src.Rect.Min)
	return dst
}

// opaque shows an RGBA image with every alpha at 255.
type opaque struct{ *image.RGBA }

func (o opaque) At(x, y int) color.Color {
	c := o.RGBAAt(x, y)
	c.A = 255
	return c
}

func pack(p []uint8) uint32 { return uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2]) }

// quantizeExact maps the frame onto its own colours when there are at most
// 256 of them.
func quantizeExact(src *image.RGBA) (*image.Paletted, bool) {
	r := src.Rect
	w, h := r.Dx(), r.Dy()
	index := make(map[uint32]uint8, 256)
	var pal color.Palette
	dst := image.NewPaletted(r, nil)
	prev, prevIdx := uint32(1<<31), uint8(0)
	for y := range h {
		row := src.Pix[y*src.Stride : y*src.Stride+4*w]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+w]
		for x := range w {
			c := pack(row[4*x:])
			if c != prev {
				i, ok := index[c]
				if !ok {
					if len(pal) == 256 {
						return nil, false
					}
					i = uint8(len(pal))
					index[c] = i
					pal = append(pal, color.RGBA{uint8(c >> 16), uint8(c >> 8), uint8(c), 255})
				}
				prev, prevIdx = c, i
			}
			out[x] = prevIdx
		}
	}
	if len(pal) == 0 {
		pal = color.Palette{color.RGBA{0, 0, 0, 255}}
	}
	dst.Palette = pal
	return dst, true
}

// histogram bins colours by their top 5 bits a channel, keeping the sums of
// the full 8-bit values so that palette entries are true averages.
const histBits = 5

type bin struct {
	key     [3]uint8 // the 5-bit channel values
	n       uint64
	r, g, b uint64
}

// MedianCut returns a palette of at most n colours for the frame: the
// colour histogram's box with the most pixels times the widest extent is
// split at its weighted median along that extent until there are n boxes;
// each entry is the mean colour of its box.
func MedianCut(src *image.RGBA, n int) color.Palette {
	const size = 1 << (3 * histBits)
	hist := make([]bin, size)
	r := src.Rect
	w := r.Dx()
	for y := range r.Dy() {
		row := src.Pix[y*src.Stride : y*src.Stride+4*w]
		for x := 0; x < len(row); x += 4 {
			cr, cg, cb := row[x], row[x+1], row[x+2]
			k := int(cr>>(8-histBits))<<(2*histBits) | int(cg>>(8-histBits))<<histBits | int(cb>>(8-histBits))
			b := &hist[k]
			b.n++
			b.r += uint64(cr)
			b.g += uint64(cg)
			b.b += uint64(cb)
		}
	}
	var bins []bin
	for k, b := range hist {
		if b.n > 0 {
			b.key = [3]uint8{uint8(k >> (2 * histBits)), uint8(k >> histBits & (1<<histBits - 1)), uint8(k & (1<<histBits - 1))}
			bins = append(bins, b)
		}
	}
	boxes := []box{newBox(bins)}
	for len(boxes) < n {
		best, bestScore := -1, uint64(0)
		for i, bx := range boxes {
			if len(bx.bins) < 2 {
				continue
			}
			if s := bx.n * uint64(bx.extent()+1); s > bestScore {
				best, bestScore = i, s
			}
		}
		if best < 0 {
			break
		}
		a, b := boxes[best].split()
		boxes[best] = a
		boxes = append(boxes, b)
	}
	pal := make(color.Palette, 0, len(boxes))
	for _, bx := range boxes {
		var sr, sg, sb uint64
		for _, b := range bx.bins {
			sr, sg, sb = sr+b.r, sg+b.g, sb+b.b
		}
		if bx.n == 0 {
			continue
		}
		pal = append(pal, color.RGBA{uint8((sr + bx.n/2) / bx.n), uint8((sg + bx.n/2) / bx.n), uint8((sb + bx.n/2) / bx.n), 255})
	}
	if len(pal) == 0 {
		pal = color.Palette{color.RGBA{0, 0, 0, 255}}
	}
	return pal
}

type box struct {
	bins     []bin
	n        uint64
	min, max [3]uint8
}

func newBox(bins []bin) box {
	bx := box{bins: bins, min: [3]uint8{255, 255, 255}}
	for _, b := range bins {
		bx.n += b.n
		for c := range 3 {
			bx.min[c] = min(bx.min[c], b.key[c])
			bx.max[c] = max(bx.max[c], b.key[c])
		}
	}
	return bx
}

// axis is the channel with the widest extent.
func (bx box) axis() int {
	a := 0
	for c := 1; c < 3; c++ {
		if bx.max[c]-bx.min[c] > bx.max[a]-bx.min[a] {
			a = c
		}
	}
	return a
}

func (bx box) extent() int {
	a := bx.axis()
	return int(bx.max[a] - bx.min[a])
}

// split cuts the box at the weighted median of its widest channel; both
// halves keep at least one bin.
func (bx box) split() (box, box) {
	a := bx.axis()
	slices.SortFunc(bx.bins, func(x, y bin) int { return int(x.key[a]) - int(y.key[a]) })
	var acc uint64
	cut := 1
	for i, b := range bx.bins {
		acc += b.n
		if acc*2 >= bx.n {
			cut = i + 1
			break
		}
	}
	cut = min(max(cut, 1), len(bx.bins)-1)
	return newBox(bx.bins[:cut]), newBox(bx.bins[cut:])
}
