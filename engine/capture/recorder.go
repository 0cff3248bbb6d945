package capture

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gl/gl/v4.1-core/gl"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// Source says which image is recorded.
type Source int

const (
	// SourceScreen records the game's logical screen, pixel for pixel as
	// drawn, whatever the window size.
	SourceScreen Source = iota
	// SourceWindow records what the player sees: the letterboxed window
	// image at window resolution.
	SourceWindow
)

// ParseSource accepts "screen" and "window".
func ParseSource(s string) (Source, error) {
	switch s {
	case "screen", "":
		return SourceScreen, nil
	case "window":
		return SourceWindow, nil
	}
	return 0, fmt.Errorf("capture: source %q: want screen or window", s)
}

// Options configure a Recorder.
type Options struct {
	Game, Player string // key components: GAME/PLAYER/sessions/...
	Source       Source // what the engine hands to Frame
	Readback     ReadbackMode
	PBOs         int     // PBO ring size; default 3
	Every        int     // capture every Nth rendered frame (default 1); ignored when FPS > 0
	FPS          float64 // capture at most this many frames per second of capture time
	Pipeline     PipelineConfig
	// Recording starts a session at once; otherwise SetRecording(true) does.
	Recording     bool
	ScreenshotDir string
	Logger        *slog.Logger
	// Replay, when its Window is set, keeps the last Window of frames in
	// memory for SaveReplay, independently of recording sessions.
	Replay ReplayOptions
}

// Recorder is the engine's handle on capture. Its methods other than
// Metrics must be called on the render thread.
type Recorder struct {
	opts     Options
	mode     ReadbackMode
	renderer string
	c        counters
	pool     framePool

	recording bool
	session   string
	pipe      *Pipeline
	pipeRef   atomic.Pointer[Pipeline] // pipe, for Metrics from other goroutines
	// rb reads frames back for the recording and the replay buffer alike
	// (a frame due for both is read once); made at the first read,
	// flushed when a session ends, closed by Close.
	rb       readback
	seq      uint64 // next capture sequence number of this session
	frameN   uint64 // rendered frames since the session started
	nextAt   time.Time
	start    time.Time // of the session
	dropped0 uint64    // dropped frames (all sessions) when the session started

	shotWanted bool
	shots      sync.WaitGroup
	shotMu     sync.Mutex
	lastShot   string
	shotErr    error

	sessions []string
	errs     []error
	closed   bool

	replay *replayCapture // nil: no replay buffer (replay.go)
}

