package capture

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// DropPolicy says what Submit does when the queue is full.
type DropPolicy int

const (
	// DropNewest discards the frame being submitted.
	DropNewest DropPolicy = iota
	// DropOldest discards the oldest queued frame to make room.
	DropOldest
	// Block waits for room. It stalls the render thread: tests only.
	Block
)

// ParseDropPolicy accepts "newest", "oldest" and "block".
func ParseDropPolicy(s string) (DropPolicy, error) {
	switch s {
	case "newest", "":
		return DropNewest, nil
	case "oldest":
		return DropOldest, nil
	case "block":
		return Block, nil
	}
	return 0, fmt.Errorf("capture: drop policy %q: want newest, oldest or block", s)
}

// PipelineConfig configures the encoding side of capture.
type PipelineConfig struct {
	Sink          SegmentSink
	KeyPrefix     string // GAME/PLAYER/sessions/SESSION/
	SessionStart  time.Time
	Codec         segment.Codec
	KeyInterval   int        // 0: segment.DefaultKeyInterval
	Queue         int        // frames waiting for encoders; default 8
	Drop          DropPolicy // when the queue is full
	Workers       int        // encoder goroutines; 0: GOMAXPROCS-1, at least 1
	SegmentFrames int        // close a segment after this many frames (0: no limit)
	SegmentBytes  int64      // ... or once it holds this many bytes (default 64 MiB)
	SegmentTime   time.Duration
	// JournalInterval is how often the open segment's new bytes are
	// appended to the sink's journal and synced, when the sink keeps one
	// (SegmentJournaler): the most a killed game loses, beside the frames
	// still queued. Default 250 ms.
	JournalInterval time.Duration
	// Effort fixes the segment effort (segment.MinEffort..MaxEffort) of
	// every frame; 0 lets an EffortController choose it frame by frame
	// from the encoders' headroom and the machine's idle CPU. (At
	// MinEffort the segment coder stores a zstd pipeline's large records
	// with s2; each record names its codec.)
	Effort int
	// EncoderNice, when positive, is added to the nice value of the
	// encoder threads (Linux; elsewhere ignored), so the render thread and
	// the GL driver's threads win the CPU over them. Off by default: on a
	// machine that other processes load, niced encoders starve and the
	// queue drops frames (docs/benchmarks.md).
	EncoderNice int
	Logger      *slog.Logger

	// encodeHook, in tests, runs in the worker before each frame is encoded
	// (to simulate a slow encoder).
	encodeHook func(seq uint64)
}

// job is one frame on its way through the encoders, in capture order.
// Jobs are recycled (Pipeline.jobs): done is signalled by a send, not
// closed, and buf is the payload storage the job keeps between frames.
type job struct {
	cur, prev *Frame // prev is nil for a forced key frame
	prevSeq   uint64 // seq of the frame a delta is against
	forceKey  bool
	newSeg    bool // first frame of a new segment
	effort    int
	out       segment.EncodedFrame
	err       error
	took      time.Duration
	done      chan struct{}
	buf       []byte
}

// Pipeline turns frames into segments: a bounded queue, a sequencer that
// pairs each frame with its predecessor, encoder workers, and a writer that
// packs records in order and hands finished segments to the sink.
type Pipeline struct {
	cfg     PipelineConfig
	c       *counters
	queue   chan *Frame
	work    chan *job
	ordered chan *job
	done    chan *segmentState // finished segments on their way to the sink
	jobs    chan *job          // recycled jobs
	bufs    chan *bytes.Buffer // recycled segment buffers

	// effort state: arrival interval (Submit, under mu), the last encode
	// (workers), read by the sequencer.
	lastSubmit time.Time
	interval   atomic.Int64 // smoothed ns between submitted frames
	lastEnc    atomic.Int64 // ns<<3 | effort of a frame just encoded; 0: none since read

	closeOnce sync.Once
	wg        sync.WaitGroup
	mu        sync.Mutex // guards submit against close
	// resMu guards what the deliver goroutine reports (never p.mu: Submit
	// holds that while it blocks on a full queue).
	resMu   sync.Mutex
	sinkErr error
	lost    []segment.LostSegment
	kept    []segment.LostSegment
	closed  bool

	// written is what the writer goroutine put into segments; read it
	// (Written) only after Close.
	written Written
}

