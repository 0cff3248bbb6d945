package gfx

import (
	"errors"
	"fmt"
	"image"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/go-gl/gl/v4.1-core/gl"

	"github.com/skyloop-engine/skyloop/engine/internal/bridge"
)

// Filter selects how textures are sampled when scaled.
type Filter int

const (
	// FilterNearest keeps pixels sharp (pixel art, exact 1:1 sprites).
	FilterNearest Filter = iota
	// FilterLinear blends neighbouring texels (smooth rotation and scaling).
	FilterLinear
)

const vertexShaderSource = `#version 410 core
layout(location = 0) in vec2 aPos;
layout(location = 1) in vec2 aUV;
layout(location = 2) in vec4 aColor;
uniform vec2 uScreen;
uniform float uFlipY;
out vec2 vUV;
out vec4 vColor;
void main() {
	vUV = aUV;
	vColor = aColor;
	// Offscreen (uFlipY = 1): y = 0 maps to NDC -1, i.e. framebuffer row 0,
	// so rows are stored top-down. On the window (uFlipY = -1) y = 0 is the
	// top of the window.
	gl_Position = vec4(aPos.x / uScreen.x * 2.0 - 1.0, (aPos.y / uScreen.y * 2.0 - 1.0) * uFlipY, 0.0, 1.0);
}
` + "\x00"

const fragmentShaderSource = `#version 410 core
in vec2 vUV;
in vec4 vColor;
uniform sampler2D uTex;
out vec4 fragColor;
void main() {
	fragColor = texture(uTex, vUV) * vColor;
}
` + "\x00"

// vertex is one batched vertex; it holds no Go pointers, so a slice of them
// may be passed to GL directly.
type vertex struct {
	x, y       float32
	u, v       float32
	r, g, b, a uint8
}

const vertexSize = int32(unsafe.Sizeof(vertex{}))

// maxBatchVertices bounds one upload; a batch that would exceed it is flushed.
const maxBatchVertices = 1 << 16

// generations numbers renderers so textures are never used across GL contexts.
var generations atomic.Uint64

// drawStats counts the work of a frame.
type drawStats struct {
	DrawCalls int
	Vertices  int
}

// renderer owns the GL objects of one context: the program, the vertex
// buffers, the samplers and the offscreen screen framebuffer. The engine
// creates one per window through engine/internal/bridge (it implements
// bridge.Renderer); games only see the Canvas it hands to Draw.
type renderer struct {
	gen      uint64
	program  uint32
	uScreen  int32
	uFlipY   int32
	vao      uint32
	vbo, ibo uint32
	samplers [2]uint32
	white    *Image

	fbo, fboTex uint32
	fboW, fboH  int

	// winFBO holds a top-down copy of the letterboxed window image, kept
	// only when capture records what the player sees (Present's keepCopy).
	winFBO, winTex uint32
	winW, winH     int

	// The pending batch: vertices drawn with texture batchTex and sampler
	// batchFil at the next flush. Only use changes batchTex, when it starts
	// a new batch; uploads of other textures never do (flush binds it).
	verts    []vertex
	indices  []uint32
	batchTex uint32
	batchFil Filter

	canvas   Canvas
	onWindow bool // drawing the overlay (BeginOverlay), not the screen
	stats    drawStats
	last     drawStats
	closed   bool
	created  []uint32 // textures this renderer uploaded, deleted on Close
}

func init() {
	bridge.NewRenderer = func() (bridge.Renderer, error) { return newRenderer() }
}

