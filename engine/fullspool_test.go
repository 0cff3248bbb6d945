//go:build linux

package engine

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/segment"
	skysync "github.com/skyloop-engine/skyloop/engine/sync"
	"github.com/skyloop-engine/skyloop/sdk"
)

// A spool on a full disk, the sink down: the game records to the end and
// exits normally, the spool keeps the newest segments by evicting the
// oldest, the end record is written anyway and names every lost segment
// with its frames and reason, and once the sink is back exactly the kept
// segments and the end record arrive.
func TestFullSpoolIsACountedLoss(t *testing.T) {
	enginetest.RequireDisplay(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs for the spool; CI's `make test` runs as root")
	}
	dir := t.TempDir()
	spoolDisk := filepath.Join(dir, "spool")
	if err := os.Mkdir(spoolDisk, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", spoolDisk, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount a 1 MiB tmpfs for the spool: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(spoolDisk, 0) })
	pluginDir := enginetest.BuildPlugin(t, "disk")
	root := filepath.Join(dir, "sink")
	t.Cleanup(func() { enginetest.SetWritable(root, true) })
	cfg := filepath.Join(dir, "config.toml")
	doc := fmt.Sprintf("player = \"tester\"\nplugin_dir = %q\nspool_dir = %q\nexit_wait_seconds = 0.3\n[capture]\nsegment_frames = 10\ndrop = \"block\"\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n",
		pluginDir, spoolDisk, root)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}

	// Noise, 4x4 blocks: ~48 KiB a frame that no codec shrinks, so 600
	// frames overflow the 1 MiB spool.
	rng := rand.New(rand.NewPCG(1, 2))
	noise := func(c *gfx.Canvas) {
		for y := 0; y < 96; y += 4 {
			for x := 0; x < 128; x += 4 {
				c.FillRect(float64(x), float64(y), 4, 4, color.RGBA{uint8(rng.Uint32()), uint8(rng.Uint32()), uint8(rng.Uint32()), 255})
			}
		}
	}
	var stats FrameStats
	g := &lockGame{sceneGame: sceneGame{w: 128, h: 96, draw: noise}, root: root}
	if err := Run(g, Options{Name: "full", Width: 128, Height: 96, MaxFrames: 600, VSyncOff: true, Lockstep: true, ConfigPath: cfg, Stats: &stats}); err != nil {
		t.Fatalf("Run = %v: a full spool must not fail the game", err)
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	if m := stats.Capture; m.FramesEncoded != 600 || m.SinkErrors != 0 {
		t.Fatalf("capture %s: want 600 frames encoded, no sink errors", m)
	}

	// The sink is back: the next run delivers what the spool kept (and
	// waits for it at exit).
	if err := enginetest.SetWritable(root, true); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(doc, "exit_wait_seconds = 0.3", "exit_wait_seconds = 20", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	g2 := &sceneGame{w: 128, h: 96, draw: func(c *gfx.Canvas) { c.Clear(green) }}
	if err := Run(g2, Options{Name: "full", Width: 128, Height: 96, MaxFrames: 5, VSyncOff: true, Lockstep: true, ConfigPath: cfg}); err != nil {
		t.Fatal(err)
	}
	sink, err := skysync.Start(context.Background(), skysync.SinkConfig{Name: "check", Plugin: "disk", Dirs: []string{pluginDir}, Settings: map[string]string{"root": root}}, skysync.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	prefix := segment.SessionPrefix("full", "tester", stats.Sessions[0])
	var buf bytes.Buffer
	if _, err := sink.Get(context.Background(), segment.ManifestKey(prefix), &buf, sdk.GetOptions{}); err != nil {
		t.Fatalf("the end record of the session on a full spool: %v", err)
	}
	m, err := segment.ParseManifest(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	stored := map[uint64]bool{}
	sink.List(context.Background(), prefix, func(o sdk.ObjectInfo) error {
		if k, ok := segment.ParseKey(o.Key); ok {
			stored[k.Index] = true
		}
		return nil
	})
	if m.Segments != 60 || m.Frames != 600 || len(m.Lost) == 0 {
		t.Fatalf("end record: %d segments, %d frames, %d lost; want 60, 600 and some lost", m.Segments, m.Frames, len(m.Lost))
	}
	lost := map[uint64]bool{}
	for _, l := range m.Lost {
		lost[l.Index] = true
		if stored[l.Index] {
			t.Errorf("segment %d is listed lost but is in the sink", l.Index)
		}
		if !strings.Contains(l.Reason, "disk was full") || l.Frames != 10 || l.FirstSeq != 10*l.Index {
			t.Errorf("lost segment %+v: want 10 frames from %d, lost because the disk was full", l, 10*l.Index)
		}
	}
	for i := range m.Segments {
		if !stored[i] && !lost[i] {
			t.Errorf("segment %d is neither in the sink nor listed lost", i)
		}
	}
	if !stored[m.Segments-1] {
		t.Errorf("the newest segment was not kept: the spool must evict the oldest first")
	}
	t.Logf("%d of %d segments lost to the full spool, %d frames, listed in the end record", len(m.Lost), m.Segments, m.LostFrames())
}
