package capture

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// Instant replay: the last Window of capture time is kept in memory as
// encoded frames (tiled records in the recording's codec, at
// segment.MinEffort — the buffer runs all the time, so it costs the game as
// little as it can — or at the recording's effort when that is fixed), and
// nothing is stored until a save. A save turns the window into an ordinary session —
// segments through the same SegmentSink, an end record through the same
// ManifestSink — that starts on a key frame: a window that begins on a
// delta frame has that frame decoded from the key frame before it (kept in
// the buffer for that reason) and re-encoded as a key frame. The codec is
// lossless, so the clip's pixels are the pixels captured.
//
// Flow: Frame (render thread) → readback (the recording's: a frame due for
// both is read once and shared) → queue → sequencer → encoder workers →
// appender (in capture order: the ring, and the saves waiting for their
// last frame) → clip writer (one goroutine) → sink. The buffer numbers
// frames itself (replayCapture.seq): a shared frame's Frame.Seq is the
// recording's, so the buffer carries its own number beside each frame and
// never reads Frame.Seq.

// ReplayOptions configure the replay buffer. The zero value is off.
type ReplayOptions struct {
	// Window is how much capture time a save stores: the frames captured
	// less than Window before the newest one. 0: no replay buffer.
	Window time.Duration
	// MaxBytes caps what the buffer holds (encoded frames and their
	// bookkeeping). Over it, the oldest frames go, a key frame and its
	// deltas at a time, so a clip may be shorter than Window. 0:
	// DefaultReplayMaxBytes.
	MaxBytes int64
}

// DefaultReplayMaxBytes is the buffer's cap when ReplayOptions.MaxBytes is 0.
const DefaultReplayMaxBytes = 256 << 20

// maxPendingSaves is how many saves may be under way at once: one being
// written and one waiting. A third is refused (ErrReplayBusy) rather than
// queued without bound, since each holds its window's frames until written.
const maxPendingSaves = 2

// ringEntryOverhead is charged per buffered frame besides its payload, for
// the bookkeeping, so that MaxBytes bounds real memory.
const ringEntryOverhead = 96

// Errors of a save that is refused or fails; SaveReplay and ReplayResult
// wrap them.
var (
	// ErrReplayOff: this recorder keeps no replay buffer.
	ErrReplayOff = errors.New("the replay buffer is off")
	// ErrReplayEmpty: no frame has been buffered yet.
	ErrReplayEmpty = errors.New("nothing is buffered yet")
	// ErrReplayBusy: maxPendingSaves saves are already under way.
	ErrReplayBusy = errors.New("two saves are already being written")
)

// ReplayResult is the outcome of one save, reported once it is done.
type ReplayResult struct {
	Session  string        // the clip's session id ("" when nothing was written)
	Prefix   string        // GAME/PLAYER/sessions/SESSION/
	Frames   uint64        // frames stored
	Segments uint64        // segments written
	Duration time.Duration // capture time from the clip's first frame to its last
	Bytes    int64         // bytes of the segments written
	// Err is nil when every segment and the end record are in the sink
	// (for the engine: in the spool, on their way to every sink).
	Err error
}

// ringFrame is one encoded frame in the buffer. Its payload is owned by
// the buffer and never changed, so snapshots share it.
type ringFrame struct {
	seq  uint64
	t    time.Time
	w, h int
	enc  segment.EncodedFrame
	size int64 // bytes charged against MaxBytes
}

// replayRing holds frames oldest first. frames[0] is always a key frame,
// and every delta's base is the frame before it, so any suffix that
// starts at a key frame decodes.
type replayRing struct {
	window   time.Duration
	maxBytes int64
	frames   []ringFrame
	bytes    int64
	peak     int64
	capped   uint64 // frames dropped for the cap while still inside the window
}

// windowStart is the index of the first frame less than window older than
// the newest (0 when the ring is empty).
func (r *replayRing) windowStart() int {
	n := len(r.frames)
	if n == 0 {
		return 0
	}
	newest := r.frames[n-1].t
	return sort.Search(n, func(i int) bool { return newest.Sub(r.frames[i].t) < r.window })
}