// newRenderer creates the GL objects. A GL 4.1 core context must be current
// and gl.Init done.
func newRenderer() (*renderer, error) {
	r := &renderer{gen: generations.Add(1)}
	prog, err := linkProgram(vertexShaderSource, fragmentShaderSource)
	if err != nil {
		return nil, err
	}
	r.program = prog
	r.uScreen = gl.GetUniformLocation(prog, gl.Str("uScreen\x00"))
	r.uFlipY = gl.GetUniformLocation(prog, gl.Str("uFlipY\x00"))
	gl.UseProgram(prog)
	gl.Uniform1i(gl.GetUniformLocation(prog, gl.Str("uTex\x00")), 0)

	gl.GenVertexArrays(1, &r.vao)
	gl.BindVertexArray(r.vao)
	gl.GenBuffers(1, &r.vbo)
	gl.GenBuffers(1, &r.ibo)
	gl.BindBuffer(gl.ARRAY_BUFFER, r.vbo)
	gl.BindBuffer(gl.ELEMENT_ARRAY_BUFFER, r.ibo)
	gl.EnableVertexAttribArray(0)
	gl.VertexAttribPointerWithOffset(0, 2, gl.FLOAT, false, vertexSize, 0)
	gl.EnableVertexAttribArray(1)
	gl.VertexAttribPointerWithOffset(1, 2, gl.FLOAT, false, vertexSize, 8)
	gl.EnableVertexAttribArray(2)
	gl.VertexAttribPointerWithOffset(2, 4, gl.UNSIGNED_BYTE, true, vertexSize, 16)

	gl.GenSamplers(2, &r.samplers[0])
	for i, f := range []int32{gl.NEAREST, gl.LINEAR} {
		s := r.samplers[i]
		gl.SamplerParameteri(s, gl.TEXTURE_MIN_FILTER, f)
		gl.SamplerParameteri(s, gl.TEXTURE_MAG_FILTER, f)
		gl.SamplerParameteri(s, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE)
		gl.SamplerParameteri(s, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE)
	}

	whitePix := image.NewRGBA(image.Rect(0, 0, 1, 1))
	copy(whitePix.Pix, []byte{255, 255, 255, 255})
	r.white = &Image{root: newRoot(whitePix), rect: whitePix.Bounds()}

	gl.Enable(gl.BLEND)
	gl.BlendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA) // premultiplied "over"
	gl.Disable(gl.DEPTH_TEST)
	gl.Disable(gl.CULL_FACE)
	gl.PixelStorei(gl.UNPACK_ALIGNMENT, 1)
	gl.PixelStorei(gl.PACK_ALIGNMENT, 1)
	if err := glError("creating renderer"); err != nil {
		return nil, err
	}
	r.canvas.r = r
	return r, nil
}

func compileShader(src string, kind uint32) (uint32, error) {
	sh := gl.CreateShader(kind)
	csrc, free := gl.Strs(src)
	gl.ShaderSource(sh, 1, csrc, nil)
	free()
	gl.CompileShader(sh)
	var ok int32
	gl.GetShaderiv(sh, gl.COMPILE_STATUS, &ok)
	if ok == gl.FALSE {
		var n int32
		gl.GetShaderiv(sh, gl.INFO_LOG_LENGTH, &n)
		msg := strings.Repeat("\x00", int(n+1))
		gl.GetShaderInfoLog(sh, n, nil, gl.Str(msg))
		gl.DeleteShader(sh)
		return 0, fmt.Errorf("gfx: compile shader: %s", strings.TrimRight(msg, "\x00"))
	}
	return sh, nil
}

func linkProgram(vs, fs string) (uint32, error) {
	v, err := compileShader(vs, gl.VERTEX_SHADER)
	if err != nil {
		return 0, err
	}
	defer gl.DeleteShader(v)
	f, err := compileShader(fs, gl.FRAGMENT_SHADER)
	if err != nil {
		return 0, err
	}
	defer gl.DeleteShader(f)
	p := gl.CreateProgram()
	gl.AttachShader(p, v)
	gl.AttachShader(p, f)
	gl.LinkProgram(p)
	var ok int32
	gl.GetProgramiv(p, gl.LINK_STATUS, &ok)
	if ok == gl.FALSE {
		var n int32
		gl.GetProgramiv(p, gl.INFO_LOG_LENGTH, &n)
		msg := strings.Repeat("\x00", int(n+1))
		gl.GetProgramInfoLog(p, n, nil, gl.Str(msg))
		gl.DeleteProgram(p)
		return 0, fmt.Errorf("gfx: link program: %s", strings.TrimRight(msg, "\x00"))
	}
	return p, nil
}

