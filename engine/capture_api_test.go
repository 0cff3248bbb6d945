package engine

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"sync"
	"testing"

	"github.com/skyloop-engine/skyloop/engine/capture"
	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/segment"
)

type countingSink struct {
	mu     sync.Mutex
	frames map[string]int // session prefix → frames
}

func (s *countingSink) PutSegment(_ context.Context, info capture.SegmentInfo, data []byte) error {
	fs, err := segment.Decode(data)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frames == nil {
		s.frames = map[string]int{}
	}
	s.frames[info.Key[:len(info.Key)-len("00000000.seg")]] += len(fs)
	return nil
}

// controlGame drives the capture controls from Update: a screenshot at
// tick 3, recording off at tick 5 and on again at tick 8.
type controlGame struct {
	tick    int
	drawn   map[int]*image.RGBA
	frame   int
	results []bool
}

func (g *controlGame) Update(*input.State) error {
	g.tick++
	switch g.tick {
	case 3:
		g.results = append(g.results, RequestScreenshot())
	case 5:
		g.results = append(g.results, SetRecording(false), !Recording())
	case 8:
		g.results = append(g.results, SetRecording(true), Recording())
	}
	return nil
}

func (g *controlGame) Layout(int, int) (int, int) { return 64, 48 }

func (g *controlGame) Draw(c *gfx.Canvas) {
	g.frame++
	c.Clear(color.RGBA{uint8(g.frame * 20), 30, 90, 255})
	c.FillRect(float64(g.frame*4), 10, 8, 8, color.White)
	img, _ := c.ReadPixels()
	g.drawn[g.frame] = img
}

func TestScreenshotAndRecordingControls(t *testing.T) {
	enginetest.RequireDisplay(t)
	dir := t.TempDir()
	sink := &countingSink{}
	g := &controlGame{drawn: map[int]*image.RGBA{}}
	var stats FrameStats
	err := Run(g, Options{Width: 64, Height: 48, MaxFrames: 12, VSyncOff: true, Lockstep: true, Stats: &stats,
		Capture: &capture.Options{Game: "ctl", Player: "p", Readback: capture.ReadbackSync, Recording: true, ScreenshotDir: dir,
			Pipeline: capture.PipelineConfig{Sink: sink, Codec: segment.CodecS2, Drop: capture.Block}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, ok := range g.results {
		if !ok {
			t.Fatalf("control call %d reported false (results %v)", i, g.results)
		}
	}
	// Two sessions: frames 1-4 (recording stops in tick 5, before frame 5
	// is drawn) and frames 8-12.
	if len(stats.Sessions) != 2 {
		t.Fatalf("sessions %v, want 2", stats.Sessions)
	}
	var counts []int
	for _, id := range stats.Sessions {
		counts = append(counts, sink.frames[segment.SessionPrefix("ctl", "p", id)])
	}
	if counts[0] != 4 || counts[1] != 5 {
		t.Fatalf("frames per session %v, want [4 5]", counts)
	}
	// The screenshot is the frame drawn in the tick that asked for it.
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("screenshot dir: %v %v", entries, err)
	}
	f, err := os.Open(dir + "/" + entries[0].Name())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	shot, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	rgba, ok := shot.(*image.NRGBA)
	var pix []byte
	if ok {
		pix = rgba.Pix
	} else if r, ok := shot.(*image.RGBA); ok {
		pix = r.Pix
	}
	if !bytes.Equal(pix, g.drawn[3].Pix) {
		t.Fatalf("screenshot differs from frame 3 as drawn (%T)", shot)
	}
	if RequestScreenshot() || SetRecording(true) {
		t.Fatal("controls must report false when no game runs")
	}
}
