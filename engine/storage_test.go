package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/skyloop-engine/skyloop/engine/enginetest"
	"github.com/skyloop-engine/skyloop/engine/gfx"
	"github.com/skyloop-engine/skyloop/engine/segment"
	skysync "github.com/skyloop-engine/skyloop/engine/sync"
	"github.com/skyloop-engine/skyloop/sdk"
)

// A game recording with the default pipeline: segments go through the
// spool to the real disk plugin process and land under its root, where
// they decode to every frame.
func TestRecordingReachesTheDiskPluginThroughTheSpool(t *testing.T) {
	enginetest.RequireDisplay(t)
	dir := t.TempDir()
	pluginDir := enginetest.BuildPlugin(t, "disk")
	root := filepath.Join(dir, "sink")
	cfg := filepath.Join(dir, "config.toml")
	doc := fmt.Sprintf(`player = "tester"
plugin_dir = %q
spool_dir = %q
[capture]
segment_frames = 10
drop = "block"
[[sink]]
name = "local"
plugin = "disk"
[sink.settings]
root = %q
`, pluginDir, filepath.Join(dir, "spool"), root)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var stats FrameStats
	g := &sceneGame{w: 80, h: 60, draw: func(c *gfx.Canvas) { c.Clear(red) }}
	err := Run(g, Options{Name: "spooltest", Width: 80, Height: 60, MaxFrames: 35, VSyncOff: true, Lockstep: true, ConfigPath: cfg, Stats: &stats})
	if err != nil {
		t.Fatal(err)
	}
	if len(stats.Sessions) != 1 {
		t.Fatalf("sessions %v", stats.Sessions)
	}
	// Read back through the plugin, as the tools do.
	sink, err := skysync.Start(context.Background(), skysync.SinkConfig{Name: "check", Plugin: "disk", Dirs: []string{pluginDir}, Settings: map[string]string{"root": root}}, skysync.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	prefix := "spooltest/tester/sessions/" + stats.Sessions[0] + "/"
	var keys []string
	if err := sink.List(context.Background(), prefix, func(o sdk.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 5 || keys[0] != prefix+"00000000.seg" || keys[4] != segment.ManifestKey(prefix) {
		t.Fatalf("keys %v, want 4 segments (35 frames, 10 per segment) and the session manifest", keys)
	}
	var mbuf bytes.Buffer
	if _, err := sink.Get(context.Background(), keys[4], &mbuf, sdk.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if m, err := segment.ParseManifest(mbuf.Bytes()); err != nil || m.Segments != 4 || m.Frames != 35 || m.Dropped != 0 || m.Game != "spooltest" {
		t.Fatalf("manifest %+v, %v: want 4 segments, 35 frames", m, err)
	}
	frames := 0
	for _, k := range keys[:4] {
		var buf bytes.Buffer
		if _, err := sink.Get(context.Background(), k, &buf, sdk.GetOptions{Length: -1}); err != nil {
			t.Fatal(err)
		}
		fs, err := segment.Decode(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for _, f := range fs {
			if f.Image.RGBAAt(5, 5) != red {
				t.Fatalf("frame %d pixel %v", f.Seq, f.Image.RGBAAt(5, 5))
			}
		}
		frames += len(fs)
	}
	if frames != 35 {
		t.Fatalf("%d frames delivered, want 35", frames)
	}
	// Delivered items leave the spool.
	if left, _ := filepath.Glob(filepath.Join(dir, "spool", "spooltest", "data", "*")); len(left) != 0 {
		t.Errorf("spool still holds %v", left)
	}
}