func glError(what string) error {
	var errs []string
	for i := 0; i < 8; i++ {
		e := gl.GetError()
		if e == gl.NO_ERROR {
			break
		}
		errs = append(errs, fmt.Sprintf("0x%04x", e))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("gfx: GL error while %s: %s", what, strings.Join(errs, ", "))
}

// Begin starts a frame on the w×h screen framebuffer (created or resized as
// needed) and returns the *Canvas to draw on.
func (r *renderer) Begin(w, h int) (any, error) {
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("gfx: screen size %dx%d: width and height must be positive", w, h)
	}
	r.deletePending()
	if w != r.fboW || h != r.fboH {
		if err := r.resizeScreen(w, h); err != nil {
			return nil, err
		}
	}
	gl.BindFramebuffer(gl.FRAMEBUFFER, r.fbo)
	gl.Viewport(0, 0, int32(w), int32(h))
	gl.UseProgram(r.program)
	gl.Uniform2f(r.uScreen, float32(w), float32(h))
	gl.Uniform1f(r.uFlipY, 1)
	gl.BindVertexArray(r.vao)
	r.stats = drawStats{}
	r.canvas.reset(w, h)
	return &r.canvas, nil
}

// End flushes what was drawn this frame.
func (r *renderer) End() {
	r.flush()
	if !r.onWindow {
		r.last = r.stats // the overlay is not the game's frame
	}
	r.onWindow = false
}

// LastStats returns the draw calls and vertices of the last completed frame.
func (r *renderer) LastStats() (drawCalls, vertices int) { return r.last.DrawCalls, r.last.Vertices }

// ScreenFramebuffer returns the offscreen framebuffer holding the last frame
// (rows top-down, RGBA8) and its size: what capture reads back.
func (r *renderer) ScreenFramebuffer() (fbo uint32, w, h int) { return r.fbo, r.fboW, r.fboH }

func (r *renderer) resizeScreen(w, h int) error {
	if err := resizeTarget(&r.fbo, &r.fboTex, w, h, "screen"); err != nil {
		return err
	}
	r.fboW, r.fboH = w, h
	return nil
}

// resizeTarget (re)allocates an RGBA8 texture-backed framebuffer.
func resizeTarget(fbo, tex *uint32, w, h int, what string) error {
	if *fbo == 0 {
		gl.GenFramebuffers(1, fbo)
		gl.GenTextures(1, tex)
	}
	gl.BindTexture(gl.TEXTURE_2D, *tex)
	gl.TexImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, int32(w), int32(h), 0, gl.RGBA, gl.UNSIGNED_BYTE, nil)
	gl.TexParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST)
	gl.TexParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST)
	gl.BindFramebuffer(gl.FRAMEBUFFER, *fbo)
	gl.FramebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.TEXTURE_2D, *tex, 0)
	if st := gl.CheckFramebufferStatus(gl.FRAMEBUFFER); st != gl.FRAMEBUFFER_COMPLETE {
		return fmt.Errorf("gfx: %s framebuffer %dx%d incomplete (status 0x%04x)", what, w, h, st)
	}
	return glError("resizing the " + what + " framebuffer")
}

// WindowFramebuffer returns the top-down copy of the last presented window
// image and its size; fbo is 0 unless Present kept a copy.
func (r *renderer) WindowFramebuffer() (fbo uint32, w, h int) { return r.winFBO, r.winW, r.winH }

// BeginOverlay starts drawing directly on the window, over the presented
// frame, in window pixels with (0, 0) at the top-left. Nothing drawn here is
// in the screen framebuffer or its window copy, so recordings never contain
// it. Finish with End.
func (r *renderer) BeginOverlay(winW, winH int) any {
	r.onWindow = true
	gl.BindFramebuffer(gl.FRAMEBUFFER, 0)
	gl.Viewport(0, 0, int32(winW), int32(winH))
	gl.UseProgram(r.program)
	gl.Uniform2f(r.uScreen, float32(winW), float32(winH))
	gl.Uniform1f(r.uFlipY, -1)
	gl.BindVertexArray(r.vao)
	r.canvas.reset(winW, winH)
	return &r.canvas
}

