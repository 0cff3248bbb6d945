package capture

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/skyloop-engine/skyloop/engine/segment"
)

// memSink keeps segments in memory.
type memSink struct {
	mu     sync.Mutex
	segs   map[string][]byte
	info   []SegmentInfo
	fail   bool
	noRoom func(index uint64) bool // refuse these segments with ErrNoRoom
}

func (m *memSink) PutSegment(_ context.Context, info SegmentInfo, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return fmt.Errorf("sink down")
	}
	if m.noRoom != nil && m.noRoom(info.Index) {
		return fmt.Errorf("spool full: %w", ErrNoRoom)
	}
	if m.segs == nil {
		m.segs = map[string][]byte{}
	}
	m.segs[info.Key] = bytes.Clone(data)
	m.info = append(m.info, info)
	return nil
}

// decodeAll decodes every segment in key order and checks each decodes alone.
func (m *memSink) decodeAll(t *testing.T) []segment.Frame {
	t.Helper()
	keys := make([]string, 0, len(m.segs))
	for k := range m.segs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var all []segment.Frame
	for _, k := range keys {
		frames, err := segment.Decode(m.segs[k])
		if err != nil {
			t.Fatalf("segment %s: %v", k, err)
		}
		if len(frames) == 0 || !frames[0].Key {
			t.Fatalf("segment %s does not start with a key frame", k)
		}
		all = append(all, frames...)
	}
	return all
}

// testFrame makes frame content that is a pure function of seq: a gradient
// background and a moving block (few pixels change between frames), with
// every 7th frame noisy (most pixels change).
func testFrame(pool *framePool, w, h int, seq uint64, t0 time.Time) *Frame {
	f := pool.get(w, h)
	f.Seq, f.Time = seq, t0.Add(time.Duration(seq)*time.Second/60)
	fillTestPixels(f.Pix, w, h, seq)
	return f
}

func fillTestPixels(pix []byte, w, h int, seq uint64) {
	rng := rand.New(rand.NewPCG(seq, 7))
	noisy := seq%7 == 3
	bx := int(seq*5) % max(1, w-8)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 4
			r, g, b := byte(x), byte(y), byte(64)
			if noisy {
				r, g = byte(rng.IntN(256)), byte(rng.IntN(256))
			}
			if x >= bx && x < bx+8 && y >= 4 && y < 12 {
				r, g, b = 255, 255, byte(seq)
			}
			pix[i], pix[i+1], pix[i+2], pix[i+3] = r, g, b, 255
		}
	}
}

func checkFrames(t *testing.T, got []segment.Frame, w, h int, wantSeqs []uint64) {
	t.Helper()
	if len(got) != len(wantSeqs) {
		t.Fatalf("decoded %d frames, want %d", len(got), len(wantSeqs))
	}
	want := make([]byte, w*h*4)
	for i, f := range got {
		if f.Seq != wantSeqs[i] {
			t.Fatalf("frame %d has seq %d, want %d", i, f.Seq, wantSeqs[i])
		}
		fillTestPixels(want, w, h, f.Seq)
		if !bytes.Equal(f.Image.Pix, want) {
			t.Fatalf("frame seq %d: pixels differ from what was captured", f.Seq)
		}
	}
}