// add appends f (a key frame when the ring is empty, else a delta against
// the ring's last frame or a key frame) and trims: frames older than the
// window go, except from the key frame the window's first frame decodes
// from; then whole key-frame groups from the front while over the cap.
func (r *replayRing) add(f ringFrame) {
	r.frames = append(r.frames, f)
	r.bytes += f.size
	base := r.windowStart()
	for base > 0 && !r.frames[base].enc.Key {
		base--
	}
	r.drop(base, false)
	for r.bytes > r.maxBytes && len(r.frames) > 0 {
		next := 1
		for next < len(r.frames) && !r.frames[next].enc.Key {
			next++
		}
		r.drop(next, true)
	}
	r.peak = max(r.peak, r.bytes)
}

// drop removes the first n frames, clearing them so their payloads can be
// collected.
func (r *replayRing) drop(n int, forCap bool) {
	if n <= 0 {
		return
	}
	ws := r.windowStart()
	for i := range n {
		r.bytes -= r.frames[i].size
		if forCap && i >= ws {
			r.capped++
		}
	}
	clear(r.frames[:n])
	r.frames = r.frames[n:]
	if len(r.frames) == 0 {
		r.frames = nil // let the backing array go too
	}
}

// oneGroupOverHalf reports whether the ring is a single key-frame group
// holding more than half the cap: the next frame should start a new group,
// or the cap would have to drop everything at once.
func (r *replayRing) oneGroupOverHalf() bool {
	if len(r.frames) == 0 || r.bytes <= r.maxBytes/2 {
		return false
	}
	for _, f := range r.frames[1:] {
		if f.enc.Key {
			return false
		}
	}
	return true
}

// snapshot returns the ring's frames and the index where the window
// starts (a save stores frames[start:]).
func (r *replayRing) snapshot() ([]ringFrame, int) {
	return slices.Clone(r.frames), r.windowStart()
}

// seqFrame is a frame with the replay buffer's sequence number for it.
type seqFrame struct {
	f   *Frame
	seq uint64
}

// rjob is one frame on its way through the replay encoders.
type rjob struct {
	cur, prev *Frame
	seq       uint64 // the buffer's number for cur (not cur.Seq)
	prevSeq   uint64
	forceKey  bool
	out       segment.EncodedFrame
	err       error
	done      chan struct{}
}

// clipJob is one accepted save with its window.
type clipJob struct {
	frames []ringFrame
	start  int
}

// replayBuffer is the encoding side of the replay: it owns its goroutines
// (sequencer, workers, appender, clip writer); close stops them.
type replayBuffer struct {
	cfg          PipelineConfig
	game, player string
	log          *slog.Logger

	queue   chan seqFrame
	work    chan *rjob
	ordered chan *rjob
	clips   chan clipJob
	wg      sync.WaitGroup // sequencer, workers, appender
	writer  sync.WaitGroup // clip writer

	submitMu sync.Mutex // guards queue against close
	qclosed  bool

	// mu guards the ring and the saves' bookkeeping (appender, render
	// thread, Metrics).
	mu       sync.Mutex
	ring     replayRing
	seen     bool   // a frame reached the appender
	lastSeen uint64 // seq of the newest frame the appender handled
	pending  []uint64
	inFlight int
	stopping bool
	warned   bool // the cap is below one frame: said once

	resMu   sync.Mutex
	results []ReplayResult

	ids          map[string]bool // clip session ids used (clip writer only)
	clipsSaved   atomic.Uint64
	savesFailed  atomic.Uint64
	droppedQueue atomic.Uint64
	closeOnce    sync.Once
}