// Written counts what a pipeline wrote into segments.
type Written struct {
	Segments      uint64 // segments 0..Segments-1 were started
	Frames        uint64 // frames written into them
	Width, Height int    // of the last frame written
	// Lost are the segments the sink did not keep, in order; Kept the
	// ones it took (Reason empty), for a loss found later.
	Lost, Kept []segment.LostSegment
}

// Written reports what the pipeline wrote. Call it after Close.
func (p *Pipeline) Written() Written {
	p.resMu.Lock()
	defer p.resMu.Unlock()
	w := p.written
	w.Lost = slices.Clone(p.lost)
	w.Kept = slices.Clone(p.kept)
	return w
}

// withDefaults fills the settings the recording pipeline and the replay
// buffer share.
func (cfg PipelineConfig) withDefaults() PipelineConfig {
	if cfg.KeyInterval <= 0 {
		cfg.KeyInterval = segment.DefaultKeyInterval
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 8
	}
	if cfg.Workers <= 0 {
		cfg.Workers = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = 64 << 20
	}
	if cfg.SegmentTime <= 0 {
		cfg.SegmentTime = 2 * time.Second
	}
	return cfg
}

// NewPipeline starts the pipeline's goroutines; Close stops them.
func NewPipeline(cfg PipelineConfig, c *counters) (*Pipeline, error) {
	if cfg.Sink == nil {
		return nil, errors.New("capture: pipeline needs a segment sink")
	}
	cfg = cfg.withDefaults()
	if cfg.JournalInterval <= 0 {
		cfg.JournalInterval = 250 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if c == nil {
		c = &counters{}
	}
	p := &Pipeline{
		cfg:     cfg,
		c:       c,
		queue:   make(chan *Frame, cfg.Queue),
		work:    make(chan *job, cfg.Workers),
		ordered: make(chan *job, 2*cfg.Workers),
		// A few finished segments may wait for the sink (a spool fsyncs
		// each), so a slow Accept does not stall encoding.
		done: make(chan *segmentState, 4),
		// Every job alive at once: queued in work and ordered, being
		// encoded, and being written.
		jobs: make(chan *job, 4*cfg.Workers+2),
		bufs: make(chan *bytes.Buffer, 6),
	}
	if cfg.Effort != 0 && (cfg.Effort < segment.MinEffort || cfg.Effort > segment.MaxEffort) {
		return nil, fmt.Errorf("capture: effort %d: want 0 (adaptive) or %d..%d", cfg.Effort, segment.MinEffort, segment.MaxEffort)
	}
	p.wg.Add(3 + cfg.Workers)
	go p.deliver()
	go p.sequence()
	for i := 0; i < cfg.Workers; i++ {
		go p.encodeWorker()
	}
	go p.write()
	return p, nil
}

// Submit hands a frame to the pipeline, which takes over the caller's
// reference. It never blocks unless the policy is Block. It reports whether
// the frame was queued.
func (p *Pipeline) Submit(f *Frame) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		f.Release()
		return false
	}
	p.noteArrival(time.Now())
	select {
	case p.queue <- f:
		p.c.captured.Add(1)
		return true
	default:
	}
	switch p.cfg.Drop {
	case Block:
		p.queue <- f
		p.c.captured.Add(1)
		return true
	case DropOldest:
		select {
		case old := <-p.queue:
			old.Release()
			p.c.droppedQueue.Add(1)
		default:
		}
		select {
		case p.queue <- f:
			p.c.captured.Add(1)
			return true
		default:
		}
	}
	f.Release()
	p.c.droppedQueue.Add(1)
	return false
}

// noteArrival smooths the time between frames handed to Submit: each
// frame's budget of encoder time. Called under p.mu.
func (p *Pipeline) noteArrival(now time.Time) {
	if !p.lastSubmit.IsZero() {
		d := int64(now.Sub(p.lastSubmit))
		if old := p.interval.Load(); old == 0 {
			p.interval.Store(d)
		} else {
			p.interval.Store(old + (d-old)/16)
		}
	}
	p.lastSubmit = now
}

// QueueDepth is how many frames wait for an encoder.
func (p *Pipeline) QueueDepth() int { return len(p.queue) }

