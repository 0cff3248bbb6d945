package export

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"io"
)

// GIFWriter writes an animated GIF one frame at a time, so that a long
// session never has to sit in memory as image/gif's EncodeAll wants. Each
// frame is encoded by image/gif on its own (EncodeFrame, which may run in
// parallel) and the image blocks are spliced behind one header.
type GIFWriter struct {
	w      io.Writer
	width  int
	height int
	frames int
	err    error
}

// NewGIFWriter starts a GIF of the given logical size that loops forever.
func NewGIFWriter(w io.Writer, width, height int) (*GIFWriter, error) {
	if width < 1 || height < 1 || width > 65535 || height > 65535 {
		return nil, fmt.Errorf("gif: frames of %dx%d do not fit a GIF (1 to 65535 pixels a side)", width, height)
	}
	g := &GIFWriter{w: w, width: width, height: height}
	var hdr []byte
	hdr = append(hdr, "GIF89a"...)
	hdr = append(hdr, byte(width), byte(width>>8), byte(height), byte(height>>8))
	hdr = append(hdr, 0, 0, 0) // no global colour table, background 0, no aspect ratio
	// NETSCAPE2.0 application extension: loop forever.
	hdr = append(hdr, 0x21, 0xff, 0x0b)
	hdr = append(hdr, "NETSCAPE2.0"...)
	hdr = append(hdr, 0x03, 0x01, 0, 0, 0)
	_, g.err = w.Write(hdr)
	return g, g.err
}

// headerLen is what image/gif writes before the first image block when
// there is one frame and no global colour table: "GIF89a", the logical
// screen descriptor.
const headerLen = 6 + 7

// EncodeFrame encodes one frame's image block (graphic control extension
// with its delay in 1/100 s, image descriptor at p's position, local colour
// table, pixels) for WriteBlock, in a GIF of width×height. p may cover part
// of the picture: the rest keeps the previous frame (disposal "none").
// Safe for concurrent use.
func EncodeFrame(p *image.Paletted, delay, width, height int) ([]byte, error) {
	if delay < 0 || delay > 65535 {
		return nil, fmt.Errorf("gif: delay %d/100 s out of range", delay)
	}
	var buf bytes.Buffer
	err := gif.EncodeAll(&buf, &gif.GIF{
		Image:    []*image.Paletted{p},
		Delay:    []int{delay},
		Disposal: []byte{gif.DisposalNone},
		Config:   image.Config{Width: width, Height: height},
	})
	if err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if len(b) < headerLen+1 || string(b[:6]) != "GIF89a" || b[10]&0x80 != 0 || b[len(b)-1] != 0x3b {
		return nil, errors.New("gif: unexpected layout from image/gif")
	}
	return b[headerLen : len(b)-1], nil
}

// withDelay returns block (from EncodeFrame) with its delay set to delay
// (1/100 s): the delay sits in the graphic control extension that starts
// every block EncodeFrame makes (21 F9 04, flags, delay as uint16 LE,
// transparent index, 00). The block is modified in place.
func withDelay(block []byte, delay int) ([]byte, error) {
	if delay < 0 || delay > 65535 {
		return nil, fmt.Errorf("gif: delay %d/100 s out of range", delay)
	}
	if len(block) < 8 || block[0] != 0x21 || block[1] != 0xf9 || block[2] != 0x04 || block[7] != 0 {
		return nil, errors.New("gif: block does not start with a graphic control extension")
	}
	block[4], block[5] = byte(delay), byte(delay>>8)
	return block, nil
}

// WriteBlock appends a block from EncodeFrame.
func (g *GIFWriter) WriteBlock(b []byte) error {
	if g.err != nil {
		return g.err
	}
	_, g.err = g.w.Write(b)
	g.frames++
	return g.err
}

// Frames is the number of frames written.
func (g *GIFWriter) Frames() int { return g.frames }

// Close writes the trailer; the GIF needs at least one frame.
func (g *GIFWriter) Close() error {
	if g.err != nil {
		return g.err
	}
	if g.frames == 0 {
		return errors.New("gif: no frames")
	}
	_, g.err = g.w.Write([]byte{0x3b})
	if g.err == nil {
		g.err = errors.New("gif: closed")
		return nil
	}
	return g.err
}