func newReplayBuffer(cfg PipelineConfig, ro ReplayOptions, game, player string, log *slog.Logger) (*replayBuffer, error) {
	if cfg.Sink == nil {
		return nil, errors.New("capture: the replay buffer needs a segment sink to save clips to")
	}
	if ro.Window <= 0 {
		return nil, fmt.Errorf("capture: replay window %v: want more than 0", ro.Window)
	}
	if ro.MaxBytes <= 0 {
		ro.MaxBytes = DefaultReplayMaxBytes
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	b := &replayBuffer{
		cfg: cfg, game: game, player: player, log: log,
		ring:    replayRing{window: ro.Window, maxBytes: ro.MaxBytes},
		queue:   make(chan seqFrame, cfg.Queue),
		work:    make(chan *rjob, cfg.Workers),
		ordered: make(chan *rjob, 2*cfg.Workers),
		clips:   make(chan clipJob, maxPendingSaves), // inFlight bounds it: sends never block
		ids:     map[string]bool{},
	}
	b.wg.Add(2 + cfg.Workers)
	go b.sequence()
	for range cfg.Workers {
		go b.encodeWorker()
	}
	go b.appendFrames()
	b.writer.Add(1)
	go b.writeClips()
	return b, nil
}

// submit hands frame seq of the buffer to it, which takes over the
// caller's reference (f may be shared with the recording: its Seq is not
// the buffer's, and nothing here reads or writes it); it applies the drop
// policy like Pipeline.Submit.
func (b *replayBuffer) submit(f *Frame, seq uint64) {
	b.submitMu.Lock()
	defer b.submitMu.Unlock()
	if b.qclosed {
		f.Release()
		return
	}
	sf := seqFrame{f: f, seq: seq}
	select {
	case b.queue <- sf:
		return
	default:
	}
	switch b.cfg.Drop {
	case Block:
		b.queue <- sf
		return
	case DropOldest:
		select {
		case old := <-b.queue:
			old.f.Release()
			b.droppedQueue.Add(1)
		default:
		}
		select {
		case b.queue <- sf:
			return
		default:
		}
	}
	f.Release()
	b.droppedQueue.Add(1)
}

// sequence pairs each frame with its predecessor and forces key frames
// every KeyInterval frames and at size changes.
func (b *replayBuffer) sequence() {
	defer b.wg.Done()
	defer close(b.work)
	defer close(b.ordered)
	var prev *Frame
	var prevSeq uint64
	run := 0
	for sf := range b.queue {
		f := sf.f
		j := &rjob{cur: f, seq: sf.seq, done: make(chan struct{})}
		if prev == nil || prev.Width != f.Width || prev.Height != f.Height || run >= b.cfg.KeyInterval {
			j.forceKey, run = true, 0
		} else {
			prev.Retain()
			j.prev, j.prevSeq = prev, prevSeq
		}
		run++
		if prev != nil {
			prev.Release()
		}
		f.Retain() // kept as the next frame's base
		prev, prevSeq = f, sf.seq
		b.ordered <- j
		b.work <- j
	}
	if prev != nil {
		prev.Release()
	}
}

func (b *replayBuffer) encodeWorker() {
	defer b.wg.Done()
	var scratch []byte
	for j := range b.work {
		var prevPix []byte
		if j.prev != nil {
			prevPix = j.prev.Pix
		}
		if n := len(j.cur.Pix) + len(j.cur.Pix)/4 + 4096; cap(scratch) < n {
			scratch = make([]byte, 0, n)
		}
		j.out, j.err = segment.EncodeFrameWith(scratch, j.cur.Pix, prevPix, replayEncodeOptions(b.cfg, j.forceKey, j.cur.Width))
		if cap(j.out.Payload) > cap(scratch) {
			scratch = j.out.Payload[:0] // it outgrew the scratch: keep the bigger storage
		}
		// The ring keeps an exact-size copy: the scratch buffer is as big
		// as a raw frame, the payload usually a small fraction of it.
		j.out.Payload = bytes.Clone(j.out.Payload)
		if j.prev != nil {
			j.prev.Release()
			j.prev = nil
		}
		close(j.done)
	}
}

// appendFrames puts encoded frames into the ring in capture order and
// hands saves their window once their last frame is in.
func (b *replayBuffer) appendFrames() {
	defer b.wg.Done()
	for j := range b.ordered {
		<-j.done
		b.appendOne(j)
	}
	// Closing: saves still waiting get what the ring holds.
	b.mu.Lock()
	for range b.pending {
		b.dispatch()
	}
	b.pending = nil
	close(b.clips)
	b.mu.Unlock()
}

func (b *replayBuffer) appendOne(j *rjob) {
	f, seq := j.cur, j.seq
	defer f.Release()
	b.mu.Lock()
	b.resolve(func(upTo uint64) bool { return upTo < seq }) // their last frame was dropped
	ring := &b.ring
	n := len(ring.frames)
	// The delta's base must be the ring's last frame: not so when that
	// frame failed to encode or was trimmed away. And a group that alone
	// fills half the cap ends here, so the cap can trim at a key frame.
	rekey := j.err == nil && !j.out.Key &&
		(n == 0 || ring.frames[n-1].seq != j.prevSeq || ring.oneGroupOverHalf())
	b.mu.Unlock()
	enc, err := j.out, j.err
	if rekey {
		enc, err = encodeKey(f.Pix, f.Width, b.cfg)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen, b.lastSeen = true, seq
	if err != nil {
		b.log.Error("capture: replay: encode frame failed; frame not buffered", "seq", seq, "err", err)
		b.droppedQueue.Add(1)
	} else {
		rf := ringFrame{seq: seq, t: f.Time, w: f.Width, h: f.Height, enc: enc, size: int64(cap(enc.Payload)) + ringEntryOverhead}
		if rf.size > ring.maxBytes && !b.warned {
			b.warned = true
			b.log.Warn("capture: replay: one frame is larger than the replay buffer's cap: nothing can be kept; raise capture.replay_memory_mb",
				"frame_bytes", rf.size, "cap_bytes", ring.maxBytes)
		}
		ring.add(rf)
	}
	b.resolve(func(upTo uint64) bool { return upTo <= seq })
}

// resolve dispatches the pending saves that ready says are complete. mu held.
func (b *replayBuffer) resolve(ready func(upTo uint64) bool) {
	kept := b.pending[:0]
	for _, upTo := range b.pending {
		if ready(upTo) {
			b.dispatch()
		} else {
			kept = append(kept, upTo)
		}
	}
	b.pending = kept
}

// dispatch hands the ring's current window to the clip writer. mu held;
// the save is counted in inFlight, so the send never blocks.
func (b *replayBuffer) dispatch() {
	frames, start := b.ring.snapshot()
	if start >= len(frames) {
		b.finishSave(ReplayResult{Err: fmt.Errorf("capture: save replay: %w (no frame fits in capture.replay_memory_mb)", ErrReplayEmpty)})
		return
	}
	b.clips <- clipJob{frames: frames, start: start}
}

// save asks for a clip of the window that ends with frame upTo (the newest
// frame captured when the save was asked for). Render thread.
func (b *replayBuffer) save(upTo uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.stopping:
		return fmt.Errorf("capture: save replay: %w (capture is closing)", ErrReplayOff)
	case b.inFlight >= maxPendingSaves:
		return fmt.Errorf("capture: save replay: %w; wait until they are done and save again", ErrReplayBusy)
	}
	b.inFlight++
	if b.seen && b.lastSeen >= upTo {
		b.dispatch()
	} else {
		b.pending = append(b.pending, upTo)
	}
	return nil
}

// finishSave records a save's outcome. mu held.
func (b *replayBuffer) finishSave(res ReplayResult) {
	b.inFlight--
	if res.Err != nil {
		b.savesFailed.Add(1)
		b.log.Error("replay not saved", "err", res.Err)
	} else {
		b.clipsSaved.Add(1)
		b.log.Info("replay saved", "session", res.Session, "seconds", fmt.Sprintf("%.2f", res.Duration.Seconds()),
			"frames", res.Frames, "segments", res.Segments, "bytes", res.Bytes)
	}
	b.resMu.Lock()
	b.results = append(b.results, res)
	b.resMu.Unlock()
}

// takeResults returns the outcomes reported since the last call.
func (b *replayBuffer) takeResults() []ReplayResult {
	b.resMu.Lock()
	defer b.resMu.Unlock()
	out := b.results
	b.results = nil
	return out
}

func (b *replayBuffer) writeClips() {
	defer b.writer.Done()
	for cj := range b.clips {
		res := b.writeClip(cj)
		b.mu.Lock()
		b.finishSave(res)
		b.mu.Unlock()
	}
}

// clipSegment is the clip's segment being assembled.
type clipSegment struct {
	buf  bytes.Buffer
	w    *segment.Writer
	info SegmentInfo
}

// writeClip stores frames[start:] as a new session: segments cut by the
// configured limits, each starting on a key frame, then the end record.
// Like the recorder, it writes every segment even when the sink refuses
// some, and the end record lists those.
func (b *replayBuffer) writeClip(cj clipJob) ReplayResult {
	clip := cj.frames[cj.start:]
	first, last := clip[0], clip[len(clip)-1]
	// The id is made from the first frame's capture time; two clips with
	// the same first frame (two saves early in a run) step back a
	// nanosecond, so each is a session of its own and Start stays at or
	// before the first frame.
	start := first.t
	id := segment.NewSessionID(start)
	for b.ids[id] {
		start = start.Add(-time.Nanosecond)
		id = segment.NewSessionID(start)
	}
	b.ids[id] = true
	prefix := segment.SessionPrefix(b.game, b.player, id)
	res := ReplayResult{Session: id, Prefix: prefix, Duration: last.t.Sub(first.t)}
	ctx := context.Background()
	var (
		seg    *clipSegment
		lost   []segment.LostSegment
		kept   []segment.LostSegment
		errs   []error
		frames uint64
	)
	put := func(s *clipSegment) {
		if err := s.w.Close(); err != nil {
			errs = append(errs, fmt.Errorf("segment %s: %w", s.info.Key, err))
			return
		}
		ls := segment.LostSegment{Index: s.info.Index, FirstSeq: s.info.FirstSeq, Frames: uint64(s.info.Frames)}
		if err := b.cfg.Sink.PutSegment(ctx, s.info, s.buf.Bytes()); err != nil {
			ls.Reason = "refused: " + err.Error()
			if errors.Is(err, ErrNoRoom) {
				ls.Reason = "no room in the spool"
			}
			lost = append(lost, ls)
			errs = append(errs, fmt.Errorf("segment %s: %w", s.info.Key, err))
			return
		}
		kept = append(kept, ls)
		res.Bytes += int64(s.buf.Len())
	}
	for i, rf := range clip {
		seq := rf.seq - first.seq
		if seg == nil || rf.w != seg.w.Header().Width || rf.h != seg.w.Header().Height ||
			(b.cfg.SegmentFrames > 0 && seg.info.Frames >= b.cfg.SegmentFrames) ||
			rf.t.Sub(seg.info.Start) >= b.cfg.SegmentTime || seg.w.BytesWritten() >= b.cfg.SegmentBytes {
			if seg != nil {
				put(seg)
			}
			s := &clipSegment{}
			w, err := segment.NewWriter(&s.buf, segment.Header{Width: rf.w, Height: rf.h, Format: segment.RGBA8,
				KeyInterval: b.cfg.KeyInterval, Codec: b.cfg.Codec, Segment: res.Segments, FirstSeq: seq, SessionStart: start})
			if err != nil {
				res.Err = fmt.Errorf("capture: save replay %s: %w", id, err)
				return res
			}
			s.w = w
			s.info = SegmentInfo{Key: segment.Key(prefix, res.Segments), Index: res.Segments, FirstSeq: seq, Start: rf.t}
			seg = s
			res.Segments++
		}
		enc := rf.enc
		if !enc.Key && seg.w.NextKey() {
			// A segment (the clip's first among them) starting on a delta:
			// decode it from its key frame and store it as a key frame.
			var err error
			if enc, err = rekey(cj.frames, cj.start+i, b.cfg); err != nil {
				res.Err = fmt.Errorf("capture: save replay %s: frame %d: %w", id, seq, err)
				return res
			}
		}
		enc.Seq, enc.Time = seq, rf.t
		if err := seg.w.WriteEncoded(enc); err != nil {
			res.Err = fmt.Errorf("capture: save replay %s: %w", id, err)
			return res
		}
		frames++
		seg.info.Frames++
		seg.info.LastSeq, seg.info.End = seq, rf.t
	}
	put(seg)
	res.Frames = frames
	if er, ok := b.cfg.Sink.(EvictionReporter); ok {
		gone := er.EvictedSegments(prefix)
		for _, k := range kept {
			if why, ok := gone[k.Index]; ok {
				k.Reason = why
				lost = append(lost, k)
			}
		}
		slices.SortFunc(lost, func(a, b segment.LostSegment) int { return cmp.Compare(a.Index, b.Index) })
	}
	sequenced := last.seq - first.seq + 1
	m := segment.Manifest{
		Game: b.game, Player: b.player, Session: id, Start: start.UTC(), End: last.t.UTC(),
		Width: last.w, Height: last.h, Segments: res.Segments, Sequenced: sequenced, Frames: frames,
		Dropped: sequenced - frames, Lost: lost, Replay: true,
	}
	if ms, ok := b.cfg.Sink.(ManifestSink); ok {
		data, err := segment.MarshalManifest(m)
		if err == nil {
			err = ms.PutManifest(ctx, segment.ManifestKey(prefix), data)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("end record %s: %w", segment.ManifestKey(prefix), err))
		}
	}
	if len(errs) > 0 {
		res.Err = fmt.Errorf("capture: save replay %s: the sink refused it: %w", id, errors.Join(errs...))
	}
	return res
}