// Close encodes everything already queued, writes the last segment and
// stops the goroutines. It returns the first sink error, if any. Calling it
// again returns the same result.
func (p *Pipeline) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		close(p.queue)
		p.mu.Unlock()
		p.wg.Wait()
	})
	p.resMu.Lock()
	defer p.resMu.Unlock()
	return p.sinkErr
}

// sequence reads frames in capture order, decides key frames, segment
// starts (by frame count and time) and each frame's effort, and dispatches
// jobs.
func (p *Pipeline) sequence() {
	defer p.wg.Done()
	defer close(p.work)
	defer close(p.ordered)
	var prev *Frame
	run := 0 // frames since the last forced key frame
	segFrames := 0
	var segStart time.Time
	// Adaptive effort starts at the cheapest level and climbs only when
	// the machine shows idle cores: the first seconds of a game that
	// leaves none should not pay for a guess.
	ctl := NewEffortController(cmp.Or(p.cfg.Effort, segment.MinEffort))
	var idle idleMeter
	defer idle.close()
	for f := range p.queue {
		j := p.getJob()
		j.cur = f
		if prev == nil || (prev.Width != f.Width || prev.Height != f.Height) ||
			(p.cfg.SegmentFrames > 0 && segFrames >= p.cfg.SegmentFrames) ||
			f.Time.Sub(segStart) >= p.cfg.SegmentTime {
			j.newSeg = true
			segFrames, segStart = 0, f.Time
		}
		if j.newSeg || run >= p.cfg.KeyInterval {
			j.forceKey, run = true, 0
		}
		if !j.forceKey {
			prev.Retain()
			j.prev, j.prevSeq = prev, prev.Seq
		}
		j.effort = p.cfg.Effort
		if j.effort == 0 {
			s := EffortSample{QueueDepth: len(p.queue), QueueCap: cap(p.queue), Workers: p.cfg.Workers,
				Interval: time.Duration(p.interval.Load()), Busy: busyFrac(idle.sample(time.Now())), Cores: runtime.NumCPU()}
			if e := p.lastEnc.Swap(0); e != 0 {
				s.Encoded, s.Level = time.Duration(e>>3), int(e&7)
			}
			j.effort = ctl.Observe(s)
		}
		p.c.effort.Store(int32(j.effort))
		run++
		segFrames++
		if prev != nil {
			prev.Release()
		}
		f.Retain() // the sequencer keeps it as the next frame's prev
		prev = f
		p.ordered <- j
		p.work <- j
	}
	if prev != nil {
		prev.Release()
	}
}

// busyFrac turns an idle fraction (negative: unknown) into
// EffortSample.Busy (0: unknown).
func busyFrac(idle float64) float64 {
	if idle < 0 {
		return 0
	}
	return max(1-idle, 1e-9)
}

// getJob takes a recycled job, or makes one while fewer than the most
// that can be alive at once exist.
func (p *Pipeline) getJob() *job {
	select {
	case j := <-p.jobs:
		return j
	default:
		return &job{done: make(chan struct{}, 1)}
	}
}

// putJob recycles a job the writer is done with, keeping its payload
// storage.
func (p *Pipeline) putJob(j *job) {
	if cap(j.out.Payload) > cap(j.buf) {
		j.buf = j.out.Payload
	}
	*j = job{done: j.done, buf: j.buf[:0]}
	select {
	case p.jobs <- j:
	default:
	}
}

func (p *Pipeline) encodeWorker() {
	defer p.wg.Done()
	if p.cfg.EncoderNice > 0 {
		// The thread is niced for the worker's life and ends with it.
		runtime.LockOSThread()
		if err := lowerThreadPriority(p.cfg.EncoderNice); err != nil {
			p.cfg.Logger.Debug("capture: encoder thread priority unchanged", "err", err)
		}
	}
	for j := range p.work {
		if p.cfg.encodeHook != nil {
			p.cfg.encodeHook(j.cur.Seq)
		}
		start := time.Now()
		var prevPix []byte
		if j.prev != nil {
			prevPix = j.prev.Pix
		}
		// The payload goes into the job's own storage: the writer reads it
		// after this worker has moved on, and recycles the job after.
		j.out, j.err = segment.EncodeFrameWith(j.buf[:0], j.cur.Pix, prevPix, segment.EncodeOptions{
			Codec: p.cfg.Codec, Key: j.forceKey, Effort: j.effort, Width: j.cur.Width,
		})
		j.took = time.Since(start)
		p.c.encodeNanos.Add(int64(j.took))
		p.lastEnc.Store(int64(j.took)<<3 | int64(j.effort))
		if j.prev != nil {
			j.prev.Release()
			j.prev = nil
		}
		j.done <- struct{}{}
	}
}

