package gfx

import (
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"os"
	"runtime"
	"sync"
)

// Image is a picture that can be drawn on a Canvas: a whole texture or a
// rectangle of one (a sub-image, for sprite sheets). Images can be created
// before the engine runs; the texture is uploaded on first use on the render
// thread.
type Image struct {
	root *imageRoot
	rect image.Rectangle // region of root.pix
}

// imageRoot owns the pixels and the GL texture shared by an image and all of
// its sub-images.
type imageRoot struct {
	mu    sync.Mutex
	pix   *image.RGBA // premultiplied, kept so a new GL context can re-upload
	ref   *textureRef
	dirty bool // pix changed since upload
}

// textureRef names a texture in one renderer generation (one GL context).
type textureRef struct {
	id  uint32
	gen uint64
}

// pendingDeletes collects textures whose images were disposed or collected;
// the renderer of the matching generation deletes them on the render thread.
var pendingDeletes struct {
	sync.Mutex
	refs []textureRef
}

func queueTextureDelete(ref textureRef) {
	if ref.id == 0 {
		return
	}
	pendingDeletes.Lock()
	pendingDeletes.refs = append(pendingDeletes.refs, ref)
	pendingDeletes.Unlock()
}

func newRoot(pix *image.RGBA) *imageRoot {
	root := &imageRoot{pix: pix, ref: &textureRef{}, dirty: true}
	runtime.AddCleanup(root, func(ref *textureRef) { queueTextureDelete(*ref) }, root.ref)
	return root
}

// NewImageFromImage copies src into a new Image.
func NewImageFromImage(src image.Image) *Image {
	b := src.Bounds()
	pix := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(pix, pix.Bounds(), src, b.Min, draw.Src)
	return &Image{root: newRoot(pix), rect: pix.Bounds()}
}

// NewImage returns a transparent w×h image; fill it with ReplacePixels.
func NewImage(w, h int) *Image {
	pix := image.NewRGBA(image.Rect(0, 0, w, h))
	return &Image{root: newRoot(pix), rect: pix.Bounds()}
}

// LoadPNG decodes a PNG into an Image.
func LoadPNG(r io.Reader) (*Image, error) {
	img, err := png.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("gfx: decode PNG: %w", err)
	}
	return NewImageFromImage(img), nil
}

// LoadPNGFile decodes the PNG file at path into an Image.
func LoadPNGFile(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gfx: open image: %w", err)
	}
	defer f.Close()
	img, err := LoadPNG(f)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return img, nil
}

// Bounds is the image's rectangle within its root image (sub-images keep the
// coordinates they were cut at, as with image.Image.SubImage).
func (img *Image) Bounds() image.Rectangle { return img.rect }

// Size returns the width and height in pixels.
func (img *Image) Size() (w, h int) { return img.rect.Dx(), img.rect.Dy() }

// SubImage returns the part of img inside r (clipped to img), sharing its
// texture: drawing many sub-images of one sheet stays in one batch.
func (img *Image) SubImage(r image.Rectangle) *Image {
	return &Image{root: img.root, rect: r.Intersect(img.rect)}
}

// ReplacePixels copies src over the image's whole root texture; src must
// have the root's size. The texture is re-uploaded on next use.
func (img *Image) ReplacePixels(src image.Image) error {
	img.root.mu.Lock()
	defer img.root.mu.Unlock()
	if src.Bounds().Size() != img.root.pix.Bounds().Size() {
		return fmt.Errorf("gfx: ReplacePixels: source is %v, image is %v", src.Bounds().Size(), img.root.pix.Bounds().Size())
	}
	draw.Draw(img.root.pix, img.root.pix.Bounds(), src, src.Bounds().Min, draw.Src)
	img.root.dirty = true
	return nil
}

// Dispose frees the GL texture now rather than when the image is garbage
// collected. The image must not be drawn afterwards. Calling it twice is
// harmless.
func (img *Image) Dispose() {
	img.root.mu.Lock()
	ref := *img.root.ref
	*img.root.ref = textureRef{}
	img.root.dirty = true
	img.root.mu.Unlock()
	queueTextureDelete(ref)
}