// rekey returns frames[i] (a delta) as a key frame: its pixels decoded from
// the key frame before it, through the deltas in between.
func rekey(frames []ringFrame, i int, cfg PipelineConfig) (segment.EncodedFrame, error) {
	k := i
	for k > 0 && !frames[k].enc.Key {
		k--
	}
	run := frames[k : i+1]
	var buf bytes.Buffer
	w, err := segment.NewWriter(&buf, segment.Header{Width: run[0].w, Height: run[0].h, Format: segment.RGBA8,
		KeyInterval: max(cfg.KeyInterval, len(run)), Codec: cfg.Codec, FirstSeq: run[0].seq})
	if err != nil {
		return segment.EncodedFrame{}, err
	}
	for _, rf := range run {
		enc := rf.enc
		enc.Seq, enc.Time = rf.seq, rf.t
		if err := w.WriteEncoded(enc); err != nil {
			return segment.EncodedFrame{}, err
		}
	}
	if err := w.Close(); err != nil {
		return segment.EncodedFrame{}, err
	}
	r, err := segment.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		return segment.EncodedFrame{}, err
	}
	defer r.Close()
	var pix []byte
	for {
		f, err := r.NextView()
		if err == io.EOF {
			break
		}
		if err != nil {
			return segment.EncodedFrame{}, fmt.Errorf("decode its key frame group: %w", err)
		}
		pix = f.Image.Pix
	}
	if len(pix) != run[0].w*run[0].h*4 {
		return segment.EncodedFrame{}, fmt.Errorf("its key frame group decoded to %d bytes", len(pix))
	}
	return encodeKey(pix, run[0].w, cfg)
}

