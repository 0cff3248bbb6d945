package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// replaySink keeps segments and end records; it can refuse segments and
// hold PutSegment until released.
type replaySink struct {
	mu        sync.Mutex
	segs      map[string][]byte
	manifests map[string][]byte
	refuse    bool
	gate      chan struct{} // when non-nil, PutSegment waits for it
}

func (s *replaySink) PutSegment(_ context.Context, info SegmentInfo, data []byte) error {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse {
		return errors.New("sink down")
	}
	if s.segs == nil {
		s.segs = map[string][]byte{}
	}
	s.segs[info.Key] = bytes.Clone(data)
	return nil
}

func (s *replaySink) PutManifest(_ context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.manifests == nil {
		s.manifests = map[string][]byte{}
	}
	s.manifests[key] = bytes.Clone(data)
	return nil
}

// sessions returns the session prefixes stored, in order.
func (s *replaySink) sessions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for k := range s.segs {
		seen[k[:strings.LastIndex(k, "/")+1]] = true
	}
	for k := range s.manifests {
		seen[k[:strings.LastIndex(k, "/")+1]] = true
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// clip is one stored session, decoded and checked for completeness.
type clip struct {
	manifest segment.Manifest
	frames   []segment.Frame
	keys     []bool // per frame: stored as a key frame
	tiled    []bool // per frame: stored as a tiled (version-2) record
	segStart []int  // frame index of each segment's first frame
}

// recordFlags returns the flags byte of each record of a segment, in order
// (docs/segment-format.md: byte 4 of a record header; bit 0 key, bit 1
// tiled), and its header.
func recordFlags(t *testing.T, seg []byte) (segment.Header, []byte) {
	t.Helper()
	r, err := segment.NewReader(bytes.NewReader(seg), int64(len(seg)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var flags []byte
	for _, e := range r.Index() {
		var f byte // docs/segment-format.md: bit 0 key, bit 1 tiled
		if e.Key {
			f |= 1
		}
		if e.Tiled {
			f |= 2
		}
		flags = append(flags, f)
	}
	return r.Header(), flags
}

// readClip decodes the session under prefix: its segments in order, each
// starting on a key frame, sequence numbers from 0 without gaps, the end
// record agreeing with what is there.
func (s *replaySink) readClip(t *testing.T, prefix string) clip {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.manifests[segment.ManifestKey(prefix)]
	if !ok {
		t.Fatalf("%s: no end record", prefix)
	}
	m, err := segment.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	var c clip
	c.manifest = m
	for i := range m.Segments {
		seg, ok := s.segs[segment.Key(prefix, i)]
		if !ok {
			t.Fatalf("%s: segment %d of %d missing", prefix, i, m.Segments)
		}
		fs, err := segment.Decode(seg)
		if err != nil {
			t.Fatalf("%s: segment %d: %v", prefix, i, err)
		}
		if len(fs) == 0 || !fs[0].Key {
			t.Fatalf("%s: segment %d does not start with a key frame", prefix, i)
		}
		hd, flags := recordFlags(t, seg)
		if hd.Version != segment.Version || len(flags) != len(fs) {
			t.Fatalf("%s: segment %d: version %d, %d records indexed for %d frames; want a version-%d segment", prefix, i, hd.Version, len(flags), len(fs), segment.Version)
		}
		c.segStart = append(c.segStart, len(c.frames))
		for k, f := range fs {
			if key := flags[k]&1 != 0; key != f.Key {
				t.Fatalf("%s: segment %d record %d: flags %#x, decoded key %v", prefix, i, k, flags[k], f.Key)
			}
			c.tiled = append(c.tiled, flags[k]&2 != 0)
			if f.Seq != uint64(len(c.frames)) {
				t.Fatalf("%s: frame %d follows %d frames: a gap", prefix, f.Seq, len(c.frames))
			}
			c.frames = append(c.frames, f)
			c.keys = append(c.keys, f.Key)
		}
	}
	n := uint64(len(c.frames))
	if m.Frames != n || m.Sequenced != n || m.Dropped != 0 || len(m.Lost) != 0 || !m.Replay {
		t.Fatalf("%s: end record %+v; want %d frames sequenced and written, none dropped or lost, marked a replay", prefix, m, n)
	}
	if n > 0 && (m.Start.After(c.frames[0].Time) || c.frames[0].Time.Sub(m.Start) > time.Microsecond || !m.End.Equal(c.frames[n-1].Time)) {
		t.Fatalf("%s: end record start %v end %v; first frame %v, last %v", prefix, m.Start, m.End, c.frames[0].Time, c.frames[n-1].Time)
	}
	if got := segment.NewSessionID(m.Start); !strings.HasSuffix(prefix, "/"+got+"/") {
		t.Fatalf("%s: the id is not NewSessionID of the end record's start (%s)", prefix, got)
	}
	return c
}

var replayT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// replayFrame is capture frame seq, captured 100 ms apart, its pixels
// fill(seq). Its Frame.Seq is another number (a recording's, when the
// frame is shared: 1<<40 - seq, going down): the buffer must use the seq it
// is submitted with.
func replayFrame(pool *framePool, w, h int, seq uint64, fill func(pix []byte, w, h int, seq uint64)) *Frame {
	f := pool.get(w, h)
	f.Seq, f.Time = 1<<40-seq, replayT0.Add(time.Duration(seq)*100*time.Millisecond)
	fill(f.Pix, w, h, seq)
	return f
}

// fillCalm is a gradient with a block that moves every frame: no noise,
// so every frame but the forced key frames encodes as a small delta.
func fillCalm(pix []byte, w, h int, seq uint64) {
	bx := int(seq*3) % max(1, w-8)
	for y := range h {
		for x := range w {
			i := (y*w + x) * 4
			r, g, b := byte(y/8*40), byte(x/16*60), byte(90)
			if x >= bx && x < bx+8 && y >= 4 && y < 12 {
				r, g, b = 250, byte(seq), 10
			}
			pix[i], pix[i+1], pix[i+2], pix[i+3] = r, g, b, 255
		}
	}
}

// checkClip checks that c holds exactly captured frames first..last, pixel
// for pixel, with their capture times.
func checkClip(t *testing.T, c clip, w, h int, first, last uint64, fill func(pix []byte, w, h int, seq uint64)) {
	t.Helper()
	if want := int(last - first + 1); len(c.frames) != want {
		t.Fatalf("clip has %d frames, want %d (captured frames %d..%d)", len(c.frames), want, first, last)
	}
	want := make([]byte, w*h*4)
	for i, f := range c.frames {
		seq := first + uint64(i)
		fill(want, w, h, seq)
		if !bytes.Equal(f.Image.Pix, want) {
			t.Fatalf("clip frame %d: pixels are not those of captured frame %d", i, seq)
		}
		if wt := replayT0.Add(time.Duration(seq) * 100 * time.Millisecond); !f.Time.Equal(wt) {
			t.Fatalf("clip frame %d: time %v, want %v (captured frame %d)", i, f.Time, wt, seq)
		}
	}
}

func newTestReplay(t *testing.T, sink SegmentSink, window time.Duration, maxBytes int64, keyInterval int) *replayBuffer {
	t.Helper()
	b, err := newReplayBuffer(PipelineConfig{Sink: sink, Codec: segment.CodecZstd, KeyInterval: keyInterval, Drop: Block, Workers: 2,
		SegmentFrames: 6}, ReplayOptions{Window: window, MaxBytes: maxBytes}, "g", "p", nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitResults waits for n save outcomes (the clip writer runs on its own).
func waitResults(t *testing.T, b *replayBuffer, n int) []ReplayResult {
	t.Helper()
	var out []ReplayResult
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < n {
		out = append(out, b.takeResults()...)
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d saves reported in 30 s", len(out), n)
		}
		time.Sleep(time.Millisecond)
	}
	return out
}

// A save stores exactly the frames of the window (captured less than
// 1.45 s before the newest: 15 frames at 100 ms), nothing before it and
// nothing before the save; the window starts on a delta frame in the
// buffer, and the clip still starts on a key frame, decoded pixel-exact
// from the key frame before it. Every segment (6 frames each) starts on a
// key frame too, and the end record agrees.
func TestReplaySavesExactlyTheWindow(t *testing.T) {
	defer goleak.VerifyNone(t)
	const w, h = 64, 48
	sink := &replaySink{}
	b := newTestReplay(t, sink, 1450*time.Millisecond, 0, 8)
	pool := &framePool{}
	for seq := range uint64(50) {
		b.submit(replayFrame(pool, w, h, seq, fillTestPixels), seq)
	}
	// Wait until the appender has every frame, then look at the buffer.
	for {
		b.mu.Lock()
		done := b.seen && b.lastSeen == 49
		b.mu.Unlock()
		if done {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if got := sink.sessions(); len(got) != 0 {
		t.Fatalf("before any save the sink holds %q: nothing may be stored", got)
	}
	b.mu.Lock()
	ws := b.ring.windowStart()
	startFrame := b.ring.frames[ws]
	held := b.ring.frames[0].seq
	b.mu.Unlock()
	if startFrame.seq != 35 || startFrame.enc.Key || held != 32 {
		t.Fatalf("the buffer's window starts at frame %d (key %v) and it holds from %d; the test wants the window to start on delta 35, held from key 32",
			startFrame.seq, startFrame.enc.Key, held)
	}
	var m Metrics
	b.state(&m)
	if m.ReplayFrames != 15 || m.ReplayBuffered != 1400*time.Millisecond {
		t.Fatalf("metrics: %d frames, %v buffered; want 15 frames spanning 1.4 s", m.ReplayFrames, m.ReplayBuffered)
	}
	if err := b.save(49); err != nil {
		t.Fatal(err)
	}
	res := waitResults(t, b, 1)
	b.close()
	if res[0].Err != nil || res[0].Frames != 15 || res[0].Segments != 3 {
		t.Fatalf("save: %+v; want 15 frames in 3 segments", res[0])
	}
	sessions := sink.sessions()
	if len(sessions) != 1 || sessions[0] != res[0].Prefix {
		t.Fatalf("sessions %q, want only the clip %s", sessions, res[0].Prefix)
	}
	c := sink.readClip(t, sessions[0])
	checkClip(t, c, w, h, 35, 49, fillTestPixels)
	if !c.keys[0] || len(c.segStart) != 3 {
		t.Fatalf("clip: first frame key %v, %d segments", c.keys[0], len(c.segStart))
	}
	b.state(&m)
	if m.ReplayClips != 1 || m.ReplaySavesFailed != 0 {
		t.Fatalf("metrics after the save: %d clips, %d failed", m.ReplayClips, m.ReplaySavesFailed)
	}
}

// Two saves make two clips, each its own window; two saves whose windows
// start on the same frame (early in a run) still get two sessions.
func TestReplayTwoSavesTwoClips(t *testing.T) {
	defer goleak.VerifyNone(t)
	const w, h = 32, 24
	sink := &replaySink{gate: make(chan struct{})}
	b := newTestReplay(t, sink, time.Second, 0, 5)
	pool := &framePool{}
	for seq := range uint64(4) {
		b.submit(replayFrame(pool, w, h, seq, fillTestPixels), seq)
	}
	if err := b.save(3); err != nil {
		t.Fatal(err)
	}
	for seq := uint64(4); seq < 7; seq++ {
		b.submit(replayFrame(pool, w, h, seq, fillTestPixels), seq)
	}
	if err := b.save(6); err != nil { // the first is still being written (the sink waits)
		t.Fatal(err)
	}
	for seq := uint64(7); seq < 25; seq++ {
		b.submit(replayFrame(pool, w, h, seq, fillTestPixels), seq)
	}
	// Both saves are under way: a third is refused, saying why.
	err := b.save(24)
	if !errors.Is(err, ErrReplayBusy) || !strings.Contains(err.Error(), "wait until they are done") {
		t.Fatalf("third save while two are under way: %v, want ErrReplayBusy saying what to do", err)
	}
	close(sink.gate)
	res := waitResults(t, b, 2)
	if err := b.save(24); err != nil {
		t.Fatal(err)
	}
	res = append(res, waitResults(t, b, 1)...)
	b.close()
	var saved []ReplayResult
	for _, r := range res {
		if r.Err == nil {
			saved = append(saved, r)
		}
	}
	if len(saved) != 3 {
		t.Fatalf("outcomes %+v; want 3 clips saved (the refused save reports no outcome)", res)
	}
	if saved[0].Session == saved[1].Session {
		t.Fatalf("two clips starting on frame 0 share the session id %s", saved[0].Session)
	}
	want := [][2]uint64{{0, 3}, {0, 6}, {15, 24}}
	for i, r := range saved {
		c := sink.readClip(t, r.Prefix)
		checkClip(t, c, w, h, want[i][0], want[i][1], fillTestPixels)
	}
	if n := len(sink.sessions()); n != 3 {
		t.Fatalf("%d sessions in the sink, want 3", n)
	}
}

// The buffer's trimming, against a model: after every frame it holds the
// longest run that starts at a key frame, reaches back no further than the
// key frame the window's first frame decodes from, and fits the cap.
func TestReplayRingTrimsToTheModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const window = 2 * time.Second
	const maxBytes = 3000
	ring := replayRing{window: window, maxBytes: maxBytes}
	var hist []ringFrame
	sinceKey := 0
	for seq := range uint64(2000) {
		key := seq == 0 || sinceKey >= 9 || rng.IntN(12) == 0
		if key {
			sinceKey = 0
		}
		sinceKey++
		size := int64(20 + rng.IntN(100))
		if key {
			size += int64(rng.IntN(400))
		}
		// Irregular capture times: 10 to 200 ms apart.
		t0 := replayT0
		if len(hist) > 0 {
			t0 = hist[len(hist)-1].t.Add(time.Duration(10+rng.IntN(190)) * time.Millisecond)
		}
		f := ringFrame{seq: seq, t: t0, w: 1, h: 1, enc: segment.EncodedFrame{Key: key}, size: size}
		hist = append(hist, f)
		ring.add(f)

		// The model, from the whole history.
		n := len(hist)
		ws := 0
		for ws < n && hist[n-1].t.Sub(hist[ws].t) >= window {
			ws++
		}
		base := ws
		for base > 0 && !hist[base].enc.Key {
			base--
		}
		start := -1
		for k := base; k < n; k++ {
			if !hist[k].enc.Key {
				continue
			}
			var sum int64
			for _, g := range hist[k:] {
				sum += g.size
			}
			if sum <= maxBytes {
				start = k
				break
			}
		}
		var want []uint64
		if start >= 0 {
			for _, g := range hist[start:] {
				want = append(want, g.seq)
			}
		}
		var got []uint64
		var sum int64
		for _, g := range ring.frames {
			got = append(got, g.seq)
			sum += g.size
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after frame %d the ring holds %v, the model %v", seq, got, want)
		}
		if sum != ring.bytes || ring.bytes > maxBytes || ring.peak > maxBytes {
			t.Fatalf("after frame %d: %d bytes held, counted %d, peak %d, cap %d", seq, sum, ring.bytes, ring.peak, maxBytes)
		}
		if len(ring.frames) > 0 && !ring.frames[0].enc.Key {
			t.Fatalf("after frame %d the ring starts on a delta frame", seq)
		}
	}
	if ring.capped == 0 {
		t.Fatal("the cap never trimmed inside the window: the test proves little")
	}
}

// Under a small cap the buffer stays under it and a save stores the newest
// frames that fit, starting on a key frame: fewer than the window holds.
func TestReplayMemoryCap(t *testing.T) {
	defer goleak.VerifyNone(t)
	const w, h = 64, 48
	sink := &replaySink{}
	const maxBytes = 6000
	b := newTestReplay(t, sink, 10*time.Second, maxBytes, 30)
	pool := &framePool{}
	var peak int64
	for seq := range uint64(120) {
		b.submit(replayFrame(pool, w, h, seq, fillCalm), seq)
		var m Metrics
		b.state(&m)
		peak = max(peak, m.ReplayBytes)
	}
	if err := b.save(119); err != nil {
		t.Fatal(err)
	}
	res := waitResults(t, b, 1)
	var m Metrics
	b.state(&m)
	b.close()
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	if m.ReplayPeakBytes > maxBytes || peak > maxBytes || m.ReplayCapBytes != maxBytes || m.ReplayCapped == 0 {
		t.Fatalf("metrics %+v (peak seen %d): the buffer must stay under its cap of %d and have trimmed", m, peak, maxBytes)
	}
	c := sink.readClip(t, res[0].Prefix)
	n := uint64(len(c.frames))
	if n == 0 || n >= 100 {
		t.Fatalf("clip of %d frames: the 10 s window holds 100, the cap far fewer", n)
	}
	checkClip(t, c, w, h, 120-n, 119, fillCalm)
	if !c.keys[0] {
		t.Fatal("the capped clip does not start on a key frame")
	}
	t.Logf("cap %d bytes: clip of the newest %d frames", maxBytes, n)
}

// A sink that refuses the clip fails the save, saying why; the end record
// still lists the refused segments.
func TestReplaySinkRefusal(t *testing.T) {
	defer goleak.VerifyNone(t)
	sink := &replaySink{refuse: true}
	b := newTestReplay(t, sink, time.Second, 0, 5)
	pool := &framePool{}
	for seq := range uint64(5) {
		b.submit(replayFrame(pool, 16, 16, seq, fillTestPixels), seq)
	}
	if err := b.save(4); err != nil {
		t.Fatal(err)
	}
	res := waitResults(t, b, 1)
	b.close()
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "sink down") || !strings.Contains(res[0].Err.Error(), "refused") {
		t.Fatalf("save to a refusing sink: %v, want an error naming the refusal", res[0].Err)
	}
	m, err := segment.ParseManifest(sink.manifests[segment.ManifestKey(res[0].Prefix)])
	if err != nil || len(m.Lost) != 1 || m.Lost[0].Frames != 5 {
		t.Fatalf("end record %+v, %v: want the refused segment listed", m, err)
	}
	var mt Metrics
	b.state(&mt)
	if mt.ReplaySavesFailed != 1 || mt.ReplayClips != 0 {
		t.Fatalf("metrics: %d failed, %d clips; want 1 and 0", mt.ReplaySavesFailed, mt.ReplayClips)
	}
	b.close() // idempotent
}

// The buffer stores tiled version-2 records (segment.EncodeFrameWith with
// the frame's width, at MinEffort), not whole-frame version-1 ones: every
// delta of a saved clip is a tiled record in a version-2 segment, the key
// frames made from deltas at the clip's and its segments' starts (decoded
// through their key-frame group) fit those segments, and the clip decodes
// pixel for pixel to the frames submitted. The frames' own Seq (another
// numbering, see replayFrame) plays no part.
func TestReplayClipIsTiledVersion2(t *testing.T) {
	defer goleak.VerifyNone(t)
	const w, h = 256, 144 // 4x9 tiles of 64x16
	sink := &replaySink{}
	b := newTestReplay(t, sink, 2950*time.Millisecond, 0, 10) // 30 frames: 50..79
	pool := &framePool{}
	for seq := range uint64(80) {
		b.submit(replayFrame(pool, w, h, seq, fillCalm), seq)
	}
	b.mu.Lock()
	var ringDeltas int
	for _, rf := range b.ring.frames {
		if !rf.enc.Key {
			ringDeltas++
		}
		if rf.enc.Payload == nil || cap(rf.enc.Payload) > len(rf.enc.Payload)*5/4+64 { // size-class rounding, not scratch storage
			t.Errorf("ring frame %d: payload of %d bytes in storage of %d: want an exact-size copy", rf.seq, len(rf.enc.Payload), cap(rf.enc.Payload))
		}
	}
	b.mu.Unlock()
	if err := b.save(79); err != nil {
		t.Fatal(err)
	}
	res := waitResults(t, b, 1)
	b.close()
	if res[0].Err != nil || res[0].Frames != 30 || res[0].Segments != 5 {
		t.Fatalf("save: %+v; want 30 frames in 5 segments", res[0])
	}
	c := sink.readClip(t, res[0].Prefix)
	checkClip(t, c, w, h, 50, 79, fillCalm)
	deltas := 0
	for i, k := range c.keys {
		if !k {
			deltas++
			if !c.tiled[i] {
				t.Fatalf("clip frame %d is a delta but not a tiled record: the buffer still codes whole frames (version 1)", i)
			}
		}
	}
	// Key frames every 10 in the buffer (50, 60, 70) and at every segment
	// start (6 frames each: 56, 62, 68, 74 re-keyed): 25 frames left as
	// deltas, not 0.
	if deltas < 20 || ringDeltas < 20 {
		t.Fatalf("%d deltas in the clip, %d in the buffer: the test wants mostly deltas", deltas, ringDeltas)
	}
	for _, i := range c.segStart {
		if !c.keys[i] {
			t.Fatalf("segment starting at clip frame %d starts on a delta", i)
		}
	}
}

// One frame read back for both the recording and the replay buffer is
// handed to both (Recorder.deliver), each under its own numbering: the
// recording's session starts at frame 10 and numbers from 0, the buffer
// numbers every frame it takes (it skips every fourth) from 0. Both decode
// pixel for pixel to the frames they took, in their own numbers, and every
// frame goes back to the pool exactly once.
func TestSharedFrameFeedsRecordingAndReplay(t *testing.T) {
	defer goleak.VerifyNone(t)
	const w, h, n = 128, 64, 40
	sink := &replaySink{}
	b := newTestReplay(t, sink, time.Hour, 0, 6)
	var c counters
	pipe, err := NewPipeline(PipelineConfig{Sink: sink, KeyPrefix: "g/p/sessions/rec/", Codec: segment.CodecZstd, KeyInterval: 5,
		Drop: Block, Workers: 2, SegmentFrames: 7, SegmentTime: time.Hour}, &c)
	if err != nil {
		t.Fatal(err)
	}
	r := &Recorder{replay: &replayCapture{buf: b}}
	pool := &framePool{}
	var recFrames, clipFrames []uint64 // frame numbers each took, in order
	for i := range uint64(n) {
		var to readTarget
		if i%4 != 3 {
			to.replay, to.replaySeq = true, uint64(len(clipFrames))
			clipFrames = append(clipFrames, i)
		}
		if i >= 10 {
			to.pipe, to.seq = pipe, uint64(len(recFrames))
			recFrames = append(recFrames, i)
		}
		if to.pipe == nil && !to.replay {
			continue // Frame reads back only what someone takes
		}
		f := pool.get(w, h)
		f.Time = replayT0.Add(time.Duration(i) * 100 * time.Millisecond)
		fillCalm(f.Pix, w, h, i)
		r.deliver(f, to)
	}
	if err := pipe.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.save(uint64(len(clipFrames) - 1)); err != nil {
		t.Fatal(err)
	}
	res := waitResults(t, b, 1)
	b.close()
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	want := make([]byte, w*h*4)
	check := func(what string, got []segment.Frame, took []uint64) {
		t.Helper()
		if len(got) != len(took) {
			t.Fatalf("%s: %d frames, want %d", what, len(got), len(took))
		}
		for k, f := range got {
			fillCalm(want, w, h, took[k])
			if f.Seq != uint64(k) || !bytes.Equal(f.Image.Pix, want) || !f.Time.Equal(replayT0.Add(time.Duration(took[k])*100*time.Millisecond)) {
				t.Fatalf("%s frame %d (seq %d, %v): want frame %d's pixels and time, numbered %d", what, k, f.Seq, f.Time, took[k], k)
			}
		}
	}
	check("clip", sink.readClip(t, res[0].Prefix).frames, clipFrames)
	var rec []segment.Frame
	for i := range pipe.Written().Segments {
		fs, err := segment.Decode(sink.segs[segment.Key("g/p/sessions/rec/", i)])
		if err != nil {
			t.Fatalf("recording segment %d: %v", i, err)
		}
		rec = append(rec, fs...)
	}
	check("recording", rec, recFrames)
	if got, made := len(pool.free), pool.allocs.Load(); int64(got) != made {
		t.Fatalf("%d frames allocated, %d back in the pool: a shared frame leaked or was released twice", made, got)
	}
}

// A fixed capture.effort (PipelineConfig.Effort) is the buffer's too; an
// adaptive one (0) leaves the buffer at segment.MinEffort. The tile width
// a delta record names tells the effort: 64 px at effort 1, 16 at 2.
func TestReplayBufferFollowsFixedEffort(t *testing.T) {
	defer goleak.VerifyNone(t)
	const w, h = 256, 144
	for _, c := range []struct{ effort, tileW int }{{0, 64}, {2, 16}, {1, 64}} {
		b, err := newReplayBuffer(PipelineConfig{Sink: &replaySink{}, Codec: segment.CodecZstd, KeyInterval: 10, Drop: Block, Workers: 2,
			SegmentFrames: 6, Effort: c.effort}, ReplayOptions{Window: time.Second}, "g", "p", nil)
		if err != nil {
			t.Fatal(err)
		}
		pool := &framePool{}
		for seq := range uint64(12) {
			b.submit(replayFrame(pool, w, h, seq, fillCalm), seq)
		}
		b.close()
		deltas := 0
		for _, rf := range b.ring.frames {
			if rf.enc.Key {
				continue
			}
			deltas++
			if tw := int(binary.LittleEndian.Uint16(rf.enc.Payload)); tw != c.tileW {
				t.Errorf("effort %d: delta %d coded in tiles %d px wide, want %d", c.effort, rf.seq, tw, c.tileW)
			}
		}
		if deltas < 5 {
			t.Fatalf("effort %d: %d deltas buffered, the test wants most of 12", c.effort, deltas)
		}
	}
}