// Present blits the screen framebuffer into the window's default framebuffer
// at viewport (window pixels, origin top-left), inverting Y because the
// screen is stored top-down, and clears the rest (letterbox bars) to black.
//
// With keepCopy it first composes the letterboxed window image, top-down,
// in a window-sized framebuffer (WindowFramebuffer) — what capture reads to
// record what the player sees — and blits that to the window.
func (r *renderer) Present(winW, winH int, viewport image.Rectangle, keepCopy bool) error {
	filter := uint32(gl.LINEAR)
	if viewport.Dx()%r.fboW == 0 && viewport.Dy()%r.fboH == 0 {
		filter = gl.NEAREST // integer scale: keep pixels exact
	}
	gl.ClearColor(0, 0, 0, 1)
	if keepCopy {
		if winW != r.winW || winH != r.winH {
			if err := resizeTarget(&r.winFBO, &r.winTex, winW, winH, "window copy"); err != nil {
				return err
			}
			r.winW, r.winH = winW, winH
		}
		gl.BindFramebuffer(gl.DRAW_FRAMEBUFFER, r.winFBO)
		gl.Viewport(0, 0, int32(winW), int32(winH))
		gl.Clear(gl.COLOR_BUFFER_BIT)
		gl.BindFramebuffer(gl.READ_FRAMEBUFFER, r.fbo)
		gl.BlitFramebuffer(0, 0, int32(r.fboW), int32(r.fboH),
			int32(viewport.Min.X), int32(viewport.Min.Y), int32(viewport.Max.X), int32(viewport.Max.Y),
			gl.COLOR_BUFFER_BIT, filter)
		gl.BindFramebuffer(gl.READ_FRAMEBUFFER, r.winFBO)
		gl.BindFramebuffer(gl.DRAW_FRAMEBUFFER, 0)
		gl.BlitFramebuffer(0, 0, int32(winW), int32(winH), 0, int32(winH), int32(winW), 0, gl.COLOR_BUFFER_BIT, gl.NEAREST)
		gl.BindFramebuffer(gl.FRAMEBUFFER, 0)
		return nil
	}
	gl.BindFramebuffer(gl.DRAW_FRAMEBUFFER, 0)
	gl.Viewport(0, 0, int32(winW), int32(winH))
	gl.Clear(gl.COLOR_BUFFER_BIT)
	gl.BindFramebuffer(gl.READ_FRAMEBUFFER, r.fbo)
	top := int32(winH - viewport.Min.Y)
	bottom := int32(winH - viewport.Max.Y)
	gl.BlitFramebuffer(0, 0, int32(r.fboW), int32(r.fboH),
		int32(viewport.Min.X), top, int32(viewport.Max.X), bottom,
		gl.COLOR_BUFFER_BIT, filter)
	gl.BindFramebuffer(gl.FRAMEBUFFER, 0)
	return nil
}

// Close deletes the renderer's GL objects. It is idempotent.
func (r *renderer) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.deletePending()
	if len(r.created) > 0 {
		gl.DeleteTextures(int32(len(r.created)), &r.created[0])
	}
	gl.DeleteSamplers(2, &r.samplers[0])
	gl.DeleteBuffers(1, &r.vbo)
	gl.DeleteBuffers(1, &r.ibo)
	gl.DeleteVertexArrays(1, &r.vao)
	gl.DeleteProgram(r.program)
	for _, t := range []struct{ fbo, tex *uint32 }{{&r.fbo, &r.fboTex}, {&r.winFBO, &r.winTex}} {
		if *t.fbo != 0 {
			gl.DeleteFramebuffers(1, t.fbo)
			gl.DeleteTextures(1, t.tex)
		}
	}
}

func (r *renderer) deletePending() {
	pendingDeletes.Lock()
	keep := pendingDeletes.refs[:0]
	var mine []uint32
	for _, ref := range pendingDeletes.refs {
		switch {
		case ref.gen == r.gen:
			mine = append(mine, ref.id)
		case ref.gen > r.gen:
			keep = append(keep, ref) // a newer context's texture
		}
		// Older generations' contexts are gone, and their textures with them.
	}
	pendingDeletes.refs = keep
	pendingDeletes.Unlock()
	if len(mine) == 0 {
		return
	}
	gl.DeleteTextures(int32(len(mine)), &mine[0])
	dead := make(map[uint32]bool, len(mine))
	for _, id := range mine {
		dead[id] = true
	}
	live := r.created[:0]
	for _, id := range r.created {
		if !dead[id] {
			live = append(live, id)
		}
	}
	r.created = live
}