// replayEncodeOptions are the buffer's: tiled records for frames width
// pixels wide (version 2 and later, the segments' own: NewWriter writes
// the current version with the frame's width, and WriteEncoded checks a
// tiled record against it), at the recording's effort when it is fixed
// (capture.effort 1..4: the player chose bytes or CPU) and else at the
// cheapest (a zstd codec then stores large bodies with s2; each record
// names its codec). An adaptive recording's controller answers for the
// recording's queue, not for the buffer's, so the buffer does not follow it.
func replayEncodeOptions(cfg PipelineConfig, key bool, width int) segment.EncodeOptions {
	return segment.EncodeOptions{Codec: cfg.Codec, Key: key, Effort: cmp.Or(cfg.Effort, segment.MinEffort), Width: width}
}

// encodeKey encodes pix (width pixels wide) as a key frame with an
// exact-size payload.
func encodeKey(pix []byte, width int, cfg PipelineConfig) (segment.EncodedFrame, error) {
	enc, err := segment.EncodeFrameWith(nil, pix, nil, replayEncodeOptions(cfg, true, width))
	enc.Payload = bytes.Clone(enc.Payload)
	return enc, err
}

// state fills m's replay fields. Any goroutine.
func (b *replayBuffer) state(m *Metrics) {
	b.mu.Lock()
	r := &b.ring
	ws := r.windowStart()
	if n := len(r.frames); n > ws {
		m.ReplayBuffered = r.frames[n-1].t.Sub(r.frames[ws].t)
		m.ReplayFrames = n - ws
	}
	m.ReplayBytes, m.ReplayPeakBytes, m.ReplayCapBytes = r.bytes, r.peak, r.maxBytes
	m.ReplayCapped = r.capped
	m.ReplaySaving = b.inFlight
	b.mu.Unlock()
	m.Replay = true
	m.ReplayClips = b.clipsSaved.Load()
	m.ReplaySavesFailed = b.savesFailed.Load()
	m.ReplayDropped += b.droppedQueue.Load()
}

