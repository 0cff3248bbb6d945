package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/input"
	"github.com/skyloop-engine/skyloop/engine/segment"
	skysync "github.com/skyloop-engine/skyloop/engine/sync"
	"github.com/skyloop-engine/skyloop/sdk"
)

// lockGame makes the sink's root unwritable in its first tick.
type lockGame struct {
	sceneGame
	root string
	err  error
}

func (g *lockGame) Update(in *input.State) error {
	if g.ticks == 0 {
		g.err = enginetest.SetWritable(g.root, false)
	}
	return g.sceneGame.Update(in)
}

// A sink that fails for a whole game session loses nothing: the game
// records every frame into the spool, exits, and the next session delivers
// the first one's segments once the sink works again.
func TestSinkOutageAcrossGameSessions(t *testing.T) {
	enginetest.RequireDisplay(t)
	dir := t.TempDir()
	pluginDir := enginetest.BuildPlugin(t, "disk")
	root := filepath.Join(dir, "sink")
	t.Cleanup(func() { enginetest.SetWritable(root, true) })
	cfg := filepath.Join(dir, "config.toml")
	doc := fmt.Sprintf("player = \"tester\"\nplugin_dir = %q\nspool_dir = %q\nexit_wait_seconds = 0.3\n[capture]\nsegment_frames = 10\ndrop = \"block\"\n[[sink]]\nname = \"local\"\nplugin = \"disk\"\n[sink.settings]\nroot = %q\n",
		pluginDir, filepath.Join(dir, "spool"), root)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}

	// Session 1: the sink fails from the first tick on.
	var first FrameStats
	g := &lockGame{sceneGame: sceneGame{w: 64, h: 48, draw: func(c *gfx.Canvas) { c.Clear(blue) }}, root: root}
	if err := Run(g, Options{Name: "outage", Width: 64, Height: 48, MaxFrames: 30, VSyncOff: true, Lockstep: true, ConfigPath: cfg, Stats: &first}); err != nil {
		t.Fatal(err)
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	if m := first.Capture; m.FramesEncoded != 30 || m.Segments != 3 || m.Dropped() != 0 || m.SinkErrors != 0 {
		t.Fatalf("session 1 did not record everything into the spool: %s", m)
	}
	if spooled, _ := filepath.Glob(filepath.Join(dir, "spool", "outage", "data", "*")); len(spooled) != 5 {
		t.Fatalf("spool holds %d items after session 1, want its 3 segments, its manifest and the player's catalog", len(spooled))
	}

	// Session 2, sink healthy: it replays session 1's segments too.
	if err := enginetest.SetWritable(root, true); err != nil {
		t.Fatal(err)
	}
	var second FrameStats
	g2 := &sceneGame{w: 64, h: 48, draw: func(c *gfx.Canvas) { c.Clear(green) }}
	if err := Run(g2, Options{Name: "outage", Width: 64, Height: 48, MaxFrames: 10, VSyncOff: true, Lockstep: true, ConfigPath: cfg, Stats: &second}); err != nil {
		t.Fatal(err)
	}
	sink, err := skysync.Start(context.Background(), skysync.SinkConfig{Name: "check", Plugin: "disk", Dirs: []string{pluginDir}, Settings: map[string]string{"root": root}}, skysync.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	for _, s := range []struct {
		id   string
		want int
	}{{first.Sessions[0], 3}, {second.Sessions[0], 1}} {
		n, manifests := 0, 0
		sink.List(context.Background(), "outage/tester/sessions/"+s.id+"/", func(o sdk.ObjectInfo) error {
			if strings.HasSuffix(o.Key, ".seg") {
				n++
			} else if strings.HasSuffix(o.Key, "/"+segment.ManifestName) {
				manifests++
			}
			return nil
		})
		if n != s.want || manifests != 1 {
			t.Errorf("session %s: %d segments and %d manifests in the sink, want %d and 1", s.id, n, manifests, s.want)
		}
	}
}