func TestPipelineRoundTripPixelExact(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, codec := range []segment.Codec{segment.CodecZstd, segment.CodecS2} {
		t.Run(codec.String(), func(t *testing.T) {
			sink := &memSink{}
			c := &counters{}
			p, err := NewPipeline(PipelineConfig{Sink: sink, KeyPrefix: "g/p/sessions/s/", Codec: codec, Drop: Block, Workers: 3, KeyInterval: 10, SegmentFrames: 25}, c)
			if err != nil {
				t.Fatal(err)
			}
			pool := &framePool{}
			t0 := time.Now()
			const n, w, h = 100, 64, 48
			for seq := uint64(0); seq < n; seq++ {
				if !p.Submit(testFrame(pool, w, h, seq, t0)) {
					t.Fatal("Block policy refused a frame")
				}
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(); err != nil { // idempotent
				t.Fatal(err)
			}
			seqs := make([]uint64, n)
			for i := range seqs {
				seqs[i] = uint64(i)
			}
			checkFrames(t, sink.decodeAll(t), w, h, seqs)
			if len(sink.segs) != 4 {
				t.Errorf("%d segments, want 4 (25 frames each)", len(sink.segs))
			}
			m := c.snapshot()
			if m.FramesCaptured != n || m.FramesEncoded != n || m.Dropped() != 0 || m.Segments != 4 {
				t.Errorf("metrics %+v", m)
			}
			// Key frames: at least one per 10 frames and at every segment start.
			if m.KeyFrames < 10 {
				t.Errorf("%d key frames, want >= 10", m.KeyFrames)
			}
			if _, ok := sink.segs["g/p/sessions/s/00000003.seg"]; !ok {
				t.Errorf("segment keys: %v", sink.info)
			}
		})
	}
}

func TestPipelineSegmentsCloseByTimeAndBytes(t *testing.T) {
	defer goleak.VerifyNone(t)
	sink := &memSink{}
	// 60 frames at 60 fps with 250 ms segments → 4 segments by time.
	p, _ := NewPipeline(PipelineConfig{Sink: sink, Codec: segment.CodecS2, Drop: Block, SegmentTime: 250 * time.Millisecond}, nil)
	pool := &framePool{}
	t0 := time.Now()
	for seq := uint64(0); seq < 60; seq++ {
		p.Submit(testFrame(pool, 32, 32, seq, t0))
	}
	p.Close()
	if len(sink.segs) != 4 {
		t.Errorf("time rotation: %d segments, want 4", len(sink.segs))
	}
	// A tiny byte limit: every frame after the first in a segment overflows
	// it, so segments hold one or two frames and each still starts with a
	// key frame (re-encoded when the cut falls after a delta).
	sink2 := &memSink{}
	p2, _ := NewPipeline(PipelineConfig{Sink: sink2, Codec: segment.CodecZstd, Drop: Block, SegmentBytes: 1}, nil)
	for seq := uint64(0); seq < 20; seq++ {
		p2.Submit(testFrame(pool, 32, 32, seq, t0))
	}
	p2.Close()
	seqs := make([]uint64, 20)
	for i := range seqs {
		seqs[i] = uint64(i)
	}
	checkFrames(t, sink2.decodeAll(t), 32, 32, seqs)
	if len(sink2.segs) < 10 {
		t.Errorf("byte rotation: %d segments for 20 frames", len(sink2.segs))
	}
}

// A deliberately slow encoder: frames submitted faster than they are
// encoded are dropped by policy, the drops show as gaps in the decoded
// sequence numbers exactly where they happened, and the counters agree.
func TestSlowEncoderDropsShowAsGaps(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, policy := range []DropPolicy{DropNewest, DropOldest} {
		t.Run(fmt.Sprint(policy), func(t *testing.T) {
			sink := &memSink{}
			c := &counters{}
			release := make(chan struct{})
			cfg := PipelineConfig{Sink: sink, Codec: segment.CodecS2, Drop: policy, Queue: 4, Workers: 1, SegmentFrames: 1000}
			cfg.encodeHook = func(seq uint64) {
				if seq == 0 {
					<-release // the encoder stalls on the first frame
				}
			}
			p, _ := NewPipeline(cfg, c)
			pool := &framePool{}
			t0 := time.Now()
			var accepted []uint64
			for seq := uint64(0); seq < 40; seq++ {
				if p.Submit(testFrame(pool, 16, 16, seq, t0)) {
					accepted = append(accepted, seq)
				}
				// Let the sequencer move what it can before the next frame
				// arrives, so that which frames are lost does not depend on
				// goroutine scheduling.
				time.Sleep(3 * time.Millisecond)
			}
			close(release)
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			frames := sink.decodeAll(t)
			var got []uint64
			for _, f := range frames {
				got = append(got, f.Seq)
			}
			m := c.snapshot()
			if m.DroppedQueue == 0 {
				t.Fatal("no drops under a stalled encoder")
			}
			if int(m.FramesEncoded) != len(got) || m.FramesEncoded+m.DroppedQueue != 40 {
				t.Fatalf("counters: encoded %d + dropped %d != 40 submitted (decoded %d)", m.FramesEncoded, m.DroppedQueue, len(got))
			}
			// Every missing seq was counted as dropped, and the decoded
			// frames are exactly the ones that were kept.
			present := map[uint64]bool{}
			for _, s := range got {
				present[s] = true
			}
			gaps := 0
			for s := uint64(0); s < 40; s++ {
				if !present[s] {
					gaps++
				}
			}
			if uint64(gaps) != m.DroppedQueue {
				t.Fatalf("%d gaps in %v, but %d drops counted", gaps, got, m.DroppedQueue)
			}
			// Beyond the queue, a few frames are in flight between the
			// sequencer and the stalled worker; how many depends on timing.
			// What a user relies on is the shape of the loss.
			switch policy {
			case DropNewest:
				// Kept: an unbroken prefix — later frames were the ones dropped.
				for i, s := range got {
					if s != uint64(i) {
						t.Fatalf("drop newest kept %v, want a prefix 0..k", got)
					}
				}
				if len(got) < 5 || fmt.Sprint(accepted) != fmt.Sprint(got) {
					t.Fatalf("drop newest kept %v, accepted %v", got, accepted)
				}
			case DropOldest:
				// Kept: frame 0 (in the encoder) and the newest queue-full.
				if got[0] != 0 || fmt.Sprint(got[len(got)-4:]) != "[36 37 38 39]" {
					t.Fatalf("drop oldest kept %v, want 0 ... 36 37 38 39", got)
				}
			}
			checkFrames(t, frames, 16, 16, got)
		})
	}
}

func TestSinkErrorIsReported(t *testing.T) {
	defer goleak.VerifyNone(t)
	sink := &memSink{fail: true}
	c := &counters{}
	p, _ := NewPipeline(PipelineConfig{Sink: sink, Codec: segment.CodecS2, Drop: Block}, c)
	p.Submit(testFrame(&framePool{}, 8, 8, 0, time.Now()))
	if err := p.Close(); err == nil {
		t.Fatal("Close hid the sink failure")
	}
	if c.snapshot().SinkErrors != 1 {
		t.Fatal("sink error not counted")
	}
}

// A sink with no room for some segments: the recording goes on, Close
// succeeds, and every refused segment is listed with its first frame and
// frame count, which together with the kept segments account for every
// frame; the frames are counted as dropped for lack of room.
func TestNoRoomIsACountedLoss(t *testing.T) {
	defer goleak.VerifyNone(t)
	sink := &memSink{noRoom: func(i uint64) bool { return i == 1 || i == 2 }}
	c := &counters{}
	p, _ := NewPipeline(PipelineConfig{Sink: sink, Codec: segment.CodecS2, Drop: Block, SegmentFrames: 10}, c)
	pool := &framePool{}
	t0 := time.Now()
	for seq := uint64(0); seq < 45; seq++ {
		p.Submit(testFrame(pool, 8, 8, seq, t0))
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close = %v: a full spool is a counted loss, not a failed recording", err)
	}
	w := p.Written()
	want := []segment.LostSegment{
		{Index: 1, FirstSeq: 10, Frames: 10, Reason: "no room in the spool"},
		{Index: 2, FirstSeq: 20, Frames: 10, Reason: "no room in the spool"},
	}
	if !reflect.DeepEqual(w.Lost, want) {
		t.Fatalf("Written().Lost = %+v, want %+v", w.Lost, want)
	}
	m := c.snapshot()
	if m.DroppedNoRoom != 20 || m.Dropped() != 20 || m.SinkErrors != 0 {
		t.Fatalf("metrics %+v: want 20 frames dropped for lack of room, no sink errors", m)
	}
	var kept uint64
	for _, info := range sink.info {
		kept += uint64(info.Frames)
	}
	if kept+w.Lost[0].Frames+w.Lost[1].Frames != w.Frames || w.Frames != 45 {
		t.Fatalf("kept %d + lost %d frames != written %d (want 45)", kept, 20, w.Frames)
	}
}