// close encodes the frames queued, lets the saves under way finish
// (waiting ones get the window as it stands) and stops the goroutines.
// Idempotent.
func (b *replayBuffer) close() {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.stopping = true
		b.mu.Unlock()
		b.submitMu.Lock()
		b.qclosed = true
		close(b.queue)
		b.submitMu.Unlock()
		b.wg.Wait()
		b.writer.Wait()
	})
}

// replayCapture is the render-thread side of the replay buffer: its own
// sequence numbers and capture rate, independent of recording sessions.
// Its frames are read back by the recorder's readback, shared with the
// recording on frames due for both (Recorder.Frame).
type replayCapture struct {
	buf    *replayBuffer
	seq    uint64 // next sequence number
	frameN uint64
	nextAt time.Time
	fps    float64
	every  int
	c      counters // the readback's drops of the buffer's frames
}

func newReplayCapture(r *Recorder) (*replayCapture, error) {
	buf, err := newReplayBuffer(r.opts.Pipeline, r.opts.Replay, r.opts.Game, r.opts.Player, r.opts.Logger)
	if err != nil {
		return nil, err
	}
	rc := &replayCapture{buf: buf, fps: r.opts.FPS, every: r.opts.Every}
	r.opts.Logger.Info("replay buffer on", "seconds", r.opts.Replay.Window.Seconds(), "cap_mb", float64(buf.ring.maxBytes)/(1<<20))
	return rc, nil
}