// texture returns the GL texture of img's root, uploading it when it is new
// to this context or its pixels changed.
func (r *renderer) texture(img *Image) uint32 {
	root := img.root
	root.mu.Lock()
	defer root.mu.Unlock()
	if root.ref.gen != r.gen || root.ref.id == 0 {
		var id uint32
		gl.GenTextures(1, &id)
		root.ref.id, root.ref.gen = id, r.gen
		r.created = append(r.created, id)
		root.dirty = true
		gl.BindTexture(gl.TEXTURE_2D, id)
		b := root.pix.Bounds()
		gl.TexImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, int32(b.Dx()), int32(b.Dy()), 0, gl.RGBA, gl.UNSIGNED_BYTE, nil)
	}
	if root.dirty {
		if root.ref.id == r.batchTex {
			// The pending batch samples this texture: draw it with the
			// texels it was batched against before they change.
			r.flush()
		}
		gl.BindTexture(gl.TEXTURE_2D, root.ref.id)
		b := root.pix.Bounds()
		gl.TexSubImage2D(gl.TEXTURE_2D, 0, 0, 0, int32(b.Dx()), int32(b.Dy()), gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(root.pix.Pix))
		root.dirty = false
	}
	// The upload left another texture bound, but the pending batch still
	// belongs to batchTex: flush binds its texture itself, so batchTex must
	// not change here.
	return root.ref.id
}

// quadUV returns the texture coordinates of img's rectangle.
func quadUV(img *Image) (u0, v0, u1, v1 float32) {
	b := img.root.pix.Bounds()
	w, h := float32(b.Dx()), float32(b.Dy())
	return float32(img.rect.Min.X) / w, float32(img.rect.Min.Y) / h,
		float32(img.rect.Max.X) / w, float32(img.rect.Max.Y) / h
}

// use makes (img, filter) the current batch, flushing when it changes or the
// batch cannot take n more vertices.
func (r *renderer) use(img *Image, filter Filter, n int) {
	tex := r.texture(img)
	if tex != r.batchTex || filter != r.batchFil || len(r.verts)+n > maxBatchVertices {
		r.flush()
		r.batchTex, r.batchFil = tex, filter
	}
}

func (r *renderer) flush() {
	if len(r.indices) == 0 {
		r.verts = r.verts[:0]
		return
	}
	gl.ActiveTexture(gl.TEXTURE0)
	gl.BindTexture(gl.TEXTURE_2D, r.batchTex)
	gl.BindSampler(0, r.samplers[r.batchFil])
	gl.BindBuffer(gl.ARRAY_BUFFER, r.vbo)
	gl.BufferData(gl.ARRAY_BUFFER, len(r.verts)*int(vertexSize), gl.Ptr(r.verts), gl.STREAM_DRAW)
	gl.BindBuffer(gl.ELEMENT_ARRAY_BUFFER, r.ibo)
	gl.BufferData(gl.ELEMENT_ARRAY_BUFFER, len(r.indices)*4, gl.Ptr(r.indices), gl.STREAM_DRAW)
	gl.DrawElements(gl.TRIANGLES, int32(len(r.indices)), gl.UNSIGNED_INT, nil)
	r.stats.DrawCalls++
	r.stats.Vertices += len(r.verts)
	r.verts = r.verts[:0]
	r.indices = r.indices[:0]
}

// ReadPixels flushes pending drawing and reads the screen framebuffer
// synchronously into a new image (rows top-down). It is meant for tests and
// screenshots; continuous capture uses engine/capture.
func (r *renderer) ReadPixels() (*image.RGBA, error) {
	if r.fbo == 0 {
		return nil, errors.New("gfx: ReadPixels before the first frame")
	}
	r.flush()
	img := image.NewRGBA(image.Rect(0, 0, r.fboW, r.fboH))
	gl.BindFramebuffer(gl.READ_FRAMEBUFFER, r.fbo)
	gl.ReadPixels(0, 0, int32(r.fboW), int32(r.fboH), gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(img.Pix))
	if err := glError("reading pixels"); err != nil {
		return nil, err
	}
	return img, nil
}
