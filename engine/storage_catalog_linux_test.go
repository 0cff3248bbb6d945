//go:build linux

package engine

import (
	"fmt"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
)

// fullSpoolSetup is TestFullSpoolIsACountedLoss's: a 1 MiB tmpfs for the
// spool (root only), the disk plugin, its root.
func fullSpoolSetup(t *testing.T) (spoolDisk, root, pluginDir, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs for the spool; CI's `make test` runs as root")
	}
	dir = t.TempDir()
	spoolDisk = filepath.Join(dir, "smalldisk")
	if err := os.Mkdir(spoolDisk, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", spoolDisk, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount a 1 MiB tmpfs for the spool: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(spoolDisk, 0) })
	pluginDir = enginetest.BuildPlugin(t, "disk")
	root = filepath.Join(dir, "sink")
	t.Cleanup(func() { enginetest.SetWritable(root, true) })
	return spoolDisk, root, pluginDir, dir
}

// noiseDraw draws 4x4 blocks of noise: ~48 KiB a 128x96 frame that no
// codec shrinks, so 600 frames overflow the 1 MiB spool.
func noiseDraw() func(c *gfx.Canvas) {
	rng := rand.New(rand.NewPCG(1, 2))
	return func(c *gfx.Canvas) {
		for y := 0; y < 96; y += 4 {
			for x := 0; x < 128; x += 4 {
				c.FillRect(float64(x), float64(y), 4, 4, color.RGBA{uint8(rng.Uint32()), uint8(rng.Uint32()), uint8(rng.Uint32()), 255})
			}
		}
	}
}

// A session that lost segments to a full spool (the setup of
// TestFullSpoolIsACountedLoss): its catalog entry's Stored leaves them
// out and its digest matches the sink's listing once the sink is back.
func TestCatalogOfASessionThatLostSegments(t *testing.T) {
	enginetest.RequireDisplay(t)
	spoolDisk, root, pluginDir, dir := fullSpoolSetup(t)
	run := func(g Game, frames int, exitWait float64) FrameStats {
		t.Helper()
		cfg := catalogConfig(t, dir, pluginDir, root, exitWait)
		doc, _ := os.ReadFile(cfg)
		// The spool on the small disk.
		doc = []byte(strings.Replace(string(doc), fmt.Sprintf("spool_dir = %q", filepath.Join(dir, "spool")), fmt.Sprintf("spool_dir = %q", spoolDisk), 1))
		if err := os.WriteFile(cfg, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		var stats FrameStats
		if err := Run(g, Options{Name: "full", Width: 128, Height: 96, MaxFrames: frames, VSyncOff: true, Lockstep: true, ConfigPath: cfg, Stats: &stats}); err != nil {
			t.Fatalf("Run = %v", err)
		}
		return stats
	}
	g := &lockGame{sceneGame: sceneGame{w: 128, h: 96, draw: noiseDraw()}, root: root}
	first := run(g, 600, 0.3)
	if g.err != nil {
		t.Fatal(g.err)
	}
	if err := enginetest.SetWritable(root, true); err != nil {
		t.Fatal(err)
	}
	second := run(&sceneGame{w: 128, h: 96, draw: func(c *gfx.Canvas) { c.Clear(green) }}, 5, 20)
	_, entries := checkCatalogInSink(t, checkSink(t, pluginDir, root), "full", slices.Concat(first.Sessions, second.Sessions))
	for _, e := range entries {
		if e.Manifest.Session == first.Sessions[0] {
			if len(e.Manifest.Lost) == 0 {
				t.Fatalf("the session on the full spool lost no segment: the test proves nothing")
			}
			t.Logf("%d of %d segments lost, %d stored, digest %s", len(e.Manifest.Lost), e.Manifest.Segments, e.Manifest.Stored.Segments, e.Manifest.Stored.Digest)
		}
	}
}