// NewRecorder prepares capture for the current GL context, whose
// GL_RENDERER string decides what ReadbackAuto means.
func NewRecorder(opts Options) (*Recorder, error) {
	if opts.Pipeline.Sink == nil {
		return nil, errors.New("capture: no segment sink configured")
	}
	if opts.Game == "" || opts.Player == "" {
		return nil, errors.New("capture: game and player names are required for segment keys")
	}
	if opts.PBOs < 2 {
		opts.PBOs = 3
	}
	if opts.Every < 1 {
		opts.Every = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Pipeline.Logger = opts.Logger
	r := &Recorder{opts: opts}
	r.renderer = gl.GoStr(gl.GetString(gl.RENDERER))
	r.mode = resolveMode(opts.Readback, r.renderer)
	opts.Logger.Debug("capture ready", "readback", r.mode, "renderer", r.renderer)
	if opts.Replay.Window > 0 {
		rc, err := newReplayCapture(r)
		if err != nil {
			return nil, err
		}
		r.replay = rc
	}
	if opts.Recording {
		if err := r.SetRecording(true); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// Source is the image the engine should pass to Frame.
func (r *Recorder) Source() Source { return r.opts.Source }

// Mode is the readback mode in use (never ReadbackAuto).
func (r *Recorder) Mode() ReadbackMode { return r.mode }

// Recording reports whether a session is being recorded.
func (r *Recorder) Recording() bool { return r.recording }

// Session returns the id of the current session, "" when not recording.
func (r *Recorder) Session() string {
	if !r.recording {
		return ""
	}
	return r.session
}

// Sessions returns the ids of every session this recorder started.
func (r *Recorder) Sessions() []string { return append([]string(nil), r.sessions...) }

// SetRecording starts a new session or ends the current one (its last
// segment is written before SetRecording(false) returns).
func (r *Recorder) SetRecording(on bool) error {
	if on == r.recording || r.closed {
		return nil
	}
	if !on {
		r.recording = false
		return r.stopSession()
	}
	start := time.Now()
	r.session = segment.NewSessionID(start)
	cfg := r.opts.Pipeline
	cfg.KeyPrefix = segment.SessionPrefix(r.opts.Game, r.opts.Player, r.session)
	cfg.SessionStart = start
	pipe, err := NewPipeline(cfg, &r.c)
	if err != nil {
		return err
	}
	r.pipe = pipe
	r.pipeRef.Store(pipe)
	r.seq, r.frameN, r.nextAt = 0, 0, time.Time{}
	r.start, r.dropped0 = start, r.dropped()
	r.recording = true
	r.sessions = append(r.sessions, r.session)
	r.opts.Logger.Info("recording", "session", r.session, "readback", r.mode)
	return nil
}

func (r *Recorder) stopSession() error {
	var err error
	if r.pipe != nil {
		// The session's frames still in flight reach its pipeline first.
		if r.rb != nil {
			r.rb.flush()
		}
		// The end record is written even when the sink refused segments:
		// it lists them, so a reader can tell what was lost and why.
		err = errors.Join(r.pipe.Close(), r.putManifest(r.pipe.Written()))
		r.pipe = nil
		r.pipeRef.Store(nil)
	}
	if err != nil {
		r.errs = append(r.errs, err)
	}
	return err
}

func (r *Recorder) dropped() uint64 { return r.c.droppedQueue.Load() + r.c.droppedReadback.Load() }

// putManifest stores the session's manifest after its last segment, so that
// readers can tell a session that ended from one that lost its end.
func (r *Recorder) putManifest(w Written) error {
	ms, ok := r.opts.Pipeline.Sink.(ManifestSink)
	if !ok || r.seq == 0 {
		return nil
	}
	prefix := segment.SessionPrefix(r.opts.Game, r.opts.Player, r.session)
	lost := w.Lost
	if er, ok := r.opts.Pipeline.Sink.(EvictionReporter); ok {
		// Segments the spool took and then dropped to make room.
		gone := er.EvictedSegments(prefix)
		for _, k := range w.Kept {
			if why, ok := gone[k.Index]; ok {
				k.Reason = why
				lost = append(lost, k)
			}
		}
		slices.SortFunc(lost, func(a, b segment.LostSegment) int { return cmp.Compare(a.Index, b.Index) })
	}
	m := segment.Manifest{
		Game: r.opts.Game, Player: r.opts.Player, Session: r.session,
		Start: r.start.UTC(), End: time.Now().UTC(), Width: w.Width, Height: w.Height,
		Segments: w.Segments, Sequenced: r.seq, Frames: w.Frames, Dropped: r.dropped() - r.dropped0, Lost: lost,
	}
	data, err := segment.MarshalManifest(m)
	if err != nil {
		return err
	}
	key := segment.ManifestKey(prefix)
	if err := ms.PutManifest(context.Background(), key, data); err != nil {
		return fmt.Errorf("capture: session manifest %s: %w", key, err)
	}
	return nil
}

// Frame is called once per rendered frame, after the game's Draw, with the
// screen framebuffer. It issues a readback when this frame is due — for
// the recording, the replay buffer or both: one read, the frame shared —
// and collects finished ones; it never waits for the GPU or the encoders
// (unless the drop policy is Block).
func (r *Recorder) Frame(fbo uint32, w, h int, now time.Time) {
	start := time.Now()
	defer func() { r.c.renderThreadNanos.Add(int64(time.Since(start))) }()
	r.c.rendered.Add(1)
	if r.shotWanted {
		r.shotWanted = false
		r.takeScreenshot(fbo, w, h, now)
	}
	var to readTarget
	if r.replay != nil && r.replay.due(now) {
		to.replay, to.replaySeq = true, r.replay.seq
		r.replay.seq++
	}
	if r.recording {
		if r.due(now) {
			to.pipe, to.seq = r.pipe, r.seq
			r.seq++
		}
		r.frameN++
	}
	switch {
	case to.pipe != nil || to.replay:
		r.readback().issue(fbo, w, h, now, to)
	case r.rb != nil:
		r.rb.poll()
	}
}

// readback returns the recorder's readback, made at the first call.
func (r *Recorder) readback() readback {
	if r.rb == nil {
		if r.mode == ReadbackPBO {
			r.rb = newPBOReadback(r.opts.PBOs, &r.pool, r.deliver, r.readDropped, r.opts.Pipeline.Drop == Block)
		} else {
			r.rb = &syncReadback{pool: &r.pool, deliver: r.deliver}
		}
	}
	return r.rb
}

// deliver hands a frame read back to its takers; the caller's reference
// goes to them (shared, counted, when both take it). Frame.Seq is the
// recording's number: the replay buffer carries its own beside the frame,
// so neither sees the other's. Render thread (sync) or the PBO copier.
func (r *Recorder) deliver(f *Frame, to readTarget) {
	if to.pipe == nil && !to.replay {
		f.Release() // nobody's (Frame issues reads only for a taker)
		return
	}
	f.Seq = to.seq
	if to.pipe == nil {
		f.Seq = to.replaySeq
	}
	if to.pipe != nil && to.replay {
		f.Retain()
	}
	if to.replay {
		r.replay.buf.submit(f, to.replaySeq)
	}
	if to.pipe != nil {
		to.pipe.Submit(f)
	}
}

// readDropped counts a read that was skipped or failed against whoever
// wanted the frame. Render thread.
func (r *Recorder) readDropped(to readTarget) {
	if to.pipe != nil {
		r.c.droppedReadback.Add(1)
	}
	if to.replay {
		r.replay.c.droppedReadback.Add(1)
	}
}

// due applies the capture rate.
func (r *Recorder) due(now time.Time) bool {
	if r.opts.FPS > 0 {
		interval := time.Duration(float64(time.Second) / r.opts.FPS)
		if r.nextAt.IsZero() || now.Sub(r.nextAt) > interval {
			r.nextAt = now // first frame, or far behind: restart the cadence
		}
		if now.Before(r.nextAt) {
			return false
		}
		r.nextAt = r.nextAt.Add(interval)
		return true
	}
	return r.frameN%uint64(r.opts.Every) == 0
}

// Screenshot asks for the next frame to be saved as a PNG in the
// screenshot directory (encoded off the render thread).
func (r *Recorder) Screenshot() { r.shotWanted = true }

// LastScreenshot returns the path of the last screenshot written and the
// error of the last one that failed.
func (r *Recorder) LastScreenshot() (string, error) {
	r.shots.Wait()
	r.shotMu.Lock()
	defer r.shotMu.Unlock()
	return r.lastShot, r.shotErr
}

func (r *Recorder) takeScreenshot(fbo uint32, w, h int, now time.Time) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	gl.BindFramebuffer(gl.READ_FRAMEBUFFER, fbo)
	gl.BindBuffer(gl.PIXEL_PACK_BUFFER, 0)
	gl.ReadPixels(0, 0, int32(w), int32(h), gl.RGBA, gl.UNSIGNED_BYTE, gl.Ptr(img.Pix))
	path := filepath.Join(r.opts.ScreenshotDir, fmt.Sprintf("%s-%s.png", r.opts.Game, now.UTC().Format("20060102T150405.000Z")))
	r.shots.Add(1)
	go func() {
		defer r.shots.Done()
		err := writePNG(path, img)
		r.shotMu.Lock()
		defer r.shotMu.Unlock()
		if err != nil {
			r.shotErr = err
			r.opts.Logger.Error("screenshot failed", "err", err)
			return
		}
		r.lastShot = path
		r.opts.Logger.Info("screenshot saved", "path", path)
	}()
}

func writePNG(path string, img image.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("screenshot %s: %w", path, err)
	}
	return f.Close()
}

// Metrics returns a snapshot of the counters (safe from any goroutine).
func (r *Recorder) Metrics() Metrics {
	m := r.c.snapshot()
	if p := r.pipeRef.Load(); p != nil {
		m.QueueDepth = p.QueueDepth()
	}
	if r.replay != nil {
		m.ReplayDropped = r.replay.c.droppedReadback.Load()
		r.replay.buf.state(&m)
	}
	return m
}

// Close ends the session (waiting for frames in flight and writing the last
// segment) and waits for screenshots. It returns the first error any
// session's sink reported. Render thread; idempotent.
func (r *Recorder) Close() error {
	if !r.closed {
		r.recording = false
		r.stopSession()
		if r.rb != nil {
			r.rb.close() // the replay buffer's frames in flight reach it
			r.rb = nil
		}
		if r.replay != nil {
			r.replay.close() // saves under way are written first
		}
		r.closed = true
		r.shots.Wait()
	}
	return errors.Join(r.errs...)
}