// segmentState is the segment being assembled by the writer.
type segmentState struct {
	buf   *bytes.Buffer // recycled through Pipeline.bufs once the sink has it
	w     *segment.Writer
	info  SegmentInfo
	index uint64
	// journal, when the sink keeps one, holds buf[:journaled], synced at
	// syncedAt.
	journal   SegmentJournal
	journaled int
	syncedAt  time.Time
}

// journalUp appends what seg holds beyond its journal and syncs it, once
// JournalInterval has passed since the last sync. A journal that fails is
// dropped: the segment still goes to the sink whole when it closes.
func (p *Pipeline) journalUp(seg *segmentState, now time.Time) {
	if seg.journal == nil || now.Sub(seg.syncedAt) < p.cfg.JournalInterval {
		return
	}
	err := seg.journal.Append(seg.buf.Bytes()[seg.journaled:])
	if err == nil {
		err = seg.journal.Sync()
	}
	if err != nil {
		p.cfg.Logger.Warn("capture: journal of the open segment failed; the segment is kept whole when it closes", "key", seg.info.Key, "err", err)
		seg.journal.Abort()
		seg.journal = nil
		return
	}
	seg.journaled, seg.syncedAt = seg.buf.Len(), now
}

// write packs encoded frames in capture order and hands full segments to
// the sink.
func (p *Pipeline) write() {
	defer p.wg.Done()
	defer close(p.done)
	var seg *segmentState
	var next uint64
	var lastSeq uint64 // seq of the last frame written to seg
	for j := range p.ordered {
		<-j.done
		f := j.cur
		if j.err != nil {
			p.cfg.Logger.Error("capture: encode frame failed; frame dropped", "seq", f.Seq, "err", j.err)
			p.c.droppedQueue.Add(1)
			f.Release()
			p.putJob(j)
			continue
		}
		if seg != nil && (j.newSeg || seg.w.BytesWritten() >= p.cfg.SegmentBytes) {
			p.finish(seg)
			seg = nil
		}
		if seg == nil {
			var err error
			seg, err = p.startSegment(next, f)
			if err != nil {
				p.cfg.Logger.Error("capture: start segment", "err", err)
				p.c.droppedQueue.Add(1)
				f.Release()
				p.putJob(j)
				continue
			}
			next++
			p.written.Segments = next
		}
		rec := j.out
		if !rec.Key && (seg.w.NextKey() || j.prevSeq != lastSeq) {
			// The delta's base is not the record before it — the segment was
			// cut by size after this frame was encoded, or the base frame
			// failed to encode — so it would decode wrong: re-encode it as
			// a key frame (into the same storage: the delta is not needed).
			var err error
			rec, err = segment.EncodeFrameWith(rec.Payload[:0], f.Pix, nil, segment.EncodeOptions{
				Codec: p.cfg.Codec, Key: true, Effort: j.effort, Width: f.Width,
			})
			j.out.Payload = rec.Payload
			if err != nil {
				p.cfg.Logger.Error("capture: re-encode key frame", "seq", f.Seq, "err", err)
				p.c.droppedQueue.Add(1)
				f.Release()
				p.putJob(j)
				continue
			}
		}
		rec.Seq, rec.Time = f.Seq, f.Time
		if err := seg.w.WriteEncoded(rec); err != nil {
			p.cfg.Logger.Error("capture: write frame", "seq", f.Seq, "err", err)
			p.c.droppedQueue.Add(1)
			f.Release()
			p.putJob(j)
			continue
		}
		lastSeq = f.Seq
		if seg.info.Frames == 0 {
			seg.info.FirstSeq, seg.info.Start = f.Seq, f.Time
		}
		seg.info.Frames++
		seg.info.LastSeq, seg.info.End = f.Seq, f.Time
		p.c.encoded.Add(1)
		p.written.Frames++
		p.written.Width, p.written.Height = f.Width, f.Height
		p.c.rawBytes.Add(uint64(len(f.Pix)))
		if rec.Key {
			p.c.keyFrames.Add(1)
		}
		if j.effort >= segment.MinEffort && j.effort <= segment.MaxEffort {
			p.c.effortFrames[j.effort].Add(1)
		}
		f.Release()
		p.putJob(j)
		p.journalUp(seg, time.Now())
	}
	if seg != nil {
		p.finish(seg)
	}
}

