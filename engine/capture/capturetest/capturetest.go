package capturetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"sort"
	"sync"
	"testing"

	"github.com/skyloop-engine/skyloop/engine"
	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

// MemorySink keeps segments and session manifests in memory, keyed by their
// sink keys.
type MemorySink struct {
	mu        sync.Mutex
	Segments  map[string][]byte
	Manifests map[string][]byte
}

// PutManifest implements capture.ManifestSink.
func (m *MemorySink) PutManifest(_ context.Context, key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Manifests == nil {
		m.Manifests = map[string][]byte{}
	}
	m.Manifests[key] = bytes.Clone(data)
	return nil
}

// PutSegment implements capture.SegmentSink.
func (m *MemorySink) PutSegment(_ context.Context, info capture.SegmentInfo, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Segments == nil {
		m.Segments = map[string][]byte{}
	}
	m.Segments[info.Key] = bytes.Clone(data)
	return nil
}

// Frames decodes every segment in key order.
func (m *MemorySink) Frames(t testing.TB) []segment.Frame {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.Segments))
	for k := range m.Segments {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var all []segment.Frame
	for _, k := range keys {
		fs, err := segment.Decode(m.Segments[k])
		if err != nil {
			t.Fatalf("segment %s: %v", k, err)
		}
		if len(fs) == 0 || !fs[0].Key {
			t.Fatalf("segment %s does not start with a key frame", k)
		}
		all = append(all, fs...)
	}
	return all
}

// hashingGame reads back every frame the wrapped game draws and keeps its
// hash.
type hashingGame struct {
	engine.Game
	t      testing.TB
	hashes [][32]byte
}

func (h *hashingGame) Update(in *input.State) error { return h.Game.Update(in) }

func (h *hashingGame) Draw(c *gfx.Canvas) {
	h.Game.Draw(c)
	img, err := c.ReadPixels()
	if err != nil {
		h.t.Errorf("ReadPixels: %v", err)
		return
	}
	h.hashes = append(h.hashes, sha256.Sum256(img.Pix))
}

// VerifyRecording runs game for frames frames in lockstep with recording on
// (the given readback mode, the Block policy so nothing is dropped) and
// fails t unless the recording decodes to exactly the frames drawn, in
// order, with no gap.
func VerifyRecording(t *testing.T, game engine.Game, width, height, frames int, mode capture.ReadbackMode, codec segment.Codec) {
	t.Helper()
	enginetest.RequireDisplay(t)
	sink := &MemorySink{}
	h := &hashingGame{Game: game, t: t}
	var stats engine.FrameStats
	err := engine.Run(h, engine.Options{
		Width: width, Height: height, MaxFrames: frames, VSyncOff: true, Lockstep: true, Stats: &stats,
		Capture: &capture.Options{
			Game: "test", Player: "tester", Readback: mode, Recording: true,
			Pipeline: capture.PipelineConfig{Sink: sink, Codec: codec, Drop: capture.Block},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Readback != mode.String() {
		t.Fatalf("readback mode %q, want %q", stats.Readback, mode)
	}
	got := sink.Frames(t)
	if len(got) != frames || len(h.hashes) != frames {
		t.Fatalf("recorded %d frames, drew %d, want %d (%s)", len(got), len(h.hashes), frames, stats.Capture)
	}
	for i, f := range got {
		if f.Seq != uint64(i) {
			t.Fatalf("frame %d has seq %d: a gap", i, f.Seq)
		}
		if sha256.Sum256(f.Image.Pix) != h.hashes[i] {
			t.Fatalf("recorded frame %d differs from what was drawn", i)
		}
	}
	if stats.Capture.Dropped() != 0 {
		t.Fatalf("dropped frames: %s", stats.Capture)
	}
	// The session's manifest follows its segments and counts them.
	if len(sink.Manifests) != 1 || len(stats.Sessions) != 1 {
		t.Fatalf("%d manifests for %d sessions, want 1", len(sink.Manifests), len(stats.Sessions))
	}
	prefix := segment.SessionPrefix("test", "tester", stats.Sessions[0])
	m, err := segment.ParseManifest(sink.Manifests[segment.ManifestKey(prefix)])
	if err != nil {
		t.Fatalf("manifest %s: %v", segment.ManifestKey(prefix), err)
	}
	w, hgt := got[0].Image.Rect.Dx(), got[0].Image.Rect.Dy()
	if m.Game != "test" || m.Player != "tester" || m.Session != stats.Sessions[0] || m.Sequenced != uint64(frames) || m.Frames != uint64(frames) ||
		m.Dropped != 0 || m.Segments != uint64(len(sink.Segments)) || m.Width != w || m.Height != hgt || !m.End.After(m.Start) {
		t.Fatalf("manifest %+v: want %d frames in %d segments of %dx%d, none dropped", m, frames, len(sink.Segments), w, hgt)
	}
}
