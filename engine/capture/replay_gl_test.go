package capture_test

import (
	"bytes"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/capture/capturetest"
	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

// savingGame is sceneGame that asks for a replay clip in Update at tick
// saveAt (1-based).
type savingGame struct {
	sceneGame
	tick, saveAt int
	saveErr      error
}

func (g *savingGame) Update(*input.State) error {
	g.tick++
	if g.tick == g.saveAt {
		g.saveErr = engine.SaveReplay()
	}
	return nil
}

// storedSession is one session of a MemorySink: its end record, its
// frames decoded, and per frame whether it is a key record and a tiled one.
type storedSession struct {
	manifest    segment.Manifest
	frames      []segment.Frame
	keys, tiled []bool
	versions    []uint16 // per segment
}

// sessionsOf decodes every session in sink, by prefix.
func sessionsOf(t *testing.T, sink *capturetest.MemorySink) map[string]*storedSession {
	t.Helper()
	out := map[string]*storedSession{}
	var keys []string
	for k := range sink.Segments {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		prefix := k[:strings.LastIndex(k, "/")+1]
		s := out[prefix]
		if s == nil {
			s = &storedSession{}
			out[prefix] = s
			m, err := segment.ParseManifest(sink.Manifests[segment.ManifestKey(prefix)])
			if err != nil {
				t.Fatalf("%s: end record: %v", prefix, err)
			}
			s.manifest = m
		}
		data := sink.Segments[k]
		fs, err := segment.Decode(data)
		if err != nil {
			t.Fatalf("segment %s: %v", k, err)
		}
		r, err := segment.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		s.versions = append(s.versions, r.Header().Version)
		idx := r.Index()
		r.Close()
		if len(idx) != len(fs) || len(fs) == 0 || !fs[0].Key {
			t.Fatalf("segment %s: %d records indexed, %d decoded, first key %v", k, len(idx), len(fs), len(fs) > 0 && fs[0].Key)
		}
		for i, f := range fs {
			s.frames = append(s.frames, f)
			s.keys = append(s.keys, f.Key)
			s.tiled = append(s.tiled, idx[i].Tiled)
		}
	}
	return out
}

// capture.mode "both" (recording on and a replay buffer), every frame due
// for both: each frame is read back from GL once, not twice (one shared
// frame for the recording's pipeline and the replay buffer), in both
// readback modes. The recording holds every frame drawn and the clip
// (saved at tick 30: frames 0..28) the frames of its window, each pixel
// for pixel as drawn, numbered from 0 in its own session; the clip's
// deltas are tiled version-2 records.
func TestBothModeReadsEachFrameOnce(t *testing.T) {
	enginetest.RequireDisplay(t)
	const w, h, frames, saveAt = 320, 240, 40, 30
	for _, mode := range []capture.ReadbackMode{capture.ReadbackSync, capture.ReadbackPBO} {
		t.Run(mode.String(), func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			sink := &capturetest.MemorySink{}
			var stats engine.FrameStats
			g := &savingGame{sceneGame: sceneGame{w: w, h: h}, saveAt: saveAt}
			before := capture.ReadbacksIssued()
			err := engine.Run(g, engine.Options{
				Width: w, Height: h, MaxFrames: frames, VSyncOff: true, Lockstep: true, Stats: &stats,
				Capture: &capture.Options{
					Game: "scene", Player: "tester", Readback: mode, Recording: true,
					Replay:   capture.ReplayOptions{Window: time.Hour},
					Pipeline: capture.PipelineConfig{Sink: sink, Codec: segment.CodecZstd, Drop: capture.Block, KeyInterval: 10, SegmentFrames: 7},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if g.saveErr != nil {
				t.Fatalf("SaveReplay: %v", g.saveErr)
			}
			if reads := capture.ReadbacksIssued() - before; reads != frames {
				t.Fatalf("%d readbacks for %d frames with recording and the replay buffer on: want one a frame", reads, frames)
			}
			if stats.Readback != mode.String() {
				t.Fatalf("readback %q, want %q", stats.Readback, mode)
			}
			m := stats.Capture
			if m.FramesCaptured != frames || m.FramesEncoded != frames || m.Dropped() != 0 || m.ReplayDropped != 0 || m.ReplayClips != 1 {
				t.Fatalf("metrics: %s (replay: %d dropped, %d clips)", m, m.ReplayDropped, m.ReplayClips)
			}
			var rec, clip *storedSession
			for _, s := range sessionsOf(t, sink) {
				if s.manifest.Replay {
					clip = s
				} else {
					rec = s
				}
			}
			if rec == nil || clip == nil {
				t.Fatalf("want a recording and a clip in the sink; recording %v, clip %v", rec != nil, clip != nil)
			}
			for what, want := range map[string]struct {
				s *storedSession
				n int
			}{"recording": {rec, frames}, "clip": {clip, saveAt - 1}} {
				s := want.s
				if len(s.frames) != want.n {
					t.Fatalf("%s: %d frames, want %d", what, len(s.frames), want.n)
				}
				for i, f := range s.frames {
					if f.Seq != uint64(i) {
						t.Fatalf("%s frame %d has seq %d", what, i, f.Seq)
					}
					if exp := expected(i, w, h); !bytes.Equal(f.Image.Pix, exp) {
						t.Fatalf("%s frame %d differs from what was drawn (first difference at byte %d)", what, i, firstDiff(f.Image.Pix, exp))
					}
				}
				for i, v := range s.versions {
					if v != segment.Version {
						t.Fatalf("%s segment %d has version %d, want %d", what, i, v, segment.Version)
					}
				}
			}
			deltas := 0
			for i, k := range clip.keys {
				if !k {
					deltas++
					if !clip.tiled[i] {
						t.Fatalf("clip frame %d is a whole-frame (version-1) delta, want a tiled record", i)
					}
				}
			}
			if deltas == 0 {
				t.Fatal("the clip has no delta frames: the test proves little")
			}
			t.Logf("%d reads for %d frames; clip of %d frames, %d tiled deltas", frames, frames, len(clip.frames), deltas)
		})
	}
}