// due reports whether this rendered frame is due at the capture rate, and
// counts it. Render thread.
func (rc *replayCapture) due(now time.Time) bool {
	due := rc.frameN%uint64(rc.every) == 0
	if rc.fps > 0 {
		interval := time.Duration(float64(time.Second) / rc.fps)
		if rc.nextAt.IsZero() || now.Sub(rc.nextAt) > interval {
			rc.nextAt = now
		}
		due = !now.Before(rc.nextAt)
		if due {
			rc.nextAt = rc.nextAt.Add(interval)
		}
	}
	rc.frameN++
	return due
}

// close encodes what is queued and stops the buffer; the recorder's
// readback has delivered the frames in flight before.
func (rc *replayCapture) close() {
	rc.buf.close()
}

// Replaying reports whether the recorder keeps a replay buffer.
func (r *Recorder) Replaying() bool { return r.replay != nil }

// SaveReplay asks for the replay buffer's window, up to the newest frame
// captured, to be stored as a new session. It returns at once: the clip is
// written in the background and its outcome reported by ReplayResults. It
// fails when there is no replay buffer (ErrReplayOff), no frame was
// captured yet (ErrReplayEmpty), or two saves are under way
// (ErrReplayBusy). Render thread.
func (r *Recorder) SaveReplay() error {
	switch {
	case r.replay == nil || r.closed:
		return fmt.Errorf("capture: save replay: %w", ErrReplayOff)
	case r.replay.seq == 0:
		return fmt.Errorf("capture: save replay: %w: the buffer fills from the first frame; save again in a moment", ErrReplayEmpty)
	}
	return r.replay.buf.save(r.replay.seq - 1)
}

// ReplayResults returns the outcomes of the saves finished since the last
// call (nil without a replay buffer). Any goroutine.
func (r *Recorder) ReplayResults() []ReplayResult {
	if r.replay == nil {
		return nil
	}
	return r.replay.buf.takeResults()
}