func (p *Pipeline) startSegment(index uint64, first *Frame) (*segmentState, error) {
	s := &segmentState{index: index}
	select {
	case s.buf = <-p.bufs:
		s.buf.Reset()
	default:
		s.buf = new(bytes.Buffer)
	}
	w, err := segment.NewWriter(s.buf, segment.Header{
		Width: first.Width, Height: first.Height, Format: segment.RGBA8,
		KeyInterval: p.cfg.KeyInterval, Codec: p.cfg.Codec,
		Segment: index, FirstSeq: first.Seq, SessionStart: p.cfg.SessionStart,
	})
	if err != nil {
		return nil, err
	}
	s.w = w
	s.info = SegmentInfo{Key: segment.Key(p.cfg.KeyPrefix, index), Index: index}
	if sj, ok := p.cfg.Sink.(SegmentJournaler); ok {
		if j, err := sj.BeginSegment(s.info.Key); err != nil {
			p.cfg.Logger.Debug("capture: no journal for the open segment", "key", s.info.Key, "err", err)
		} else {
			s.journal, s.syncedAt = j, time.Now()
		}
	}
	return s, nil
}

// finish closes the segment and queues it for the sink.
func (p *Pipeline) finish(s *segmentState) {
	if err := s.w.Close(); err != nil {
		p.cfg.Logger.Error("capture: close segment", "key", s.info.Key, "err", err)
		if s.journal != nil {
			s.journal.Abort()
		}
		p.putBuf(s.buf)
		return
	}
	p.done <- s
}

// deliver hands finished segments to the sink, in order.
func (p *Pipeline) deliver() {
	defer p.wg.Done()
	for s := range p.done {
		p.put(s)
		p.putBuf(s.buf) // the sink owns data only during the call
	}
}

// putBuf recycles a segment buffer.
func (p *Pipeline) putBuf(b *bytes.Buffer) {
	select {
	case p.bufs <- b:
	default:
	}
}

func (p *Pipeline) put(s *segmentState) {
	var err error
	if s.journal != nil {
		err = s.journal.Commit(context.Background(), s.info, s.buf.Bytes())
	} else {
		err = p.cfg.Sink.PutSegment(context.Background(), s.info, s.buf.Bytes())
	}
	if err != nil {
		noRoom := errors.Is(err, ErrNoRoom)
		lost := segment.LostSegment{Index: s.info.Index, FirstSeq: s.info.FirstSeq, Frames: uint64(s.info.Frames), Reason: "no room in the spool"}
		if !noRoom {
			lost.Reason = "refused: " + err.Error()
			p.c.sinkErrors.Add(1)
		}
		p.c.droppedNoRoom.Add(lost.Frames)
		p.resMu.Lock()
		first := len(p.lost) == 0
		p.lost = append(p.lost, lost)
		if p.sinkErr == nil && !noRoom {
			p.sinkErr = err
		}
		p.resMu.Unlock()
		switch {
		case !noRoom:
			p.cfg.Logger.Error("capture: sink refused segment", "key", s.info.Key, "frames", lost.Frames, "err", err)
		case first:
			// The spool logs the full disk once; say once per session
			// that frames are being lost.
			p.cfg.Logger.Warn("capture: no room for segments: their frames are dropped and listed in the session's end record",
				"key", s.info.Key, "frames", lost.Frames)
		default:
			p.cfg.Logger.Debug("capture: no room for segment", "key", s.info.Key, "frames", lost.Frames)
		}
		return
	}
	p.c.segments.Add(1)
	p.c.storedBytes.Add(uint64(s.buf.Len()))
	p.resMu.Lock()
	p.kept = append(p.kept, segment.LostSegment{Index: s.info.Index, FirstSeq: s.info.FirstSeq, Frames: uint64(s.info.Frames)})
	p.resMu.Unlock()
}
